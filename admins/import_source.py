"""The FastAPI service's database as an import source (docs/api.md §22): connecting, checking that
every table and column is there, reading rows, and judging each value (timestamps, hashes within
cost bounds, strict booleans, the API's field rules) before anything is written."""

import functools
import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import environ
import psycopg
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers

from accounts.serializers import ProfileFieldsSerializer, phone_validator

ACCOUNT_COLUMNS = (
    "id", "username", "name", "email", "phone", "hashed_password", "avatar", "is_active", "failed_login_attempts",
    "locked_until", "created_at", "deleted_at",
)  # fmt: skip
TOKEN_COLUMNS = ("id", "token", "name", "user_id", "admin_id", "last_used_at", "expires_at", "created_at")
TABLES = {"users": ACCOUNT_COLUMNS, "admins": ACCOUNT_COLUMNS, "personal_access_tokens": TOKEN_COLUMNS}
MIN_TOKEN_LENGTH = 32  # a shorter source token would be a guessable bearer token here
BATCH = 5_000  # rows read and written at a time


class SourceError(Exception):
    """The source cannot be read: unreachable, or a table or column is missing (one line)."""


def connect(url: str) -> Any:
    """A DB-API connection to `postgresql://...` or `sqlite:///path`; SourceError when unreachable."""
    try:
        config = environ.Env.db_url_config(url)
    except (KeyError, ValueError) as exc:
        raise SourceError("The source must be a postgresql:// or sqlite:/// URL.") from exc
    try:
        if config["ENGINE"].endswith("sqlite3"):
            if not Path(config["NAME"]).is_file():
                raise SourceError(f"The source database {config['NAME']} does not exist.")
            return sqlite3.connect(f"file:{config['NAME']}?mode=ro", uri=True)
        if config["ENGINE"].endswith("postgresql"):
            return psycopg.connect(
                host=config["HOST"] or None, port=config["PORT"] or None, dbname=config["NAME"],
                user=config["USER"] or None, password=config["PASSWORD"] or None, connect_timeout=10,
            )  # fmt: skip
    except (psycopg.Error, sqlite3.Error) as exc:
        raise SourceError(f"The source database cannot be reached: {str(exc).strip().splitlines()[0]}") from exc
    raise SourceError("The source must be a postgresql:// or sqlite:/// URL.")


def check_source(source: Any) -> None:
    """Every table and column the import reads is there (else SourceError naming the first missing)."""
    for table, columns in TABLES.items():
        cursor = source.cursor()
        try:
            cursor.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        except (psycopg.Error, sqlite3.Error) as exc:
            raise SourceError(f"The source has no table {table}.") from exc
        present = {description[0] for description in cursor.description}
        missing = [column for column in columns if column not in present]
        if missing:
            raise SourceError(f"The source table {table} has no column {missing[0]}.")
        cursor.close()
        if isinstance(source, psycopg.Connection):
            source.rollback()


def rows(source: Any, table: str, columns: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    cursor = source.cursor()
    cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
    while batch := cursor.fetchmany(BATCH):
        for row in batch:
            yield dict(zip(columns, row, strict=True))


def count(source: Any, table: str) -> int:
    cursor = source.cursor()
    cursor.execute(f"SELECT COUNT(*) FROM {table}")
    return cursor.fetchone()[0]


def aware(value: Any) -> datetime | None:
    """Source timestamps are naive UTC (SQLAlchemy's TIMESTAMP WITHOUT TIME ZONE); SQLite gives strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


def password_hash(hashed: Any) -> str | None:
    """The hash as Django stores it, or None when no hasher here can read it."""
    if not isinstance(hashed, str):
        return None
    if hashed.startswith(("$argon2id$", "$argon2i$")):
        return "argon2" + hashed
    if hashed.startswith(("$2a$", "$2b$", "$2y$")) and len(hashed) == 60:
        return "bcrypt$" + hashed
    return None


TRUE, FALSE = {"true", "t", "1", "yes"}, {"false", "f", "0", "no"}


def boolean(value: Any) -> bool | None:
    """A source boolean, strictly: a bool, 0 or 1, or one of the usual spellings; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    return None


@functools.cache
def _profile_fields() -> dict[str, Any]:
    return ProfileFieldsSerializer().fields


def _breaks(check: Callable[[Any], Any], value: Any) -> bool:
    """True when `value` fails one of the field rules of §4 (the API's own fields and validators)."""
    try:
        check(value)
    except (serializers.ValidationError, ValidationError):
        return True
    return False


def field_problems(row: dict[str, Any]) -> list[str]:
    """What in a source account breaks the field rules of §4 (empty when it may move)."""
    problems = []
    fields = _profile_fields()
    if not isinstance(row["username"], str) or _breaks(fields["username"].run_validation, row["username"]):
        problems.append("invalid username")
    if not isinstance(row["email"], str) or _breaks(fields["email"].run_validation, row["email"]):
        problems.append("invalid email")
    if row["phone"] and (not isinstance(row["phone"], str) or _breaks(phone_validator, row["phone"])):
        problems.append("invalid phone")
    if row["name"] is not None and (not isinstance(row["name"], str) or len(row["name"]) > 255):
        problems.append("invalid name")
    if boolean(row["is_active"]) is None:
        problems.append(f"is_active is not a boolean ({row['is_active']!r})")
    return problems


def unusable() -> str:
    return "!" + secrets.token_urlsafe(30)  # Django's mark for "no usable password" (resets by email)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
