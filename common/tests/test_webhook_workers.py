"""A slow webhook receiver never holds a server worker (docs/api.md §23): against real gunicorn
workers and a loopback receiver that answers one byte at a time, forever."""

import json
import socket
import threading
import time

import pytest

from common import webhooks
from common.models import WebhookDelivery, WebhookEndpoint
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import gunicorn, http

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]

TIMEOUT = 2  # WEBHOOK_TIMEOUT of the servers


class Trickler:
    """Accepts, reads the request, sends `HTTP/1.1 200 OK` and then one byte every half second."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hooks"
        self.connections = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while self.running:
                    conn.sendall(b"X")
                    time.sleep(0.5)
            except OSError:
                return

    def close(self) -> None:
        self.running = False
        self.server.close()


@pytest.fixture
def trickler():
    receiver = Trickler()
    yield receiver
    receiver.close()


def test_two_senders_against_a_trickling_receiver_never_hold_a_worker(trickler):
    user = UserFactory()
    WebhookEndpoint.objects.create(url=trickler.url, events=["login.failed"],
                                   secret=webhooks.seal(webhooks.new_secret()))  # fmt: skip
    env = {"WEBHOOK_TIMEOUT": str(TIMEOUT), "WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE": "true",
           "MAX_LOGIN_ATTEMPTS": "1000", "RATE_LIMIT_ATTEMPTS": "100000"}  # fmt: skip
    with gunicorn(workers=2, **env) as url:
        stop = threading.Event()
        failed_logins = [0, 0]

        def sender(index: int) -> None:  # wrong passwords, each an event for the slow receiver
            body = json.dumps({"username": user.username, "password": "wrong-password"}).encode()
            while not stop.is_set():
                status, _ = http("POST", f"{url}/auth/login", body, {"Content-Type": "application/json"})
                assert status == 401
                failed_logins[index] += 1
                time.sleep(0.05)

        senders = [threading.Thread(target=sender, args=(i,)) for i in range(2)]
        for thread in senders:
            thread.start()
        slowest = 0.0
        try:
            until = time.monotonic() + 3 * TIMEOUT
            while time.monotonic() < until:
                started = time.monotonic()
                assert http("GET", f"{url}/health")[0] == 200
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.1)
        finally:
            stop.set()
            for thread in senders:
                thread.join()
        assert slowest < 1, f"/health took {slowest:.2f} s"
        assert min(failed_logins) > 5 and trickler.connections > 0

        # The operator's test of the endpoint waits for its attempt, but no longer than the timeout.
        admin = AdminFactory()
        body = json.dumps({"username": admin.username, "password": PASSWORD}).encode()
        status, pair = http("POST", f"{url}/admin/auth/login", body, {"Content-Type": "application/json"})
        assert status == 200, pair
        endpoint = WebhookEndpoint.objects.get()
        auth = {"Authorization": f"Bearer {pair['data']['access_token']}"}
        started = time.monotonic()
        status, answer = http("POST", f"{url}/admin/webhooks/{endpoint.pk}/test", headers=auth)
        took = time.monotonic() - started
        assert status == 200 and answer["data"]["status"] == "failed", answer
        assert answer["data"]["last_error"].startswith("TimeoutError: timed out")
        assert TIMEOUT - 0.2 < took < TIMEOUT + 1
    timed_out = WebhookDelivery.objects.filter(event="login.failed", last_error__startswith="TimeoutError")
    assert timed_out.exists()  # the background attempts were made, each cut off at the deadline
