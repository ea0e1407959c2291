from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AdminsConfig(AppConfig):
    name = "admins"
    verbose_name = "Administrators"
    default = True


class AccountsAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with this project's site (login budget, MFA, dashboard)."""

    default = False
    default_site = "admins.site.AccountsAdminSite"
