"""Base API view: the realm it serves, and the serializer context it needs."""

from typing import Any

from rest_framework.views import APIView

from common.realms import Realm


class RealmApi(APIView):
    # An API of one realm: `realm` and the authentication class come from a subclass or
    # `as_view(...)`. (A comment, not a docstring: OpenAPI descriptions would inherit it.)

    realm: Realm = None  # type: ignore[assignment]  # set by a subclass or as_view(realm=...)

    def context(self) -> dict[str, Any]:
        return {"request": self.request}
