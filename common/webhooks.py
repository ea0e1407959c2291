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
import contextlib
import http.client
import ipaddress
import json
import logging
import queue
import secrets
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from common import crypto, metrics
from common.after_response import in_background
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


# Not globally reachable, or a way into addresses that are not (IANA's special-purpose address
# registries, beyond what this Python's ipaddress knows): carrier-grade NAT (where some clouds put
# their metadata service), benchmarking, documentation, the 6to4 relay and prefix, NAT64, Teredo
# and ORCHID (2001::/23), IPv4-compatible, site-local, unique-local, SRv6 SIDs.
SPECIAL_PURPOSE = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4",
    "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))  # fmt: skip


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # (an IPv6 zone names a local interface)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not any(ip in network for network in SPECIAL_PURPOSE if network.version == ip.version)


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the address to connect to) for a URL the service may call; UnsafeUrl otherwise."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("The URL must start with https://" + (" or http://" if settings.WEBHOOK_ALLOW_HTTP else ""))
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeUrl("The URL needs a host and no user name or password.")
    try:
        port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("The URL's port is not a port number.") from exc
    if not 0 < port < 65536:
        raise UnsafeUrl("The URL's port is not a port number.")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise UnsafeUrl("The URL's host does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE and not all(_public(address) for address in addresses):
        raise UnsafeUrl(
            "The URL's host resolves to an address that is not public (loopback, private, link-local, "
            "unspecified or another special-purpose range)."
        )
    return parts.scheme, parts.hostname, port, addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address that was checked, verifying the certificate for the host name."""

    def __init__(self, host: str, port: int, address: str, **kwargs: Any) -> None:
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self) -> None:
        self.sock = _connected(self.address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.address = address

    def connect(self) -> None:
        self.sock = _connected(self.address, self.port, self.timeout)


class Unreachable(OSError):
    """No connection: the same words for a closed port and a filtered one (not a port scanner)."""


def _connected(address: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((address, port), timeout)
    except OSError as exc:
        raise Unreachable("The receiver could not be reached.") from exc


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST with no redirects and a bounded answer; the status code (an OSError on failure).

    The whole attempt, from connecting to the last byte read, has WEBHOOK_TIMEOUT seconds: a
    watchdog shuts the socket down then, however slowly the receiver trickles its answer."""
    scheme, host, port, address = check_url(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, address, timeout=settings.WEBHOOK_TIMEOUT)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(settings.WEBHOOK_TIMEOUT, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        read = 0
        while read < MAX_ANSWER_BYTES:  # a never-ending answer is cut off
            chunk = response.read1(MAX_ANSWER_BYTES - read)
            if not chunk:
                break
            read += len(chunk)
        if expired.is_set():
            raise TimeoutError("timed out")
        return response.status
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set() and not isinstance(exc, Unreachable):
            raise TimeoutError(f"timed out: no whole answer within {settings.WEBHOOK_TIMEOUT:g} s") from exc
        raise
    finally:
        watchdog.cancel()
        connection.close()


# --- Enqueueing, in the event's transaction ---------------------------------------------------


def payload_of(event: str, data: dict[str, Any], at: datetime) -> str:
    return json.dumps({"type": event, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data},
                      separators=(",", ":"), default=str)  # fmt: skip


def enqueue_many(events: list[AuditEvent]) -> None:
    """`enqueue` for a batch of events: nothing more than one query when no endpoint wants them."""
    names = {event.event for event in events}
    active = WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True)
    if any("*" in wanted or names & set(wanted) for wanted in active):
        for event in events:
            enqueue(event)


def enqueue(event: AuditEvent) -> None:
    """One delivery per endpoint subscribed to the event, in the event's own transaction: the
        endpoints are read there (one small query; no per-process cache, which lost the events of an
        endpoint made or re-activated on another process moments before), and one INSERT ... SELECT
    stores them all."""
    from common.serializers import AuditEventSerializer

    active = WebhookEndpoint.objects.filter(is_active=True).values_list("id", "events")
    subscribed = [pk for pk, events in active if "*" in events or event.event in events]
    if not subscribed:
        return
    payload = payload_of(event.event, AuditEventSerializer(event).data, event.created_at)
    # INSERT ... SELECT: an endpoint deleted by another process since the read above is skipped,
    # not a foreign-key error that would fail the change that caused the event.
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
    if ids:  # (if the process's backlog is full, send_pending_webhooks makes the first attempt)
        transaction.on_commit(lambda: in_background(lambda: [attempt(pk) for pk in ids]))


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
        undelivered = WebhookDelivery.objects.filter(pk=pk, endpoint__is_active=True)
        undelivered.exclude(status=WebhookDelivery.DELIVERED).update(
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
    except Unreachable as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException, ValueError) as exc:  # reset, timed out, TLS, garbage
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
