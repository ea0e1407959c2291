import secrets
from typing import Any

from django.contrib.auth.models import Group, Permission, PermissionsMixin
from django.db import connections, models
from django.db.models.signals import m2m_changed, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import AbstractAccount, AccountManager

GRANTS_KEPT = 10_000
_GRANTS: dict[int, tuple[int, frozenset[str]]] = {}  # admin id -> (grants_version, permission names)


def new_grants_version() -> int:
    """A random version rather than a counter: an admin made with the id of another (a test
    database rolled back, a row deleted) never meets the names a process kept for that one."""
    return 1 + secrets.randbelow(2**31 - 2)


class AdminManager(AccountManager):
    def grants_changed(self, **where: Any) -> None:
        """A new `grants_version` for these admins: their kept permission names are read again."""
        self.filter(**where).update(grants_version=new_grants_version())

    def permission_names_of(self, pk: int) -> set[str]:
        """`app_label.codename` of every permission granted to the admin directly or by its roles:
        one plain query (the ORM's version of this OR across two many-to-many tables cost four
        times as much to build as to run, on every admin request)."""
        tables = {
            "permission": Permission._meta.db_table,
            "content_type": Permission._meta.get_field("content_type").related_model._meta.db_table,
            "direct": Admin.user_permissions.through._meta.db_table,
            "holds": Admin.groups.through._meta.db_table,
            "role_grants": Group.permissions.through._meta.db_table,
        }
        connection = connections[self.db]
        q = {name: connection.ops.quote_name(table) for name, table in tables.items()}
        sql = (
            f"SELECT ct.app_label, p.codename FROM {q['permission']} p JOIN {q['content_type']} ct "
            f"ON ct.id = p.content_type_id WHERE p.id IN ("
            f"SELECT permission_id FROM {q['direct']} WHERE admin_id = %s UNION "
            f"SELECT g.permission_id FROM {q['role_grants']} g JOIN {q['holds']} h ON h.group_id = g.group_id "
            f"WHERE h.admin_id = %s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk, pk])
            return {f"{app}.{codename}" for app, codename in cursor.fetchall()}

    def create_superuser(self, username: str, email: str, password: str | None = None, **extra) -> "Admin":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, email, password, **extra)


class Admin(AbstractAccount, PermissionsMixin):
    """An account of the admin realm; also AUTH_USER_MODEL, so operators use the Django admin site."""

    is_staff = models.BooleanField(default=True, help_text="Can log into the Django admin site.")
    grants_version = models.PositiveIntegerField(
        default=new_grants_version, editable=False,
        help_text="Drawn anew whenever the admin's roles or their permissions change.",
    )  # fmt: skip

    objects = AdminManager()

    class Meta(AbstractAccount.Meta):
        constraints = AbstractAccount.account_constraints("admins_admin")

    # One reading of the grants for the JSON API and the Django admin site alike: an active
    # superuser holds everything; anyone else what their roles (and direct grants) hold. Each
    # process keeps an admin's permission names with the `grants_version` they were read at; the
    # admin's row is read afresh by every request's authentication, and every change of its
    # grants bumps that column (signals below), so a revoked grant stops the very next request
    # on every process, and an unchanged one costs no query.

    def permission_names(self) -> set[str]:
        """The names (`app_label.codename`) granted to this admin, superuser or not."""
        if hasattr(self, "_perm_cache"):
            return self._perm_cache
        if "groups" in getattr(self, "_prefetched_objects_cache", {}):  # a listing prefetched them
            held = [*self.user_permissions.all(), *(p for group in self.groups.all() for p in group.permissions.all())]
            self._perm_cache = {f"{p.content_type.app_label}.{p.codename}" for p in held}
        else:
            known = _GRANTS.get(self.pk)
            if known is None or known[0] != self.grants_version:
                known = (self.grants_version, frozenset(Admin.objects.permission_names_of(self.pk)))
                _GRANTS[self.pk] = known
                while len(_GRANTS) > GRANTS_KEPT:
                    _GRANTS.pop(next(iter(_GRANTS)))
            self._perm_cache = set(known[1])
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


# --- Every change of grants bumps the version of the admins it touches -----------------------


@receiver(m2m_changed, sender=Admin.groups.through)
@receiver(m2m_changed, sender=Admin.user_permissions.through)
def _holders_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs: Any) -> None:
    """An admin's roles or direct permissions (from either side of the relation)."""
    if not action.startswith("post_"):
        if action == "pre_clear" and reverse:  # a role or permission cleared of its admins
            Admin.objects.grants_changed(**{"groups" if isinstance(instance, Group) else "user_permissions":
                                            instance})  # fmt: skip
        return
    if reverse:
        if pk_set:
            Admin.objects.grants_changed(pk__in=pk_set)
    else:
        Admin.objects.grants_changed(pk=instance.pk)


@receiver(m2m_changed, sender=Group.permissions.through)
def _role_grants_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        if reverse:  # a permission added to or taken from roles
            Admin.objects.grants_changed(groups__pk__in=pk_set or [])
            if action == "post_clear":
                Admin.objects.grants_changed()
        else:
            Admin.objects.grants_changed(groups=instance)


@receiver(pre_delete, sender=Group)
@receiver(pre_delete, sender=Role)
def _role_deleted(sender, instance, **kwargs: Any) -> None:
    Admin.objects.grants_changed(groups__pk=instance.pk)


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> "InvitationQuerySet":
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())

    def with_status(self, status: str) -> "InvitationQuerySet":
        now = timezone.now()
        return {
            "pending": self.pending(),
            "accepted": self.filter(accepted_at__isnull=False),
            "revoked": self.filter(revoked_at__isnull=False, accepted_at__isnull=True),
            "expired": self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now),
        }[status]


class Invitation(models.Model):
    """An operator's invitation to make an account of a realm (docs/api.md §26): a single-use link
    mailed to `email` (admins.invitations), with roles for the admin realm."""

    STATUSES = ("pending", "accepted", "expired", "revoked")

    email = models.EmailField(max_length=254)
    realm = models.CharField(max_length=16, choices=[("user", "user"), ("admin", "admin")])
    name = models.CharField(max_length=255, blank=True, default="")
    roles = models.ManyToManyField(Role, blank=True, related_name="+")
    invited_by = models.ForeignKey(Admin, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(help_text="The latest link's; an earlier link dies on a resend.")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    account_id = models.BigIntegerField(null=True, blank=True, help_text="The account made by accepting.")

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["realm", "email"])]

    def __str__(self) -> str:
        return f"{self.email} ({self.realm})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "pending"


@receiver(pre_delete, sender=Permission)
def _permission_deleted(sender, instance, **kwargs: Any) -> None:
    Admin.objects.grants_changed()
