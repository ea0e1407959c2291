"""Account lockout: the decision and its effects, for every place a password is proven.

`MAX_LOGIN_ATTEMPTS` wrong passwords (or second factors) in a row lock the account for
`LOCKOUT_DURATION_MINUTES`; the counter itself is two conditional UPDATEs
(`AccountQuerySet.record_failed_login`), exact under concurrent requests.
"""

from datetime import timedelta

from django.conf import settings

from accounts.models import AbstractAccount
from common import audit, mail
from common.exceptions import AccountLocked, ValidationFailed


def lockout_duration() -> timedelta:
    return timedelta(minutes=settings.LOCKOUT_DURATION_MINUTES)


def record_failure(account: AbstractAccount) -> None:
    """Count one failed proof; at the limit the account locks, is audited and is mailed a notice."""
    locked = type(account).objects.record_failed_login(
        account.pk, max_attempts=settings.MAX_LOGIN_ATTEMPTS, lock_for=lockout_duration()
    )
    if locked:
        audit.record("account.locked", account=account, minutes=settings.LOCKOUT_DURATION_MINUTES)
        context = {"name": account.name, "username": account.username}
        context.update(minutes=settings.LOCKOUT_DURATION_MINUTES, attempts=settings.MAX_LOGIN_ATTEMPTS)
        mail.queue(to=account.email, template="account_locked", context=context)


def refuse_if_locked(account: AbstractAccount) -> None:
    """423 (audited) while locked; a lock that ran out starts the count again from zero."""
    if account.is_locked:
        audit.record("login.failed", account=account, reason="locked")
        raise AccountLocked(retry_after=account.lock_remaining_seconds())
    if account.locked_until is not None:
        type(account).objects.clear_expired_lock(account.pk)


def check_current_password(
    account: AbstractAccount, password: str, *, field: str = "current_password", refused: Exception | None = None
) -> None:
    """A signed-in account re-proving its password: a wrong one counts toward lockout (423 while
    locked) and is 400 on `field`, or `refused` when given."""
    account.refresh_from_db(fields=["failed_login_attempts", "locked_until"])
    refuse_if_locked(account)
    if not account.check_password(password):
        audit.record("login.failed", account=account, reason="wrong_password")
        record_failure(account)
        raise refused or ValidationFailed(details={field: ["Current password is incorrect."]})
