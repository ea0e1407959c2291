"""The Django admin site at /django-admin/: operators log in with Admin accounts.

Every action goes through the same services as the API.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from admins import services
from admins.forms import AdminLoginForm, account_forms
from admins.models import Admin
from common.images import delete_avatar_file
from tokens.models import LoginSession, PersonalAccessToken
from tokens.services import revoke_all_credentials

admin.site.login_form = AdminLoginForm
admin.site.site_header = "Accounts administration"
admin.site.site_title = "Accounts administration"
admin.site.site_url = "/docs"  # "View site": the API has no home page


class LockedFilter(admin.SimpleListFilter):
    title = "locked"
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", "Locked"), ("no", "Not locked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(locked_until__gt=now)
        if self.value() == "no":
            return queryset.exclude(locked_until__gt=now)
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Not deleted"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.deleted()
        if self.value() == "no":
            return queryset.alive()
        return queryset


def _each(label: str, operation, past: str):
    """An admin action that applies one service function to each selected account."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for account in queryset:
            operation(account)
            count += 1
        modeladmin.message_user(request, f"{count} account(s) {past}.", messages.SUCCESS)

    action.short_description = label
    action.__name__ = f"action_{operation.__name__}"
    return action


class AccountAdmin(UserAdmin):
    """Shared by users and admins: columns, search, filters, actions, password forms, avatar thumbnails."""

    list_display = (
        "id",
        "thumbnail",
        "username",
        "email",
        "name",
        "phone",
        "is_active",
        "locked",
        "deleted",
        "created_at",
    )
    list_display_links = ("id", "username")
    list_filter = ("is_active", LockedFilter, DeletedFilter)
    search_fields = ("username", "email", "name", "phone")
    ordering = ("id",)
    readonly_fields = (
        "thumbnail",
        "failed_login_attempts",
        "locked_until",
        "created_at",
        "last_login_at",
        "deleted_at",
    )
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("name", "email", "phone", "avatar", "thumbnail")}),
        ("Status", {"fields": ("is_active", "failed_login_attempts", "locked_until", "deleted_at")}),
        ("Dates", {"fields": ("created_at", "last_login_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "name", "email", "phone", "password1", "password2")}),
    )
    filter_horizontal = ()
    actions = [
        _each("Activate selected accounts", services.activate, "activated"),
        _each("Block selected accounts (revokes their tokens)", services.block, "blocked"),
        _each("Unlock selected accounts", services.unlock, "unlocked"),
        _each("Soft-delete selected accounts", services.delete, "deleted"),
        _each("Restore selected accounts", services.restore, "restored"),
        _each("Revoke all tokens of selected accounts", revoke_all_credentials, "signed out everywhere"),
    ]

    @admin.display(boolean=True)
    def locked(self, account) -> bool:
        return account.is_locked

    @admin.display(boolean=True)
    def deleted(self, account) -> bool:
        return account.is_deleted

    @admin.display(description="avatar")
    def thumbnail(self, account) -> str:
        if not account.avatar:
            return "-"
        return format_html(
            '<img src="{}" alt="avatar" style="height:32px;width:32px;object-fit:cover">', account.avatar.url
        )

    def save_model(self, request, obj, form, change) -> None:
        old_avatar = form.initial.get("avatar")
        old_name = getattr(old_avatar, "name", old_avatar) or ""
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            revoke_all_credentials(obj)  # deactivating here is a block, as in the API
        if change and "avatar" in form.changed_data and old_name and old_name != obj.avatar.name:
            delete_avatar_file(old_name)

    def delete_model(self, request, obj) -> None:
        """Deleting from the admin site is a soft delete, as in the API."""
        services.delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for account in queryset:
            services.delete(account)


@admin.register(User)
class UserAccountAdmin(AccountAdmin):
    form, add_form = account_forms(User)


@admin.register(Admin)
class AdminAccountAdmin(AccountAdmin):
    list_display = (*AccountAdmin.list_display, "is_superuser")
    list_filter = (*AccountAdmin.list_filter, "is_superuser")
    fieldsets = (
        *AccountAdmin.fieldsets,
        ("Permissions", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    filter_horizontal = ("groups", "user_permissions")
    form, add_form = account_forms(Admin)


class CredentialAdmin(admin.ModelAdmin):
    list_filter = ("revoked_at", "expires_at")
    actions = ["revoke"]

    @admin.display(description="owner")
    def owner_name(self, obj) -> str:
        return f"{'admin' if obj.admin_id else 'user'} {obj.owner}"

    @admin.action(description="Revoke selected")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.revoke()
        self.message_user(request, f"{count} revoked.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # secrets are issued through the API, shown once


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(CredentialAdmin):
    list_display = ("id", "name", "owner_name", "created_at", "expires_at", "last_used_at", "revoked_at")
    search_fields = ("name", "user__username", "admin__username")
    readonly_fields = ("digest", "user", "admin", "created_at", "last_used_at")
    fields = ("name", "user", "admin", "digest", "created_at", "expires_at", "last_used_at", "revoked_at")


@admin.register(LoginSession)
class LoginSessionAdmin(CredentialAdmin):
    list_display = ("id", "owner_name", "created_at", "refreshed_at", "expires_at", "revoked_at", "ip_address")
    search_fields = ("user__username", "admin__username", "ip_address")
    readonly_fields = ("user", "admin", "refresh_jti", "created_at", "refreshed_at", "ip_address", "user_agent")
