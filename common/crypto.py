"""Secrets the service must read back (signing keys, webhook secrets), encrypted at rest with a
Fernet key derived from SECRET_KEY and a purpose, so a database dump alone reveals none of them."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def b64url_encode(value: bytes) -> str:
    """base64url without padding (JOSE, WebAuthn and the list cursors use it)."""
    return base64.urlsafe_b64encode(value).decode("ascii").rstrip("=")


def b64url_decode(value: str) -> bytes:
    """The inverse of b64url_encode; ValueError (binascii.Error) for what is not base64url."""
    return base64.urlsafe_b64decode(f"{value}{'=' * (-len(value) % 4)}")


class Unreadable(Exception):
    """The stored value cannot be decrypted with this SECRET_KEY (it was changed)."""


def _fernet(purpose: str) -> Fernet:
    derived = hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(value: bytes, *, purpose: str) -> str:
    return _fernet(purpose).encrypt(value).decode()


def decrypt(stored: str, *, purpose: str) -> bytes:
    try:
        return _fernet(purpose).decrypt(stored.encode())
    except InvalidToken as exc:
        raise Unreadable from exc
