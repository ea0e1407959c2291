from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AdminsConfig(AppConfig):
    name = "admins"
    verbose_name = "Administrators"
    default = True

    def ready(self) -> None:
        from accounts import signals
        from admins.invitations import forget_erased

        signals.accounts_erasing.connect(forget_erased, dispatch_uid="admins.forget_erased")


class AccountsAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with this project's site (login budget, MFA, dashboard)."""

    default = False
    default_site = "admins.site.AccountsAdminSite"
