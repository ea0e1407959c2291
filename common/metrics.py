"""Prometheus metrics (prometheus_client). Under gunicorn, gunicorn.conf.py turns on the
multiprocess mode (PROMETHEUS_MULTIPROC_DIR), so every worker's counts add up in /metrics."""

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from common.exceptions import NotAuthenticated, NotFound, json_error_response

REQUESTS = Counter("http_requests_total", "HTTP requests by route, method and status.", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request, by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOGINS = Counter("logins_total", "Login attempts by realm and outcome.", ["realm", "outcome"])
LOCKOUTS = Counter("lockouts_total", "Accounts locked after too many failures, by realm.", ["realm"])
REFRESH_REUSE = Counter("refresh_reuse_total", "Reused refresh tokens (their session revoked), by realm.", ["realm"])
RATE_LIMITED = Counter("rate_limited_total", "Requests refused by a rate limit, by limit group.", ["group"])
EMAILS = Counter("emails_total", "Delivery attempts of outgoing mail, by outcome (sent, failed).", ["outcome"])
WEBHOOKS = Counter(
    "webhook_deliveries_total", "Webhook delivery attempts, by outcome (delivered, failed, given_up).", ["outcome"]
)


class WebhookQueueCollector:
    """At each scrape: how long the oldest due webhook delivery has waited (0 when none), from the database."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from common.models import WebhookDelivery

        oldest = WebhookDelivery.objects.due().order_by("next_attempt_at").values_list("next_attempt_at", flat=True)
        first = oldest.first()
        age = (timezone.now() - first).total_seconds() if first else 0.0
        yield GaugeMetricFamily("webhook_queue_age_seconds", "How long the oldest due webhook delivery has waited.",
                                value=max(age, 0.0))  # fmt: skip


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str | None) -> str:
    """A client chooses the method: any other than the known ones shares one label value, so
    the number of series (and of /metrics) stays bounded."""
    return method if method in KNOWN_METHODS else "other"


_QUEUE = CollectorRegistry()
_QUEUE.register(WebhookQueueCollector())


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: 404 unless METRICS_TOKEN is set, then only with that bearer token."""
    request_id = getattr(request, "request_id", None)
    if not settings.METRICS_TOKEN:
        return json_error_response(NotFound(), request_id)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode()):
        return json_error_response(NotAuthenticated("A valid metrics token is required"), request_id)
    body = generate_latest(_registry()) + generate_latest(_QUEUE)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
