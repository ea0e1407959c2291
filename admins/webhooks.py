"""Webhook endpoints managed by admins (docs/api.md §23): create, change, delete, rotate the secret,
each recorded in the audit trail with the admin who did it (`actor`), from the API or the admin
site. Delivery itself (signing, the schedule, the address checks) is common.webhooks."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AbstractAccount
from common import audit, webhooks
from common.models import WebhookEndpoint


@transaction.atomic
def create_endpoint(data: dict[str, Any], *, actor: AbstractAccount) -> tuple[WebhookEndpoint, str]:
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint.objects.create(**data, secret=webhooks.seal(secret))
    audit.record("webhook.created", account=actor, endpoint_id=endpoint.pk, url=endpoint.url)
    return endpoint, secret


@transaction.atomic
def update_endpoint(endpoint: WebhookEndpoint, data: dict[str, Any], *, actor: AbstractAccount) -> WebhookEndpoint:
    for field, value in data.items():
        setattr(endpoint, field, value)
    endpoint.save(update_fields=list(data) or None)
    audit.record("webhook.updated", account=actor, endpoint_id=endpoint.pk, fields=sorted(data))
    return endpoint


@transaction.atomic
def delete_endpoint(endpoint: WebhookEndpoint, *, actor: AbstractAccount) -> None:
    audit.record("webhook.deleted", account=actor, endpoint_id=endpoint.pk, url=endpoint.url)
    endpoint.delete()


@transaction.atomic
def rotate_secret(endpoint: WebhookEndpoint, *, actor: AbstractAccount) -> str:
    """A new secret; the current one keeps signing beside it for 24 hours."""
    secret = webhooks.new_secret()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, webhooks.seal(secret)
    endpoint.previous_secret_expires_at = timezone.now() + webhooks.PREVIOUS_SECRET_SIGNS_FOR
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    audit.record("webhook.updated", account=actor, endpoint_id=endpoint.pk, fields=["secret"])
    return secret
