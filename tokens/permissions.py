"""The default permission: deny unless an account of the view's realm is signed in, with what the credential may do."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from common.exceptions import Forbidden
from tokens.authentication import Credential


class RealmAccess(BasePermission):
    """DEFAULT_PERMISSION_CLASSES: an authenticated account is required, and

    - a personal access token is refused (403) where a stolen long-lived secret must not
      reach: views that set `session_only = True`, or list the methods in it;
    - a personal access token without the `write` ability is refused on unsafe methods.

    Public views say so with `permission_classes = [AllowAny]`.
    """

    def has_permission(self, request: Request, view: object) -> bool:
        if request.user is None:
            return False
        credential = request.auth
        if not isinstance(credential, Credential) or credential.is_session:
            return True
        session_only = getattr(view, "session_only", False)
        if session_only is True or request.method in (session_only or ()):
            raise Forbidden("This action requires a login session, not a personal access token")
        if request.method not in SAFE_METHODS and "write" not in credential.abilities:
            raise Forbidden("This personal access token is read-only")
        return True
