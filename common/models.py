"""Infrastructure tables: the mail outbox, the audit trail, and webhook endpoints with their deliveries."""

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
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
        "import.completed",
        "passkey.added",
        "passkey.removed",
        "passkey.clone_suspected",
        "identity.linked",
        "identity.unlinked",
        "session.reauthenticated",
        "role.created",
        "role.updated",
        "role.deleted",
        "admin.roles_changed",
        "setting.changed",
        "invitation.created",
        "invitation.revoked",
        "invitation.accepted",
        "account.exported",
        "account.erased",
        "oauth.authorized",
        "oauth.revoked",
        "oauth_client.created",
        "oauth_client.updated",
        "oauth_client.deleted",
    )

    created_at = models.DateTimeField(default=timezone.now)
    event = models.CharField(max_length=32, help_text="One of EVENTS (the recorder refuses any other name).")
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


class WebhookEndpoint(models.Model):
    """A receiver of account and security events (docs/api.md §23, common.webhooks).

    Secrets are stored encrypted (common.crypto); after a rotation the previous one keeps
    signing beside the new one until `previous_secret_expires_at`.
    """

    url = models.URLField(max_length=2048)
    events = models.JSONField(help_text='Event names, or ["*"] for every event.')
    description = models.CharField(max_length=255, blank=True, default="")
    is_active = models.BooleanField(default=True)
    secret = models.TextField(help_text="Encrypted.")
    previous_secret = models.TextField(blank=True, default="", help_text="Encrypted; signs until it expires.")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return self.is_active and ("*" in self.events or event in self.events)


class WebhookDeliveryQuerySet(models.QuerySet):
    def due(self) -> "WebhookDeliveryQuerySet":
        """Pending or failed, its time come, unclaimed, its endpoint active (a paused endpoint's deliveries
        wait). The endpoint is tested by `endpoint_id IN (...)`, not a join: a join makes Django's UPDATE
        select the rows in a subquery, which PostgreSQL does not recheck when a concurrent claim commits."""
        now = timezone.now()
        return self.filter(
            status__in=(WebhookDelivery.PENDING, WebhookDelivery.FAILED), next_attempt_at__lte=now,
            endpoint__in=WebhookEndpoint.objects.filter(is_active=True).values("pk"),
        ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))  # fmt: skip

    def claim(self, pk: int, lease: timedelta) -> bool:
        """Take one due delivery for this sender: one conditional UPDATE, so exactly one sender wins it."""
        return bool(self.due().filter(pk=pk).update(claimed_until=timezone.now() + lease))


class WebhookDelivery(models.Model):
    """One event for one endpoint: stored in the event's transaction, attempted after the response,
    retried on the Standard Webhooks schedule by `send_pending_webhooks`, then given up."""

    PENDING, DELIVERED, FAILED, GIVEN_UP = "pending", "delivered", "failed", "given_up"
    STATUSES = (PENDING, DELIVERED, FAILED, GIVEN_UP)

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=64, help_text="The webhook-id header: the same on every retry.")
    event = models.CharField(max_length=32)
    event_id = models.BigIntegerField(null=True, blank=True, help_text="The audit event (null for a test).")
    payload = models.TextField(help_text="The JSON body, identical on every attempt.")
    status = models.CharField(max_length=9, choices=[(s, s) for s in STATUSES], default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_endpoint_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class Setting(models.Model):
    """A product setting operators change without a deploy (docs/api.md §25): a known key
    (common.product.KNOWN) or a custom one. Read through common.product, written through
    admins.product_settings."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(null=True, blank=True)
    is_public = models.BooleanField(default=False)
    description = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by_id = models.BigIntegerField(null=True, blank=True, help_text="The admin who changed it last.")
    updated_by_username = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
