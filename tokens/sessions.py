"""Login sessions: the row every credential of one login hangs on (its JWTs, or a browser
session), refresh rotation with reuse detection, logout, and ending sessions when the account
floor says so (accounts.signals)."""

import uuid
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AbstractAccount
from accounts.passwords import set_password
from common import audit, mail
from common.exceptions import InvalidToken, NotFound
from common.net import client_ip
from common.realms import Realm, realm_of
from tokens import jwt_tokens
from tokens.models import LoginSession, Owned, PersonalAccessToken, owner_kwargs


def _pair(realm: Realm, session: LoginSession, account_id: int) -> dict[str, Any]:
    claims = {"realm": realm, "account_id": account_id, "session_id": session.pk, "amr": session.amr}
    claims["auth_time"] = int(session.auth_time.timestamp())
    access = jwt_tokens.encode(jwt_tokens.AccessJWT, **claims)
    refresh = jwt_tokens.encode(jwt_tokens.RefreshJWT, **claims)
    refresh["jti"] = session.refresh_jti
    return {
        "access_token": str(access),
        "token_type": "bearer",
        "expires_in": int(jwt_tokens.access_lifetime().total_seconds()),
        "refresh_token": str(refresh),
        "refresh_expires_in": int(jwt_tokens.refresh_lifetime().total_seconds()),
    }


def new_session(account: AbstractAccount, request: HttpRequest | None, *, method: str = "password") -> LoginSession:
    """A login session: the row every credential of one login (JWTs or a browser session) hangs on."""
    return LoginSession.objects.create(
        **owner_kwargs(account),
        method=method,
        amr=LoginSession.AMR.get(method, []),
        refresh_jti=uuid.uuid4().hex,
        expires_at=timezone.now() + jwt_tokens.refresh_lifetime(),
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:255] if request is not None else "",
    )


def open_session(account: AbstractAccount, request: HttpRequest | None, *, method: str = "password") -> dict[str, Any]:
    """Start a login session (`method`: how the login was proven) and return its first token pair."""
    return _pair(realm_of(account), new_session(account, request, method=method), account.pk)


def refresh(*, realm: Realm, raw_refresh: str) -> dict[str, Any]:
    """Rotate a refresh token: single use, and a reused one revokes its whole session."""
    claims = jwt_tokens.decode(jwt_tokens.RefreshJWT, raw_refresh, realm=realm)
    account_id, session_id, jti = claims["sub"], claims[jwt_tokens.SESSION_CLAIM], claims["jti"]
    proven = LoginSession.objects.live_for(realm, account_id).filter(pk=session_id).values("auth_time", "amr").first()
    if proven is None:
        raise InvalidToken()
    now = timezone.now()
    new_jti = uuid.uuid4().hex
    # The rotation is one conditional single-table UPDATE: of two concurrent refreshes
    # of one token exactly one matches the row.
    rotated = LoginSession.objects.filter(
        pk=session_id, refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now
    ).update(refresh_jti=new_jti, refreshed_at=now, expires_at=now + jwt_tokens.refresh_lifetime())
    if rotated:
        return _pair(realm, LoginSession(pk=session_id, refresh_jti=new_jti, **proven), account_id)
    # Signed by us, for this session, but no longer current: it was used before.
    if LoginSession.objects.filter(pk=session_id).exclude(refresh_jti=jti).revoke():
        owner = realm.model.objects.filter(pk=account_id).first()
        audit.record("refresh.reused", account=owner, realm=realm, session_id=session_id)
    raise InvalidToken()


@transaction.atomic
def logout(*, account: AbstractAccount, session_id: int | None, raw_refresh: str | None) -> None:
    """End the calling session, and the one a refresh token of the same account names."""
    session_ids = {session_id}
    if raw_refresh:
        try:
            claims = jwt_tokens.decode(jwt_tokens.RefreshJWT, raw_refresh, realm=realm_of(account))
        except InvalidToken:
            claims = None  # logging out never fails on a stale refresh token
        if claims is not None and claims["sub"] == account.pk:
            session_ids.add(claims[jwt_tokens.SESSION_CLAIM])
    LoginSession.objects.of_account(account).filter(pk__in=session_ids).revoke()
    audit.record("logout", account=account, session_ids=sorted(i for i in session_ids if i is not None))


@transaction.atomic
def reauthenticate(*, account: AbstractAccount, session_id: int, amr: list[str]) -> dict[str, Any]:
    """The session was proven again (`amr`: how): its `auth_time` is now, and a token pair of the
    same session carries it (its refresh token stays the current one)."""
    session = LoginSession.objects.select_for_update().of_account(account).active().filter(pk=session_id).first()
    if session is None:
        raise InvalidToken()
    session.auth_time = timezone.now()
    session.amr = sorted(set(session.amr) | set(amr))
    session.save(update_fields=["auth_time", "amr"])
    audit.record("session.reauthenticated", account=account, session_id=session_id, amr=amr)
    return _pair(realm_of(account), session, account.pk)


def live_sessions(account: AbstractAccount) -> models.QuerySet:
    """The account's sessions that still work, newest login first."""
    return LoginSession.objects.live_for(realm_of(account), account.pk).order_by("-created_at", "-id")


@transaction.atomic
def revoke_session(*, account: AbstractAccount, session_id: int) -> None:
    """End one of the account's sessions (404 if it is not one of its live sessions)."""
    if not live_sessions(account).filter(pk=session_id).revoke():
        raise NotFound("Session not found")
    audit.record("session.revoked", account=account, session_id=session_id)


@transaction.atomic
def logout_everywhere(*, account: AbstractAccount, keep_session_id: int | None = None) -> None:
    """End every session of the account (but `keep_session_id`); personal access tokens stay."""
    ended = LoginSession.objects.of_account(account).exclude(pk=keep_session_id).revoke()
    audit.record("session.revoked", account=account, scope="all", kept_current=keep_session_id is not None, count=ended)


def revoke_sessions(account: AbstractAccount) -> None:
    LoginSession.objects.of_account(account).revoke()


def revoke_all_credentials(account: AbstractAccount) -> None:
    """Every session and personal access token of the account stops working."""
    revoke_sessions(account)
    PersonalAccessToken.objects.of_account(account).revoke()


def end_sessions_on_password_change(sender: type, account: AbstractAccount, event: str, **kwargs: Any) -> None:
    """Listener of accounts.signals.password_changed: a new password, by any path, ends every
    session, is audited and sends the account a notice."""
    revoke_sessions(account)
    audit.record(event, account=account)
    mail.queue(
        to=account.email,
        template="password_changed",
        context={"name": account.name, "username": account.username},
    )


def revoke_on_deletion(sender: type, account: AbstractAccount, **kwargs: Any) -> None:
    """Listener of accounts.signals.account_deleted: nothing of a deleted account signs in."""
    revoke_all_credentials(account)


def delete_on_erasure(sender: type, realm: Realm, ids: list[int], **kwargs: Any) -> None:
    """Listener of accounts.signals.accounts_erasing: every credential, second factor and code of
    the erased accounts is deleted, not only revoked."""
    for model in apps.get_app_config("tokens").get_models():
        if issubclass(model, Owned):
            model.objects.filter(**{f"{realm.name}_id__in": ids}).delete()


@transaction.atomic
def change_password(*, account: AbstractAccount, new_password: str, request: HttpRequest) -> dict[str, Any]:
    """New password; all earlier sessions end (on save); PATs survive; a fresh pair is returned."""
    set_password(account, new_password)
    return open_session(account, request)


def purge() -> dict[str, int]:
    """Delete expired and revoked sessions and tokens."""
    sessions, _ = LoginSession.objects.purgeable().delete()
    pats, _ = PersonalAccessToken.objects.purgeable().delete()
    return {"sessions": sessions, "personal_access_tokens": pats}
