"""Signing in with a password: the checks in the contract's order, then the second factor
when MFA is on. Shared by the API login and the HTML login forms (tokens.browser.forms)."""

import functools
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import lockout
from accounts.models import AbstractAccount
from common import audit
from common.exceptions import AccountInactive, EmailNotVerified, InvalidCredentials
from common.realms import Realm
from tokens import sessions
from tokens.mfa import services as mfa


@functools.cache
def _dummy_hash(algorithm: str) -> str:
    return make_password(secrets.token_urlsafe(16), hasher=algorithm)


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
    lockout.refuse_if_locked(account)
    if not account.check_password(password):
        audit.record("login.failed", account=account, reason="wrong_password")
        lockout.record_failure(account)
        raise InvalidCredentials()
    check_allowed(account)
    return account


def check_allowed(account: AbstractAccount) -> None:
    """After the account proved who it is (a password, a passkey): active, and verified when required."""
    if not account.is_active:
        audit.record("login.failed", account=account, reason="inactive")
        raise AccountInactive()
    if settings.REQUIRE_EMAIL_VERIFICATION and not account.email_verified:
        raise EmailNotVerified()


def record_login(account: AbstractAccount, *, method: str = "password", **details: Any) -> None:
    """A successful login: the failure count resets and last_login_at moves."""
    audit.record("login.succeeded", account=account, method=method, **details)
    now = timezone.now()
    type(account).objects.filter(pk=account.pk).update(failed_login_attempts=0, locked_until=None, last_login_at=now)
    account.failed_login_attempts, account.locked_until, account.last_login_at = 0, None, now


def password_login(*, realm: Realm, identifier: str, password: str, request: HttpRequest) -> dict[str, Any]:
    """Verify the credentials: the first token pair, or an MFA challenge when MFA is on."""
    account = verify_credentials(realm=realm, identifier=identifier, password=password)
    return finish(account, request)


def finish(account: AbstractAccount, request: HttpRequest, *, method: str = "password", **details: Any) -> dict:
    """An account that proved who it is: the MFA challenge when MFA is on, else the first token
    pair of a new session (`method`), its success recorded in the same commit."""
    if account.mfa_enabled:
        return mfa.challenge(account, request)
    with transaction.atomic():
        record_login(account, method=method, **details)
        return sessions.open_session(account, request, method=method)


def check_second_factor(account: AbstractAccount, code: str) -> None:
    """A TOTP or recovery code at login: 423 while locked; a wrong one counts as a failed attempt."""
    account.refresh_from_db(fields=["failed_login_attempts", "locked_until"])
    lockout.refuse_if_locked(account)
    if not mfa.use_code(account, code):
        audit.record("login.failed", account=account, reason="wrong_mfa_code")
        lockout.record_failure(account)
        raise InvalidCredentials("Invalid authentication code")


def reauthenticate(
    *, account: AbstractAccount, session_id: int, password: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """Prove the current session again (§27): the password or a second-factor code, each wrong one
    counting toward lockout; the session's `auth_time` becomes now."""
    if code is not None:
        check_second_factor(account, code)
        return sessions.reauthenticate(account=account, session_id=session_id, amr=["otp"])
    lockout.check_current_password(account, password, refused=InvalidCredentials())
    return sessions.reauthenticate(account=account, session_id=session_id, amr=["pwd"])


def verify_mfa(*, realm: Realm, mfa_token: str, code: str, request: HttpRequest) -> dict[str, Any]:
    """The login's second step: a TOTP or recovery code for the challenge → the first token pair.

    A wrong code counts as a failed login attempt; while locked the answer is 423.
    """
    challenge, account = mfa.open_challenge(realm, mfa_token)
    check_second_factor(account, code)
    with transaction.atomic():
        mfa.close_challenge(challenge)
        record_login(account, method="mfa")
        return sessions.open_session(account, request, method="mfa")
