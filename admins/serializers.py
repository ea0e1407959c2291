from typing import Any

from rest_framework import serializers

from accounts.models import User
from accounts.passwords import password_problems
from accounts.serializers import (
    AccountSerializer,
    AddressField,
    PasswordField,
    ProfileFieldsSerializer,
    normalize_phone,
    username_validator,
)
from admins.models import Admin, Invitation, Role
from common import webhooks
from common.models import WebhookDelivery
from common.serializers import OutputSerializer

ORDERINGS = ["id", "username", "email", "created_at"]


class UserListParams(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=255)
    is_active = serializers.ChoiceField(choices=["true", "false"], required=False)
    deleted = serializers.ChoiceField(choices=["exclude", "include", "only"], default="exclude")
    ordering = serializers.ChoiceField(choices=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)], default="id")


class ManagedUserUpdateSerializer(ProfileFieldsSerializer):
    """What an admin may change on a user (the avatar is the user's own business)."""

    is_active = serializers.BooleanField(required=False)
    password = PasswordField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "password" in attrs:
            user: User = self.context["user"]
            candidate = User(
                username=attrs.get("username", user.username),
                email=attrs.get("email", user.email),
                name=attrs.get("name", user.name),
            )
            if problems := password_problems(attrs["password"], candidate):
                raise serializers.ValidationError({"password": problems})
        return attrs


class AdminAccountSerializer(AccountSerializer):
    """An admin's account (GET /admin/me, /admin/admins): the Account plus its grants."""

    is_superuser = serializers.BooleanField(read_only=True)
    roles = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    def get_roles(self, admin: Admin) -> list[dict[str, Any]]:
        return [{"id": group.pk, "name": group.name} for group in sorted(admin.groups.all(), key=lambda g: g.name)]

    def get_permissions(self, admin: Admin) -> list[str]:
        from admins.roles import effective_permissions

        return effective_permissions(admin)


class AdminListParams(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=255)
    is_active = serializers.ChoiceField(choices=["true", "false"], required=False)
    role = serializers.IntegerField(required=False, min_value=1)


class AdminChangeSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(required=False)
    is_superuser = serializers.BooleanField(required=False)
    roles = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=100)


class RoleSerializer(OutputSerializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    permissions = serializers.SerializerMethodField()
    admin_count = serializers.IntegerField(read_only=True)

    def get_permissions(self, role: Role) -> list[str]:
        return sorted(f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all())


class RoleInputSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=150)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    permissions = serializers.ListField(child=serializers.CharField(max_length=255), max_length=500)


class PermissionSerializer(OutputSerializer):
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)


# --- Webhook endpoints (admins.webhook_apis) ---------------------------------------------------


class EndpointSerializer(OutputSerializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="whsec_...: shown only now; both secrets sign for 24 h after a rotation.")


class DeliverySerializer(OutputSerializer):
    id = serializers.IntegerField()
    event_id = serializers.IntegerField(allow_null=True)
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.STATUSES)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)


class EndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2048)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=["*", *webhooks.EVENTS]), allow_empty=False, max_length=64,
        help_text='Event names of the audit trail, or ["*"] for every event.',
    )  # fmt: skip
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_url(self, value: str) -> str:
        try:
            webhooks.check_url(value)
        except webhooks.UnsafeUrl as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return ["*"] if "*" in value else sorted(set(value))


class DeliveryListParams(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.STATUSES, required=False)


# --- Product settings and statistics (admins.product_apis) -----------------------------------------


class ActorSerializer(OutputSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class SettingSerializer(OutputSerializer):
    key = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="The logo's is its URL.")
    is_public = serializers.BooleanField()
    description = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = ActorSerializer(allow_null=True)


class SettingInputSerializer(serializers.Serializer):
    value = serializers.JSONField(required=False, allow_null=True, help_text="Any JSON (a known key: by its rule).")
    is_public = serializers.BooleanField(required=False, help_text="Custom keys only; known keys are public.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    file = serializers.ImageField(required=False, help_text="The logo (PUT /admin/settings/logo).")


class ProviderSerializer(OutputSerializer):
    id = serializers.CharField()
    name = serializers.CharField()


class SignInMethodsSerializer(OutputSerializer):
    password = serializers.BooleanField()
    passkeys = serializers.BooleanField()
    code = serializers.BooleanField()
    providers = ProviderSerializer(many=True)


class PublicSettingsSerializer(OutputSerializer):
    product_name = serializers.CharField()
    logo_url = serializers.URLField(allow_null=True)
    support_email = serializers.EmailField(allow_null=True)
    registration_open = serializers.BooleanField()
    sign_in_methods = SignInMethodsSerializer()
    password_min_length = serializers.IntegerField()
    require_email_verification = serializers.BooleanField()
    custom = serializers.DictField(child=serializers.JSONField())


class UserCountsSerializer(OutputSerializer):
    total, active, inactive, deleted = (serializers.IntegerField() for _ in range(4))
    verified, mfa_enabled, new_24h, new_7d = (serializers.IntegerField() for _ in range(4))


class AdminCountsSerializer(OutputSerializer):
    total, active = serializers.IntegerField(), serializers.IntegerField()


class LoginCountsSerializer(OutputSerializer):
    succeeded_24h, failed_24h, locked_now = (serializers.IntegerField() for _ in range(3))


class DayCountSerializer(OutputSerializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class StatisticsSerializer(OutputSerializer):
    users = UserCountsSerializer()
    admins = AdminCountsSerializer()
    logins = LoginCountsSerializer()
    signups_30d = DayCountSerializer(many=True)


# --- Invitations (admins.invitation_apis) -----------------------------------------------------------


class RoleRefSerializer(OutputSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class InvitationSerializer(OutputSerializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    realm = serializers.CharField()
    name = serializers.CharField()
    roles = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=Invitation.STATUSES)
    invited_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)

    def get_roles(self, invitation: Invitation) -> list[dict[str, Any]]:
        return [{"id": role.pk, "name": role.name} for role in invitation.roles.all()]

    def get_invited_by(self, invitation: Invitation) -> dict[str, Any] | None:
        by = invitation.invited_by
        return {"id": by.pk, "username": by.username} if by is not None else None


class InvitationInputSerializer(serializers.Serializer):
    email = AddressField()
    realm = serializers.ChoiceField(choices=["user", "admin"])
    name = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    roles = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                  max_length=100)  # fmt: skip


class InvitationListParams(serializers.Serializer):
    realm = serializers.ChoiceField(choices=["user", "admin"], required=False)
    status = serializers.ChoiceField(choices=Invitation.STATUSES, required=False)


class InvitationTokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1024)


class InvitationViewSerializer(OutputSerializer):
    email = serializers.EmailField()
    realm = serializers.CharField()
    name = serializers.CharField()
    expires_at = serializers.DateTimeField()


class AcceptInvitationSerializer(InvitationTokenSerializer):
    """The new account's fields; the address is the invitation's."""

    username = serializers.CharField(min_length=3, max_length=150, validators=[username_validator])
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    password = PasswordField()
    phone = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=16)

    def validate_phone(self, value: str | None) -> str | None:
        return normalize_phone(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = self.context["model"](username=attrs["username"], email=self.context["email"],
                                          name=attrs.get("name") or "")  # fmt: skip
        if problems := password_problems(attrs["password"], candidate):
            raise serializers.ValidationError({"password": problems})
        return attrs
