"""The realm-aware bearer authentication: an access JWT or a personal access token."""

from dataclasses import dataclass, field

from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import AbstractAccount
from common.exceptions import InvalidToken
from common.realms import ADMIN, USER, Realm
from tokens import jwt_tokens
from tokens.browser import sessions as browser
from tokens.models import ABILITIES, LoginSession, PersonalAccessToken
from tokens.pats import digest, is_personal_access_token, touch_pat


@dataclass(frozen=True)
class Credential:
    """What authenticated the request: a login session (JWT) or a personal access token."""

    kind: str  # "jwt", "browser" or "pat"
    session_id: int | None = None
    abilities: frozenset[str] = field(default_factory=lambda: frozenset(ABILITIES))
    method: str = ""  # how the login session was proven (LoginSession.method); "" for a PAT
    auth_time: int | None = None  # when the session was last proven (Unix seconds); None for a PAT

    @property
    def is_session(self) -> bool:
        return self.kind != "pat"


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
            if is_personal_access_token(raw):
                return self._authenticate_pat(raw)
            return self._authenticate_jwt(raw)
        except InvalidToken as exc:
            raise AuthenticationFailed("Invalid or expired token") from exc

    def _authenticate_jwt(self, raw: str) -> tuple[AbstractAccount, Credential]:
        claims = jwt_tokens.decode(jwt_tokens.AccessJWT, raw, realm=self.realm)
        # One query: the session is live and its account active and not deleted.
        session_id = claims[jwt_tokens.SESSION_CLAIM]
        found = LoginSession.objects.live_owner(self.realm, account_id=claims["sub"], id=session_id, extra=("method",))
        if found is None:
            raise InvalidToken()
        auth_time = claims.get("auth_time")
        auth_time = auth_time if type(auth_time) is int else None
        return found[0], Credential(kind="jwt", session_id=session_id, method=found[1], auth_time=auth_time)

    def _authenticate_pat(self, raw: str) -> tuple[AbstractAccount, Credential]:
        found = PersonalAccessToken.objects.live_owner(
            self.realm, digest=digest(raw), extra=("id", "abilities", "last_used_at")
        )
        if found is None:
            raise InvalidToken()
        account, token_id, abilities, last_used_at = found
        touch_pat(token_id, last_used_at)
        return account, Credential(kind="pat", abilities=frozenset(abilities))

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class RealmSessionAuthentication(SessionAuthentication):
    """A browser session of one realm (tokens.browser), with DRF's CSRF check on unsafe methods.

    Listed after the bearer class: a request with a bearer header is judged by the token
    alone (an invalid token fails before this is consulted).
    """

    realm: Realm

    def authenticate(self, request: Request) -> tuple[AbstractAccount, Credential] | None:
        session = browser.current(request._request, self.realm)
        if session is None:
            return None
        self.enforce_csrf(request)
        credential = Credential(
            kind="browser", session_id=session.pk, method=session.method, auth_time=int(session.auth_time.timestamp())
        )
        return session.owner_in(self.realm), credential

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class UserAuthentication(RealmAuthentication):
    """Bearer tokens of the user realm."""

    realm = USER


class UserSessionAuthentication(RealmSessionAuthentication):
    """Browser sessions of the user realm (/api-auth/login/)."""

    realm = USER


class AdminAuthentication(RealmAuthentication):
    """Bearer tokens of the admin realm."""

    realm = ADMIN


class AdminSessionAuthentication(RealmSessionAuthentication):
    """Browser sessions of the admin realm (started by logging into the Django admin site)."""

    realm = ADMIN


# Each realm's authentication classes: its bearer tokens first, then its browser sessions.
USER_AUTHENTICATION: list[type[BaseAuthentication]] = [UserAuthentication, UserSessionAuthentication]
ADMIN_AUTHENTICATION: list[type[BaseAuthentication]] = [AdminAuthentication, AdminSessionAuthentication]
