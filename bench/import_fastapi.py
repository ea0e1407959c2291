"""`make bench-import`: `import_fastapi` moves 1,000,000 users with hashes (and 100,000 tokens)
from a FastAPI-service database into PostgreSQL; budget: at most 3 minutes on this machine.

Uses the database of DATABASE_URL (a PostgreSQL database of its own, emptied of accounts first).
"""

import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

USERS, TOKENS, BUDGET_S = 1_000_000, 100_000, 180.0


def build_source(path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from testkit.fastapi_source import SCHEMA, argon2
    from testkit.fastapi_source import TOKENS as TOKEN_TABLE

    hashed = argon2("bench-passphrase")  # one hash reused: hashing a million would measure passlib
    db = sqlite3.connect(path)
    for table in ("users", "admins"):
        db.execute(SCHEMA.format(table=table))
    db.execute(TOKEN_TABLE)
    created = datetime(2024, 1, 1)
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, NULL, ?, NULL, 1, 0, NULL, ?, NULL)",
        ((i, f"legacy{i}", f"Legacy {i}", f"legacy{i}@example.com", hashed, created) for i in range(1, USERS + 1)),
    )
    db.execute("INSERT INTO admins VALUES (1, 'root', 'Root', 'root@example.com', NULL, ?, NULL, 1, 0, NULL, ?, NULL)",
               (hashed, created))  # fmt: skip
    expires = datetime.utcnow() + timedelta(days=30)
    db.executemany(
        "INSERT INTO personal_access_tokens VALUES (?, ?, 'legacy', ?, NULL, NULL, ?, ?)",
        ((i, f"legacy-token-{i:012d}-abcdefghijklmnop", i, expires, created) for i in range(1, TOKENS + 1)),
    )
    db.commit()
    db.close()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from admins.models import Admin
    from tokens.models import PersonalAccessToken

    if connection.vendor != "postgresql":
        print("bench-import needs DATABASE_URL=postgresql://... (a database of its own)")
        return 2
    with connection.cursor() as cursor:  # start from no users (a delete of a million rows takes ages)
        cursor.execute(f"TRUNCATE {User._meta.db_table}, {PersonalAccessToken._meta.db_table} CASCADE")
    Admin.objects.filter(username="root").delete()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fastapi.db"
        started = time.perf_counter()
        build_source(path)
        built = time.perf_counter() - started
        started = time.perf_counter()
        call_command("import_fastapi", f"sqlite:///{path}", stdout=open(os.devnull, "w"))  # noqa: SIM115
        seconds = time.perf_counter() - started
    moved = User.objects.count()
    ok = seconds <= BUDGET_S and moved == USERS
    print(f"import_fastapi: {USERS:,} users with Argon2 hashes and {TOKENS:,} tokens, SQLite source -> PostgreSQL\n")
    print("| measure | value | budget | result |\n|---|---:|---:|---|")
    print(f"| seconds to import | {seconds:.1f} | {BUDGET_S:.0f} | {'PASS' if ok else 'FAIL'} |")
    print(f"| users/s | {USERS / seconds:,.0f} | | |")
    print(f"| users moved | {moved:,} | {USERS:,} | |")
    print(f"\n(building the source took {built:.1f} s, not counted)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
