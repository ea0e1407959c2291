from django.contrib.auth.models import PermissionsMixin
from django.db import models

from accounts.models import AbstractAccount, AccountManager


class AdminManager(AccountManager):
    def create_superuser(self, username: str, email: str, password: str | None = None, **extra) -> "Admin":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, email, password, **extra)


class Admin(AbstractAccount, PermissionsMixin):
    """An account of the admin realm; also AUTH_USER_MODEL, so operators use the Django admin site."""

    is_staff = models.BooleanField(default=True, help_text="Can log into the Django admin site.")

    objects = AdminManager()

    class Meta(AbstractAccount.Meta):
        constraints = AbstractAccount.account_constraints("admins_admin")
