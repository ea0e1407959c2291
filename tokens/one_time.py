"""One-time tokens sent by email: password reset and email verification.

A token is a signed, timestamped (account id, state) for one purpose and one realm. The
state is a digest of what the token is about (the password hash for a reset, the address
and its verified flag for a verification), so a token dies when that changes: a reset
once any new password is saved, a verification once the address is verified or changed.
No table is needed, and a database dump yields no usable token.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.http import HttpRequest

from common import mail
from common.exceptions import ValidationFailed
from common.models import AbstractAccount
from common.realms import Realm, realm_of

RESET, VERIFY = "password-reset", "email-verify"
# purpose → (mail template, path of the link on the frontend)
MAILS = {RESET: ("reset_password", "reset-password"), VERIFY: ("verify_email", "verify-email")}


def _state(purpose: str, account: AbstractAccount) -> str:
    material = account.password if purpose == RESET else f"{account.email.lower()}|{account.email_verified}"
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def _signer(purpose: str, realm: Realm) -> signing.TimestampSigner:
    # "." keeps the token URL-safe (base64url pieces joined by dots).
    return signing.TimestampSigner(salt=f"tokens.one_time:{purpose}:{realm.name}", sep=".")


def lifetime(purpose: str) -> timedelta:
    if purpose == RESET:
        return timedelta(minutes=settings.PASSWORD_RESET_TIMEOUT_MINUTES)
    return timedelta(hours=settings.EMAIL_VERIFICATION_TIMEOUT_HOURS)


def make(purpose: str, account: AbstractAccount) -> str:
    return _signer(purpose, realm_of(account)).sign_object([account.pk, _state(purpose, account)])


def mail_link(purpose: str, account: AbstractAccount, request: HttpRequest | None) -> None:
    """Mail the account a link carrying a new token for `purpose` (token=... and nowhere else)."""
    template, path = MAILS[purpose]
    minutes = int(lifetime(purpose).total_seconds() // 60)
    valid_for = f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"
    link = mail.link(mail.origin_of(request), path, make(purpose, account))
    context = {"name": account.name, "username": account.username, "email": account.email}
    mail.queue(to=account.email, template=template, context={**context, "link": link, "valid_for": valid_for})


def redeem(purpose: str, realm: Realm, token: str) -> AbstractAccount:
    """The account a valid token names; 400 with details.token when used, expired, tampered or of another realm."""
    invalid = ValidationFailed("Invalid or expired token", details={"token": ["This token is invalid or has expired."]})
    try:
        account_id, state = _signer(purpose, realm).unsign_object(token, max_age=lifetime(purpose))
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise invalid from exc
    account = realm.model.objects.alive().filter(pk=account_id, is_active=True).first()
    if account is None or _state(purpose, account) != state:
        raise invalid
    return account
