from django.db import models

from common.models import AbstractAccount


class User(AbstractAccount):
    """An account of the user realm (`/auth/`, `/users/`)."""

    class Meta(AbstractAccount.Meta):
        constraints = AbstractAccount.account_constraints("accounts_user")
        # Every ordering of the admin list (then id) walks an index, at any size; substring
        # search uses trigram indexes on PostgreSQL (migration 0003).
        indexes = [
            models.Index(fields=["username", "id"], name="user_order_username"),
            models.Index(fields=["email", "id"], name="user_order_email"),
            models.Index(fields=["created_at", "id"], name="user_order_created"),
        ]
