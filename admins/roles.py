"""Roles and operators (docs/api.md §24): roles are Django groups, permissions Django permissions,
so the JSON API and the Django admin site judge an admin by the same grants. Both doors call
these functions, and these hold the rules against escalation: an admin grants only what it holds,
only a superuser touches superusers, nobody changes their own grants, and the last active
superuser stays."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from admins import services
from admins.models import Admin, Role
from common import audit
from common.exceptions import Conflict, Forbidden, NotFound, ValidationFailed

_names: list[str] = []  # every grantable name, read once per process (migrations make them)


def grantable_names() -> list[str]:
    if not _names:
        _names.extend(Role.grantable_names())
    return _names


def permission_list() -> list[dict[str, str]]:
    return [{"name": f"{p.content_type.app_label}.{p.codename}", "description": p.name} for p in Role.grantable()]


def effective_permissions(admin: Admin) -> list[str]:
    """What the admin holds, sorted: for a superuser, every grantable name."""
    if not admin.is_active:
        return []
    return list(grantable_names()) if admin.is_superuser else sorted(admin.permission_names())


def _names_of(role: Role) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all()}


def _require_all(actor: Admin, names: Iterable[str]) -> None:
    """403 naming the first permission the actor lacks (an admin grants only what it holds)."""
    for name in sorted(names):
        if not actor.has_perm(name):
            raise Forbidden("You can grant only permissions you hold", details={"permission": [name]})


def permission_rows(names: list[str]) -> list[Permission]:
    """The Permission rows of `names`; 400 details.permissions for a name that is not one."""
    known = {f"{p.content_type.app_label}.{p.codename}": p for p in Role.grantable()}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationFailed(details={"permissions": [f"Unknown permission: {name}." for name in unknown]})
    return [known[name] for name in dict.fromkeys(names)]


# --- Roles ----------------------------------------------------------------------------------

# The roles `seed` makes when missing: read-only operators (every view_ permission of the API's
# table), and user managers (read, change and delete users).
VIEWER = "Viewer"
USER_MANAGER = "User manager"
VIEWER_PERMISSIONS = (  # (those of parts not installed are left out)
    "accounts.view_user", "admins.view_admin", "auth.view_group", "common.view_auditevent",
    "common.view_webhookendpoint", "common.view_setting", "oauth2_provider.view_application",
)  # fmt: skip
DEFAULT_ROLES = {
    VIEWER: ("Reads accounts, admins, roles, the audit trail and webhooks.", VIEWER_PERMISSIONS),
    USER_MANAGER: ("A viewer who also changes, blocks and deletes users.",
                   (*VIEWER_PERMISSIONS, "accounts.change_user", "accounts.delete_user")),
}  # fmt: skip


@transaction.atomic
def ensure_default_roles() -> list[str]:
    """Make the default roles that are missing; the names of those made."""
    made = []
    for name, (description, names) in DEFAULT_ROLES.items():
        if Role.objects.filter(name__iexact=name).exists():
            continue
        role = Role.objects.create(name=name, description=description)
        role.permissions.set(permission_rows([n for n in names if n in grantable_names()]))
        made.append(name)
    return made


def roles() -> QuerySet[Role]:
    return (
        Role.objects.annotate(admin_count=Count("user", distinct=True))
        .prefetch_related("permissions__content_type")
        .order_by("name", "pk")
    )


def get_role(role_id: int) -> Role:
    role = roles().filter(pk=role_id).first()
    if role is None:
        raise NotFound("Role not found")
    return role


def holds_all(actor: Admin, role: Role) -> bool:
    return all(actor.has_perm(name) for name in _names_of(role))


def check_role_change(*, actor: Admin, role: Role | None, names: list[str], name: str | None) -> list[Permission]:
    """The rules of creating (`role` None) or changing a role, before anything is written: known
    permissions (400), all held by the actor, and all of the role's present ones too (403), a
    free name (409). The Permission rows of `names`."""
    chosen = permission_rows(names)
    if role is not None:
        _require_all(actor, _names_of(role))
    _require_all(actor, names)
    if name:
        _check_name(name, role)
    return chosen


def _check_name(name: str, role: Role | None = None) -> None:
    taken = Role.objects.filter(name__iexact=name).exclude(pk=getattr(role, "pk", None))
    if taken.exists():
        raise Conflict("A role with this name exists", details={"name": ["A role with this name exists."]})


@transaction.atomic
def create_role(*, actor: Admin, name: str, description: str = "", permissions: list[str]) -> Role:
    chosen = check_role_change(actor=actor, role=None, names=permissions, name=name)
    try:
        with transaction.atomic():
            role = Role.objects.create(name=name, description=description)
    except IntegrityError as exc:  # the same name, made at the same moment
        raise Conflict("A role with this name exists", details={"name": ["A role with this name exists."]}) from exc
    role.permissions.set(chosen)
    audit.record("role.created", account=actor, role_id=role.pk, name=name, permissions=sorted(permissions))
    return get_role(role.pk)


@transaction.atomic
def update_role(*, actor: Admin, role: Role, data: dict[str, Any]) -> Role:
    """`name`, `description`, `permissions` (replaced). The actor must hold every permission the
    role has and will have: nobody edits a role stronger than themselves."""
    names = data.get("permissions", sorted(_names_of(role)))
    chosen = check_role_change(actor=actor, role=role, names=names, name=data.get("name"))
    if "permissions" in data:
        role.permissions.set(chosen)
    for field in ("name", "description"):
        if field in data:
            setattr(role, field, data[field])
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError as exc:
        raise Conflict("A role with this name exists", details={"name": ["A role with this name exists."]}) from exc
    audit.record("role.updated", account=actor, role_id=role.pk, name=role.name, fields=sorted(data))
    return get_role(role.pk)


@transaction.atomic
def delete_role(*, actor: Admin, role: Role) -> None:
    _require_all(actor, _names_of(role))  # removing a role takes its grants from its holders
    audit.record("role.deleted", account=actor, role_id=role.pk, name=role.name)
    role.delete()


# --- Operators ------------------------------------------------------------------------------


def admins(*, search: str = "", is_active: str | None = None, role: int | None = None) -> QuerySet[Admin]:
    """Live admins by id, with what their representation needs (roles and grants) prefetched."""
    found = Admin.objects.listing(search=search, is_active=is_active)
    if role is not None:
        found = found.filter(pk__in=Admin.objects.filter(groups__pk=role).values("pk"))
    return found.prefetch_related("groups", "groups__permissions__content_type", "user_permissions__content_type")


def get_admin(admin_id: int) -> Admin:
    admin = admins().filter(pk=admin_id).first()
    if admin is None:
        raise NotFound("Admin not found")
    return admin


def _refuse_last_superuser(target: Admin) -> None:
    """409 if `target` is the only active superuser. The active superusers are locked (in pk
    order) so that two demotions at once are judged one after the other."""
    active = list(Admin.objects.alive().select_for_update().filter(is_superuser=True, is_active=True).order_by("pk"))
    if [a.pk for a in active] == [target.pk]:
        raise Conflict("The last active superuser cannot be demoted, deactivated or deleted")


@transaction.atomic
def change_admin(*, actor: Admin, target: Admin, data: dict[str, Any]) -> Admin:
    """`roles` (ids; replaces), `is_active`, `is_superuser`, under the rules against escalation."""
    if target.pk == actor.pk:
        raise Forbidden("You cannot change your own roles, activity or superuser status")
    if ("is_superuser" in data or target.is_superuser) and not actor.is_superuser:
        raise Forbidden("Only a superuser makes superusers or changes one")
    losing = data.get("is_active") is False or data.get("is_superuser") is False
    if target.is_superuser and target.is_active and losing:
        _refuse_last_superuser(target)
    details: dict[str, Any] = {}
    if "roles" in data:
        wanted = {role.pk: role for role in Role.objects.filter(pk__in=data["roles"]).prefetch_related(
            "permissions__content_type")}  # fmt: skip
        unknown = [pk for pk in data["roles"] if pk not in wanted]
        if unknown:
            raise ValidationFailed(details={"roles": [f"Unknown role: {pk}." for pk in unknown]})
        current = {role.pk: role for role in Role.objects.filter(user=target).prefetch_related(
            "permissions__content_type")}  # fmt: skip
        added = [wanted[pk] for pk in wanted if pk not in current]
        removed = [current[pk] for pk in current if pk not in wanted]
        for role in (*added, *removed):
            _require_all(actor, _names_of(role))
        target.groups.remove(*removed)
        target.groups.add(*added)
        details.update(added=sorted(r.name for r in added), removed=sorted(r.name for r in removed))
    if "is_superuser" in data and data["is_superuser"] != target.is_superuser:
        target.is_superuser = data["is_superuser"]
        target.save(update_fields=["is_superuser", "updated_at"])
        details["is_superuser"] = target.is_superuser
    if details:
        details.setdefault("added", [])
        details.setdefault("removed", [])
        audit.record("admin.roles_changed", account=target, **details)
    if "is_active" in data and data["is_active"] != target.is_active:
        (services.activate if data["is_active"] else services.block)(target)
    return get_admin(target.pk)
