"""Secrets the service must read back (signing keys, webhook secrets), encrypted at rest with a
Fernet key derived from SECRET_KEY and a purpose, so a database dump alone reveals none of them."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


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
