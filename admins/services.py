"""What admins do to accounts (users through the API; users and admins through the admin site).

Credential effects go through the tokens services.
"""

from typing import Any

from django.db import transaction

from accounts.models import User
from common import services as accounts
from common.exceptions import NotFound
from common.models import AbstractAccount
from tokens import services as credentials


def get_user(user_id: int) -> User:
    """Any user, soft-deleted ones included (404 otherwise)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found")
    return user


@transaction.atomic
def update_user(*, user: User, data: dict[str, Any]) -> User:
    """Profile fields, `is_active` and an optional new password (which ends the user's sessions)."""
    password = data.pop("password", None)
    is_active = data.pop("is_active", None)
    accounts.update_profile(account=user, data=data)
    if password:
        credentials.set_password(user, password)
    if is_active is not None and is_active != user.is_active:
        if is_active:
            activate(user)
        else:
            block(user)
    return user


def activate(user: AbstractAccount) -> AbstractAccount:
    user.is_active = True
    user.save(update_fields=["is_active", "updated_at"])
    return user


@transaction.atomic
def block(user: AbstractAccount) -> AbstractAccount:
    """Deactivate; every token of the user stops working at once."""
    user.is_active = False
    user.save(update_fields=["is_active", "updated_at"])
    credentials.revoke_all_credentials(user)
    return user


def unlock(user: AbstractAccount) -> AbstractAccount:
    user.failed_login_attempts = 0
    user.locked_until = None
    user.save(update_fields=["failed_login_attempts", "locked_until", "updated_at"])
    return user


def delete(user: AbstractAccount) -> None:
    if not user.is_deleted:
        credentials.soft_delete(user)


def restore(user: AbstractAccount) -> AbstractAccount:
    if user.is_deleted:
        user.restore()
    return user
