"""One-time tokens sent by email: password reset and email verification.

A token is a signed, timestamped (account id, state) for one purpose and one realm. The
state is a digest of what the token is about (the password hash and the address for a
reset; the address, its verified flag and the pending address for a verification; for both
the moment the address last changed), so a token dies when that changes: a reset once any
new password is saved or the address changes, a verification once the address is verified
or changed (also back to an earlier one). No table is needed, and a database dump yields no
usable token.
"""

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction

from accounts.models import AbstractAccount
from common import after_response as deferred
from common import mail
from common.exceptions import ValidationFailed
from common.realms import Realm, realm_of

RESET, VERIFY, INVITE = "password-reset", "email-verify", "invitation"


def invalid_token() -> ValidationFailed:
    return ValidationFailed("Invalid or expired token", details={"token": ["This token is invalid or has expired."]})


# purpose → (mail template, path of the link on the frontend)
MAILS = {RESET: ("reset_password", "reset-password"), VERIFY: ("verify_email", "verify-email")}


def _state(purpose: str, account: AbstractAccount) -> str:
    changed = account.email_changed_at.isoformat() if account.email_changed_at else ""
    if purpose == RESET:
        material = f"{account.password}|{account.email.lower()}|{changed}"
    else:
        material = f"{account.email.lower()}|{account.email_verified}|{account.pending_email or ''}|{changed}"
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def _signer(purpose: str, realm: Realm) -> signing.TimestampSigner:
    # "." keeps the token URL-safe (base64url pieces joined by dots).
    # The salt of earlier releases (when this module lived in `tokens`): their links keep working.
    return signing.TimestampSigner(salt=f"tokens.one_time:{purpose}:{realm.name}", sep=".")


def lifetime(purpose: str) -> timedelta:
    if purpose == RESET:
        return timedelta(minutes=settings.PASSWORD_RESET_TIMEOUT_MINUTES)
    return timedelta(hours=settings.EMAIL_VERIFICATION_TIMEOUT_HOURS)


def make(purpose: str, account: AbstractAccount) -> str:
    return sign(purpose, realm_of(account), [account.pk, _state(purpose, account)])


def sign(purpose: str, realm: Realm, payload: list) -> str:
    """A token for `purpose` in `realm` carrying `payload` (also for what is not yet an account: an
    invitation)."""
    return _signer(purpose, realm).sign_object(payload)


def unsign(purpose: str, realm: Realm, token: str, max_age: timedelta) -> list:
    """The payload of a token of this purpose and realm, signed within `max_age`; 400 with
    details.token otherwise (used, expired, tampered or of another realm)."""
    try:
        payload = _signer(purpose, realm).unsign_object(token, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise invalid_token() from exc
    if not isinstance(payload, list):
        raise invalid_token()
    return payload


def mail_link(purpose: str, account: AbstractAccount, origin: str) -> None:
    """Mail the account a link carrying a new token for `purpose` (token=... and nowhere else).

    A verification goes to the pending address when there is one, else to the address; the
    link's path names the realm (`/admin/...` for admins) so a frontend knows where to post it.
    """
    template, path = MAILS[purpose]
    minutes = int(lifetime(purpose).total_seconds() // 60)
    valid_for = f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"
    link = mail.link(origin, realm_of(account).link_prefix + path, make(purpose, account))
    to = (account.pending_email if purpose == VERIFY else None) or account.email
    context = {"name": account.name, "username": account.username, "email": to}
    mail.queue(to=to, template=template, context={**context, "link": link, "valid_for": valid_for})


def redeem(purpose: str, realm: Realm, token: str) -> AbstractAccount:
    """The account a valid token names; 400 with details.token when used, expired, tampered or of another realm."""
    try:
        account_id, state = unsign(purpose, realm, token, lifetime(purpose))
    except ValueError as exc:
        raise invalid_token() from exc
    account = realm.model.objects.alive().filter(pk=account_id, is_active=True).first()
    if account is None or _state(purpose, account) != state:
        raise invalid_token()
    return account


def for_address_after_response(realm: Realm, email: str, send: Callable[[AbstractAccount], None]) -> None:
    """`send(account)` for the active, not deleted account of the realm with this address, if any,
    after the response is sent: the caller answers the same either way, and neither the answer
    nor its timing tells whether the address has an account (reset links, sign-in codes)."""

    def work() -> None:
        account = realm.model.objects.alive().by_email(email).filter(is_active=True).first()
        if account is not None:
            with transaction.atomic():
                send(account)

    deferred.after_response(work)
