"""Shapes of the core credential endpoints: login, refresh, logout, password change, personal
access tokens, sessions, introspection."""

from typing import Any

from rest_framework import serializers

from accounts.passwords import password_problems
from accounts.serializers import PasswordField
from common.serializers import OutputSerializer
from tokens.models import ABILITIES, LoginSession


class LoginSerializer(serializers.Serializer):
    """OAuth2 password form or JSON; `username` may be the email."""

    username = serializers.CharField(max_length=254)
    password = PasswordField()
    grant_type = serializers.ChoiceField(choices=["password"], required=False)


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class LogoutSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096, required=False, allow_blank=True)


class LogoutAllSerializer(serializers.Serializer):
    keep_current = serializers.BooleanField(required=False, default=False)


class PasswordChangeSerializer(serializers.Serializer):
    current_password = PasswordField()
    new_password = PasswordField()

    def validate_new_password(self, value: str) -> str:
        if problems := password_problems(value, self.context["account"]):
            raise serializers.ValidationError(problems)  # details.new_password: a flat list
        return value


class TokenPairSerializer(OutputSerializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    refresh_token = serializers.CharField()
    refresh_expires_in = serializers.IntegerField()


class PersonalAccessTokenSerializer(OutputSerializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    abilities = serializers.ListField(child=serializers.ChoiceField(choices=ABILITIES), read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)


class NewPersonalAccessTokenSerializer(PersonalAccessTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret; shown only in this response.")


class CreatePersonalAccessTokenSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=100)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, required=False, allow_null=True)
    abilities = serializers.ListField(
        child=serializers.ChoiceField(choices=ABILITIES),
        allow_empty=False,
        max_length=len(ABILITIES),
        required=False,
        help_text="What the token may do: `read` (GET) and/or `write` (POST, PUT, PATCH, DELETE). Default: both.",
    )


class SessionSerializer(OutputSerializer):
    id = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_seen_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    ip_address = serializers.CharField(read_only=True, allow_null=True)
    user_agent = serializers.CharField(read_only=True)
    method = serializers.ChoiceField(choices=list(LoginSession.METHODS), read_only=True)
    current = serializers.SerializerMethodField()

    def get_current(self, session: Any) -> bool:
        return session.pk == self.context.get("current_session_id")


class MfaChallengeSerializer(OutputSerializer):
    mfa_required = serializers.BooleanField(help_text="Always true: send a code to .../auth/mfa/verify.")
    mfa_token = serializers.CharField()
    methods = serializers.ListField(child=serializers.ChoiceField(choices=["totp", "recovery_code"]))
    expires_in = serializers.IntegerField(help_text="Seconds the mfa_token stays valid.")


class ReauthenticateSerializer(serializers.Serializer):
    """The password, or a TOTP or recovery code: exactly one."""

    password = PasswordField(required=False)
    code = serializers.CharField(max_length=64, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("password" in attrs) == ("code" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Send either password or code."]})
        return attrs


class IntrospectionRequestSerializer(serializers.Serializer):
    token = serializers.CharField(allow_blank=True, trim_whitespace=False)
    token_type_hint = serializers.CharField(required=False, allow_blank=True, help_text="Ignored.")


class IntrospectionAnswerSerializer(OutputSerializer):
    """RFC 7662's answer, not enveloped: only `active` when the token is not accepted right now."""

    active = serializers.BooleanField()
    token_type = serializers.ChoiceField(["access_token", "personal_access_token"], required=False)
    realm = serializers.ChoiceField(["user", "admin"], required=False)
    sub = serializers.CharField(required=False, help_text="The account id.")
    username = serializers.CharField(required=False)
    exp = serializers.IntegerField(required=False, allow_null=True)
    iat = serializers.IntegerField(required=False)
    abilities = serializers.ListField(child=serializers.CharField(), required=False)
    iss = serializers.CharField(required=False, help_text="When JWT_ISSUER is set.")
