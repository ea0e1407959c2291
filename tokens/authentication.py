"""The realm-aware bearer authentication: an access JWT or a personal access token."""

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from common.exceptions import Forbidden, InvalidToken
from common.models import AbstractAccount
from common.realms import Realm
from tokens import jwt
from tokens.models import LoginSession, PersonalAccessToken
from tokens.services import PAT_PREFIX, digest, touch_pat


@dataclass(frozen=True)
class Credential:
    """What authenticated the request: a JWT session or a personal access token."""

    kind: str  # "jwt" or "pat"
    session_id: int | None = None
    token_id: int | None = None


class RealmAuthentication(BaseAuthentication):
    """`Authorization: Bearer <JWT or pat_...>` of one realm; the account comes from that realm's table."""

    realm: Realm
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AbstractAccount, Credential] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Authorization header")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("Invalid token") from exc
        try:
            if raw.startswith(PAT_PREFIX):
                return self._authenticate_pat(raw)
            return self._authenticate_jwt(raw)
        except InvalidToken as exc:
            raise AuthenticationFailed("Invalid or expired token") from exc

    def _owner_filter(self) -> dict[str, object]:
        name = self.realm.name
        return {f"{name}__isnull": False, f"{name}__is_active": True, f"{name}__deleted_at__isnull": True}

    def _authenticate_jwt(self, raw: str) -> tuple[AbstractAccount, Credential]:
        claims = jwt.decode(jwt.AccessJWT, raw, realm=self.realm)
        name = self.realm.name
        # One query: the session is live and its account active and not deleted.
        session = (
            LoginSession.objects.select_related(name)
            .filter(pk=claims[jwt.SESSION_CLAIM], revoked_at__isnull=True, **{f"{name}_id": int(claims["sub"])})
            .filter(**self._owner_filter())
            .first()
        )
        if session is None:
            raise InvalidToken()
        return getattr(session, name), Credential(kind="jwt", session_id=session.pk)

    def _authenticate_pat(self, raw: str) -> tuple[AbstractAccount, Credential]:
        name = self.realm.name
        token = (
            PersonalAccessToken.objects.active()
            .select_related(name)
            .filter(digest=digest(raw))
            .filter(**self._owner_filter())
            .first()
        )
        if token is None:
            raise InvalidToken()
        touch_pat(token)
        return getattr(token, name), Credential(kind="pat", token_id=token.pk)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsAuthenticated(BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        return request.user is not None


class IsJWTSession(BasePermission):
    """Token management and password change need a login session, not a personal access token."""

    def has_permission(self, request: Request, view: object) -> bool:
        if request.user is None:
            return False
        if not isinstance(request.auth, Credential) or request.auth.kind != "jwt":
            raise Forbidden("This action requires a login session, not a personal access token")
        return True
