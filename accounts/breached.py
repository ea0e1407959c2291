"""Refusing passwords known from data breaches (docs/api.md §27), as a Django password validator:
every path that judges a new password (accounts.passwords.password_problems, the admin site's
forms, createadmin) asks it.

k-anonymity against a Have I Been Pwned range API: only the first 5 hex characters of the
password's SHA-1 leave the service (`GET {PWNED_PASSWORDS_URL}{prefix}`, `Add-Padding: true`).
Answers are kept in the Django cache per prefix for CACHE_SECONDS. A range server that does
not answer within PWNED_PASSWORDS_TIMEOUT lets the password through with a logged warning,
or answers 503 with PWNED_PASSWORDS_FAIL_CLOSED.
"""

import contextlib
import hashlib
import logging

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from common.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)
CACHE_SECONDS = 3600
MESSAGE = "This password has appeared in a data breach and cannot be used. Please choose another."


def breach_count(password: str) -> int | None:
    """How often the range server has seen this password (0: never); None when it could not say."""
    digest = hashlib.sha1(password.encode()).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    key = f"pwned:{settings.PWNED_PASSWORDS_URL}:{prefix}"
    body = None
    with contextlib.suppress(Exception):  # a cache outage only costs the request
        body = cache.get(key)
    if body is None:
        try:
            response = requests.get(
                f"{settings.PWNED_PASSWORDS_URL}{prefix}", headers={"Add-Padding": "true"},
                timeout=settings.PWNED_PASSWORDS_TIMEOUT,
            )  # fmt: skip
            response.raise_for_status()
            body = response.text
        except requests.RequestException as exc:
            logger.warning("Breached-password check unavailable (%s): %s", prefix, exc)
            return None
        with contextlib.suppress(Exception):
            cache.set(key, body, CACHE_SECONDS)
    for line in body.splitlines():
        found, _, count = line.strip().partition(":")
        if found.upper() == suffix:
            return int(count) if count.strip().isdigit() else 1
    return 0


class PwnedPasswordValidator:
    """Refuses a password seen at least PWNED_PASSWORDS_MIN_COUNT times; off without PWNED_PASSWORDS_URL."""

    def validate(self, password: str, user: object = None) -> None:
        if not settings.PWNED_PASSWORDS_URL:
            return
        count = breach_count(password)
        if count is None:
            if settings.PWNED_PASSWORDS_FAIL_CLOSED:
                raise ServiceUnavailable("The breached-password check is unavailable, try again later")
            return
        if count >= settings.PWNED_PASSWORDS_MIN_COUNT:
            raise ValidationError(MESSAGE, code="password_breached")

    def get_help_text(self) -> str:
        return "Your password must not be one known from a data breach."
