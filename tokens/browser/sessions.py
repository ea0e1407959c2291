"""Browser sessions: a login session held by a Django session cookie instead of JWTs.

The cookie's session stores the id of a LoginSession of one realm, so a browser session
ends exactly as tokens do (logout, logout everywhere, password change or reset, block,
deactivation, soft delete), at once and on every process.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import transaction
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import AbstractAccount
from common import ratelimit
from common.exceptions import NotAuthenticated
from common.realms import Realm, realm_of
from tokens import login, sessions
from tokens.models import LoginSession
from tokens.passkeys import services as passkeys


def session_key(realm: Realm) -> str:
    return f"login_session:{realm.name}"


def start(request: HttpRequest, account: AbstractAccount, *, method: str = "browser") -> LoginSession:
    """Sign this browser in to the account's realm with a fresh, empty cookie session: nothing a
    planted cookie carried (another realm's login above all) survives. Only the Django admin
    site's own login of this very account (made just before, by the site) is kept."""
    session = sessions.new_session(account, request, method=method)
    own_login = request.session.get(SESSION_KEY) == str(account.pk) and realm_of(account).name == "admin"
    keep = {key: request.session[key] for key in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY)
            if own_login and key in request.session}  # fmt: skip
    request.session.flush()
    request.session.update(keep)
    request.session[session_key(realm_of(account))] = session.pk
    return session


def current(request: HttpRequest, realm: Realm) -> LoginSession | None:
    """The live login session this browser holds in the realm (one query), if any."""
    session_id = request.session.get(session_key(realm)) if hasattr(request, "session") else None
    if not session_id:
        return None
    return LoginSession.objects.live_for(realm).with_owner(realm).filter(pk=session_id).first()


def reauthenticate(request: HttpRequest, realm: Realm, *, password: str = "", code: str = "") -> None:
    """Prove this browser's session again with the password (or a TOTP or recovery code), as
    POST .../auth/reauthenticate does: the login budget, and a wrong one counts toward lockout."""
    session = current(request, realm)
    if session is None:
        raise NotAuthenticated()
    ratelimit.consume(request, "login", realm)
    account = session.owner_in(realm)
    login.reauthenticate(account=account, session_id=session.pk, password=password or None, code=code or None)


def end(request: HttpRequest, realm: Realm) -> None:
    """Sign this browser out of the realm: its login session is revoked and forgotten."""
    session_id = request.session.pop(session_key(realm), None)
    if session_id:
        LoginSession.objects.filter(pk=session_id).revoke()


def sign_in_with_passkey(
    request: HttpRequest,
    realm: Realm,
    credential: object,
    *,
    before_start: Callable[[AbstractAccount], None] | None = None,
) -> AbstractAccount:
    """A passkey assertion from a login page: the realm's login budget, the passkey login's checks,
    then a browser session begun with a passkey (`before_start` lets the admin site sign in first)."""
    ratelimit.consume(request, "login", realm)
    account = passkeys.verify_login(realm=realm, credential=credential, request=request)
    begin(request, account, method="passkey", before_start=before_start)
    return account


def begin(
    request: HttpRequest,
    account: AbstractAccount,
    *,
    method: str,
    before_start: Callable[[AbstractAccount], None] | None = None,
    **details: Any,
) -> LoginSession:
    """A login page's sign-in that succeeded: recorded, then a browser session, in one commit
    (`before_start` lets the admin site sign in first, and refuse who is not staff)."""
    with transaction.atomic():
        login.record_login(account, method=method, **details)
        if before_start is not None:
            before_start(account)
        return start(request, account, method=method)


DEFAULT_NEXT = "/users/me"  # where a browser goes after signing in to the browsable API


def safe_next(request: HttpRequest, target: str | None, default: str = DEFAULT_NEXT) -> str:
    """Where to go after signing in: a path of this site, never another site."""
    target = target if isinstance(target, str) and target else default
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if safe else default
