"""The account itself, for both realms: fields, constraints, lookups, lockout state and soft
delete (`AbstractAccount`); the user realm's concrete model (`User`)."""

import operator
import unicodedata
from datetime import datetime, timedelta
from functools import reduce

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import signals
from common import search

models.CharField.register_lookup(Lower)


def normalize_email(address: str) -> str:
    """An address as it is stored and compared (§4): NFKC-normalized, so that the spellings a mail
    server delivers to one mailbox (fullwidth letters, a Kelvin sign) are one address, and lower-cased."""
    return unicodedata.normalize("NFKC", address).strip().lower()


class AccountQuerySet(models.QuerySet):
    """How accounts are looked up: chainable queryset methods shared by both realms."""

    def alive(self) -> "AccountQuerySet":
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> "AccountQuerySet":
        return self.filter(deleted_at__isnull=False)

    def by_username(self, username: str) -> "AccountQuerySet":
        return self.filter(username__lower=username.lower())

    def by_email(self, email: str) -> "AccountQuerySet":
        return self.filter(email__lower=normalize_email(email))

    def by_phone(self, phone: str) -> "AccountQuerySet":
        return self.filter(phone=phone)

    def by_login(self, identifier: str) -> "AccountQuerySet":
        """A login identifier with `@` is an email (usernames cannot hold one)."""
        return self.by_email(identifier) if "@" in identifier else self.by_username(identifier)

    def search(self, term: str) -> "AccountQuerySet":
        """Case-insensitive substring of username, email, name or phone (see common.search)."""
        table = self.model._meta.db_table
        columns = [search.contains(self.db, table, column, term) for column in ("username", "email", "name", "phone")]
        return self.filter(reduce(operator.or_, columns))

    def listing(
        self, *, deleted: str = "exclude", is_active: str | None = None, search: str = "", ordering: str = "id"
    ) -> "AccountQuerySet":
        """The admin list: `deleted` exclude/include/only, `is_active` "true"/"false", a search term, an ordering."""
        qs = {"exclude": self.alive(), "only": self.deleted()}.get(deleted, self)
        if is_active is not None:
            qs = qs.filter(is_active=is_active == "true")
        if search:
            qs = qs.search(search)
        return qs.order_by(ordering, "-id" if ordering.startswith("-") else "id")

    def taken_fields(self, *, username: str | None, email: str | None, phone: str | None) -> list[str]:
        """Which of these values another account (soft-deleted ones too) already holds."""
        checks = {"username": username and self.by_username(username), "email": email and self.by_email(email)}
        checks["phone"] = phone and self.by_phone(phone)
        return [field for field, qs in checks.items() if qs and qs.exists()]

    def record_failed_login(self, pk: int, *, max_attempts: int, lock_for: timedelta) -> bool:
        """Count a wrong password atomically; lock once the count reaches the limit. True when this locked it.

        Two conditional UPDATEs, so concurrent requests lose no increment and an
        existing lock is never extended.
        """
        now = timezone.now()
        self.filter(pk=pk).update(failed_login_attempts=F("failed_login_attempts") + 1)
        return bool(
            self.filter(pk=pk, failed_login_attempts__gte=max_attempts)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .update(locked_until=now + lock_for)
        )

    def clear_expired_lock(self, pk: int) -> int:
        """After a lock runs out the count starts again from zero."""
        return self.filter(pk=pk, locked_until__lte=timezone.now()).update(failed_login_attempts=0, locked_until=None)


class AccountManager(BaseUserManager.from_queryset(AccountQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> "AbstractAccount":
        return self.by_username(username).get()

    def create_account(
        self, *, username: str, email: str, name: str, password: str | None, **extra
    ) -> "AbstractAccount":
        account = self.model(username=username, email=normalize_email(email), name=name, **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def create_user(self, username: str, email: str, password: str | None = None, **extra) -> "AbstractAccount":
        return self.create_account(
            username=username, email=email, password=password, name=extra.pop("name", username), **extra
        )


def unique_ci(field: str, model_label: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(Lower(field), name=f"{model_label}_{field}_uniq")


class AbstractAccount(AbstractBaseUser):
    """Fields and behaviour of an account, whatever its realm."""

    username = models.CharField(max_length=150)
    name = models.CharField(max_length=255)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=16, null=True, blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True, default="")
    is_active = models.BooleanField(default=True)
    email_verified = models.BooleanField(default=False)
    # An address change waits here until the new address is verified (docs/api.md §11).
    pending_email = models.EmailField(max_length=254, null=True, blank=True)
    # Moves whenever the address or the pending address changes: every one-time link made
    # before then dies (a verification link for A stays dead after A -> B -> A).
    email_changed_at = models.DateTimeField(null=True, blank=True)
    mfa_enabled = models.BooleanField(default=False)
    failed_login_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    erased_at = models.DateTimeField(null=True, blank=True, help_text="Erased (§27): never restorable.")
    last_login_at = models.DateTimeField(null=True, blank=True)
    last_login = None  # AbstractBaseUser's field; this model calls it last_login_at

    objects = AccountManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email", "name"]

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username

    def save(self, *args, password_event: str = "password.changed", **kwargs) -> None:
        """Saving a new password (set_password() leaves it in _password until the next save) sends
        password_changed with `event`, the audit event it records (a reset says so)."""
        if self._password is None or self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():  # the new password and what it ends land together
            super().save(*args, **kwargs)
            signals.password_changed.send(sender=type(self), account=self, event=password_event)

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()

    def lock_remaining_seconds(self, now: datetime | None = None) -> int:
        if self.locked_until is None:
            return 0
        return max(0, int((self.locked_until - (now or timezone.now())).total_seconds() + 0.999))

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self) -> None:
        self.deleted_at = timezone.now()
        self.save(update_fields=["deleted_at", "updated_at"])

    def restore(self) -> None:
        self.deleted_at = None
        self.save(update_fields=["deleted_at", "updated_at"])

    @classmethod
    def account_constraints(cls, label: str) -> list[models.BaseConstraint]:
        return [
            unique_ci("username", label),
            # an erased account's address is empty: it is free again, and erased accounts do not collide
            models.UniqueConstraint(Lower("email"), condition=~Q(email=""), name=f"{label}_email_uniq"),
            models.UniqueConstraint(fields=["phone"], condition=Q(phone__isnull=False), name=f"{label}_phone_uniq"),
        ]


class User(AbstractAccount):
    """An account of the user realm (`/auth/`, `/users/`)."""

    class Meta(AbstractAccount.Meta):
        constraints = AbstractAccount.account_constraints("accounts_user")
        # Every ordering of the admin list (then id) walks an index, at any size; substring
        # search uses trigram indexes on PostgreSQL (migration 0004).
        indexes = [
            models.Index(fields=["username", "id"], name="user_order_username"),
            models.Index(fields=["email", "id"], name="user_order_email"),
            models.Index(fields=["created_at", "id"], name="user_order_created"),
        ]
