"""Signing in with a code mailed to the account's address (docs/api.md §26).

The code is 6 random digits, stored only as a digest keyed by SECRET_KEY (a database dump yields
no code), single use, LOGIN_CODE_TIMEOUT_MINUTES long, replaced by the next request. Each guess
first spends one of MAX_ATTEMPTS with a conditional UPDATE, so concurrent guesses never get more
than MAX_ATTEMPTS tries at one code. A wrong code is a failed login (lockout counts it).
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts import lockout, one_time
from accounts.models import AbstractAccount
from common import audit, mail
from common.exceptions import InvalidCredentials, NotFound
from common.realms import Realm, realm_of
from tokens.login import check_allowed, finish
from tokens.models import LoginCode, owner_kwargs

MAX_ATTEMPTS = 5


def require_enabled(realm: Realm) -> None:
    """The realms of LOGIN_CODE_REALMS offer it; elsewhere the endpoints answer 404."""
    if realm.name not in settings.LOGIN_CODE_REALMS:
        raise NotFound("Sign-in by code is not offered here")


def _digest(account: AbstractAccount, code: str) -> str:
    key = hashlib.sha256(f"tokens.code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{realm_of(account).name}:{account.pk}:{code}".encode(), hashlib.sha256).hexdigest()


def request_code(*, realm: Realm, email: str) -> None:
    """Mail a new code to an active, not deleted account with this address; nothing otherwise
    (after the response, as reset links)."""
    one_time.for_address_after_response(realm, email, mail_code)


@transaction.atomic
def mail_code(account: AbstractAccount) -> None:
    code = f"{secrets.randbelow(1_000_000):06d}"
    minutes = settings.LOGIN_CODE_TIMEOUT_MINUTES
    LoginCode.objects.of_account(account).delete()  # a new request replaces the earlier code
    LoginCode.objects.create(
        **owner_kwargs(account), digest=_digest(account, code), expires_at=timezone.now() + timedelta(minutes=minutes)
    )
    mail.queue(to=account.email, template="login_code", context={"code": code, "valid_for": f"{minutes} minutes"})


def verify_code(*, realm: Realm, email: str, code: str, request: HttpRequest) -> dict[str, Any]:
    """The token pair (or the MFA challenge) for the right code; 401 INVALID_CREDENTIALS for a
    wrong, spent, expired or unknown one."""
    return finish(check_code(realm=realm, email=email, code=code), request, method="code")


def check_code(*, realm: Realm, email: str, code: str) -> AbstractAccount:
    """The account the right code proves (spent, its address verified), after the password login's
    checks but the password; 401 for a wrong, spent, expired or unknown code. The success is not
    recorded here (the caller signs in: a token pair, or a browser session)."""
    account = realm.model.objects.alive().by_email(email).first()
    if account is None:
        audit.record("login.failed", realm=realm, reason="unknown_account", method="code")
        raise InvalidCredentials()
    lockout.refuse_if_locked(account)
    now = timezone.now()
    found = LoginCode.objects.of_account(account).filter(expires_at__gt=now).order_by("-id").first()
    spent = found is not None and _spend_attempt(found.pk, now)
    if not spent or not hmac.compare_digest(found.digest, _digest(account, code)):
        audit.record("login.failed", account=account, reason="wrong_code", method="code")
        lockout.record_failure(account)
        raise InvalidCredentials("Invalid or expired code")
    if not LoginCode.objects.filter(pk=found.pk).delete()[0]:  # used at the same moment
        raise InvalidCredentials("Invalid or expired code")
    if not account.email_verified:  # the code proves the address
        type(account).objects.filter(pk=account.pk).update(email_verified=True)
        account.email_verified = True
    check_allowed(account)
    return account


def _spend_attempt(pk: int, now: Any) -> bool:
    """One guess at this code, if it has guesses left (exact under concurrency: one UPDATE)."""
    live = LoginCode.objects.filter(pk=pk, attempts__lt=MAX_ATTEMPTS, expires_at__gt=now)
    return live.update(attempts=F("attempts") + 1) == 1
