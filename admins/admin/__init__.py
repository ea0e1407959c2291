"""Models on the Django admin site (autodiscovered as `admins.admin`). Every write goes through the
services the API uses. Each module registers its pages when imported here."""

from admins.admin import accounts, operations, provider  # noqa: F401 - registers the pages
