"""Business rules of credentials: login with lockout, sessions, rotation, revocation, PATs."""

import functools
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from common import audit, mail, ratelimit
from common.exceptions import (
    AccountInactive,
    AccountLocked,
    EmailNotVerified,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    ValidationFailed,
)
from common.models import AbstractAccount, lockout_duration
from common.net import client_ip
from common.realms import Realm, realm_of
from tokens import jwt_tokens, mfa, one_time
from tokens.models import ABILITIES, LoginSession, PersonalAccessToken, owner_kwargs
from tokens.serializers import check_password_rules

PAT_PREFIX = "pat_"


# --- Login -----------------------------------------------------------------------------


@functools.cache
def _dummy_hash(algorithm: str) -> str:
    return make_password(secrets.token_urlsafe(16), hasher=algorithm)


def _record_failure(account: AbstractAccount) -> None:
    locked = type(account).objects.record_failed_login(
        account.pk, max_attempts=settings.MAX_LOGIN_ATTEMPTS, lock_for=lockout_duration()
    )
    if locked:
        audit.record("account.locked", account=account, minutes=settings.LOCKOUT_DURATION_MINUTES)
        mail.queue(
            to=account.email,
            template="account_locked",
            context={
                "name": account.name,
                "username": account.username,
                "minutes": settings.LOCKOUT_DURATION_MINUTES,
                "attempts": settings.MAX_LOGIN_ATTEMPTS,
            },
        )


def _refuse_if_locked(account: AbstractAccount) -> None:
    if account.is_locked:
        audit.record("login.failed", account=account, reason="locked")
        raise AccountLocked(retry_after=account.lock_remaining_seconds())
    if account.locked_until is not None:
        type(account).objects.clear_expired_lock(account.pk)


def spend_login_attempt(request: HttpRequest, realm: Realm) -> None:
    """Count a login attempt against the realm's per-IP budget (every login form of the realm shares it)."""
    rate = (settings.RATE_LIMIT_ATTEMPTS, settings.RATE_LIMIT_WINDOW_MINUTES * 60)
    ratelimit.enforce(request, group=realm.login_rate_group, rate=rate)


def spend_email_budget(request: HttpRequest, realm: Realm, *, purpose: str, address: str) -> None:
    """EMAIL_RATE per client IP and per address, separately for each purpose (they share no budget)."""
    group = f"email:{purpose}:{realm.name}"
    ratelimit.enforce(request, group=group, rate=settings.EMAIL_RATE)
    address_key = hashlib.sha256(address.lower().encode()).hexdigest()
    ratelimit.enforce(request, group=group, rate=settings.EMAIL_RATE, key=f"address:{address_key}")


def verify_credentials(*, realm: Realm, identifier: str, password: str) -> AbstractAccount:
    """Check in the contract's order: find account → lockout → password → active → verified email.

    Shared by the API login and the Django admin site's login form. Success is not recorded
    here: with MFA on, the login succeeds only at its second step (record_login).
    """
    accounts = realm.model.objects
    account = accounts.alive().by_login(identifier).first()
    if account is None:
        # Same cost as a wrong password, so timing does not reveal which accounts exist.
        check_password(password, _dummy_hash(get_hasher().algorithm))
        audit.record("login.failed", realm=realm, reason="unknown_account")
        raise InvalidCredentials()
    _refuse_if_locked(account)
    if not account.check_password(password):
        audit.record("login.failed", account=account, reason="wrong_password")
        _record_failure(account)
        raise InvalidCredentials()
    if not account.is_active:
        audit.record("login.failed", account=account, reason="inactive")
        raise AccountInactive()
    if settings.REQUIRE_EMAIL_VERIFICATION and not account.email_verified:
        raise EmailNotVerified()
    return account


def record_login(account: AbstractAccount, *, method: str = "password") -> None:
    """A successful login: the failure count resets and last_login_at moves."""
    audit.record("login.succeeded", account=account, method=method)
    now = timezone.now()
    type(account).objects.filter(pk=account.pk).update(failed_login_attempts=0, locked_until=None, last_login_at=now)
    account.failed_login_attempts, account.locked_until, account.last_login_at = 0, None, now


def check_current_password(account: AbstractAccount, password: str, *, field: str = "current_password") -> None:
    """A signed-in account re-proving its password: a wrong one counts toward lockout (423 while locked)."""
    account.refresh_from_db(fields=["failed_login_attempts", "locked_until"])
    _refuse_if_locked(account)
    if not account.check_password(password):
        audit.record("login.failed", account=account, reason="wrong_password")
        _record_failure(account)
        raise ValidationFailed(details={field: ["Current password is incorrect."]})


def login(*, realm: Realm, identifier: str, password: str, request: HttpRequest) -> dict[str, Any]:
    """Verify the credentials: the first token pair, or an MFA challenge when MFA is on."""
    account = verify_credentials(realm=realm, identifier=identifier, password=password)
    if account.mfa_enabled:
        return mfa.challenge(account, request)
    with transaction.atomic():  # one commit for the success, its audit event and the new session
        record_login(account)
        return open_session(account, request)


def check_second_factor(account: AbstractAccount, code: str) -> None:
    """A TOTP or recovery code at login: 423 while locked; a wrong one counts as a failed attempt."""
    account.refresh_from_db(fields=["failed_login_attempts", "locked_until"])
    _refuse_if_locked(account)
    if not mfa.use_code(account, code):
        audit.record("login.failed", account=account, reason="wrong_mfa_code")
        _record_failure(account)
        raise InvalidCredentials("Invalid authentication code")


def verify_mfa(*, realm: Realm, mfa_token: str, code: str, request: HttpRequest) -> dict[str, Any]:
    """The login's second step: a TOTP or recovery code for the challenge → the first token pair.

    A wrong code counts as a failed login attempt; while locked the answer is 423.
    """
    challenge, account = mfa.open_challenge(realm, mfa_token)
    check_second_factor(account, code)
    with transaction.atomic():
        mfa.close_challenge(challenge)
        record_login(account, method="mfa")
        return open_session(account, request)


# --- Sessions and token pairs ------------------------------------------------------


def _pair(realm: Realm, session: LoginSession, account_id: int) -> dict[str, Any]:
    access = jwt_tokens.encode(jwt_tokens.AccessJWT, realm=realm, account_id=account_id, session_id=session.pk)
    refresh = jwt_tokens.encode(jwt_tokens.RefreshJWT, realm=realm, account_id=account_id, session_id=session.pk)
    refresh["jti"] = session.refresh_jti
    return {
        "access_token": str(access),
        "token_type": "bearer",
        "expires_in": int(jwt_tokens.access_lifetime().total_seconds()),
        "refresh_token": str(refresh),
        "refresh_expires_in": int(jwt_tokens.refresh_lifetime().total_seconds()),
    }


def new_session(account: AbstractAccount, request: HttpRequest | None) -> LoginSession:
    """A login session: the row every credential of one login (JWTs or a browser session) hangs on."""
    return LoginSession.objects.create(
        **owner_kwargs(account),
        refresh_jti=uuid.uuid4().hex,
        expires_at=timezone.now() + jwt_tokens.refresh_lifetime(),
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:255] if request is not None else "",
    )


def open_session(account: AbstractAccount, request: HttpRequest | None) -> dict[str, Any]:
    """Start a login session and return its first token pair."""
    return _pair(realm_of(account), new_session(account, request), account.pk)


def refresh(*, realm: Realm, raw_refresh: str) -> dict[str, Any]:
    """Rotate a refresh token: single use, and a reused one revokes its whole session."""
    claims = jwt_tokens.decode(jwt_tokens.RefreshJWT, raw_refresh, realm=realm)
    account_id, session_id, jti = claims["sub"], claims[jwt_tokens.SESSION_CLAIM], claims["jti"]
    if not LoginSession.objects.live_for(realm, account_id).filter(pk=session_id).exists():
        raise InvalidToken()
    now = timezone.now()
    new_jti = uuid.uuid4().hex
    # The rotation is one conditional single-table UPDATE: of two concurrent refreshes
    # of one token exactly one matches the row.
    rotated = LoginSession.objects.filter(
        pk=session_id, refresh_jti=jti, revoked_at__isnull=True, expires_at__gt=now
    ).update(refresh_jti=new_jti, refreshed_at=now, expires_at=now + jwt_tokens.refresh_lifetime())
    if rotated:
        return _pair(realm, LoginSession(pk=session_id, refresh_jti=new_jti), account_id)
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


def end_sessions_on_password_change(sender: type, account: AbstractAccount, **kwargs: Any) -> None:
    """Receiver of common.models.password_changed: a new password, by any path, ends every
    session (and so every outstanding reset token) and sends the account a notice."""
    revoke_sessions(account)
    audit.record(getattr(account, "password_event", "password.changed"), account=account)
    mail.queue(
        to=account.email,
        template="password_changed",
        context={"name": account.name, "username": account.username},
    )


# --- Forgotten passwords -------------------------------------------------------------


def forgot_password(*, realm: Realm, email: str, request: HttpRequest) -> None:
    """Mail a reset link to an active, not deleted account with this address; silent otherwise.

    The caller answers the same either way, and all the work (the lookup, the token, the mail)
    happens after the response is sent, so neither the answer nor its timing tells whether
    the address has an account.
    """
    origin = mail.origin_of(request)

    def send() -> None:
        account = realm.model.objects.alive().by_email(email).filter(is_active=True).first()
        if account is not None:
            with transaction.atomic():
                one_time.mail_link(one_time.RESET, account, origin)

    mail.after_response(send)


@transaction.atomic
def reset_password(*, realm: Realm, token: str, new_password: str) -> AbstractAccount:
    """Set the password from a reset link: sessions end (PATs stay), the lockout clears, the link dies."""
    account = one_time.redeem(one_time.RESET, realm, token)
    check_password_rules(new_password, account, field="new_password")
    account.set_password(new_password)
    account.password_event = "password.reset"  # what the password_changed receiver records
    account.failed_login_attempts, account.locked_until = 0, None
    account.save(update_fields=["password", "failed_login_attempts", "locked_until", "updated_at"])
    return account


@transaction.atomic
def change_password(*, account: AbstractAccount, new_password: str, request: HttpRequest) -> dict[str, Any]:
    """New password; all earlier sessions end (on save); PATs survive; a fresh pair is returned."""
    set_password(account, new_password)
    return open_session(account, request)


def set_password(account: AbstractAccount, new_password: str) -> None:
    account.set_password(new_password)
    account.save(update_fields=["password", "updated_at"])


# --- Personal access tokens --------------------------------------------------------


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_pat(
    *,
    account: AbstractAccount,
    name: str,
    expires_in_days: int | None = None,
    abilities: list[str] | None = None,
) -> tuple[PersonalAccessToken, str]:
    days = expires_in_days or settings.PAT_DEFAULT_EXPIRE_DAYS
    secret = PAT_PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        **owner_kwargs(account),
        name=name,
        digest=digest(secret),
        abilities=[a for a in ABILITIES if a in (abilities or ABILITIES)],
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record("token.created", account=account, id=token.pk, name=name, abilities=token.abilities)
    return token, secret


def list_pats(account: AbstractAccount) -> models.QuerySet:
    return (
        PersonalAccessToken.objects.of_account(account).filter(revoked_at__isnull=True).order_by("-created_at", "-id")
    )


@transaction.atomic
def revoke_pat(*, account: AbstractAccount, token_id: int) -> None:
    if not PersonalAccessToken.objects.of_account(account).filter(pk=token_id).revoke():
        raise NotFound("Token not found")
    audit.record("token.revoked", account=account, id=token_id)


def touch_pat(token_id: int, last_used_at: datetime | None) -> None:
    """Record use at most about once a minute per token: one cheap conditional UPDATE."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PAT_LAST_USED_RESOLUTION_SECONDS)
    if last_used_at is None or last_used_at <= stale:
        PersonalAccessToken.objects.filter(pk=token_id).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=stale)
        ).update(last_used_at=now)


def purge() -> dict[str, int]:
    """Delete expired and revoked sessions and tokens."""
    sessions, _ = LoginSession.objects.purgeable().delete()
    pats, _ = PersonalAccessToken.objects.purgeable().delete()
    return {"sessions": sessions, "personal_access_tokens": pats}
