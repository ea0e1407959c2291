"""Business rules of authentication: login with lockout, sessions, rotation, revocation, PATs."""

import functools
import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from common.exceptions import AccountInactive, AccountLocked, InvalidCredentials, InvalidToken, NotFound
from common.models import AbstractAccount, lockout_duration
from common.net import client_ip
from common.realms import Realm, realm_of
from tokens import jwt
from tokens.models import LoginSession, PersonalAccessToken

PAT_PREFIX = "pat_"


# --- Login -----------------------------------------------------------------------------


@functools.cache
def _dummy_hash(algorithm: str) -> str:
    return make_password(secrets.token_urlsafe(16), hasher=algorithm)


def verify_credentials(*, realm: Realm, identifier: str, password: str) -> AbstractAccount:
    """Check in the contract's order: find account → lockout → password → active.

    Shared by the API login and the Django admin site's login form.
    """
    accounts = realm.model.objects
    account = accounts.alive().by_login(identifier).first()
    if account is None:
        # Same cost as a wrong password, so timing does not reveal which accounts exist.
        check_password(password, _dummy_hash(get_hasher().algorithm))
        raise InvalidCredentials()
    if account.is_locked:
        raise AccountLocked(retry_after=account.lock_remaining_seconds())
    if account.locked_until is not None:
        accounts.clear_expired_lock(account.pk)
    if not account.check_password(password):
        accounts.record_failed_login(account.pk, max_attempts=settings.MAX_LOGIN_ATTEMPTS, lock_for=lockout_duration())
        raise InvalidCredentials()
    if not account.is_active:
        raise AccountInactive()
    now = timezone.now()
    accounts.filter(pk=account.pk).update(failed_login_attempts=0, locked_until=None, last_login_at=now)
    account.failed_login_attempts, account.locked_until, account.last_login_at = 0, None, now
    return account


def login(*, realm: Realm, identifier: str, password: str, request: HttpRequest) -> dict[str, Any]:
    """Verify the credentials and open a session: the first token pair."""
    account = verify_credentials(realm=realm, identifier=identifier, password=password)
    return open_session(account, request)


# --- Sessions and token pairs ------------------------------------------------------


def _pair(realm: Realm, session: LoginSession, account_id: int) -> dict[str, Any]:
    access = jwt.encode(
        jwt.AccessJWT, realm=realm, account_id=account_id, session_id=session.pk, lifetime=jwt.access_lifetime()
    )
    refresh = jwt.encode(
        jwt.RefreshJWT, realm=realm, account_id=account_id, session_id=session.pk, lifetime=jwt.refresh_lifetime()
    )
    refresh["jti"] = session.refresh_jti
    return {
        "access_token": str(access),
        "token_type": "bearer",
        "expires_in": int(jwt.access_lifetime().total_seconds()),
        "refresh_token": str(refresh),
        "refresh_expires_in": int(jwt.refresh_lifetime().total_seconds()),
    }


def open_session(account: AbstractAccount, request: HttpRequest | None) -> dict[str, Any]:
    """Start a login session and return its first token pair."""
    realm = realm_of(account)
    session = LoginSession.objects.create(
        **{realm.name: account},
        refresh_jti=uuid.uuid4().hex,
        expires_at=timezone.now() + jwt.refresh_lifetime(),
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:255] if request is not None else "",
    )
    return _pair(realm, session, account.pk)


def refresh(*, realm: Realm, raw_refresh: str) -> dict[str, Any]:
    """Rotate a refresh token: single use, and a reused one revokes its whole session."""
    claims = jwt.decode(jwt.RefreshJWT, raw_refresh, realm=realm)
    account_id, session_id, jti = int(claims["sub"]), claims[jwt.SESSION_CLAIM], claims["jti"]
    now = timezone.now()
    owner_ok = {
        f"{realm.name}_id": account_id,
        f"{realm.name}__is_active": True,
        f"{realm.name}__deleted_at__isnull": True,
    }
    if not LoginSession.objects.filter(pk=session_id, **owner_ok).exists():
        raise InvalidToken()
    new_jti = uuid.uuid4().hex
    # The rotation is one conditional single-table UPDATE: of two concurrent refreshes
    # of one token exactly one matches the row.
    rotated = LoginSession.objects.filter(
        pk=session_id, refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now
    ).update(refresh_jti=new_jti, refreshed_at=now, expires_at=now + jwt.refresh_lifetime())
    if rotated:
        return _pair(realm, LoginSession(pk=session_id, refresh_jti=new_jti), account_id)
    # Signed by us, for this session, but no longer current: it was used before.
    LoginSession.objects.filter(pk=session_id).exclude(refresh_jti=jti).revoke()
    raise InvalidToken()


def logout(*, account: AbstractAccount, session_id: int, raw_refresh: str | None) -> None:
    """End the calling session, and the one a refresh token of the same account names."""
    realm = realm_of(account)
    session_ids = {session_id}
    if raw_refresh:
        try:
            claims = jwt.decode(jwt.RefreshJWT, raw_refresh, realm=realm)
        except InvalidToken:
            claims = None  # logging out never fails on a stale refresh token
        if claims is not None and int(claims["sub"]) == account.pk:
            session_ids.add(claims[jwt.SESSION_CLAIM])
    LoginSession.objects.owned_by(account).filter(pk__in=session_ids).revoke()


def revoke_sessions(account: AbstractAccount) -> None:
    LoginSession.objects.owned_by(account).revoke()


def revoke_all_credentials(account: AbstractAccount) -> None:
    """Every session and personal access token of the account stops working."""
    revoke_sessions(account)
    PersonalAccessToken.objects.owned_by(account).revoke()


@transaction.atomic
def change_password(*, account: AbstractAccount, new_password: str, request: HttpRequest) -> dict[str, Any]:
    """New password; all earlier sessions end; PATs survive; a fresh pair is returned."""
    set_password(account, new_password)
    return open_session(account, request)


def set_password(account: AbstractAccount, new_password: str) -> None:
    account.set_password(new_password)
    account.save(update_fields=["password", "updated_at"])
    revoke_sessions(account)


@transaction.atomic
def soft_delete(account: AbstractAccount) -> None:
    account.soft_delete()
    revoke_all_credentials(account)


# --- Personal access tokens --------------------------------------------------------


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_pat(
    *, account: AbstractAccount, name: str, expires_in_days: int | None = None
) -> tuple[PersonalAccessToken, str]:
    days = expires_in_days or settings.PAT_DEFAULT_EXPIRE_DAYS
    secret = PAT_PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        **{realm_of(account).name: account},
        name=name,
        digest=digest(secret),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return token, secret


def list_pats(account: AbstractAccount) -> models.QuerySet:
    return PersonalAccessToken.objects.owned_by(account).filter(revoked_at__isnull=True).order_by("-created_at", "-id")


def revoke_pat(*, account: AbstractAccount, token_id: int) -> None:
    if not PersonalAccessToken.objects.owned_by(account).filter(pk=token_id).revoke():
        raise NotFound("Token not found")


def touch_pat(token: PersonalAccessToken) -> None:
    """Record use at most about once a minute per token: one cheap conditional UPDATE."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PAT_LAST_USED_RESOLUTION_SECONDS)
    if token.last_used_at is None or token.last_used_at <= stale:
        PersonalAccessToken.objects.filter(pk=token.pk).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
        token.last_used_at = now


def purge() -> dict[str, int]:
    """Delete expired and revoked sessions and tokens."""
    sessions, _ = LoginSession.objects.purgeable().delete()
    pats, _ = PersonalAccessToken.objects.purgeable().delete()
    return {"sessions": sessions, "personal_access_tokens": pats}
