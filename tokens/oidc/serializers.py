"""Shapes of the identity-provider endpoints and of linked identities."""

from rest_framework import serializers

from common.serializers import OutputSerializer


class IdentitySerializer(OutputSerializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    subject = serializers.CharField()
    email = serializers.CharField(help_text="As the provider gave it.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class OidcProviderSerializer(OutputSerializer):
    id = serializers.CharField(help_text="The provider's slug, as in the paths.")
    name = serializers.CharField()


class RedirectUriSerializer(serializers.Serializer):
    redirect_uri = serializers.URLField(max_length=2000, help_text="A frontend URL under OIDC_REDIRECT_ORIGINS.")


class OidcCallbackSerializer(serializers.Serializer):
    state = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    code = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")
    error = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class OidcExchangeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=200, help_text="The one-time code the callback gave the frontend.")


class OidcTokenSerializer(serializers.Serializer):
    id_token = serializers.CharField(max_length=16_384, help_text="An ID token from the platform's SDK.")
    nonce = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")


class AuthorizeUrlSerializer(OutputSerializer):
    authorize_url = serializers.URLField()
