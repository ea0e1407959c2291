"""Create an admin account: interactively like createsuperuser, or with --no-input."""

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework import serializers

from accounts.serializers import RegisterSerializer
from accounts.services import register
from admins.models import Admin, Role
from common.realms import ADMIN

FIELDS = ("username", "email", "name")


class Command(BaseCommand):
    help = (
        "Create an admin: a superuser of the Django admin site and of the admin API realm, or, with --role, "
        "an operator holding those roles only."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username")
        parser.add_argument("--email")
        parser.add_argument("--name")
        parser.add_argument("--password", help="Or ADMIN_PASSWORD in the environment.")
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive")
        parser.add_argument("--role", action="append", default=[], metavar="NAME",
                            help="Give this role (repeatable): the admin is then not a superuser.")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = {name: Role.objects.filter(name__iexact=name).first() for name in options["role"]}
        if unknown := [name for name, role in wanted.items() if role is None]:
            known = ", ".join(Role.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"Unknown role: {', '.join(unknown)} (roles: {known}).")
        values = {field: options[field] for field in FIELDS}
        values["password"] = options["password"] or os.environ.get("ADMIN_PASSWORD")
        if not options["interactive"]:
            missing = [f"--{f}" for f in (*FIELDS, "password") if not values[f]]
            if missing:
                raise CommandError(f"Missing {', '.join(missing)} (or ADMIN_PASSWORD) with --no-input.")
            data = self._validate(values)
        else:
            data = self._prompt(values)
        with transaction.atomic():
            admin = register(realm=ADMIN, data=data, is_staff=True, is_superuser=not wanted, email_verified=True)
            admin.groups.add(*wanted.values())
        kind = f"with the roles {', '.join(r.name for r in wanted.values())}" if wanted else "a superuser"
        self.stdout.write(self.style.SUCCESS(f"Admin '{admin.username}' created (id {admin.pk}), {kind}."))

    def _validate(self, values: dict[str, Any]) -> dict[str, Any]:
        serializer = RegisterSerializer(data=values, context={"model": Admin})
        if not serializer.is_valid():
            raise CommandError(_format(serializer.errors))
        data = serializer.validated_data
        taken = Admin.objects.taken_fields(username=data["username"], email=data["email"], phone=None)
        if taken:
            raise CommandError("; ".join(f"{field}: an admin with this {field} already exists." for field in taken))
        return data

    def _prompt(self, values: dict[str, Any]) -> dict[str, Any]:
        """Ask for each field until it is valid (and free), then for the password twice."""
        fields = RegisterSerializer().fields
        taken = {"username": Admin.objects.by_username, "email": Admin.objects.by_email}
        for field in FIELDS:
            value = values[field]
            while True:
                value = value or input(f"{field.capitalize()}: ").strip()
                try:
                    value = fields[field].run_validation(value)
                except serializers.ValidationError as exc:
                    self.stderr.write(f"Error: {' '.join(map(str, exc.detail))}")
                    value = None
                    continue
                if field in taken and taken[field](value).exists():
                    self.stderr.write(f"Error: an admin with this {field} already exists.")
                    value = None
                    continue
                values[field] = value
                break
        password = values["password"]
        while True:
            if not password:
                password = getpass.getpass("Password: ")
                if getpass.getpass("Password (again): ") != password:
                    self.stderr.write("Error: your passwords didn't match.")
                    password = None
                    continue
            try:
                return self._validate({**values, "password": password})
            except CommandError as exc:
                self.stderr.write(f"Error: {exc}")
                password = None


def _format(errors: dict[str, Any]) -> str:
    return "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in errors.items())
