"""Deliver pending mail from the outbox: run from cron, on any number of machines at once."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from common import mail


class Command(BaseCommand):
    help = "Send every pending mail that is due (each once, even with several runners), then purge old mail."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--retention-days",
            type=int,
            default=settings.EMAIL_RETENTION_DAYS,
            help="Delete sent and given-up mail older than this (default EMAIL_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, retention_days: int, **options: Any) -> None:
        result = mail.send_pending()
        purged = mail.purge(timedelta(days=retention_days))
        self.stdout.write(
            f"Attempted {result['attempted']} mail(s); {result['pending']} still pending; purged {purged} old mail(s)."
        )
