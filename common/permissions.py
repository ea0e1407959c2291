"""Who may call an endpoint: one small policy per class, composed per view as DRF composes its
own (`permission_classes = [SignedIn, AdminMfaEnrolled, NotAPersonalAccessToken]`).

The default (DEFAULT_PERMISSION_CLASSES) is `SIGNED_IN`: deny unless an account of the view's
realm is signed in. Public views say so with `permission_classes = [AllowAny]`. A policy that
holds for some methods only is narrowed with `.only(...)` or `.except_for(...)`.

A request's credential (`request.auth`) is read through two attributes only: `is_session`
(a login session: a JWT or a browser session) and `abilities` (of a personal access token),
so this module needs nothing from the app that authenticates.
"""

import time
from typing import Any, ClassVar

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from common.exceptions import Forbidden, MfaRequired, ReauthenticationRequired
from common.realms import ADMIN


class Policy(BasePermission):
    """A permission that may apply to some methods only (`methods`; None: all of them)."""

    methods: ClassVar[frozenset[str] | None] = None
    exempt: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def only(cls, *methods: str) -> type["Policy"]:
        """This policy, for these methods only."""
        return type(f"{cls.__name__}Only{''.join(methods)}", (cls,), {"methods": frozenset(methods)})

    @classmethod
    def except_for(cls, *methods: str) -> type["Policy"]:
        """This policy, for every method but these."""
        return type(f"{cls.__name__}Except{''.join(methods)}", (cls,), {"exempt": frozenset(methods)})

    def has_permission(self, request: Request, view: Any) -> bool:
        method = "GET" if request.method == "HEAD" else request.method  # HEAD is GET without the body
        if method in self.exempt or (self.methods is not None and method not in self.methods):
            return True
        return self.check(request, view)

    def check(self, request: Request, view: Any) -> bool:
        raise NotImplementedError


class SignedIn(Policy):
    """An account of the view's realm is signed in (the realm's authentication classes found one)."""

    def check(self, request: Request, view: Any) -> bool:
        return request.user is not None


class AdminMfaEnrolled(Policy):
    """With ADMIN_MFA_REQUIRED, an admin without MFA is refused (403 MFA_REQUIRED), unless its
    session began with a passkey (already two factors); views that let it get in and enrol
    leave this policy out, or narrow it."""

    def check(self, request: Request, view: Any) -> bool:
        if not settings.ADMIN_MFA_REQUIRED or getattr(view, "realm", None) is not ADMIN or request.user.mfa_enabled:
            return True
        if getattr(request.auth, "method", "") == "passkey":
            return True
        raise MfaRequired()


class NotAPersonalAccessToken(Policy):
    """A login session (JWT or browser), not a personal access token: where a stolen long-lived
    secret must not reach (403 FORBIDDEN)."""

    def check(self, request: Request, view: Any) -> bool:
        require_login_session(request)
        return True


class RecentSignIn(Policy):
    """A session proven within REAUTH_MAX_AGE_SECONDS (its `auth_time`: the login, or the last
    POST .../auth/reauthenticate), for what a stolen access token must not do: plant a second
    factor, mint a long-lived token, remove a way in, delete the account (401
    REAUTHENTICATION_REQUIRED, RFC 9470). Listed after NotAPersonalAccessToken: a PAT never gets here."""

    def check(self, request: Request, view: Any) -> bool:
        if not proven_recently(getattr(request.auth, "auth_time", None) or 0):
            raise ReauthenticationRequired(max_age=settings.REAUTH_MAX_AGE_SECONDS)
        return True


def proven_recently(auth_time: float) -> bool:
    """A session proven at `auth_time` (Unix seconds) is recent enough for RecentSignIn (the admin
    site's credential pages ask the same)."""
    return time.time() - auth_time <= settings.REAUTH_MAX_AGE_SECONDS


class Requires(Policy):
    """The signed-in admin holds a Django permission (`Requires("accounts.view_user")`, narrowed
    per method with `.only(...)`), read from the same roles (groups) the Django admin site reads;
    a superuser holds every one. A personal access token acts with its admin's permissions of the
    moment, and one without the `write` ability passes only `view_` permissions. 403 FORBIDDEN
    with `details.permission`, before the body is read or anything is looked up."""

    permission: ClassVar[str] = ""

    def __new__(cls, permission: str | None = None) -> Any:
        """`Requires("app.codename")` is the policy class for that permission (DRF makes its
        instances with no argument)."""
        if permission is None:
            return super().__new__(cls)
        return type(f"Requires_{permission.replace('.', '_')}", (cls,), {"permission": permission})

    def check(self, request: Request, view: Any) -> bool:
        demand(request, self.needed(request, view))
        return True

    def needed(self, request: Request, view: Any) -> str:
        return self.permission

    @classmethod
    def per_realm(cls, **by_realm: str) -> type["Requires"]:
        """The permission of the realm the request is about (`view.realm_in_question(request)`):
        `Requires.per_realm(user="accounts.add_user", admin="admins.add_admin")`."""

        def needed(self: Requires, request: Request, view: Any) -> str:
            return by_realm[view.realm_in_question(request)]

        name = f"Requires_per_realm_{'_'.join(by_realm.values()).replace('.', '_')}"
        return type(name, (cls,), {"permission": " or ".join(by_realm.values()), "needed": needed})


def demand(request: Request, permission: str) -> None:
    """403 FORBIDDEN (`details.permission`) unless the admin holds `permission`; a PAT without
    `write` passes only `view_` permissions."""
    abilities = getattr(request.auth, "abilities", None)
    read_only = abilities is not None and "write" not in abilities
    codename = permission.partition(".")[2]
    if (read_only and not codename.startswith("view_")) or not request.user.has_perm(permission):
        raise Forbidden(details={"permission": [permission]})


class TokenCanWrite(Policy):
    """A personal access token without the `write` ability only reads (403 on unsafe methods)."""

    def check(self, request: Request, view: Any) -> bool:
        abilities = getattr(request.auth, "abilities", None)
        if request.method not in SAFE_METHODS and abilities is not None and "write" not in abilities:
            raise Forbidden("This personal access token is read-only")
        return True


def require_login_session(request: Request) -> None:
    """403 unless the request is authenticated by a login session (for checks inside a view)."""
    if getattr(request.auth, "is_session", True) is False:
        raise Forbidden("This action requires a login session, not a personal access token")


# The default: signed in to this realm, MFA where required, write ability for writes.
SIGNED_IN: list[type[BasePermission]] = [SignedIn, AdminMfaEnrolled, TokenCanWrite]
# ... and a login session, not a personal access token.
LOGIN_SESSION: list[type[BasePermission]] = [SignedIn, AdminMfaEnrolled, NotAPersonalAccessToken, TokenCanWrite]


Needed = str | type[Requires]


def requiring(
    permission: Needed | None = None, *, base: list[type[BasePermission]] | None = None, **by_method: Needed
) -> list[type[BasePermission]]:
    """`base` (SIGNED_IN) with the admin permission each method needs, checked before the PAT's
    write ability: `requiring("common.view_auditevent")` for every method, or per method
    (`requiring(GET="accounts.view_user", DELETE="accounts.delete_user")`; HEAD goes as GET). A
    permission is named, or a Requires policy (`Requires.per_realm(...)`)."""

    def policy(needed: Needed) -> type[Requires]:
        return needed if isinstance(needed, type) else Requires(needed)

    needs = [policy(permission)] if permission else [policy(p).only(m) for m, p in by_method.items()]
    policies = list(base or SIGNED_IN)
    at = policies.index(TokenCanWrite) if TokenCanWrite in policies else len(policies)
    return [*policies[:at], *needs, *policies[at:]]  # fmt: skip


# ... without the admin MFA requirement: what an admin without MFA needs to get in and enrol.
LOGIN_SESSION_BEFORE_MFA: list[type[BasePermission]] = [SignedIn, NotAPersonalAccessToken, TokenCanWrite]
