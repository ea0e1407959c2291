"""The password policy, the one place a password is set, and forgotten passwords.

Saving a new password sends `accounts.signals.password_changed` (from the model's save), so
every path (this module, the Django admin site's forms, commands) ends the sessions alike.
"""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts import one_time
from accounts.models import AbstractAccount
from common import mail
from common.exceptions import ValidationFailed
from common.realms import Realm


def password_problems(password: str, account: AbstractAccount) -> list[str]:
    """What Django's validators (length, common passwords, similarity to the account's own
    fields) find wrong with `password`; empty when it may be used."""
    try:
        validate_password(password, user=account)
    except DjangoValidationError as exc:
        return list(exc.messages)
    return []


def check_password_rules(password: str, account: AbstractAccount, field: str = "password") -> None:
    """400 with `details.<field>` as a flat list of messages when the password may not be used."""
    if problems := password_problems(password, account):
        raise ValidationFailed(details={field: problems})


def set_password(account: AbstractAccount, new_password: str, *, event: str = "password.changed") -> None:
    """Save a new password; the save ends every session (see the module docstring)."""
    account.set_password(new_password)
    account.save(update_fields=["password", "updated_at"], password_event=event)


def forgot_password(*, realm: Realm, email: str, request: HttpRequest) -> None:
    """Mail a reset link to an active, not deleted account with this address; silent otherwise.

    The caller answers the same either way, and all the work (the lookup, the token, the mail)
    happens after the response is sent, so neither the answer nor its timing tells whether
    the address has an account.
    """
    origin = mail.origin_of(request)
    one_time.for_address_after_response(
        realm, email, lambda account: one_time.mail_link(one_time.RESET, account, origin)
    )


@transaction.atomic
def reset_password(*, realm: Realm, token: str, new_password: str) -> AbstractAccount:
    """Set the password from a reset link: sessions end (PATs stay), the lockout clears, the link dies."""
    account = one_time.redeem(one_time.RESET, realm, token)
    check_password_rules(new_password, account, field="new_password")
    account.failed_login_attempts, account.locked_until = 0, None
    account.set_password(new_password)
    account.save(
        update_fields=["password", "failed_login_attempts", "locked_until", "updated_at"],
        password_event="password.reset",
    )
    return account
