"""Recording security events. Services call `record()` inside the transaction of the change,
so a change that fails leaves no event; who, from where and which request come from the
request being served (common.middleware keeps it)."""

from typing import Any

from django.db import models

from common import metrics, webhooks
from common.middleware import current_request
from common.models import AuditEvent
from common.net import client_ip
from common.realms import Realm, realm_of, realm_or_none

# Never stored in details, whatever a caller passes.
_SECRET_WORDS = ("password", "token", "secret", "code", "digest")


def record(
    event: str, *, account: models.Model | None = None, realm: Realm | None = None, **details: Any
) -> AuditEvent:
    """Store `event` about `account` (or, for an unknown account, about the login endpoint's `realm`)."""
    subject_realm = realm_of(account) if account is not None else realm
    _count(event, subject_realm.name, details)
    stored = _event(event, subject_realm, getattr(account, "pk", None), details)
    stored.save()
    webhooks.enqueue(stored)  # in the same transaction: no event, no delivery
    return stored


def record_many(event: str, *, realm: Realm, account_ids: list[int], **details: Any) -> None:
    """`record` for many accounts of one realm at once (an erasure batch): one INSERT."""
    stored = AuditEvent.objects.bulk_create(_event(event, realm, pk, details) for pk in account_ids)
    webhooks.enqueue_many(stored)


def _event(event: str, realm: Realm, account_id: int | None, details: dict[str, Any]) -> AuditEvent:
    """An unsaved event about this account, with who, from where and which request (the request
    being served): the actor only when it is someone else than the account."""
    assert event in AuditEvent.EVENTS, event
    request = current_request()
    actor = getattr(request, "user", None)
    actor_realm = realm_of(actor) if _is_account(actor) else None
    is_other = actor_realm is not None and (actor_realm != realm or actor.pk != account_id)
    return AuditEvent(
        event=event,
        realm=realm.name,
        account_id=account_id,
        actor_realm=actor_realm.name if is_other else "",
        actor_id=actor.pk if is_other else None,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:255] if request is not None else "",
        request_id=getattr(request, "request_id", "") if request is not None else "",
        details={k: v for k, v in details.items() if not any(word in k for word in _SECRET_WORDS)},
    )


def _count(event: str, realm: str, details: dict[str, Any]) -> None:
    """The Prometheus counters that follow security events."""
    if event == "login.succeeded":
        metrics.LOGINS.labels(realm=realm, outcome="success").inc()
    elif event == "login.failed":
        metrics.LOGINS.labels(realm=realm, outcome=details.get("reason", "failed")).inc()
    elif event == "account.locked":
        metrics.LOCKOUTS.labels(realm=realm).inc()
    elif event == "refresh.reused":
        metrics.REFRESH_REUSE.labels(realm=realm).inc()


def _is_account(value: Any) -> bool:
    return realm_or_none(value) is not None and getattr(value, "pk", None) is not None
