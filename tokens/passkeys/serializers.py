"""Shapes of the passkey endpoints (WebAuthn options and credentials as JSON)."""

from rest_framework import serializers

from common.serializers import OutputSerializer


class PasskeySerializer(OutputSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    backed_up = serializers.BooleanField()


class PasskeyOptionsSerializer(OutputSerializer):
    publicKey = serializers.DictField(
        help_text="PublicKeyCredentialCreationOptions or PublicKeyCredentialRequestOptions, WebAuthn Level 3 JSON."
    )


class PasskeyRegisterSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=64, required=False, default="Passkey")
    credential = serializers.JSONField(help_text="The RegistrationResponse JSON (navigator.credentials.create).")


class PasskeyRenameSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=64)


class PasskeyLoginSerializer(serializers.Serializer):
    credential = serializers.JSONField(help_text="The AuthenticationResponse JSON (navigator.credentials.get).")
