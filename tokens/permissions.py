"""The default permission: deny unless an account of the view's realm is signed in, with what the credential may do."""

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from common.exceptions import Forbidden, MfaRequired
from common.realms import ADMIN
from tokens.authentication import Credential


class RealmAccess(BasePermission):
    """DEFAULT_PERMISSION_CLASSES: an authenticated account is required, and

    - a personal access token is refused (403) where a stolen long-lived secret must not
      reach: views that set `session_only = True`, or list the methods in it;
    - a personal access token without the `write` ability is refused on unsafe methods;
    - with ADMIN_MFA_REQUIRED, an admin without MFA is refused (403 MFA_REQUIRED) except on
      views that let it get in and enrol (`mfa_exempt = True`, or the methods listed in it).

    Public views say so with `permission_classes = [AllowAny]`.
    """

    def has_permission(self, request: Request, view: object) -> bool:
        if request.user is None:
            return False
        if _needs_mfa(request, view):
            raise MfaRequired()
        credential = request.auth
        if not isinstance(credential, Credential) or credential.is_session:
            return True
        session_only = getattr(view, "session_only", False)
        if session_only is True or request.method in (session_only or ()):
            require_login_session(request)
        if request.method not in SAFE_METHODS and "write" not in credential.abilities:
            raise Forbidden("This personal access token is read-only")
        return True


def require_login_session(request: Request) -> None:
    """403 unless the request is authenticated by a login session (a JWT or a browser session)."""
    credential = request.auth
    if isinstance(credential, Credential) and not credential.is_session:
        raise Forbidden("This action requires a login session, not a personal access token")


def _needs_mfa(request: Request, view: object) -> bool:
    if not settings.ADMIN_MFA_REQUIRED or getattr(view, "realm", None) is not ADMIN or request.user.mfa_enabled:
        return False
    exempt = getattr(view, "mfa_exempt", False)
    method = "GET" if request.method == "HEAD" else request.method  # HEAD is GET without the body
    return not (exempt is True or method in (exempt or ()))
