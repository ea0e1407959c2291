"""Product settings (docs/api.md §25), as every floor reads them: the known keys with their
defaults and rules, custom keys, and `registration_open`.

Each process keeps the whole table for CACHE_SECONDS and then reads it again (one small query),
so a change made on one server reaches every process within that time without a query per
request; the process that writes forgets its copy at once. Writes: admins.product_settings.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError

from common.exceptions import RegistrationClosed, ValidationFailed
from common.models import Setting

CACHE_SECONDS = 3.0
CUSTOM_KEY = re.compile(r"[a-z][a-z0-9_.-]{0,99}")
MAX_CUSTOM_BYTES = 4096
LOGO_DIR = "logos"


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(details={"value": [message]})


def _product_name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 100:
        raise _refuse("A string of 1 to 100 characters.")
    return value.strip()


def _support_email(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 254:
            raise ValidationError("not a string")
        validate_email(value.strip())
    except ValidationError as exc:
        raise _refuse("An email address, or null.") from exc
    return value.strip()


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _refuse("true or false.")
    return value


@dataclass(frozen=True)
class Known:
    default: Callable[[], Any]
    clean: Callable[[Any], Any] | None  # None: set by an upload (the logo), not by a value
    description: str


KNOWN: dict[str, Known] = {
    "product_name": Known(lambda: settings.PRODUCT_NAME, _product_name, "The product's name (1-100 characters)."),
    "support_email": Known(lambda: None, _support_email, "Where people write for help (an address, or null)."),
    "registration_open": Known(
        lambda: True, _boolean, "false: POST /auth/register and new accounts from identity providers are refused."
    ),
    "logo": Known(lambda: None, None, "The product's logo (PUT a multipart `file`; an image of at most 1 MB)."),
}


def clean_custom(key: str, value: Any) -> Any:
    """A custom key's value: any JSON of at most 4 KB (400 with details.value otherwise)."""
    if not CUSTOM_KEY.fullmatch(key):
        raise ValidationFailed(details={"key": ["Lower-case letters, digits, '_', '.', '-'; at most 100."]})
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_CUSTOM_BYTES:
        raise _refuse(f"At most {MAX_CUSTOM_BYTES} bytes of JSON.")
    return value


# --- Reading ------------------------------------------------------------------------------------

_lock = threading.Lock()
_kept: dict[str, Any] = {"at": float("-inf"), "rows": {}}


def rows() -> dict[str, Setting]:
    """Every stored setting by key, as this process last read them (at most CACHE_SECONDS old)."""
    now = time.monotonic()
    if now - _kept["at"] < CACHE_SECONDS:
        return _kept["rows"]
    with _lock:
        if now - _kept["at"] >= CACHE_SECONDS:
            try:
                _kept["rows"] = {row.key: row for row in Setting.objects.all()}
            except DatabaseError:
                if _kept["at"] == float("-inf"):
                    raise
            _kept["at"] = now
    return _kept["rows"]


def forget() -> None:
    """Read the table again on the next use (after this process wrote it)."""
    _kept["at"] = float("-inf")


def value(key: str) -> Any:
    """A known key's value, or its default when it was never set (or was reset)."""
    row = rows().get(key)
    return row.value if row is not None else KNOWN[key].default()


def logo_name() -> str | None:
    name = value("logo")
    return name if isinstance(name, str) and name.startswith(f"{LOGO_DIR}/") else None


def registration_open() -> bool:
    return value("registration_open") is not False


def refuse_if_registration_closed() -> None:
    """403 REGISTRATION_CLOSED for self-registration (and a provider's new account) when closed."""
    if not registration_open():
        raise RegistrationClosed()


def public_custom() -> dict[str, Any]:
    return {key: row.value for key, row in rows().items() if key not in KNOWN and row.is_public}
