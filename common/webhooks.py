"""Webhooks (docs/api.md §23): every audit event an endpoint subscribes to becomes a delivery in
the event's own transaction, attempted once after the response and retried by
`send_pending_webhooks` on the Standard Webhooks schedule, signed with the `standardwebhooks`
package so receivers verify with any Standard Webhooks library.

Receivers cannot be turned against the service's own network: the URL's host is resolved at
creation and at every attempt, every address must be public (unless WEBHOOK_ALLOW_PRIVATE), and
the connection goes to the address that was checked (TLS still verifies the host name), so a
DNS answer cannot change between the check and the connection. Redirects are not followed and
at most a few KB of an answer are read.
"""

import base64
import http.client
import ipaddress
import json
import logging
import queue
import secrets
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from common import crypto, metrics
from common.after_response import after_response
from common.models import AuditEvent, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

PURPOSE = "common.webhooks"  # of the key derived from SECRET_KEY that encrypts endpoint secrets
SCHEDULE = (  # after the first attempt fails: Standard Webhooks' retry schedule, then given up
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10),
)  # fmt: skip
LEASE = timedelta(minutes=2)  # a claimed attempt is another sender's to make only after this
PREVIOUS_SECRET_SIGNS_FOR = timedelta(hours=24)
MAX_ANSWER_BYTES = 4096
ENDPOINTS_TTL_SECONDS = 5.0  # how soon a process sees an endpoint made or changed by another
EVENTS = (*AuditEvent.EVENTS, "webhook.test")


class UnsafeUrl(ValueError):
    """A URL the service will not call (scheme, or an address inside its own network)."""


# --- Secrets and signatures -------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def seal(secret: str) -> str:
    return crypto.encrypt(secret.encode(), purpose=PURPOSE)


def unseal(stored: str) -> str:
    return crypto.decrypt(stored, purpose=PURPOSE).decode()


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one for a day after a rotation."""
    found = [unseal(endpoint.secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > timezone.now():
        found.append(unseal(endpoint.previous_secret))
    return found


def signed_headers(endpoint: WebhookEndpoint, message_id: str, payload: str) -> dict[str, str]:
    sent_at = datetime.now(tz=UTC).replace(microsecond=0)
    signatures = [Webhook(secret).sign(message_id, sent_at, payload) for secret in signing_secrets(endpoint)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "Content-Type": "application/json",
        "User-Agent": f"{settings.PRODUCT_NAME}-webhooks",
    }


# --- Where a receiver may be --------------------------------------------------------------------


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast
                or ip.is_reserved)  # fmt: skip


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the address to connect to) for a URL the service may call; UnsafeUrl otherwise."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("The URL must start with https://" + (" or http://" if settings.WEBHOOK_ALLOW_HTTP else ""))
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeUrl("The URL needs a host and no user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise UnsafeUrl("The URL's host does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE and not all(_public(address) for address in addresses):
        raise UnsafeUrl("The URL's host resolves to a loopback, private, link-local or unspecified address.")
    return parts.scheme, parts.hostname, port, addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address that was checked, verifying the certificate for the host name."""

    def __init__(self, host: str, port: int, address: str, **kwargs: Any) -> None:
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST with no redirects and a bounded answer; the status code (an OSError on failure)."""
    scheme, host, port, address = check_url(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, address, timeout=settings.WEBHOOK_TIMEOUT)
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        read = 0
        while read < MAX_ANSWER_BYTES and time.monotonic() < deadline:  # a never-ending answer is cut off
            chunk = response.read1(MAX_ANSWER_BYTES - read)
            if not chunk:
                break
            read += len(chunk)
        return response.status
    finally:
        connection.close()


# --- Enqueueing, in the event's transaction ---------------------------------------------------


class _Endpoints:
    """Active endpoints, kept per process for ENDPOINTS_TTL_SECONDS: an event with no subscriber costs no query."""

    def __init__(self) -> None:
        self.items: list[tuple[int, list[str]]] = []
        self.loaded_at = 0.0
        self.lock = threading.Lock()

    def invalidate(self) -> None:
        self.loaded_at = 0.0

    def subscribed(self, event: str) -> list[int]:
        if time.monotonic() - self.loaded_at > ENDPOINTS_TTL_SECONDS:
            with self.lock:
                self.items = list(WebhookEndpoint.objects.filter(is_active=True).values_list("id", "events"))
                self.loaded_at = time.monotonic()
        return [pk for pk, events in self.items if "*" in events or event in events]


endpoints = _Endpoints()


def payload_of(event: str, data: dict[str, Any], at: datetime) -> str:
    return json.dumps({"type": event, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data},
                      separators=(",", ":"), default=str)  # fmt: skip


def enqueue(event: AuditEvent) -> None:
    """One delivery per subscribed endpoint, in the caller's transaction: one INSERT ... SELECT for
    all of them, which skips an endpoint deleted or paused since this process last looked (the
    list is cached), so a stale cache can never fail the change that caused the event."""
    from common.serializers import AuditEventSerializer

    subscribed = endpoints.subscribed(event.event)
    if not subscribed:
        return
    payload = payload_of(event.event, AuditEventSerializer(event).data, event.created_at)
    connection = connections[WebhookDelivery.objects.db]
    quote, now = connection.ops.quote_name, connection.ops.adapt_datetimefield_value(timezone.now())
    columns = ("endpoint_id", "message_id", "event", "event_id", "payload", "status", "attempts", "next_attempt_at",
               "created_at")  # fmt: skip
    marks = ", ".join(["%s"] * len(subscribed))
    sql = (
        f"INSERT INTO {quote(WebhookDelivery._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {quote('id')}, %s, %s, %s, %s, %s, 0, %s, %s FROM {quote(WebhookEndpoint._meta.db_table)} "
        f"WHERE {quote('id')} IN ({marks}) AND {quote('is_active')} RETURNING {quote('id')}"
    )
    params = [f"msg_evt_{event.pk}", event.event, event.pk, payload, WebhookDelivery.PENDING, now, now, *subscribed]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        transaction.on_commit(lambda: after_response(lambda: [attempt(pk) for pk in ids]))


def test_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` event for one endpoint, attempted at once."""
    now = timezone.now()
    data = {"endpoint_id": endpoint.pk, "message": "A test event from the service."}
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, message_id=f"msg_test_{secrets.token_hex(8)}", event="webhook.test",
        payload=payload_of("webhook.test", data, now),
    )  # fmt: skip
    attempt(delivery.pk)
    delivery.refresh_from_db()
    return delivery


# --- Attempts ---------------------------------------------------------------------------------


def attempt(pk: int, *, force: bool = False) -> bool:
    """One attempt at one due delivery (or, `force`, at any one not yet delivered); False when
    another sender has it or it is not due. The outcome is recorded, never raised."""
    if force:
        WebhookDelivery.objects.filter(pk=pk).exclude(status=WebhookDelivery.DELIVERED).update(
            next_attempt_at=timezone.now(), claimed_until=None, status=WebhookDelivery.FAILED
        )
    if not WebhookDelivery.objects.claim(pk, LEASE):
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=pk)
    endpoint = delivery.endpoint
    status_code, error = None, None
    try:
        headers = signed_headers(endpoint, delivery.message_id, delivery.payload)
        status_code = _post(endpoint.url, delivery.payload.encode(), headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}" + (" (redirects are not followed)" if 300 <= status_code < 400 else "")
    except UnsafeUrl as exc:
        error = f"Refused: {exc}"
    except crypto.Unreadable:
        error = "The endpoint's secret cannot be decrypted with this SECRET_KEY: rotate it."
    except (OSError, http.client.HTTPException, ValueError) as exc:  # refused, reset, timed out, TLS, garbage
        error = f"{type(exc).__name__}: {exc}"
    _record(delivery, status_code, error)
    return True


def _record(delivery: WebhookDelivery, status_code: int | None, error: str | None) -> None:
    attempts = delivery.attempts + 1
    now = timezone.now()
    if error is None:
        status, next_at, outcome = WebhookDelivery.DELIVERED, None, "delivered"
    elif attempts > len(SCHEDULE):
        status, next_at, outcome = WebhookDelivery.GIVEN_UP, None, "given_up"
    else:
        status, next_at, outcome = WebhookDelivery.FAILED, now + SCHEDULE[attempts - 1], "failed"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=attempts, last_status_code=status_code, last_error=error[:300] if error else None,
        next_attempt_at=next_at, claimed_until=None, delivered_at=now if error is None else None,
    )  # fmt: skip
    metrics.WEBHOOKS.labels(outcome=outcome).inc()
    if error:
        logger.warning("Webhook delivery %s to endpoint %s failed (attempt %s): %s", delivery.pk,
                       delivery.endpoint_id, attempts, error)  # fmt: skip


def send_pending(*, concurrency: int = 16, batch: int = 2000) -> dict[str, int]:
    """Attempt every due delivery once (safe with several senders at once: each attempt is claimed).

    `concurrency` threads make attempts side by side, each on its own database connection (closed
    when the thread is done); with 1, everything happens in the calling thread (and its transaction).
    """
    attempted = 0

    def due_ids() -> list[int]:
        due = WebhookDelivery.objects.due().order_by("next_attempt_at", "pk")
        return list(due.values_list("pk", flat=True)[:batch])

    while ids := due_ids():
        if concurrency <= 1:
            attempted += sum(map(attempt, ids))
        else:
            attempted += _in_threads(ids, concurrency)
        if len(ids) < batch:
            break
    pending = WebhookDelivery.objects.filter(status__in=(WebhookDelivery.PENDING, WebhookDelivery.FAILED)).count()
    return {"attempted": attempted, "pending": pending}


def _in_threads(ids: list[int], concurrency: int) -> int:
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for pk in ids:
        work.put(pk)
    made = [0] * concurrency

    def worker(index: int) -> None:
        try:
            while True:
                try:
                    pk = work.get_nowait()
                except queue.Empty:
                    return
                made[index] += attempt(pk)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(made)
