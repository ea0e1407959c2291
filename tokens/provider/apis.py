"""The clients a person let sign them in (§28): GET /users/me/grants, DELETE .../{client_id}."""

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.apis import RealmApi
from common.envelope import ok
from common.realms import USER
from common.schema import api_doc
from tokens.authentication import USER_AUTHENTICATION
from tokens.provider import services

TAGS = ["users"]


class GrantSerializer(serializers.Serializer):
    client_id = serializers.CharField()
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class GrantListApi(RealmApi):
    name = "Your app grants"
    realm = USER
    authentication_classes = USER_AUTHENTICATION

    @api_doc(summary="The apps you let sign you in with this service", responses={200: [GrantSerializer]},
             errors=(401, 403, 404), tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        grants = [GrantSerializer(grant).data for grant in services.grants(request.user)]
        return ok(grants, "Grants retrieved")


class GrantDetailApi(RealmApi):
    name = "App grant"
    realm = USER
    authentication_classes = USER_AUTHENTICATION

    @api_doc(summary="Revoke an app's grant: every token it holds for you ends at once", responses={200: None},
             errors=(401, 403, 404), tags=TAGS)  # fmt: skip
    def delete(self, request: Request, client_id: str) -> Response:
        services.revoke_grant(request.user, client_id)
        return ok(None, "Grant revoked")
