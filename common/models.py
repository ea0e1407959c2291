"""Infrastructure tables: the mail outbox and the audit trail."""

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone


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
