"""Trigram indexes for the admin list's substring search (PostgreSQL only).

Django's `icontains` is `UPPER(col) LIKE UPPER('%term%')` on PostgreSQL, so the indexes are on
UPPER(col) with gin_trgm_ops. Other databases search by scanning. Bulk loads (`seed`) drop
them first and build them once at the end: far cheaper than maintaining them row by row.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

COLUMNS = ("username", "email", "name", "phone")


def create(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS user_search_{column} ON accounts_user "
                f"USING gin (UPPER({column}::text) gin_trgm_ops)"
            )


def drop(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS user_search_{column}")
