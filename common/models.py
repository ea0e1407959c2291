"""The account model both realms share: fields, constraints, lockout and soft delete."""

import operator
from datetime import datetime, timedelta
from functools import reduce

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.dispatch import Signal
from django.utils import timezone

from common import search

# Sent after an existing account's new password is saved, whatever the path (API, reset,
# admin site forms, commands): `tokens` ends the account's sessions on it.
password_changed = Signal()

models.CharField.register_lookup(Lower)


class AccountQuerySet(models.QuerySet):
    """The seed's repository methods, as chainable queryset methods."""

    def alive(self) -> "AccountQuerySet":
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> "AccountQuerySet":
        return self.filter(deleted_at__isnull=False)

    def by_username(self, username: str) -> "AccountQuerySet":
        return self.filter(username__lower=username.lower())

    def by_email(self, email: str) -> "AccountQuerySet":
        return self.filter(email__lower=email.lower())

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
        account = self.model(username=username, email=email.lower(), name=name, **extra)
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

    def save(self, *args, **kwargs) -> None:
        # set_password() leaves the raw password in _password until the next save.
        if self._password is None or self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():  # the new password and what it ends land together
            super().save(*args, **kwargs)
            password_changed.send(sender=type(self), account=self)

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
            unique_ci("email", label),
            models.UniqueConstraint(fields=["phone"], condition=Q(phone__isnull=False), name=f"{label}_phone_uniq"),
        ]


def lockout_duration() -> timedelta:
    return timedelta(minutes=settings.LOCKOUT_DURATION_MINUTES)


class OutboxEmailQuerySet(models.QuerySet):
    def due(self) -> "OutboxEmailQuerySet":
        now = timezone.now()
        return self.filter(status=OutboxEmail.PENDING, next_attempt_at__lte=now).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
        )

    def claim(self, pk: int, lease: timedelta) -> bool:
        """Take one due mail for this runner: one conditional UPDATE, so exactly one runner wins it."""
        return bool(self.due().filter(pk=pk).update(claimed_until=timezone.now() + lease))


class OutboxEmail(models.Model):
    """A mail, stored in the transaction of the change that causes it, sent after commit.

    Undelivered mail stays pending and is retried by `send_pending_email`. The bodies
    (which may hold a one-time link) are cleared once the mail is sent.
    """

    PENDING, SENT, FAILED = "pending", "sent", "failed"

    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=8, choices=[(s, s) for s in (PENDING, SENT, FAILED)], default=PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxEmailQuerySet.as_manager()

    class Meta:
        verbose_name = "outgoing email"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to} ({self.status})"


class AuditEventQuerySet(models.QuerySet):
    def about(self, realm_name: str, account_id: int) -> "AuditEventQuerySet":
        return self.filter(realm=realm_name, account_id=account_id)

    def newest_first(self) -> "AuditEventQuerySet":
        return self.order_by("-created_at", "-id")

    def matching(
        self, *, realm: str | None = None, account_id: int | None = None, event: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
    ) -> "AuditEventQuerySet":  # fmt: skip
        """The admin audit list's filters (each optional)."""
        conditions = {"realm": realm, "account_id": account_id, "event": event}
        qs = self.filter(**{key: value for key, value in conditions.items() if value is not None})
        if since is not None:
            qs = qs.filter(created_at__gte=since)
        if until is not None:
            qs = qs.filter(created_at__lte=until)
        return qs.newest_first()


class AuditEvent(models.Model):
    """A security event, written in the transaction of the change it records (common.audit)."""

    EVENTS = (
        "account.registered",
        "login.succeeded",
        "login.failed",
        "account.locked",
        "account.unlocked",
        "logout",
        "session.revoked",
        "refresh.reused",
        "password.changed",
        "password.reset",
        "email.changed",
        "email.verified",
        "mfa.enabled",
        "mfa.disabled",
        "token.created",
        "token.revoked",
        "account.updated",
        "account.blocked",
        "account.activated",
        "account.deleted",
        "account.restored",
    )

    created_at = models.DateTimeField(default=timezone.now)
    event = models.CharField(max_length=32, choices=[(e, e) for e in EVENTS])
    realm = models.CharField(max_length=16)
    account_id = models.BigIntegerField(null=True, blank=True)
    actor_realm = models.CharField(max_length=16, blank=True, default="")
    actor_id = models.BigIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_newest"),
            models.Index(fields=["realm", "account_id", "-created_at"], name="audit_account"),
            models.Index(fields=["event", "-created_at"], name="audit_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.realm}:{self.account_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
