"""Base API view: the realm it serves, and the serializer context it needs."""

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from common.realms import Realm


class RealmApi(APIView):
    # An API of one realm: `realm` and the authentication classes come from a subclass or
    # `as_view(...)`; the default permissions (common.permissions.SIGNED_IN) require an account
    # of that realm; a view composes others in `permission_classes`.
    # (A comment, not a docstring: OpenAPI descriptions would inherit it.)

    realm: Realm = None  # type: ignore[assignment]  # set by a subclass or as_view(realm=...)
    route_name = ""  # set by common.urls.api_path: the OpenAPI operation id is made from it
    name: str  # each view's page title in the browsable API ("Your profile", "Users")

    # Input serializer per method: the browsable API's HTML forms (common.renderers).
    form_serializers: dict[str, type] = {}

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.method in ("PUT", "PATCH"):
            kwargs["instance"] = self.form_instance()  # the form starts from the current values
        else:
            kwargs.pop("instance", None)
        return self.form_serializers.get(self.request.method, Serializer)(*args, **kwargs)

    def form_instance(self) -> Any:
        return None

    def validated(self, serializer_class: type[Serializer], **kwargs: Any) -> dict[str, Any]:
        """The request body validated by `serializer_class`; 400 VALIDATION_ERROR otherwise."""
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"request": self.request, **extra}


class PublicApi(RealmApi):
    # Open endpoints read no credentials: a stale token in a client's default headers
    # must not turn a login or a refresh into a 401.
    authentication_classes: list = []
    permission_classes = [AllowAny]
