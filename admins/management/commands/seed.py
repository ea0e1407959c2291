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

from accounts.models import User
from admins.models import Admin

FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia", "Guido"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra"]
BATCH = 5000


class Command(BaseCommand):
    help = "Create demo data: an admin (SEED_ADMIN_PASSWORD or generated) and N users sharing one password."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=20, help="How many demo users (default 20).")

    def handle(self, *args: Any, users: int, **options: Any) -> None:
        self._seed_admin()
        self._seed_users(users)

    def _seed_admin(self) -> None:
        if Admin.objects.by_username("admin").exists():
            self.stdout.write("Admin 'admin' already exists.")
            return
        password = os.environ.get("SEED_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        Admin.objects.create_superuser("admin", "admin@example.com", password, name="Demo Admin")
        self.stdout.write(self.style.SUCCESS(f"Created admin 'admin' with password: {password}"))

    def _seed_users(self, count: int) -> None:
        before = User.objects.count()
        password = os.environ.get("SEED_USER_PASSWORD") or secrets.token_urlsafe(12)
        hashed = make_password(password)  # one Argon2 hash, shared by every demo user
        started = time.perf_counter()
        progress = tqdm(total=count, unit="users", disable=not sys.stdout.isatty(), file=sys.stdout)
        now = timezone.now()
        with connection.cursor() as cursor:
            for start in range(1, count + 1, BATCH):
                numbers = range(start, min(start + BATCH, count + 1))
                with transaction.atomic():
                    cursor.executemany(INSERT, [_demo_row(i, hashed, now) for i in numbers])
                progress.update(len(numbers))
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
