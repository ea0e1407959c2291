"""Idempotent demo data: one admin and N users, fast enough for a million."""

import os
import secrets
import sys
import time
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts import search_indexes
from accounts.models import User
from admins import roles
from admins.models import Admin

FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia", "Guido"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra"]
BATCH = 50_000
BULK_LOAD = 100_000  # from this many new users on, search indexes are built after the load


class Command(BaseCommand):
    help = "Create demo data: an admin (SEED_ADMIN_PASSWORD or generated) and N users sharing one password."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=20, help="How many demo users (default 20).")

    def handle(self, *args: Any, users: int, **options: Any) -> None:
        self._seed_admin()
        for name in roles.ensure_default_roles():
            self.stdout.write(self.style.SUCCESS(f"Created role '{name}'."))
        self._seed_users(users)

    def _seed_admin(self) -> None:
        if Admin.objects.by_username("admin").exists():
            self.stdout.write("Admin 'admin' already exists.")
            return
        password = os.environ.get("SEED_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        Admin.objects.create_superuser("admin", "admin@example.com", password, name="Demo Admin", email_verified=True)
        self.stdout.write(self.style.SUCCESS(f"Created admin 'admin' with password: {password}"))

    def _seed_users(self, count: int) -> None:
        before = User.objects.count()
        password = os.environ.get("SEED_USER_PASSWORD") or secrets.token_urlsafe(12)
        hashed = make_password(password)  # one Argon2 hash, shared by every demo user
        started = time.perf_counter()
        progress = tqdm(total=count, unit="users", disable=not sys.stdout.isatty(), file=sys.stdout)
        now = timezone.now()
        bulk = count - before >= BULK_LOAD
        if bulk:
            _drop_list_indexes()
        try:
            with connection.cursor() as cursor:
                for start in range(1, count + 1, BATCH):
                    numbers = range(start, min(start + BATCH, count + 1))
                    with transaction.atomic():
                        _insert(cursor, [_demo_row(i, hashed, now) for i in numbers])
                    progress.update(len(numbers))
        finally:
            if bulk:
                _build_list_indexes()
        progress.close()
        created = User.objects.count() - before
        elapsed = time.perf_counter() - started
        if created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created {created} users in {elapsed:.1f}s ({created / max(elapsed, 1e-9):,.0f} users/s); "
                    f"each logs in as demoN with password: {password}"
                )
            )
        else:
            self.stdout.write(f"All {count} demo users already exist; nothing to add.")


def _insert(cursor, rows: list[tuple]) -> None:
    """Insert the rows, skipping demo users that exist. On PostgreSQL: COPY into a temporary
    table, then one INSERT ... SELECT (several times faster than row-by-row statements)."""
    if connection.vendor != "postgresql":
        cursor.executemany(INSERT, rows)
        return
    table, columns = User._meta.db_table, ", ".join(COLUMNS)
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS seed_users AS SELECT {columns} FROM {table} WITH NO DATA")
    cursor.execute("TRUNCATE seed_users")
    with cursor.cursor.copy(f"COPY seed_users ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM seed_users ON CONFLICT DO NOTHING")


def _drop_list_indexes() -> None:
    """The admin list's indexes (orderings, search) are built once after a bulk load: far
    cheaper than maintaining them row by row. Unique indexes stay: they guard the data."""
    with connection.schema_editor() as editor:
        for index in User._meta.indexes:
            editor.execute(f"DROP INDEX IF EXISTS {editor.quote_name(index.name)}")
    search_indexes.drop(connection)


def _build_list_indexes() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '256MB'")
    with connection.schema_editor() as editor:
        for index in User._meta.indexes:
            editor.add_index(User, index)
    search_indexes.create(connection)


COLUMNS = (
    "username",
    "name",
    "email",
    "phone",
    "password",
    "avatar",
    "is_active",
    "email_verified",
    "mfa_enabled",
    "failed_login_attempts",
    "created_at",
    "updated_at",
)
# Plain executemany (pipelined by psycopg 3) with ON CONFLICT DO NOTHING: existing demo users
# are skipped, which makes the command idempotent; the ORM's bulk_create spends most of
# its time building SQL here.
INSERT = (
    f"INSERT INTO {User._meta.db_table} ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT DO NOTHING"
)


def _demo_row(i: int, hashed: str, now: datetime) -> tuple:
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    phone = f"+1555{i:07d}" if i % 3 == 0 else None
    return (f"demo{i}", f"{first} {last}", f"demo{i}@example.com", phone, hashed, "", True, True, False, 0, now, now)
