"""What admins do to accounts (users through the API; users and admins through the admin site).

Profile changes go through accounts (services, passwords) and credential effects through
tokens (sessions, mfa), so a rule added there holds here too.
"""

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from accounts import services as account_services
from accounts.models import AbstractAccount, User
from accounts.passwords import set_password
from common import audit
from common.exceptions import NotFound
from tokens import sessions
from tokens.mfa import services as mfa


def get_user(user_id: int) -> User:
    """Any user, soft-deleted ones included (404 otherwise)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found")
    return user


@transaction.atomic
def update_account(
    *, account: AbstractAccount, data: dict[str, Any], request: HttpRequest | None = None
) -> AbstractAccount:
    """Profile fields, avatar, `is_active` and an optional new password (which ends the sessions)."""
    data = dict(data)
    password = data.pop("password", None)
    is_active = data.pop("is_active", None)
    account_services.update_profile(account=account, data=data, request=request)
    if password:
        set_password(account, password)
    if is_active is not None and is_active != account.is_active:
        (activate if is_active else block)(account)
    return account


@transaction.atomic
def activate(account: AbstractAccount) -> AbstractAccount:
    account.is_active = True
    account.save(update_fields=["is_active", "updated_at"])
    audit.record("account.activated", account=account)
    return account


@transaction.atomic
def block(account: AbstractAccount) -> AbstractAccount:
    """Deactivate; every token of the account stops working at once."""
    account.is_active = False
    account.save(update_fields=["is_active", "updated_at"])
    sessions.revoke_all_credentials(account)
    audit.record("account.blocked", account=account)
    return account


@transaction.atomic
def unlock(account: AbstractAccount) -> AbstractAccount:
    account.failed_login_attempts = 0
    account.locked_until = None
    account.save(update_fields=["failed_login_attempts", "locked_until", "updated_at"])
    audit.record("account.unlocked", account=account)
    return account


@transaction.atomic
def turn_off_mfa(account: AbstractAccount) -> AbstractAccount:
    """For an account that lost its device: MFA off, recovery codes gone, every session ends."""
    mfa.disable(account)
    sessions.logout_everywhere(account=account)
    return account
