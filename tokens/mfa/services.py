"""Multi-factor authentication: TOTP (RFC 6238, pyotp) with recovery codes, and the login's second step.

The TOTP secret is derived, not stored: HMAC-SHA256(SECRET_KEY, the device's random seed),
so a database dump alone yields no working codes (rotating SECRET_KEY means re-enrolling).
"""

import base64
import hashlib
import hmac
import io
import secrets
import time
from datetime import timedelta
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AbstractAccount
from common import audit, mail
from common.exceptions import Conflict, InvalidToken, ValidationFailed
from common.net import client_ip
from common.realms import Realm, realm_of
from tokens.models import MfaChallenge, RecoveryCode, TotpDevice, owner_kwargs

STEP = 30
RECOVERY_CODES = 10
CHALLENGE_LIFETIME = timedelta(minutes=5)
METHODS = ["totp", "recovery_code"]


# --- TOTP ------------------------------------------------------------------------------


def _totp(device: TotpDevice) -> pyotp.TOTP:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"totp:{device.seed}".encode(), hashlib.sha256).digest()
    return pyotp.TOTP(base64.b32encode(digest[:20]).decode(), digits=6, interval=STEP)


def _matching_step(device: TotpDevice, code: str) -> int | None:
    """The time step (now, or one either way) whose code this is, if it is newer than the last one used."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp, now = _totp(device), int(time.time()) // STEP
    for step in (now - 1, now, now + 1):
        if step > device.last_used_step and hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def _use_totp(device: TotpDevice, code: str) -> bool:
    """Accept a code once: a conditional UPDATE, so of concurrent verifies of one code exactly one wins."""
    step = _matching_step(device, code)
    if step is None:
        return False
    return bool(TotpDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(last_used_step=step))


def _device(account: AbstractAccount, *, confirmed: bool) -> TotpDevice | None:
    return TotpDevice.objects.of_account(account).filter(confirmed_at__isnull=not confirmed).first()


# --- Recovery codes ----------------------------------------------------------------


def _normalize(code: str) -> str:
    return code.strip().lower().replace(" ", "").replace("-", "")


def _digest(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode()).hexdigest()


def _new_recovery_codes(account: AbstractAccount) -> list[str]:
    RecoveryCode.objects.of_account(account).delete()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(5)).decode().lower()  # 8 characters, 40 bits
        codes.append(f"{raw[:4]}-{raw[4:]}")
    RecoveryCode.objects.bulk_create(RecoveryCode(**owner_kwargs(account), digest=_digest(c)) for c in codes)
    return codes


def _use_recovery_code(account: AbstractAccount, code: str) -> bool:
    now = timezone.now()
    codes = RecoveryCode.objects.of_account(account).filter(digest=_digest(code), used_at__isnull=True)
    return bool(codes.update(used_at=now))


def use_code(account: AbstractAccount, code: str) -> bool:
    """A current TOTP code or an unused recovery code, each accepted once."""
    device = _device(account, confirmed=True)
    if device is not None and _use_totp(device, code):
        return True
    return _use_recovery_code(account, code)


# --- Enrolment ---------------------------------------------------------------------


def status(account: AbstractAccount) -> dict[str, Any]:
    remaining = RecoveryCode.objects.of_account(account).filter(used_at__isnull=True).count()
    return {"totp_enabled": account.mfa_enabled, "recovery_codes_remaining": remaining if account.mfa_enabled else 0}


@transaction.atomic
def start_totp(account: AbstractAccount) -> dict[str, str]:
    """A new, unconfirmed authenticator (replacing an unconfirmed one): its secret, URL and QR code."""
    if account.mfa_enabled:
        raise Conflict("Multi-factor authentication is already enabled")
    TotpDevice.objects.of_account(account).delete()
    device = TotpDevice.objects.create(**owner_kwargs(account), seed=secrets.token_hex(16))
    totp = _totp(device)
    url = totp.provisioning_uri(name=account.username, issuer_name=settings.MFA_ISSUER)
    svg = io.BytesIO()
    segno.make(url, error="m").save(svg, kind="svg", scale=4, xmldecl=False, svgclass=None, lineclass=None)
    return {"secret": totp.secret, "otpauth_url": url, "qr_svg": svg.getvalue().decode()}


@transaction.atomic
def confirm_totp(account: AbstractAccount, code: str) -> list[str]:
    """Turn MFA on with a first valid code (which counts as used); returns the recovery codes, shown once."""
    if account.mfa_enabled:
        raise Conflict("Multi-factor authentication is already enabled")
    device = _device(account, confirmed=False)
    if device is None:
        raise ValidationFailed(details={"code": ["Start enrolment first: POST .../me/mfa/totp."]})
    if not _use_totp(device, code):
        raise ValidationFailed(details={"code": ["This code is not valid. Check the device's clock and try again."]})
    TotpDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now())
    _set_enabled(account, True)
    audit.record("mfa.enabled", account=account, method="totp")
    mail.security_notice(account, "An authenticator app and recovery codes were added, and two-step sign-in turned on")
    return _new_recovery_codes(account)


@transaction.atomic
def disable(account: AbstractAccount) -> None:
    """MFA off: the authenticator and the recovery codes are gone."""
    was_enabled = account.mfa_enabled
    TotpDevice.objects.of_account(account).delete()
    RecoveryCode.objects.of_account(account).delete()
    _set_enabled(account, False)
    if was_enabled:
        audit.record("mfa.disabled", account=account)
        mail.security_notice(account, "Two-step sign-in was turned off (authenticator app and recovery codes removed)")


@transaction.atomic
def regenerate_recovery_codes(account: AbstractAccount) -> list[str]:
    if not account.mfa_enabled:
        raise Conflict("Multi-factor authentication is not enabled")
    mail.security_notice(account, "New recovery codes were made (the old ones no longer work)")
    return _new_recovery_codes(account)


def _set_enabled(account: AbstractAccount, enabled: bool) -> None:
    account.mfa_enabled = enabled
    type(account).objects.filter(pk=account.pk).update(mfa_enabled=enabled)


# --- The login's second step ----------------------------------------------------------


def _signer(realm: Realm) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"tokens.mfa:{realm.name}", sep=".")


def challenge(account: AbstractAccount, request: HttpRequest | None) -> dict[str, Any]:
    """The answer to a right password when MFA is on: an mfa_token, and no credentials yet."""
    item = MfaChallenge.objects.create(
        **owner_kwargs(account),
        expires_at=timezone.now() + CHALLENGE_LIFETIME,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:255] if request is not None else "",
    )
    token = _signer(realm_of(account)).sign(f"{item.pk}.{secrets.token_urlsafe(8)}")
    return {
        "mfa_required": True,
        "mfa_token": token,
        "methods": METHODS,
        "expires_in": int(CHALLENGE_LIFETIME.total_seconds()),
    }


def open_challenge(realm: Realm, mfa_token: str) -> tuple[MfaChallenge, AbstractAccount]:
    """The live challenge an mfa_token names, and its account; 401 INVALID_TOKEN otherwise."""
    try:
        value = _signer(realm).unsign(mfa_token, max_age=CHALLENGE_LIFETIME)
        pk = int(value.split(".")[0])
    except (signing.BadSignature, ValueError) as exc:
        raise InvalidToken() from exc
    live = MfaChallenge.objects.owned_in(realm).with_owner(realm)
    item = live.filter(pk=pk, used_at__isnull=True, expires_at__gt=timezone.now()).first()
    if item is None:
        raise InvalidToken()
    return item, item.owner_in(realm)


def close_challenge(item: MfaChallenge) -> None:
    """Exchange it once: of two concurrent verifies only one closes it."""
    if not MfaChallenge.objects.filter(pk=item.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise InvalidToken()
