"""Helpers for the test suites of every app: envelope assertions and real gunicorn servers."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib import request as urlrequest
from urllib.error import HTTPError

from django.db import connections

from testkit.servers import run_gunicorn

T = TypeVar("T")


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


@contextmanager
def gunicorn(workers: int = 1, port: int | None = None, **env: str) -> Iterator[str]:
    """A real `gunicorn config.wsgi` on the test database, with the test settings (fast hasher)."""
    with run_gunicorn(workers=workers, settings_module="config.tests.settings", port=port, **env) as url:
        yield url


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """A plain HTTP call to a real server: (status, JSON body)."""
    req = urlrequest.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urlrequest.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def run_concurrently(task: Callable[[int], T], count: int) -> list[T]:
    """Run task(0..count-1) in threads released together; each closes its own DB connection."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(task(i))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
