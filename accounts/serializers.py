"""Field rules of docs/api.md §4 and the account shapes of §3, shared by both realms."""

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from rest_framework import serializers

from accounts.models import AbstractAccount, normalize_email
from accounts.passwords import password_problems
from common.serializers import OutputSerializer


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("write_only", True)
        super().__init__(trim_whitespace=False, max_length=settings.PASSWORD_MAX_LENGTH, **kwargs)


username_validator = RegexValidator(
    r"^[A-Za-z0-9.+_-]+$", "Username may contain only ASCII letters, digits and . + - _ characters."
)
phone_validator = RegexValidator(r"^\+?[0-9]{7,15}$", "Phone must be 7 to 15 digits, optionally starting with +.")


def normalize_phone(value: str | None) -> str | None:
    """Empty means none; otherwise the format of §4."""
    if not value:
        return None
    phone_validator(value)
    return value


class AddressField(serializers.EmailField):
    """An email address by §4: NFKC-normalized and lower-cased before it is validated, so the form
    that is checked is the form that is stored and compared."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            data = normalize_email(data)
        value = super().to_internal_value(data)
        # A quoted local part ("demo1"@example.com) is valid mail syntax, but it would give one
        # mailbox two spellings that the case-insensitive uniqueness cannot see.
        if '"' in value or "\\" in value:
            self.fail("invalid")
        return value


class ProfileFieldsSerializer(serializers.Serializer):
    """The profile fields a client may write on an account; everything else sent is ignored."""

    username = serializers.CharField(min_length=3, max_length=150, validators=[username_validator])
    name = serializers.CharField(min_length=1, max_length=255)
    email = AddressField()
    phone = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=16)

    def validate_phone(self, value: str | None) -> str | None:
        return normalize_phone(value)


class AccountFieldsSerializer(ProfileFieldsSerializer):
    """Profile fields plus the avatar (multipart)."""

    avatar = serializers.FileField(required=False, allow_null=True, allow_empty_file=True, use_url=False)


class ProfileUpdateSerializer(AccountFieldsSerializer):
    """An account's own profile change: a new address needs the current password (docs/api.md §11)."""

    current_password = PasswordField(required=False)


class RegisterSerializer(AccountFieldsSerializer):
    """Registration; with an avatar it is sent as multipart/form-data."""

    password = PasswordField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model: type[AbstractAccount] = self.context["model"]
        candidate = model(username=attrs["username"], email=attrs["email"], name=attrs["name"])
        if problems := password_problems(attrs["password"], candidate):
            raise serializers.ValidationError({"password": problems})
        return attrs


class AccountSerializer(OutputSerializer):
    """What an account sees of itself."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    email_verified = serializers.BooleanField(read_only=True)
    pending_email = serializers.EmailField(read_only=True, allow_null=True)
    phone = serializers.CharField(read_only=True, allow_null=True)
    avatar_url = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    mfa_enabled = serializers.BooleanField(read_only=True)
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


class ForgotPasswordSerializer(serializers.Serializer):
    email = AddressField()


class ResetPasswordSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)
    new_password = PasswordField()


class OneTimeTokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)
