"""python manage.py purge_deleted [--days N] [--dry-run]: erase accounts deleted long enough ago (§27)."""

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts import erasure
from accounts.models import AbstractAccount
from common.realms import REALMS


class Command(BaseCommand):
    help = (
        "Erase accounts (both realms) deleted more than --days days ago (default ACCOUNT_ERASURE_DAYS; 0: every "
        "deleted account), in batches; safe to run on several machines at once (each batch is locked)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Default: ACCOUNT_ERASURE_DAYS.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be erased; erase nothing.")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        days = settings.ACCOUNT_ERASURE_DAYS if days is None else max(days, 0)
        for realm in REALMS.values():
            due = erasure.due(realm.model, days).count()
            if dry_run:
                self.stdout.write(f"{realm.name}: {due} account(s) would be erased.")
                continue
            self.stdout.write(f"{realm.name}: {self._purge(realm.model, days, due)} account(s) erased.")

    def _purge(self, model: type[AbstractAccount], days: int, due: int) -> int:
        done = 0
        for count in erasure.purge(model, days):
            done += count
            if due > erasure.BATCH and sys.stdout.isatty():  # a progress bar for large runs, on a terminal
                filled = int(30 * min(done, due) / due)
                self.stdout.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{due}", ending="")
        if due > erasure.BATCH and sys.stdout.isatty():
            self.stdout.write("")
        return done
