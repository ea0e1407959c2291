"""Work that a request causes but must not wait for (mail and webhook delivery attempts, the
forgot-password lookup): it runs after the response has been sent."""

import contextvars
import logging
from collections.abc import Callable
from typing import Any

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
