from django.core.management.base import BaseCommand

from tokens import sessions


class Command(BaseCommand):
    help = "Delete expired and revoked login sessions and personal access tokens."

    def handle(self, *args, **options) -> None:
        removed = sessions.purge()
        self.stdout.write(
            f"Removed {removed['sessions']} login sessions and "
            f"{removed['personal_access_tokens']} personal access tokens."
        )
