"""The Django admin site's other pages: sessions and tokens (revoked, never re-opened), the outbox
and the audit trail (read-only), webhook endpoints and deliveries, and roles (judged by the
API's rules: nobody grants what they do not hold)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from admins import product_settings, roles
from admins import webhooks as webhook_rules
from admins.admin.accounts import RecentSignInMixin, StrictLookupsMixin, may_manage
from admins.models import Admin, Role
from common import product
from common.exceptions import DomainError
from common.models import AuditEvent, OutboxEmail, Setting, WebhookDelivery, WebhookEndpoint
from tokens.models import LoginSession, PersonalAccessToken


class CredentialAdmin(RecentSignInMixin, StrictLookupsMixin, admin.ModelAdmin):
    """Sessions and tokens: shown, revoked (final), never re-opened: their dates are read-only."""

    list_filter = ("revoked_at", "expires_at")
    actions = ["revoke"]

    @admin.display(description="owner")
    def owner_name(self, obj) -> str:
        return f"{'admin' if obj.admin_id else 'user'} {obj.owner}"

    @admin.action(description="Revoke selected", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not request.user.is_superuser:  # another admin's credentials are a superuser's to revoke
            queryset = queryset.filter(Q(admin__isnull=True) | Q(admin=request.user))
        count = queryset.revoke()
        self.message_user(request, f"{count} revoked.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        owner = obj.admin if obj is not None and obj.admin_id else None
        allowed = owner is None or may_manage(request, owner, credentials=True)
        return super().has_change_permission(request, obj) and allowed

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # secrets are issued through the API, shown once


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(CredentialAdmin):
    list_display = ("id", "name", "owner_name", "abilities", "created_at", "expires_at", "last_used_at", "revoked_at")
    search_fields = ("name", "user__username", "admin__username")
    readonly_fields = ("digest", "user", "admin", "abilities", "created_at", "expires_at", "last_used_at", "revoked_at")
    fields = ("name", "user", "admin", "digest", "abilities", "created_at", "expires_at", "last_used_at", "revoked_at")


@admin.register(LoginSession)
class LoginSessionAdmin(CredentialAdmin):
    list_display = ("id", "owner_name", "created_at", "refreshed_at", "expires_at", "revoked_at", "ip_address")
    search_fields = ("user__username", "admin__username", "ip_address")
    readonly_fields = (
        "user", "admin", "refresh_jti", "created_at", "refreshed_at", "expires_at", "revoked_at", "ip_address",
        "user_agent",
    )  # fmt: skip


class ReadOnlyAdmin(StrictLookupsMixin, admin.ModelAdmin):
    """Shown, never added, changed or deleted from the site (superusers included)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ReadOnlyAdmin):
    """The outbox, read-only: who, what, how delivery went (never the bodies: they hold one-time links)."""

    list_display = ("id", "to", "subject", "status", "attempts", "last_error", "created_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("to", "subject")
    fields = ("to", "subject", "status", "attempts", "last_error", "next_attempt_at", "created_at", "sent_at")
    readonly_fields = fields


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail, read-only for everyone (superusers included)."""

    list_display = ("created_at", "event", "realm", "account_id", "actor_realm", "actor_id", "ip_address", "request_id")
    list_filter = ("event", "realm")
    search_fields = ("=account_id", "=ip_address", "=request_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(StrictLookupsMixin, admin.ModelAdmin):
    """Endpoints, read-mostly: an operator pauses one or edits its description here (never a secret);
    endpoints are made through the API, which shows the secret once."""

    list_display = ("id", "url", "events", "is_active", "created_at")
    list_filter = ("is_active",)
    fields = ("url", "events", "description", "is_active", "created_at")
    readonly_fields = ("url", "events", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        webhook_rules.update_endpoint(obj, changes, actor=request.user)

    def delete_model(self, request, obj) -> None:
        webhook_rules.delete_endpoint(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for endpoint in queryset:
            webhook_rules.delete_endpoint(endpoint, actor=request.user)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Deliveries and how their attempts went (the payload is the audit event, shown in the audit trail)."""

    list_display = (
        "id",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event")
    fields = (
        "endpoint", "message_id", "event", "event_id", "status", "attempts", "last_status_code", "last_error",
        "next_attempt_at", "created_at", "delivered_at",
    )  # fmt: skip
    readonly_fields = fields


admin.site.unregister(Group)  # shown as "Roles" (the same groups) under Administrators


class RoleForm(forms.ModelForm):
    """A role's name, description and permissions, offered only among those the operator holds;
    the rules (and their errors) are those of the API (admins.roles)."""

    permissions = forms.ModelMultipleChoiceField(
        queryset=Permission.objects.none(), required=False, widget=FilteredSelectMultiple("permissions", False)
    )

    class Meta:
        model = Role
        fields = ("name", "description", "permissions")

    actor_of_request: Admin  # set per request by RoleAdmin.get_form

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor = self.actor_of_request
        held = [p.pk for p in Role.grantable() if actor.has_perm(f"{p.content_type.app_label}.{p.codename}")]
        self.fields["permissions"].queryset = Role.grantable().filter(pk__in=held)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        names = [f"{p.content_type.app_label}.{p.codename}" for p in data.get("permissions") or []]
        role = Role.objects.get(pk=self.instance.pk) if self.instance.pk else None
        try:
            roles.check_role_change(actor=self.actor, role=role, names=names, name=data.get("name", ""))
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
        data["permission_names"] = names
        return data


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """Roles, judged by the permissions on groups (auth.*_group), as the API judges them."""

    form = RoleForm
    list_display = ("name", "description", "admin_count")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return roles.roles()

    @admin.display(description="admins", ordering="admin_count")
    def admin_count(self, role: Role) -> int:
        return role.admin_count

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor_of_request": request.user})

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("auth.view_group") or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("auth.add_group")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("auth.change_group")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("auth.delete_group") and (obj is None or roles.holds_all(request.user, obj))

    def save_model(self, request, obj, form, change) -> None:
        data = {"name": form.cleaned_data["name"], "description": form.cleaned_data.get("description", ""),
                "permissions": form.cleaned_data["permission_names"]}  # fmt: skip
        if change:
            role = roles.update_role(actor=request.user, role=Role.objects.get(pk=obj.pk), data=data)
        else:
            role = roles.create_role(actor=request.user, **data)
        obj.pk = obj.group_ptr_id = role.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        pass  # the permissions were set by the service

    def delete_model(self, request, obj) -> None:
        roles.delete_role(actor=request.user, role=obj)

    def delete_queryset(self, request, queryset) -> None:
        for role in queryset:
            roles.delete_role(actor=request.user, role=role)


class SettingForm(forms.ModelForm):
    """A product setting, judged by the API's rules (common.product) and saved through the same
    write path (admins.product_settings)."""

    logo_file = forms.FileField(
        required=False, label="Logo", help_text="The `logo` key only: an image of at most 1 MB."
    )

    class Meta:
        model = Setting
        fields = ("key", "value", "is_public", "description")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        key = data.get("key") or self.instance.key
        try:
            if key == "logo":
                product_settings.check_logo(data.get("logo_file"))
            elif key in product.KNOWN:
                data["value"] = product.KNOWN[key].clean(data.get("value"))
            else:
                data["value"] = product.clean_custom(key, data.get("value"))
        except DomainError as exc:
            raise ValidationError([m for messages in exc.details.values() for m in messages] or exc.message) from exc
        return data


@admin.register(Setting)
class SettingAdmin(StrictLookupsMixin, admin.ModelAdmin):
    form = SettingForm
    list_display = ("key", "value", "is_public", "updated_at", "updated_by_username")
    readonly_fields = ("logo_preview", "updated_at", "updated_by_username")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "key") if obj is not None else self.readonly_fields

    @admin.display(description="logo")
    def logo_preview(self, obj: Setting) -> str:
        if obj.key != "logo" or not obj.value:
            return "-"
        return format_html('<img src="{}" alt="logo" style="max-height:64px">', default_storage.url(obj.value))

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if obj.key == "logo":
            product_settings.put_logo(data.get("logo_file"), actor=request.user)
        else:
            fields = {"value": data["value"], "is_public": data["is_public"], "description": data["description"]}
            product_settings.put(obj.key, fields, actor=request.user)
        obj.pk = Setting.objects.get(key=obj.key).pk

    def delete_model(self, request, obj) -> None:
        product_settings.reset(obj.key, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for setting in queryset:
            product_settings.reset(setting.key, actor=request.user)
