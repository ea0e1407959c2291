"""`python manage.py signing_keys list | rotate | retire KID` (docs/api.md §19)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tokens import signing_keys
from tokens.models import SigningKey

# Options a command takes after its arguments; anything else after `retire` that begins with "-"
# is a kid (a base64url thumbprint begins with "-" about once in 64).
COMMON_OPTIONS = {"-h", "--help", "-v", "--verbosity", "--settings", "--pythonpath", "--traceback", "--no-color",
                  "--force-color", "--skip-checks", "--"}  # fmt: skip


class KidParser(CommandParser):
    """Takes every kid that `list` prints as it is printed: `retire -AbC...` needs no `--`."""

    def parse_args(self, args=None, namespace=None):
        args = list(args or [])
        if "retire" in args:
            at = args.index("retire") + 1
            if at < len(args) and args[at].startswith("-") and args[at].split("=")[0] not in COMMON_OPTIONS:
                args.insert(at, "--")
        return super().parse_args(args, namespace)


class Command(BaseCommand):
    help = "List, rotate or retire the keys that sign tokens (ALGORITHM ES256, RS256 or EdDSA)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = KidParser
        return parser

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every key: kid, algorithm, created, retired, and which one signs.")
        sub.add_parser("rotate", help="Make a new key that signs from now on; earlier keys keep verifying.")
        retire = sub.add_parser("retire", help="Stop a key verifying and being published.")
        retire.add_argument("kid", help="The key's kid, as `list` prints it.")

    def handle(self, *args, action: str, **options) -> None:
        if not signing_keys.is_asymmetric():
            raise CommandError(
                f"ALGORITHM is {settings.ALGORITHM}: tokens are signed with SECRET_KEY, there is nothing to rotate."
            )
        if action == "rotate":
            key = signing_keys.create()
            within = f"every server follows within {settings.SIGNING_KEYS_RELOAD_SECONDS} seconds"
            self.stdout.write(
                self.style.SUCCESS(f"New signing key {key.kid} ({key.algorithm}) signs from now on; {within}.")
            )
        elif action == "retire":
            if not signing_keys.retire(options["kid"]):
                raise CommandError(f"No usable signing key has the kid {options['kid']!r}.")
            self.stdout.write(self.style.SUCCESS(f"Retired {options['kid']}: tokens it signed no longer verify."))
        else:
            usable = list(SigningKey.objects.usable(settings.ALGORITHM).values_list("kid", flat=True))
            for key in SigningKey.objects.order_by("-created_at", "-id"):
                state = "retired" if key.retired_at else ("signing" if usable and key.kid == usable[0] else "verifying")
                self.stdout.write(f"{key.kid}  {key.algorithm}  {key.created_at:%Y-%m-%d %H:%M:%S}  {state}")
