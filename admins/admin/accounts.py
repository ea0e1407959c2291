"""The Django admin site's accounts: users and admins side by side (one AccountAdmin), with their
credentials inline, and the rules of who may manage whom (shared by every page of the site)."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts import services as account_services
from accounts.models import User
from admins import services
from admins.forms import account_forms
from admins.models import Admin
from common.images import CleanAvatar
from common.permissions import proven_recently
from common.realms import ADMIN, realm_of
from tokens import sessions
from tokens.browser import sessions as browser
from tokens.models import Identity, LoginSession, Passkey, PersonalAccessToken
from tokens.oidc import identities
from tokens.passkeys import services as passkeys

PROFILE_FIELDS = ("username", "name", "email", "phone", "avatar", "is_active")
PERMISSION_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


def may_manage(request: HttpRequest, account: Any, *, credentials: bool = False) -> bool:
    """Whether the signed-in operator may change this account (its model permission aside).

    Only superusers change superusers; and another admin's credentials (password, address,
    sessions, tokens, MFA) are a superuser's to change. Users are any staff's with the permission.
    """
    if request.user.is_superuser or not isinstance(account, Admin):
        return True
    if account.is_superuser:
        return False
    return not credentials or account.pk == request.user.pk


class StrictLookupsMixin:
    """The changelist answers only the filters it shows: a query string cannot filter on other
    columns (an outbox body, a regex over addresses), and odd values are a 400 or an empty page,
    never a 500."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        names = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.list_filter:
            field = item[0] if isinstance(item, tuple | list) else item
            names.add(field if isinstance(field, str) else getattr(field, "parameter_name", None))
        parts = lookup.split("__")
        return parts[0] in names and parts[-1] not in ("regex", "iregex")

    def get_changelist_instance(self, request: HttpRequest):
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            raise IncorrectLookupParameters("NUL in a query parameter")
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError, ValidationError) as exc:  # a date out of range, a malformed value
            raise IncorrectLookupParameters(exc) from exc

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))


class RecentSignInMixin:
    """The credential pages ask for a recent sign-in before a change, as the API does (§27): a POST
    from a browser session older than REAUTH_MAX_AGE_SECONDS goes to "Confirm it's you" first."""

    def stale(self, request: HttpRequest) -> HttpResponseRedirect | None:
        session = browser.current(request, ADMIN) if request.method == "POST" else None
        if session is None or proven_recently(session.auth_time.timestamp()):
            return None
        messages.warning(request, "This change needs a recent sign-in: confirm it's you, then make it again.")
        url = reverse("admin:reauthenticate", current_app=self.admin_site.name)
        return HttpResponseRedirect(f"{url}?{urlencode({'next': request.get_full_path()})}")

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.stale(request) or super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.stale(request) or super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.stale(request) or super().delete_view(request, *args, **kwargs)


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


def _each(label: str, operation, past: str, *, name: str = "", permission: str = "change", credentials: bool = False):
    """An admin action that applies one service function to each selected account.

    It needs the model permission it implies (`permission`), and every selected account must
    be one the operator may manage (`may_manage`); otherwise nothing is done.
    """

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        accounts = list(queryset)
        if not all(may_manage(request, account, credentials=credentials) for account in accounts):
            modeladmin.message_user(
                request, "Only a superuser may do that to a superuser or to another admin's credentials.",
                messages.ERROR,
            )  # fmt: skip
            return
        for account in accounts:
            operation(account)
        modeladmin.message_user(request, f"{len(accounts)} account(s) {past}.", messages.SUCCESS)

    action.short_description = label
    action.allowed_permissions = (permission,)
    action.__name__ = f"action_{name or operation.__name__}"
    return action


class RevokeOnDeleteFormSet(BaseInlineFormSet):
    """Ticking "delete" on a credential row revokes it (the row stays for the record)."""

    def delete_existing(self, obj, commit: bool = True) -> None:
        if commit:
            type(obj).objects.filter(pk=obj.pk).revoke()


class CredentialInline(admin.TabularInline):
    formset = RevokeOnDeleteFormSet
    extra = 0
    can_delete = True
    show_change_link = False
    verbose_name_plural_suffix = " (tick to revoke)"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).active().order_by("-created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def credential_inlines(owner_field: str) -> list[type[admin.TabularInline]]:
    class SessionInline(CredentialInline):
        model = LoginSession
        fk_name = owner_field
        fields = readonly_fields = ("created_at", "refreshed_at", "expires_at", "ip_address", "user_agent")
        verbose_name_plural = "Live sessions (tick delete to end one)"

    class TokenInline(CredentialInline):
        model = PersonalAccessToken
        fk_name = owner_field
        fields = readonly_fields = ("name", "abilities", "created_at", "expires_at", "last_used_at")
        verbose_name_plural = "Personal access tokens (tick delete to revoke one)"

    class PasskeyInline(RemovableInline):
        model = Passkey
        fk_name = owner_field
        formset = removing(passkeys.delete)
        fields = readonly_fields = ("name", "created_at", "last_used_at", "backed_up")
        verbose_name_plural = "Passkeys (tick delete to remove one)"

    class IdentityInline(RemovableInline):
        model = Identity
        fk_name = owner_field
        formset = removing(identities.delete)
        fields = readonly_fields = ("provider", "subject", "email", "created_at", "last_used_at")
        verbose_name_plural = "Identity providers (tick delete to unlink one)"

    return [SessionInline, TokenInline, PasskeyInline, IdentityInline]


class RemovableInline(admin.TabularInline):
    """Read-only rows an operator may remove (a lost device, a provider account the person lost)."""

    extra = 0
    can_delete = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def removing(remove: Callable[[Any], None]) -> type[BaseInlineFormSet]:
    """A formset whose ticked "delete" calls `remove` (which records it in the audit trail)."""

    class RemovingFormSet(BaseInlineFormSet):
        def delete_existing(self, obj, commit: bool = True) -> None:
            if commit:
                remove(obj)

    return RemovingFormSet


class AccountAdmin(RecentSignInMixin, StrictLookupsMixin, UserAdmin):
    """Shared by users and admins: columns, search, filters, actions, password forms, avatar thumbnails,
    and an "Invite" button on the list (admins.invitation_pages)."""

    change_list_template = "admins/change_list_invite.html"

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
        "email_verified",
        "mfa_enabled",
        "failed_login_attempts",
        "locked_until",
        "created_at",
        "last_login_at",
        "deleted_at",
    )
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("name", "email", "email_verified", "phone", "avatar", "thumbnail")}),
        ("Status", {"fields": ("is_active", "mfa_enabled", "failed_login_attempts", "locked_until", "deleted_at")}),
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
        _each("Soft-delete selected accounts", account_services.soft_delete, "deleted", name="delete",
              permission="delete"),
        _each("Restore selected accounts", account_services.restore, "restored", permission="delete"),
        _each(
            "End all sessions of selected accounts", lambda account: sessions.logout_everywhere(account=account),
            "signed out of every session", name="end_sessions", credentials=True,
        ),
        _each(
            "Turn off MFA of selected accounts (ends their sessions)", services.turn_off_mfa, "without MFA now",
            credentials=True,
        ),
        _each(
            "Revoke all tokens of selected accounts", sessions.revoke_all_credentials, "signed out everywhere",
            credentials=True,
        ),
    ]  # fmt: skip

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

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list:
        return super().get_inlines(request, obj) if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or may_manage(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or may_manage(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        """Another admin's address is a credential (it receives resets): a superuser's to change."""
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not may_manage(request, obj, credentials=True):
            fields += ("email",)
        return fields

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        account = self.get_object(request, id)
        if account is None or not may_manage(request, account, credentials=True):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change) -> None:
        """Create or change through the API's services; `obj` then reloads what they stored."""
        data = {field: form.cleaned_data[field] for field in PROFILE_FIELDS if field in form.cleaned_data}
        if change:
            stored = type(obj).objects.get(pk=obj.pk)  # the form already copied its values onto obj
            changed = {field: data[field] for field in form.changed_data if field in data}
            if "avatar" in changed and not isinstance(changed["avatar"], CleanAvatar):
                del changed["avatar"]  # the "clear" box: no new file
                account_services.remove_avatar(stored)
            services.update_account(account=stored, data=changed, request=request)
            flags = [field for field in ("is_staff", "is_superuser") if field in form.changed_data]
            for field in flags:
                setattr(stored, field, form.cleaned_data[field])
            if flags:
                stored.save(update_fields=[*flags, "updated_at"])
        else:
            data["password"] = form.cleaned_data["password1"]
            obj.pk = account_services.register(realm=realm_of(obj), data=data, request=request).pk
        obj.refresh_from_db()

    def delete_model(self, request, obj) -> None:
        """Deleting from the admin site is a soft delete, as in the API."""
        account_services.soft_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for account in queryset:
            account_services.soft_delete(account)


@admin.register(User)
class UserAccountAdmin(AccountAdmin):
    form, add_form = account_forms(User)
    inlines = credential_inlines("user")


@admin.register(Admin)
class AdminAccountAdmin(AccountAdmin):
    """Only superusers see or change permissions, or set another admin's password."""

    list_display = (*AccountAdmin.list_display, "is_superuser")
    list_filter = (*AccountAdmin.list_filter, "is_superuser")
    permission_fieldset = ("Permissions", {"fields": PERMISSION_FIELDS})
    filter_horizontal = ("groups", "user_permissions")
    form, add_form = account_forms(Admin)
    inlines = credential_inlines("admin")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and request.user.is_superuser:
            return (*fieldsets, self.permission_fieldset)
        return fieldsets
