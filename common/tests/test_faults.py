"""Real faults: PostgreSQL and Redis go away under a running gunicorn server and come back.

A TCP proxy on loopback stands between the server and each dependency; cutting it drops
every connection and refuses new ones, as a stopped server does, without disturbing the
PostgreSQL and Redis the other tests use."""

import contextlib
import json
import socket
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import gunicorn, http
from testkit.servers import database_url, free_port

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops everything, `restore()` listens again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def timed(method: str, url: str, **kwargs) -> tuple[int, dict, float]:
    started = time.monotonic()
    status, body = http(method, url, **kwargs)
    return status, body, time.monotonic() - started


def login(url: str, user) -> dict:
    body = json.dumps({"username": user.username, "password": PASSWORD}).encode()
    status, answer = http("POST", f"{url}/auth/login", body, {"Content-Type": "application/json"})
    assert status == 200, answer
    return {"Authorization": f"Bearer {answer['data']['access_token']}"}


def test_database_outage_is_a_quick_503_and_the_same_processes_recover(postgres_only):
    user = UserFactory()
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    proxied = database_url().replace(f":{db['PORT'] or 5432}/", f":{proxy.port}/")
    try:
        with gunicorn(workers=2, DATABASE_URL=proxied) as url:
            auth = login(url, user)
            proxy.cut()
            for path in ("/users/me", "/health", "/users/me/sessions"):
                status, body, seconds = timed("GET", f"{url}{path}", headers=auth)
                assert status == 503 and body["error"]["code"] == "SERVICE_UNAVAILABLE", (path, body)
                assert seconds < 5, (path, seconds)
            assert http("GET", f"{url}/health")[1]["error"]["details"] == {"database": "unavailable"}
            proxy.restore()
            deadline = time.monotonic() + 10
            while http("GET", f"{url}/health")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            for _ in range(4):  # every worker has reconnected
                assert http("GET", f"{url}/users/me", headers=auth)[0] == 200
    finally:
        proxy.cut()


def test_redis_outage_keeps_the_api_serving_and_health_says_so():
    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        pytest.skip("needs Redis: run with REDIS_URL=redis://...")
    user = UserFactory()
    redis_url = settings.CACHES["default"]["LOCATION"]
    host_port, _, db_index = redis_url.removeprefix("redis://").partition("/")
    host, _, port = host_port.partition(":")
    proxy = TcpProxy((host, int(port or 6379)))
    try:
        with gunicorn(workers=2, REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{db_index or 0}") as url:
            assert http("GET", f"{url}/health")[1]["data"]["cache"] == "ok"
            proxy.cut()
            status, body, seconds = timed("GET", f"{url}/health")
            assert status == 200 and body["data"] == {"database": "ok", "cache": "unavailable"} and seconds < 5
            auth = login(url, user)  # the login rate limit fails open; lockout still applies
            assert http("GET", f"{url}/users/me", headers=auth)[0] == 200
            proxy.restore()
            time.sleep(0.5)
            assert http("GET", f"{url}/health")[1]["data"]["cache"] == "ok"
    finally:
        proxy.cut()
