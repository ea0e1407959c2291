"""Trigram indexes for the admin list's substring search (PostgreSQL only).

Django's `icontains` is `UPPER(col) LIKE UPPER('%term%')` on PostgreSQL, so the indexes are on
UPPER(col) with gin_trgm_ops. Other databases skip this migration and search by scanning.
"""

from django.db import migrations

COLUMNS = ("username", "email", "name", "phone")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS user_search_{column} ON accounts_user "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS user_search_{column}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_order_indexes")]
    operations = [migrations.RunPython(create, drop)]
