"""Field rules of API.md §4 and the account shapes of §3, shared by both realms."""

from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from rest_framework import serializers

from common.models import AbstractAccount

username_validator = RegexValidator(
    r"^[A-Za-z0-9.+_-]+$", "Username may contain only ASCII letters, digits and . + - _ characters."
)
phone_validator = RegexValidator(r"^\+?[0-9]{7,15}$", "Phone must be 7 to 15 digits, optionally starting with +.")


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("write_only", True)
        super().__init__(trim_whitespace=False, max_length=settings.PASSWORD_MAX_LENGTH, **kwargs)


def check_password_rules(password: str, account: AbstractAccount, field: str = "password") -> None:
    """Django's validators (length, common passwords, similarity to the account's own fields)."""
    try:
        validate_password(password, user=account)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({field: list(exc.messages)}) from exc


class AccountFieldsSerializer(serializers.Serializer):
    """The fields a client may write on an account; everything else sent is ignored."""

    username = serializers.CharField(min_length=3, max_length=150, validators=[username_validator])
    name = serializers.CharField(min_length=1, max_length=255)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=16)
    avatar = serializers.FileField(required=False, allow_null=True, allow_empty_file=True, use_url=False)

    def validate_email(self, value: str) -> str:
        return value.lower()

    def validate_phone(self, value: str | None) -> str | None:
        if not value:
            return None
        phone_validator(value)
        return value


class RegisterSerializer(AccountFieldsSerializer):
    password = PasswordField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model: type[AbstractAccount] = self.context["model"]
        candidate = model(username=attrs["username"], email=attrs["email"], name=attrs["name"])
        check_password_rules(attrs["password"], candidate)
        return attrs


class PasswordChangeSerializer(serializers.Serializer):
    current_password = PasswordField()
    new_password = PasswordField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        account: AbstractAccount = self.context["account"]
        if not account.check_password(attrs["current_password"]):
            raise serializers.ValidationError({"current_password": ["Current password is incorrect."]})
        check_password_rules(attrs["new_password"], account, field="new_password")
        return attrs


class AccountSerializer(serializers.Serializer):
    """What an account sees of itself."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    phone = serializers.CharField(read_only=True, allow_null=True)
    avatar_url = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_login_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_avatar_url(self, account: AbstractAccount) -> str | None:
        if not account.avatar:
            return None
        url = account.avatar.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class ManagedAccountSerializer(AccountSerializer):
    """What an admin sees of a user: the account plus its lockout and deletion state."""

    failed_login_attempts = serializers.IntegerField(read_only=True)
    is_locked = serializers.BooleanField(read_only=True)
    locked_until = serializers.DateTimeField(read_only=True, allow_null=True)
    deleted_at = serializers.DateTimeField(read_only=True, allow_null=True)


class LoginSerializer(serializers.Serializer):
    """OAuth2 password form or JSON; `username` may be the email."""

    username = serializers.CharField(max_length=254)
    password = PasswordField()
    grant_type = serializers.ChoiceField(choices=["password"], required=False)


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class LogoutSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096, required=False, allow_blank=True)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    refresh_token = serializers.CharField()
    refresh_expires_in = serializers.IntegerField()
