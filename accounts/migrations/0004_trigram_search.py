"""Trigram indexes for the admin list's substring search (PostgreSQL only; accounts.search_indexes)."""

from django.db import migrations

from accounts import search_indexes


def create(apps, schema_editor):
    search_indexes.create(schema_editor.connection)


def drop(apps, schema_editor):
    search_indexes.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_order_indexes")]
    operations = [migrations.RunPython(create, drop)]
