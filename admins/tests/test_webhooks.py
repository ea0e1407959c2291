"""Webhooks (docs/api.md §23) against a real receiver on loopback: signed Standard Webhooks
deliveries, the retry schedule, the address checks, and endpoint management."""

import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from common import audit, webhooks
from common.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from common.tests.utils import assert_error, assert_ok, bearer

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP server on loopback that records each request and answers as scripted (default 204)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body.decode(), "path": self.path})
                answer = receiver.script.pop(0) if receiver.script else "204"
                if answer == "slow":
                    time.sleep(2)
                    answer = "200"
                if answer == "garbage":
                    self.wfile.write(b"this is not HTTP\r\n\r\n")
                    return
                if answer == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                    self.end_headers()
                    return
                if answer == "endless":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(2000):  # far more than is read
                        self.wfile.write(b"x" * 1024)
                    return
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT = 1
    server = Receiver()
    yield server
    server.close()


def create(client, token, **body) -> dict:
    return assert_ok(client.post("/admin/webhooks", body, format="json", **bearer(token)), 201)


def verify(secret: str, request: dict) -> dict:
    return Webhook(secret).verify(request["body"], request["headers"])


class TestManagement:
    def test_create_shows_the_secret_once_then_list_and_read_never(self, api_client, admin_token, receiver):
        data = create(api_client, admin_token, url=receiver.url, events=["account.registered"], description="CRM")
        assert data["secret"].startswith("whsec_") and data["events"] == ["account.registered"]
        assert set(data) == {"id", "url", "events", "description", "is_active", "created_at", "secret"}
        listed = assert_ok(api_client.get("/admin/webhooks", **bearer(admin_token)))["items"]
        assert [item["id"] for item in listed] == [data["id"]] and "secret" not in listed[0]
        read = assert_ok(api_client.get(f"/admin/webhooks/{data['id']}", **bearer(admin_token)))
        assert "secret" not in read and read["description"] == "CRM"
        assert AuditEvent.objects.filter(event="webhook.created").count() == 1
        stored = WebhookEndpoint.objects.get()
        assert data["secret"] not in stored.secret  # encrypted at rest

    def test_update_and_delete(self, api_client, admin_token, receiver):
        data = create(api_client, admin_token, url=receiver.url, events=["*"])
        url = f"/admin/webhooks/{data['id']}"
        changed = assert_ok(api_client.patch(url, {"is_active": False}, format="json", **bearer(admin_token)))
        assert changed["is_active"] is False and changed["events"] == ["*"]
        assert_ok(api_client.delete(url, **bearer(admin_token)))
        assert_error(api_client.get(url, **bearer(admin_token)), 404, "NOT_FOUND")
        events = set(AuditEvent.objects.values_list("event", flat=True))
        assert {"webhook.created", "webhook.updated", "webhook.deleted"} <= events

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
            ({"url": "not a url", "events": ["*"]}, "url"),
            ({"url": "https://example.com/x", "events": ["no.such.event"]}, "events"),
            ({"url": "https://example.com/x", "events": []}, "events"),
            ({"url": "https://127.0.0.1/x", "events": ["*"]}, "url"),
            ({"url": "https://10.1.2.3/x", "events": ["*"]}, "url"),
            ({"url": "https://[::1]/x", "events": ["*"]}, "url"),
            ({"url": "https://169.254.169.254/latest", "events": ["*"]}, "url"),
            ({"url": "https://0.0.0.0/x", "events": ["*"]}, "url"),
            ({"url": "https://100.64.0.1/x", "events": ["*"]}, "url"),  # carrier-grade NAT
            ({"url": "https://100.100.100.200/latest", "events": ["*"]}, "url"),  # a cloud's metadata service
            ({"url": "https://[fec0::1]/x", "events": ["*"]}, "url"),  # site-local
            ({"url": "https://[2002:7f00:1::1]/x", "events": ["*"]}, "url"),  # 6to4 of 127.0.0.1
            ({"url": "https://[64:ff9b::a00:1]/x", "events": ["*"]}, "url"),  # NAT64 of 10.0.0.1
            ({"url": "https://[::7f00:1]/x", "events": ["*"]}, "url"),  # IPv4-compatible 127.0.0.1
            ({"url": "https://[2001::1]/x", "events": ["*"]}, "url"),  # Teredo
            ({"url": "https://192.0.0.8/x", "events": ["*"]}, "url"),  # IETF protocol assignments
            ({"url": "https://198.18.0.1/x", "events": ["*"]}, "url"),  # benchmarking
            ({"url": "https://192.88.99.1/x", "events": ["*"]}, "url"),  # 6to4 relay anycast
            ({"url": "https://224.0.0.1/x", "events": ["*"]}, "url"),  # multicast
            ({"url": "https://[ff02::1]/x", "events": ["*"]}, "url"),
            ({"url": "https://[3fff::1]/x", "events": ["*"]}, "url"),  # documentation
            ({"url": "https://1.1.1.1:0/x", "events": ["*"]}, "url"),  # port 0
            ({"url": "https://1.1.1.1:99999/x", "events": ["*"]}, "url"),
            ({"url": "http://example.com/x", "events": ["*"]}, "url"),
        ],
    )
    def test_unsafe_or_invalid_input_is_400_and_stores_nothing(self, api_client, admin_token, body, field):
        details = assert_error(
            api_client.post("/admin/webhooks", body, format="json", **bearer(admin_token)), 400, "VALIDATION_ERROR"
        )
        assert field in details and not WebhookEndpoint.objects.exists()
        assert isinstance(details[field], list) and all(isinstance(m, str) for m in details[field])  # §2

    def test_a_bad_item_of_a_list_field_is_a_list_of_messages(self, api_client, admin_token):
        body = {"url": "https://example.com/x", "events": ["*", "no.such.event"]}
        details = assert_error(
            api_client.post("/admin/webhooks", body, format="json", **bearer(admin_token)), 400, "VALIDATION_ERROR"
        )
        assert len(details["events"]) == 1 and details["events"][0].startswith("Item 2: ")

    def test_an_endpoint_of_nothing_is_404_and_users_cannot_reach_any(self, api_client, admin_token, user_token):
        assert_error(api_client.get("/admin/webhooks/999", **bearer(admin_token)), 404, "NOT_FOUND")
        assert_error(api_client.post("/admin/webhooks/999/test", **bearer(admin_token)), 404, "NOT_FOUND")
        assert_error(api_client.get("/admin/webhooks", **bearer(user_token)), 401, "INVALID_TOKEN")


class TestDelivery:
    def test_an_event_is_delivered_signed_after_the_response(self, api_client, admin_token, receiver, committed):
        secret = create(api_client, admin_token, url=receiver.url, events=["account.registered"])["secret"]
        body = {"username": "hooked", "name": "Hooked", "email": "hooked@example.com", "password": "a-long-passphrase"}
        with committed():
            assert_ok(api_client.post("/auth/register", body, format="json"), 201)
        [request] = receiver.requests
        payload = verify(secret, request)
        assert payload["type"] == "account.registered" and payload["data"]["event"] == "account.registered"
        event = AuditEvent.objects.get(event="account.registered")
        assert payload["data"]["id"] == event.pk and request["headers"]["webhook-id"] == f"msg_evt_{event.pk}"
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)

    def test_an_event_reaches_the_endpoints_subscribed_when_it_happens(self, user, receiver):
        """No per-process cache: an endpoint made, re-activated, paused or deleted (by any process)
        just before an event counts at once."""
        made = WebhookEndpoint.objects.create(url=receiver.url, events=["*"], secret=webhooks.seal("x"))
        paused = WebhookEndpoint.objects.create(url=receiver.url, events=["*"], secret=webhooks.seal("x"))
        with transaction.atomic():
            audit.record("account.updated", account=user)
        assert set(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == {made.pk, paused.pk}
        WebhookEndpoint.objects.filter(pk=paused.pk).update(is_active=False)
        WebhookEndpoint.objects.filter(pk=made.pk).delete()
        with transaction.atomic():
            audit.record("account.blocked", account=user)
        assert not WebhookDelivery.objects.filter(event="account.blocked").exists()
        WebhookEndpoint.objects.filter(pk=paused.pk).update(is_active=True)
        with transaction.atomic():
            audit.record("account.registered", account=user)
        assert list(
            WebhookDelivery.objects.filter(event="account.registered").values_list("endpoint_id", flat=True)
        ) == [paused.pk]

    def test_a_paused_endpoint_is_not_called(self, user, receiver):
        """Its waiting deliveries are neither attempted (after the response, by the command, by a
        retry) nor lost: they go out once it is active again."""
        from django.core.management import call_command

        secret = webhooks.seal(webhooks.new_secret())
        endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=["*"], secret=secret)
        with transaction.atomic():
            audit.record("account.updated", account=user)
        delivery = WebhookDelivery.objects.get()
        endpoint.is_active = False
        endpoint.save()
        assert webhooks.attempt(delivery.pk) is False and webhooks.attempt(delivery.pk, force=True) is False
        call_command("send_pending_webhooks", "--concurrency", "1", stdout=StringIO())
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, receiver.requests) == ("pending", 0, [])
        endpoint.is_active = True
        endpoint.save()
        call_command("send_pending_webhooks", "--concurrency", "1", stdout=StringIO())
        delivery.refresh_from_db()
        assert (delivery.status, len(receiver.requests)) == ("delivered", 1)

    def test_a_change_that_fails_leaves_no_delivery(self, user, receiver):
        WebhookEndpoint.objects.create(url=receiver.url, events=["*"], secret=webhooks.seal(webhooks.new_secret()))
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record("account.updated", account=user)
            raise RuntimeError("the change failed")
        assert not WebhookDelivery.objects.exists() and receiver.requests == []

    def test_an_event_costs_one_read_and_one_insert_for_all_subscribed_endpoints(self, user, receiver):
        def queries_of_one_event() -> list[str]:
            with CaptureQueriesContext(connection) as captured, transaction.atomic():
                audit.record("account.updated", account=user)
            return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]

        without = queries_of_one_event()
        for _ in range(2):
            WebhookEndpoint.objects.create(url=receiver.url, events=["account.updated"], secret=webhooks.seal("x"))
        WebhookEndpoint.objects.create(url=receiver.url, events=["login.failed"], secret=webhooks.seal("x"))
        with_two = queries_of_one_event()
        assert len(with_two) == len(without) + 1
        assert with_two[-1].startswith('INSERT INTO "common_webhookdelivery"')  # one INSERT for both endpoints
        assert WebhookDelivery.objects.filter(event="account.updated").count() == 2

    def test_failures_follow_the_schedule_then_give_up_with_one_webhook_id(self, api_client, admin_token, receiver):
        from django.core.management import call_command

        secret = create(api_client, admin_token, url=receiver.url, events=["webhook.test"])["secret"]
        endpoint = WebhookEndpoint.objects.get()
        receiver.script = ["500"] * 8
        delivery = webhooks.test_delivery(endpoint)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 500)
        attempted_at = timezone.now()
        for step, delay in enumerate(webhooks.SCHEDULE, start=2):
            due = WebhookDelivery.objects.get().next_attempt_at
            assert abs((due - attempted_at) - delay) < timedelta(seconds=2)  # the Standard Webhooks schedule
            with time_machine.travel(due - timedelta(seconds=1)):
                call_command("send_pending_webhooks", "--concurrency", "1", stdout=StringIO())  # not due yet
            assert WebhookDelivery.objects.get().attempts == step - 1
            with time_machine.travel(due + timedelta(seconds=1)):
                attempted_at = timezone.now()
                call_command("send_pending_webhooks", "--concurrency", "1", stdout=StringIO())
            assert WebhookDelivery.objects.get().attempts == step
        delivery.refresh_from_db()
        assert (delivery.status, delivery.next_attempt_at) == ("given_up", None)
        assert len(receiver.requests) == 8 and len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
        assert all(verify(secret, r)["type"] == "webhook.test" for r in receiver.requests[:1])

    @pytest.mark.parametrize(
        ("answer", "status", "error"),
        [
            ("redirect", "failed", "redirects are not followed"),
            ("slow", "failed", "timed out"),
            ("garbage", "failed", "BadStatusLine"),
            ("410", "failed", "HTTP 410"),
            ("endless", "delivered", None),
        ],
    )
    def test_odd_receivers_are_recorded_not_crashed(self, api_client, admin_token, receiver, answer, status, error):
        create(api_client, admin_token, url=receiver.url, events=["*"])
        receiver.script = [answer]
        started = time.monotonic()
        delivery = webhooks.test_delivery(WebhookEndpoint.objects.get())
        assert time.monotonic() - started < 4
        assert delivery.status == status
        assert (error is None and delivery.last_error is None) or error in delivery.last_error
        assert delivery.last_error is None or len(delivery.last_error) <= 300

    def test_a_closed_port_and_a_filtered_one_read_alike(self, api_client, admin_token, receiver, settings):
        """last_error is not a port scanner: refused and unanswered connections are one message."""
        closed = socket.create_server(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()  # nothing listens there now: the connection is refused at once
        # A full accept queue makes Linux drop further SYNs, as a firewall that filters the port does.
        filtered = socket.create_server(("127.0.0.1", 0), backlog=0)
        filtered_port = filtered.getsockname()[1]
        queued = [socket.create_connection(("127.0.0.1", filtered_port), timeout=2)]
        errors = []
        try:
            for port in (closed_port, filtered_port):
                endpoint = WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{port}/x", events=["*"],
                                                          secret=webhooks.seal(webhooks.new_secret()))  # fmt: skip
                errors.append(webhooks.test_delivery(endpoint).last_error)
        finally:
            for sock in (*queued, filtered):
                sock.close()
        assert errors == ["The receiver could not be reached."] * 2

    def test_a_private_address_is_refused_at_attempt_time_too(self, api_client, admin_token, receiver, settings):
        create(api_client, admin_token, url=receiver.url, events=["*"])
        settings.WEBHOOK_ALLOW_PRIVATE = False
        delivery = webhooks.test_delivery(WebhookEndpoint.objects.get())
        assert delivery.status == "failed" and delivery.last_error.startswith("Refused:") and receiver.requests == []

    def test_after_a_rotation_both_secrets_sign_for_a_day(self, api_client, admin_token, receiver):
        data = create(api_client, admin_token, url=receiver.url, events=["*"])
        new = assert_ok(api_client.post(f"/admin/webhooks/{data['id']}/rotate-secret", **bearer(admin_token)))
        assert new["secret"] != data["secret"]
        assert_ok(api_client.post(f"/admin/webhooks/{data['id']}/test", **bearer(admin_token)))
        request = receiver.requests[-1]
        assert len(request["headers"]["webhook-signature"].split(" ")) == 2
        assert verify(data["secret"], request) == verify(new["secret"], request)  # either secret verifies
        with time_machine.travel(timezone.now() + timedelta(hours=25)):
            webhooks.test_delivery(WebhookEndpoint.objects.get())
        late = receiver.requests[-1]
        assert len(late["headers"]["webhook-signature"].split(" ")) == 1

    def test_list_deliveries_and_retry_one_now(self, api_client, admin_token, receiver):
        data = create(api_client, admin_token, url=receiver.url, events=["*"])
        receiver.script = ["503"]
        tested = assert_ok(api_client.post(f"/admin/webhooks/{data['id']}/test", **bearer(admin_token)))
        assert tested["status"] == "failed" and tested["last_status_code"] == 503 and tested["next_attempt_at"]
        page = assert_ok(
            api_client.get(f"/admin/webhooks/{data['id']}/deliveries?status=failed", **bearer(admin_token))
        )
        assert [item["id"] for item in page["items"]] == [tested["id"]]
        retry = f"/admin/webhooks/{data['id']}/deliveries/{tested['id']}/retry"
        retried = assert_ok(api_client.post(retry, **bearer(admin_token)))
        assert (retried["status"], retried["attempts"], retried["delivered_at"] is not None) == ("delivered", 2, True)
        assert_error(api_client.post(f"/admin/webhooks/{data['id']}/deliveries/999/retry", **bearer(admin_token)),
                     404, "NOT_FOUND")  # fmt: skip
        bad = api_client.get(f"/admin/webhooks/{data['id']}/deliveries?status=maybe", **bearer(admin_token))
        assert "status" in assert_error(bad, 400, "VALIDATION_ERROR")


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_make_each_attempt_once(postgres_only, receiver):
    endpoint = WebhookEndpoint.objects.create(
        url=receiver.url, events=["*"], secret=webhooks.seal(webhooks.new_secret())
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, message_id=f"msg_{i}", event="webhook.test", payload=json.dumps({"i": i}))
        for i in range(60)
    )
    from common.tests.utils import run_concurrently

    run_concurrently(lambda _: webhooks.send_pending(concurrency=4), 2)
    assert len(receiver.requests) == 60
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 60
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


def test_metrics_count_attempts_and_show_the_queue_age(api_client, admin_token, receiver, settings):
    settings.METRICS_TOKEN = "metrics-secret-123"
    create(api_client, admin_token, url=receiver.url, events=["*"])
    receiver.script = ["500"]
    webhooks.test_delivery(WebhookEndpoint.objects.get())
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=90))
    text = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-123").content.decode()
    assert 'webhook_deliveries_total{outcome="failed"}' in text
    [age] = [float(line.split()[1]) for line in text.splitlines() if line.startswith("webhook_queue_age_seconds ")]
    assert 89 <= age < 200
