"""The mail outbox: mail is stored with the change that causes it and delivered after commit.

A web request makes one delivery attempt per mail after its response has been sent (so
the time a request takes never depends on the mail server, and forgot-password answers
alike for known and unknown addresses); `send_pending_email` retries the rest.
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django.utils import timezone

from common import metrics, product
from common.after_response import after_response
from common.models import OutboxEmail

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claimed mail is someone else's to retry only after this


def queue(*, to: str, template: str, context: dict[str, Any]) -> OutboxEmail:
    """Render `email/<template>` (subject, text, HTML) and store it; it is sent once the transaction commits."""
    context = {"product": product.value("product_name"), **context}
    email = OutboxEmail.objects.create(
        to=to,
        subject=render_to_string(f"email/{template}_subject.txt", context).strip(),
        body_text=render_to_string(f"email/{template}.txt", context),
        body_html=render_to_string(f"email/{template}.html", context),
    )
    transaction.on_commit(lambda: _after_commit(email.pk))
    return email


def security_notice(account: Any, change: str) -> OutboxEmail:
    """The §11 notice that a way to sign in or a second factor changed (`change`: "A passkey was
    added"); it goes to the account's current address."""
    return queue(
        to=account.email, template="security_notice",
        context={"name": account.name, "username": account.username, "change": change},
    )  # fmt: skip


def _after_commit(pk: int) -> None:
    after_response(lambda: deliver(pk))


def deliver(pk: int) -> bool:
    """One attempt at one due mail; False when another runner has it or it is not due."""
    if not OutboxEmail.objects.claim(pk, LEASE):
        return False
    email = OutboxEmail.objects.get(pk=pk)
    message = EmailMultiAlternatives(
        email.subject, email.body_text, settings.DEFAULT_FROM_EMAIL, [email.to], connection=get_connection()
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:  # noqa: BLE001 - any delivery failure leaves the mail for a retry
        _failed(email, exc)
        return True
    OutboxEmail.objects.filter(pk=pk).update(
        status=OutboxEmail.SENT, sent_at=timezone.now(), attempts=email.attempts + 1, claimed_until=None,
        body_text="", body_html="", last_error="",
    )  # fmt: skip
    metrics.EMAILS.labels(outcome="sent").inc()
    return True


def _failed(email: OutboxEmail, exc: Exception) -> None:
    """The first failure is due again at once; later ones back off; the cap gives up."""
    attempts = email.attempts + 1
    give_up = attempts >= settings.EMAIL_MAX_ATTEMPTS
    delay = timedelta(0) if attempts == 1 else timedelta(minutes=2 ** (attempts - 2))
    OutboxEmail.objects.filter(pk=email.pk).update(
        attempts=attempts,
        last_error=f"{type(exc).__name__}: {exc}"[:500],
        next_attempt_at=timezone.now() + delay,
        status=OutboxEmail.FAILED if give_up else OutboxEmail.PENDING,
        claimed_until=None,
    )
    logger.warning("Mail %s to %s not delivered (attempt %s): %s", email.pk, email.to, attempts, exc)
    metrics.EMAILS.labels(outcome="failed").inc()


def send_pending(batch: int = 100) -> dict[str, int]:
    """Send every pending mail that is due, once each (safe with several runners at once)."""
    done: dict[str, int] = {"attempted": 0}
    while True:
        ids = list(OutboxEmail.objects.due().order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:batch])
        attempted = [pk for pk in ids if deliver(pk)]
        done["attempted"] += len(attempted)
        if len(ids) < batch:
            break
    done["pending"] = OutboxEmail.objects.filter(status=OutboxEmail.PENDING).count()
    return done


def purge(older_than: timedelta) -> int:
    """Delete sent and given-up mail older than the retention period."""
    cutoff = timezone.now() - older_than
    deleted, _ = OutboxEmail.objects.exclude(status=OutboxEmail.PENDING).filter(created_at__lt=cutoff).delete()
    return deleted


def origin_of(request: HttpRequest | None) -> str:
    """Where links in mail point: FRONTEND_URL, else the service's own origin.

    The host comes from the request (checked against ALLOWED_HOSTS), but never its port: a
    client could name any port in `Host`. The port is the one the server listens on (the
    socket gunicorn accepted on, or the server's own SERVER_PORT elsewhere); behind a proxy
    set FRONTEND_URL.
    """
    if settings.FRONTEND_URL:
        return settings.FRONTEND_URL.rstrip("/")
    return own_origin(request)


def own_origin(request: HttpRequest | None) -> str:
    """The service's own origin: the request's host (checked against ALLOWED_HOSTS) with the port
    the server listens on, never the port a client named in `Host`."""
    if request is None:
        return f"http://{settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else 'localhost'}"
    host, _ = split_domain_port(request.get_host())
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    scheme = request.scheme
    port = _listening_port(request)
    default = {"http": "80", "https": "443"}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _listening_port(request: HttpRequest) -> str:
    sock = request.META.get("gunicorn.socket")
    if sock is not None:
        try:
            address = sock.getsockname()
        except OSError:
            return ""
        return str(address[1]) if isinstance(address, tuple) else ""  # a unix socket has no port
    return str(request.META.get("SERVER_PORT", ""))


def link(origin: str, path: str, token: str) -> str:
    return f"{origin}/{path}?token={token}"
