"""Work that a request causes but must not wait for (mail, the forgot-password lookup): it runs
after the response has been sent. Work that waits on other people's servers (webhook attempts)
runs `in_background`, so that it never holds the worker at all."""

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

_waiting: contextvars.ContextVar[list[Callable[[], Any]] | None] = contextvars.ContextVar(
    "after_response", default=None
)


def after_response(work: Callable[[], Any]) -> None:
    """Run `work` once the response has been sent (in a request), or now (a command, or a
    request already answered). A failure is logged, never raised."""
    waiting = _waiting.get()
    if waiting is not None:
        waiting.append(work)
    else:
        _run_all([work])


class AfterResponseMiddleware:
    """Work deferred during a request (mail, webhook deliveries) runs after the response is sent
    (when the server closes it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        waiting: list[Callable[[], Any]] = []
        token = _waiting.set(waiting)
        try:
            response = self.get_response(request)
        finally:
            _waiting.reset(token)
        if waiting:
            response._resource_closers.append(lambda: _run_all(waiting))
        return response


def _run_all(work: list[Callable[[], Any]]) -> None:
    for item in work:
        try:
            item()
        except Exception:
            logger.exception("Work after the response failed")


class Background:
    """A few threads of this process (made on first use, so after gunicorn forks) for work that
    must not hold a worker. At most `threads` run and `backlog` wait; beyond that `submit` refuses
    (False), and the caller leaves the work to its command (it is stored, and due)."""

    def __init__(self, threads: int = 4, backlog: int = 200) -> None:
        self.threads, self.backlog = threads, backlog
        self.pool: ThreadPoolExecutor | None = None
        self.unfinished = 0
        self.changed = threading.Condition()

    def submit(self, work: Callable[[], Any]) -> bool:
        with self.changed:
            if self.unfinished >= self.backlog:
                return False
            self.unfinished += 1
            if self.pool is None:
                self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="background")
        self.pool.submit(self._run, work)
        return True

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            _run_all([work])
        finally:
            connections.close_all()  # this thread's own connections
            with self.changed:
                self.unfinished -= 1
                self.changed.notify_all()

    def wait(self, timeout: float) -> bool:
        """Until nothing is running or waiting (True), or `timeout` seconds (False)."""
        with self.changed:
            return self.changed.wait_for(lambda: self.unfinished == 0, timeout)


background = Background()


def in_background(work: Callable[[], Any]) -> bool:
    """Run `work` on one of this process's background threads; inside a transaction (whose rows
    another connection cannot see yet), now, in this thread. False if the backlog is full."""
    if any(connection.in_atomic_block for connection in connections.all(initialized_only=True)):
        _run_all([work])
        return True
    return background.submit(work)
