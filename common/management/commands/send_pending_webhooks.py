"""`python manage.py send_pending_webhooks`: attempt every due webhook delivery once (run it from cron)."""

from django.core.management.base import BaseCommand

from common import webhooks


class Command(BaseCommand):
    help = (
        "Attempt every due webhook delivery once, on the Standard Webhooks retry schedule; safe to run from cron "
        "on several machines at once (each attempt is claimed by one sender)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--concurrency", type=int, default=16, help="Attempts in flight at once (default 16).")

    def handle(self, *args, concurrency: int, **options) -> None:
        done = webhooks.send_pending(concurrency=concurrency)
        self.stdout.write(f"Attempted {done['attempted']} deliveries; {done['pending']} still pending.")
