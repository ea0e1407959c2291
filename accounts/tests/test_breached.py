"""Breached passwords (docs/api.md §27) against a real range server on loopback."""

import hashlib
import http.server
import io
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command

from accounts.breached import MESSAGE
from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer

pytestmark = pytest.mark.django_db
BREACHED = "correct-horse-battery-staple-9"
FRESH = "an-unbreached-passphrase-77"


class RangeServer:
    """GET /range/{prefix}: `SUFFIX:COUNT` lines, the breached password's among padding."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("Add-Padding")))
                time.sleep(delay)
                digest = hashlib.sha1(BREACHED.encode()).hexdigest().upper()
                lines = [f"{'0' * 35}:0", f"{'F' * 35}:2"]
                if self.path.endswith(digest[:5]):
                    lines.insert(1, f"{digest[5:]}:7")
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/range/"

    @contextmanager
    def running(self):
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def ranges(settings):
    with RangeServer().running() as server:
        settings.PWNED_PASSWORDS_URL = server.url
        yield server


def register(client, password, username="fresh"):
    body = {"username": username, "email": f"{username}@example.com", "name": "F", "password": password}
    return client.post("/auth/register", body, format="json")


def test_only_the_prefix_leaves_with_padding_asked(api_client, ranges):
    assert_error(register(api_client, BREACHED), 400, "VALIDATION_ERROR")
    digest = hashlib.sha1(BREACHED.encode()).hexdigest().upper()
    assert ranges.requests == [(f"/range/{digest[:5]}", "true")]
    assert_ok(register(api_client, FRESH), 201)


def test_every_path_that_sets_a_password_refuses_a_breached_one(api_client, ranges, user, login, admin_token):
    assert "password" in assert_error(register(api_client, BREACHED), 400, "VALIDATION_ERROR")
    assert MESSAGE in str(assert_error(register(api_client, BREACHED, "other"), 400, "VALIDATION_ERROR"))
    access = bearer(login(user)["access_token"])
    change = {"current_password": PASSWORD, "new_password": BREACHED}
    assert "new_password" in assert_error(api_client.post("/users/me/password", change, format="json", **access),
                                          400, "VALIDATION_ERROR")  # fmt: skip
    admin_body = {"username": "newop", "email": "newop@example.com", "name": "N", "password": BREACHED}
    assert "password" in assert_error(api_client.post("/admin/auth/register", admin_body, format="json",
                                                      **bearer(admin_token)), 400, "VALIDATION_ERROR")  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="breach"):
        call_command("createadmin", "--no-input", "--username=op2", "--email=op2@example.com", "--name=Op",
                     f"--password={BREACHED}", stdout=out, stderr=err)  # fmt: skip


def test_a_reset_refuses_a_breached_password(api_client, ranges):
    from accounts import one_time

    user = UserFactory()
    token = one_time.make(one_time.RESET, user)
    body = {"token": token, "new_password": BREACHED}
    assert "new_password" in assert_error(api_client.post("/auth/password/reset", body, format="json"), 400,
                                          "VALIDATION_ERROR")  # fmt: skip


def test_answers_are_cached_per_prefix(api_client, ranges):
    register(api_client, BREACHED, "one")
    register(api_client, BREACHED, "two")
    assert len(ranges.requests) == 1


def test_a_server_down_lets_the_password_through_unless_fail_closed(api_client, settings, caplog):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.PWNED_PASSWORDS_URL = f"http://127.0.0.1:{closed.getsockname()[1]}/range/"
        assert_ok(register(api_client, BREACHED), 201)
        assert "Breached-password check unavailable" in caplog.text
        settings.PWNED_PASSWORDS_FAIL_CLOSED = True
        assert_error(register(api_client, FRESH, "second"), 503, "SERVICE_UNAVAILABLE")


def test_a_slow_server_is_given_up_after_the_timeout(api_client, settings):
    settings.PWNED_PASSWORDS_TIMEOUT = 0.3
    with RangeServer(delay=2).running() as server:
        settings.PWNED_PASSWORDS_URL = server.url
        started = time.monotonic()
        assert_ok(register(api_client, BREACHED), 201)
        assert time.monotonic() - started < 1.5


def test_off_without_a_url(api_client, settings):
    settings.PWNED_PASSWORDS_URL = ""
    assert_ok(register(api_client, BREACHED), 201)
