"""Moving accounts from the FastAPI service (docs/api.md §22): users, admins, password hashes,
personal access tokens and avatars, with their ids, in batches, safe to run again.

The source is read with plain DB-API (psycopg or sqlite3); nothing is written before the source
has been checked (every table and column present), and everything is written in one transaction.
"""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from accounts.hashers import within_bounds
from accounts.models import AbstractAccount, User, normalize_email
from admins import roles
from admins.import_source import (
    ACCOUNT_COLUMNS,
    BATCH,
    MIN_TOKEN_LENGTH,
    TABLES,
    TOKEN_COLUMNS,
    aware,
    boolean,
    check_source,
    connect,
    count,
    field_problems,
    password_hash,
    rows,
    token_digest,
    unusable,
)
from admins.models import Admin, Role
from common import audit
from common.exceptions import DomainError
from common.images import AVATAR_DIR, process_avatar
from common.realms import ADMIN
from tokens.models import ABILITIES, PersonalAccessToken


@dataclass
class Report:
    dry_run: bool = False
    stored_files: list[str] = field(default_factory=list)  # removed again if nothing is committed
    moved: dict[str, int] = field(default_factory=lambda: {"users": 0, "admins": 0})
    skipped: dict[str, int] = field(default_factory=lambda: {"users": 0, "admins": 0})
    conflicts: list[str] = field(default_factory=list)
    unusable_passwords: int = 0
    costly_hashes: list[str] = field(default_factory=list)  # moved with an unusable password: they reset
    avatars_moved: int = 0
    avatars_missing: int = 0
    tokens_moved: int = 0
    tokens_skipped: int = 0
    roles_moved: int = 0
    roles_skipped: int = 0
    not_carried: set[str] = field(default_factory=set)  # source permission names with no counterpart

    def counts(self) -> dict[str, Any]:
        return {
            "users_moved": self.moved["users"], "admins_moved": self.moved["admins"],
            "users_skipped": self.skipped["users"], "admins_skipped": self.skipped["admins"],
            "conflicts": len(self.conflicts), "unusable_passwords": self.unusable_passwords,
            "costly_hashes": len(self.costly_hashes),
            "avatars_moved": self.avatars_moved, "avatars_missing": self.avatars_missing,
            "tokens_moved": self.tokens_moved, "tokens_skipped": self.tokens_skipped,
            "roles_moved": self.roles_moved, "roles_skipped": self.roles_skipped,
            "permissions_not_carried": len(self.not_carried),
        }  # fmt: skip


class Taken:
    """Who holds each id, username, email and phone here, case-insensitively, kept as the import goes."""

    def __init__(self, model: type[AbstractAccount]) -> None:
        self.ids: dict[int, str] = {}
        self.usernames: dict[str, int] = {}
        self.emails: dict[str, int] = {}
        self.phones: dict[str, int] = {}
        for pk, username, email, phone in model.objects.values_list("pk", "username", "email", "phone").iterator():
            self.add(pk, username, email, phone)

    def add(self, pk: int, username: str, email: str, phone: str | None) -> None:
        self.ids[pk] = username.lower()
        self.usernames[username.lower()] = pk
        self.emails[normalize_email(email)] = pk
        if phone:
            self.phones[phone] = pk

    def judge(self, row: dict[str, Any]) -> str:
        """ "move", "skip" (already moved: same id and username) or a conflict's description."""
        pk, username = row["id"], (row["username"] or "").lower()
        if self.ids.get(pk) == username:
            return "skip"
        clashes = [name for name, holder in (
            ("id", pk if pk in self.ids else None),
            ("username", self.usernames.get(username)),
            ("email", self.emails.get(normalize_email(row["email"]) if isinstance(row["email"], str) else "")),
            ("phone", self.phones.get(row["phone"]) if row["phone"] else None),
        ) if holder is not None and (name == "id" or holder != pk)]  # fmt: skip
        return "move" if not clashes else f"{', '.join(clashes)} already taken here"


def import_accounts(
    source: Any, table: str, model: type[AbstractAccount], report: Report, *, media_dir: Path | None,
    verified: bool, progress: Callable[[int], None],
) -> set[int]:  # fmt: skip
    """Move every row of `table` that can move; the ids of the source accounts present here after it."""
    taken = Taken(model)
    present: set[int] = set()
    batch: list[AbstractAccount] = []
    for row in rows(source, table, ACCOUNT_COLUMNS):
        progress(1)
        verdict = taken.judge(row)
        if verdict == "skip":
            report.skipped[table] += 1
            present.add(row["id"])
            continue
        if verdict == "move" and (problems := field_problems(row)):
            verdict = ", ".join(problems)
        if verdict != "move":
            report.conflicts.append(f"{table} id {row['id']} ({row['username']}): {verdict}")
            continue
        hashed = password_hash(row["hashed_password"])
        if hashed is None:
            report.unusable_passwords += 1
        elif not within_bounds(hashed):
            report.costly_hashes.append(f"{table} id {row['id']} ({row['username']})")
            hashed = None
        account = model(
            id=row["id"], username=row["username"], name=row["name"] or row["username"],
            email=normalize_email(row["email"]), phone=row["phone"] or None, password=hashed or unusable(),
            is_active=boolean(row["is_active"]), failed_login_attempts=row["failed_login_attempts"] or 0,
            locked_until=aware(row["locked_until"]), deleted_at=aware(row["deleted_at"]), email_verified=verified,
            avatar=_avatar(row["avatar"], media_dir, report),
        )  # fmt: skip
        account.created_at = aware(row["created_at"]) or timezone.now()
        taken.add(account.pk, account.username, account.email, account.phone)
        present.add(account.pk)
        batch.append(account)
        report.moved[table] += 1
        if len(batch) >= BATCH:
            _save_accounts(model, batch)
    _save_accounts(model, batch)
    return present


def _save_accounts(model: type[AbstractAccount], batch: list[AbstractAccount]) -> None:
    """One COPY per batch on PostgreSQL (a multi-row INSERT elsewhere), keeping the source's created_at."""
    if not batch:
        return
    with source_created_at(model):
        if connection.vendor == "postgresql":
            _copy(model, batch)
        else:
            model.objects.bulk_create(batch, batch_size=BATCH)
    batch.clear()


def _copy(model: type[AbstractAccount], batch: list[AbstractAccount]) -> None:
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for account in batch:
            copy.write_row([field.get_db_prep_save(field.pre_save(account, True), connection) for field in fields])


@contextmanager
def source_created_at(model: type[AbstractAccount]) -> Iterator[None]:
    """`created_at` is auto_now_add (set at save); while moving accounts in, it keeps the source's value."""
    field = model._meta.get_field("created_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def _avatar(name: Any, media_dir: Path | None, report: Report) -> str:
    """The avatar through the pipeline of §6 (verified, re-encoded, scaled), stored; "" when missing or bad."""
    if not name or media_dir is None:
        return ""
    path = (media_dir / Path(str(name)).name).resolve()
    try:
        if not path.is_relative_to(media_dir.resolve()) or not path.is_file():
            raise FileNotFoundError(name)
        with path.open("rb") as handle:
            clean = process_avatar(File(handle, name=path.name))
        stored = "" if report.dry_run else default_storage.save(f"{AVATAR_DIR}/{clean.name}", clean)
    except (OSError, DomainError):
        report.avatars_missing += 1
        return ""
    report.avatars_moved += 1
    report.stored_files.append(stored)
    return stored


def import_tokens(
    source: Any, report: Report, users: set[int], admins: set[int], progress: Callable[[int], None]
) -> None:
    """Tokens of moved accounts that have not expired keep working (stored as digests, both abilities)."""
    known = set(PersonalAccessToken.objects.values_list("digest", flat=True).iterator())
    now, batch = timezone.now(), []
    for row in rows(source, "personal_access_tokens", TOKEN_COLUMNS):
        progress(1)
        expires_at, digest = aware(row["expires_at"]), token_digest(row["token"] or "")
        owner = {"user_id": row["user_id"]} if row["user_id"] in users else None
        owner = owner or ({"admin_id": row["admin_id"]} if row["admin_id"] in admins else None)
        if (
            not isinstance(row["token"], str)
            or len(row["token"]) < MIN_TOKEN_LENGTH
            or owner is None
            or (expires_at is not None and expires_at <= now)
            or digest in known
        ):
            report.tokens_skipped += 1
            continue
        token = PersonalAccessToken(
            **owner, name=(row["name"] or "imported")[:100], digest=digest, abilities=list(ABILITIES),
            expires_at=expires_at, last_used_at=aware(row["last_used_at"]),
        )  # fmt: skip
        token.created_at = aware(row["created_at"]) or now
        known.add(digest)
        batch.append(token)
        report.tokens_moved += 1
    PersonalAccessToken.objects.bulk_create(batch, batch_size=BATCH)


ROLE_TABLES = ("roles", "permissions", "role_permissions", "admin_roles")  # optional: older sources lack them
RESOURCES = {"users": "accounts.{}_user", "admins": "admins.{}_admin", "roles": "auth.{}_group",
             "settings": "common.{}_setting", "audit_logs": "common.{}_auditevent"}  # fmt: skip
ACTIONS = {"read": "view", "create": "add", "update": "change", "delete": "delete"}


def permission_name(source_name: str) -> str | None:
    """`users:read` → `accounts.view_user`, and so on (§24); None for a name with no counterpart."""
    resource, _, action = str(source_name).partition(":")
    if resource not in RESOURCES or action not in ACTIONS:
        return None
    name = RESOURCES[resource].format(ACTIONS[action])
    return name if name in roles.grantable_names() else None


def _has_tables(source: Any, tables: tuple[str, ...]) -> bool:
    for table in tables:
        cursor = source.cursor()
        try:
            cursor.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        except (psycopg.Error, sqlite3.Error):
            if isinstance(source, psycopg.Connection):
                source.rollback()
            return False
        finally:
            cursor.close()
    return True


def _all(source: Any, table: str) -> list[dict[str, Any]]:
    cursor = source.cursor()
    cursor.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def import_roles(source: Any, report: Report, admins: set[int]) -> None:
    """The source's roles as roles here (same names and descriptions; an inactive one empty), with
    their mapped permissions and the moved admins who hold them. A role whose name is taken here
    is the same role: skipped, its holders still added (so a second run changes nothing)."""
    if not _has_tables(source, ROLE_TABLES):
        return
    permissions = {row["id"]: row["name"] for row in _all(source, "permissions")}
    granted: dict[Any, list[str]] = {}
    for row in _all(source, "role_permissions"):
        granted.setdefault(row["role_id"], []).append(permissions.get(row["permission_id"], ""))
    holders: dict[Any, list[int]] = {}
    for row in _all(source, "admin_roles"):
        if row["admin_id"] in admins:
            holders.setdefault(row["role_id"], []).append(row["admin_id"])
    for row in sorted(_all(source, "roles"), key=lambda r: r["id"]):
        name = str(row["name"] or "")[:150].strip()
        if not name:
            report.conflicts.append(f"roles id {row['id']}: no name")
            continue
        role = Role.objects.filter(name__iexact=name).first()
        if role is not None:
            report.roles_skipped += 1
        else:
            role = Role.objects.create(name=name, description=str(row.get("description") or "")[:500])
            mapped = []
            for source_name in granted.get(row["id"], []):
                if (name_here := permission_name(source_name)) is None:
                    report.not_carried.add(source_name)
                else:
                    mapped.append(name_here)
            active = boolean(row.get("is_active", True)) is not False
            role.permissions.set(roles.permission_rows(mapped) if active else [])
            report.roles_moved += 1
        role.user_set.add(*holders.get(row["id"], []))


def move_sequences() -> None:
    """PostgreSQL hands out ids from a sequence: move it past the largest id moved in."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (User, Admin):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}")


def run(
    source_url: str, *, media_dir: Path | None, dry_run: bool, verified: bool,
    progress_factory: Callable[[int], Any],
) -> Report:  # fmt: skip
    """The whole import (or, `dry_run`, everything but the writing). SourceError before anything is written."""
    source = connect(source_url)
    report = Report(dry_run=dry_run)
    try:
        check_source(source)
        total = sum(count(source, table) for table in TABLES)
        with progress_factory(total) as bar, transaction.atomic():
            users = import_accounts(
                source, "users", User, report, media_dir=media_dir, verified=verified, progress=bar.update
            )
            admins = import_accounts(
                source, "admins", Admin, report, media_dir=media_dir, verified=verified, progress=bar.update
            )
            import_tokens(source, report, users, admins, bar.update)
            import_roles(source, report, admins)
            move_sequences()
            audit.record("import.completed", realm=ADMIN, dry_run=dry_run, **report.counts())
            if dry_run:
                transaction.set_rollback(True)
    except BaseException:
        for name in report.stored_files:  # the accounts they belonged to were not committed
            default_storage.delete(name)
        raise
    finally:
        source.close()
    return report
