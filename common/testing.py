"""Helpers for the test suites of every app: envelope assertions and real gunicorn servers."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib import request as urlrequest
from urllib.error import HTTPError

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error envelope with exactly this status and code; returns error.details."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"success", "message", "error"}, body
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["details"], dict)
    assert body["message"] == body["error"]["message"]
    return body["error"]["details"]


def assert_ok(response: Any, status: int = 200) -> Any:
    """The success envelope with exactly this status; returns data."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"success", "message", "data"}, body
    assert body["success"] is True
    return body["data"]


# --- Real servers --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database the tests run on (the test database), for child processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def gunicorn(workers: int = 1, **env: str) -> Iterator[str]:
    """Run `gunicorn config.wsgi` on a free loopback port against the test database; yield its URL."""
    port = free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "UPLOAD_DIR": str(settings.MEDIA_ROOT),
        # The test settings: production settings plus a fast hasher that the test factories use.
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), "-t", "60"],
        cwd=BASE_DIR,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        try:
            with urlrequest.urlopen(f"{url}/health", timeout=2):
                return
        except HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start in time")


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """A plain HTTP call to a real server: (status, JSON body)."""
    req = urlrequest.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urlrequest.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
