"""`python manage.py import_fastapi SOURCE_DATABASE_URL [--media-dir DIR] [--dry-run] [--unverified]`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from admins import import_source, importer


class Command(BaseCommand):
    help = (
        "Move users, admins, password hashes, personal access tokens and avatars from the FastAPI service's "
        "database (postgresql://... or sqlite:///...). Safe to run again. Exit 0, 1 with conflicts, 2 when the "
        "source cannot be read (nothing written)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="The FastAPI service's database URL.")
        parser.add_argument("--media-dir", type=Path, help="Its UPLOAD_DIR, where the avatar files are.")
        parser.add_argument("--dry-run", action="store_true", help="Read and check everything, write nothing.")
        parser.add_argument("--unverified", action="store_true", help="Import email addresses as unverified.")

    def handle(self, *args, source: str, media_dir: Path | None, dry_run: bool, unverified: bool, **options) -> None:
        if media_dir is not None and not media_dir.is_dir():
            raise CommandError(f"--media-dir {media_dir} is not a folder.", returncode=2)
        try:
            report = importer.run(
                source, media_dir=media_dir, dry_run=dry_run, verified=not unverified,
                progress_factory=lambda total: tqdm(total=total, unit="row", disable=total < 10_000,
                                                    file=self.stderr._out),
            )  # fmt: skip
        except import_source.SourceError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self._report(report, dry_run)
        if report.conflicts:
            raise CommandError(f"{len(report.conflicts)} conflict(s): those rows were not moved.", returncode=1)

    def _report(self, report: importer.Report, dry_run: bool) -> None:
        counts = report.counts()
        self.stdout.write(("Dry run: nothing was written. " if dry_run else "") + "Import report:")
        for name, value in counts.items():
            self.stdout.write(f"  {name.replace('_', ' ')}: {value}")
        for conflict in report.conflicts:
            self.stdout.write(f"  conflict: {conflict}")
        for name in sorted(report.not_carried):
            self.stdout.write(f"  permission not carried (no counterpart here): {name}")
        for account in report.costly_hashes:
            self.stdout.write(
                f"  password hash over the cost bounds (moved without a usable password; resets): {account}"
            )
