"""`make bench-protection` (§27): `purge_deleted` erasing 100,000 deleted accounts (budget 60 s on
PostgreSQL), and what the breached-password check adds to a registration once the range answer is
cached (budget 5 ms), against a range server on loopback.

Uses the database of DATABASE_URL (a database of its own: its users are replaced).
"""

import http.server
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ACCOUNTS, PURGE_BUDGET_S, CHECK_BUDGET_MS = 100_000, 60.0, 5.0


def _range_server() -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = "\r\n".join(f"{i:035X}:{i % 7}" for i in range(800)).encode()  # a padded answer's size
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def purge(User) -> float:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {User._meta.db_table} CASCADE")
    gone = timezone.now() - timedelta(days=40)
    User.objects.bulk_create(
        (User(username=f"gone{i}", email=f"gone{i}@example.com", name=f"Gone {i}", password="!", deleted_at=gone,
              phone=f"+1555{i:07d}") for i in range(ACCOUNTS)),
        batch_size=5000,
    )  # fmt: skip
    started = time.perf_counter()
    call_command("purge_deleted", stdout=open(os.devnull, "w"))  # noqa: SIM115
    elapsed = time.perf_counter() - started
    assert User.objects.filter(erased_at__isnull=True).count() == 0
    return elapsed


def check_overhead_ms() -> tuple[float, float]:
    """Median time of password_problems with the check off, then on with the prefix cached."""
    from django.conf import settings

    from accounts.models import User
    from accounts.passwords import password_problems

    candidate = User(username="someone", email="someone@example.com", name="Some One")

    def median_ms() -> float:
        runs = []
        for _ in range(200):
            started = time.perf_counter()
            password_problems("a-long-enough-passphrase-1", candidate)
            runs.append((time.perf_counter() - started) * 1000)
        return statistics.median(runs)

    server = _range_server()
    settings.PWNED_PASSWORDS_URL = ""
    off = median_ms()
    settings.PWNED_PASSWORDS_URL = f"http://127.0.0.1:{server.server_port}/range/"
    password_problems("a-long-enough-passphrase-1", candidate)  # the first answer is fetched and kept
    on = median_ms()
    server.shutdown()
    return off, on


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from accounts.models import User

    if connection.vendor != "postgresql":
        print("bench-protection needs DATABASE_URL=postgresql://... (a database of its own)")
        return 2
    elapsed = purge(User)
    off, on = check_overhead_ms()
    added = on - off
    print("| budget | measured | limit | result |")
    print("|---|---:|---:|---|")
    print(f"| purge_deleted erases {ACCOUNTS:,} accounts (s) | {elapsed:.1f} | {PURGE_BUDGET_S:.0f} | "
          f"{'PASS' if elapsed <= PURGE_BUDGET_S else 'FAIL'} |")  # fmt: skip
    print(f"| breached-password check, cached prefix, added per password (ms) | {added:.2f} | {CHECK_BUDGET_MS:.0f} | "
          f"{'PASS' if added <= CHECK_BUDGET_MS else 'FAIL'} |")  # fmt: skip
    return 0 if elapsed <= PURGE_BUDGET_S and added <= CHECK_BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
