"""OAuth clients through the API (docs/api.md §28); the rules are in admins.oauth_clients."""

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from admins import oauth_clients
from admins.apis import AdminApi
from common.envelope import ok
from common.pagination import paginate
from common.permissions import requiring
from common.schema import PAGE_PARAMETERS, api_doc
from common.serializers import OutputSerializer

TAGS = ["admin oauth clients"]
LOOPBACK_NAMES = ("localhost",)


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RedirectUriField(serializers.CharField):
    """An exact absolute URI: https, or http to a loopback address; no fragment, no wildcard."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2000, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        uri = super().to_internal_value(data)
        parts = urlsplit(uri)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment or "*" in uri or " " in uri:
            raise serializers.ValidationError("Enter an absolute http(s) URI without a fragment or wildcard.")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise serializers.ValidationError("Only loopback addresses may use http; use https.")
        return uri


class ClientInputSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=255)
    client_type = serializers.ChoiceField(choices=["confidential", "public"])
    redirect_uris = serializers.ListField(child=RedirectUriField(), max_length=20)
    post_logout_redirect_uris = serializers.ListField(child=RedirectUriField(), max_length=20, required=False)
    grant_types = serializers.ListField(
        child=serializers.ChoiceField(choices=oauth_clients.GRANT_TYPES), min_length=1, required=False
    )
    skip_consent = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "grant_types" in attrs:
            attrs["grant_types"] = list(dict.fromkeys(attrs["grant_types"]))
        grant_types = attrs.get("grant_types", [oauth_clients.AUTHORIZATION_CODE])
        redirects = attrs.get("redirect_uris")
        if oauth_clients.AUTHORIZATION_CODE in grant_types and redirects is not None and not redirects:
            raise serializers.ValidationError({"redirect_uris": ["The code flow needs at least one redirect URI."]})
        return attrs


class ClientSerializer(OutputSerializer):
    id = serializers.IntegerField()
    client_id = serializers.CharField()
    name = serializers.CharField()
    client_type = serializers.CharField()
    redirect_uris = serializers.SerializerMethodField()
    post_logout_redirect_uris = serializers.SerializerMethodField()
    grant_types = serializers.SerializerMethodField()
    skip_consent = serializers.BooleanField(source="skip_authorization")
    created_at = serializers.DateTimeField(source="created")

    def get_redirect_uris(self, client: Any) -> list[str]:
        return client.redirect_uris.split()

    def get_post_logout_redirect_uris(self, client: Any) -> list[str]:
        return client.post_logout_redirect_uris.split()

    def get_grant_types(self, client: Any) -> list[str]:
        return oauth_clients.grant_types_of(client)


class ClientWithSecretSerializer(ClientSerializer):
    client_secret = serializers.CharField(allow_null=True, help_text="Shown only now; stored hashed.")


def _with_secret(client: Any, secret: str | None) -> dict[str, Any]:
    return {**ClientSerializer(client).data, "client_secret": secret}


class ClientListApi(AdminApi):
    name = "OAuth clients"
    permission_classes = requiring(GET="oauth2_provider.view_application", POST="oauth2_provider.add_application")
    form_serializers = {"POST": ClientInputSerializer}

    @api_doc(summary="OAuth clients (relying parties)", responses={200: (ClientSerializer, True)},
             errors=(400, 401, 403, 404), parameters=PAGE_PARAMETERS, tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok(paginate(oauth_clients.clients(), request.query_params, ClientSerializer), "Clients retrieved")

    @api_doc(summary="Register a client (its secret is shown once)", request=ClientInputSerializer,
             responses={201: ClientWithSecretSerializer}, errors=(400, 401, 403, 404, 415), tags=TAGS)  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.validated(ClientInputSerializer)
        client, secret = oauth_clients.create_client(actor=request.user, data=data)
        return ok(_with_secret(client, secret), "Client created", 201)


class ClientDetailApi(AdminApi):
    name = "OAuth client"
    permission_classes = requiring(GET="oauth2_provider.view_application",
                                   PATCH="oauth2_provider.change_application",
                                   DELETE="oauth2_provider.delete_application")  # fmt: skip
    form_serializers = {"PATCH": ClientInputSerializer}

    @api_doc(summary="An OAuth client", responses={200: ClientSerializer}, errors=(401, 403, 404), tags=TAGS)
    def get(self, request: Request, client_pk: str) -> Response:
        return ok(ClientSerializer(oauth_clients.get_client(int(client_pk))).data, "Client retrieved")

    @api_doc(summary="Change a client", request=ClientInputSerializer, responses={200: ClientSerializer},
             errors=(400, 401, 403, 404, 415), tags=TAGS)  # fmt: skip
    def patch(self, request: Request, client_pk: str) -> Response:
        client = oauth_clients.get_client(int(client_pk))
        data = self.validated(ClientInputSerializer, partial=True)
        client, secret = oauth_clients.update_client(actor=request.user, client=client, data=data)
        answer = _with_secret(client, secret) if secret else ClientSerializer(client).data
        return ok(answer, "Client updated")

    @api_doc(summary="Delete a client (its tokens end)", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, client_pk: str) -> Response:
        oauth_clients.delete_client(actor=request.user, client=oauth_clients.get_client(int(client_pk)))
        return ok(None, "Client deleted")


class ClientRotateApi(AdminApi):
    name = "OAuth client secret"
    permission_classes = requiring("oauth2_provider.change_application")

    @api_doc(summary="A new client secret (the old one stops at once)", request=None,
             responses={200: ClientWithSecretSerializer}, errors=(400, 401, 403, 404), tags=TAGS)  # fmt: skip
    def post(self, request: Request, client_pk: str) -> Response:
        client = oauth_clients.get_client(int(client_pk))
        secret = oauth_clients.rotate_secret(actor=request.user, client=client)
        return ok(_with_secret(client, secret), "Client secret rotated")
