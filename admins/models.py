from django.contrib.auth.models import Group, Permission, PermissionsMixin
from django.db import models
from django.db.models import Q

from accounts.models import AbstractAccount, AccountManager


class AdminManager(AccountManager):
    def create_superuser(self, username: str, email: str, password: str | None = None, **extra) -> "Admin":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, email, password, **extra)


class Admin(AbstractAccount, PermissionsMixin):
    """An account of the admin realm; also AUTH_USER_MODEL, so operators use the Django admin site."""

    is_staff = models.BooleanField(default=True, help_text="Can log into the Django admin site.")

    objects = AdminManager()

    class Meta(AbstractAccount.Meta):
        constraints = AbstractAccount.account_constraints("admins_admin")

    # One reading of the grants for the JSON API and the Django admin site alike: an active
    # superuser holds everything; anyone else what their roles (and direct grants) hold, read in
    # one query per request (the account is loaded afresh for each), so a revoked grant stops
    # the very next request on every process.

    def permission_names(self) -> set[str]:
        """The names (`app_label.codename`) granted to this admin, superuser or not."""
        if hasattr(self, "_perm_cache"):
            return self._perm_cache
        if "groups" in getattr(self, "_prefetched_objects_cache", {}):  # a listing prefetched them
            held = [*self.user_permissions.all(), *(p for group in self.groups.all() for p in group.permissions.all())]
            self._perm_cache = {f"{p.content_type.app_label}.{p.codename}" for p in held}
        else:
            granted = Permission.objects.filter(Q(user=self) | Q(group__user=self)).distinct()
            self._perm_cache = {f"{app}.{codename}" for app, codename in
                                granted.values_list("content_type__app_label", "codename")}  # fmt: skip
        return self._perm_cache

    def has_perm(self, perm: str, obj: object = None) -> bool:
        if not self.is_active or obj is not None:
            return False
        return self.is_superuser or perm in self.permission_names()

    def has_perms(self, perm_list, obj: object = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        if not self.is_active:
            return False
        return self.is_superuser or any(name.startswith(f"{app_label}.") for name in self.permission_names())

    def get_all_permissions(self, obj: object = None) -> set[str]:
        if not self.is_active or obj is not None:
            return set()
        return set(Role.grantable_names()) if self.is_superuser else set(self.permission_names())


class Role(Group):
    """A role: a Django group (so the admin site reads the same grants) with a description."""

    GRANTABLE_APPS = ("accounts", "admins", "auth", "common", "oauth2_provider", "tokens")

    description = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["name"]
        default_permissions = ()  # roles are judged by auth.*_group, as the groups they are

    @staticmethod
    def grantable() -> models.QuerySet:
        """Every permission a role may hold (those of this service's apps and of roles)."""
        return (
            Permission.objects.filter(content_type__app_label__in=Role.GRANTABLE_APPS)
            .exclude(content_type__app_label="auth", content_type__model="permission")
            .select_related("content_type")
            .order_by("content_type__app_label", "codename")
        )

    @staticmethod
    def grantable_names() -> list[str]:
        return [f"{p.content_type.app_label}.{p.codename}" for p in Role.grantable()]
