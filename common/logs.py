"""Request logging: one line per request (JSON with LOG_FORMAT=json), with the request id
on every log line written while the request is served."""

import logging
import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from common import metrics
from common.middleware import current_request
from common.net import client_ip
from common.realms import realm_or_none

logger = logging.getLogger("access")  # the access log: one line per request, whatever app served it


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1 (U+0085 too), line/paragraph


def escape_control(text: str) -> str:
    r"""Control characters as escapes (`\n` -> `\x0a`): a value a client chose (a path with
    %0A in it) cannot start a forged line of the text log."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _escaped(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    if ch.isprintable() or ch == " ":
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def logfmt(value: object) -> str:
    r"""One value of a logfmt line: bare when it is plain, else in double quotes with `"` and `\`
    escaped and anything unprintable as `\xNN`/`\uNNNN`, so that no value (a path with spaces,
    `=`, quotes, a literal `\x0a` or U+0085 in it) can read as a field or a line of its own."""
    text = "null" if value is None else str(value)
    if text and all(ch.isprintable() and ch not in ' ="\\' for ch in text):
        return text
    return '"' + "".join(map(_escaped, text)) + '"'


class TextFormatter(logging.Formatter):
    """LOG_FORMAT=text: one line per record; only a traceback, appended after, spans lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_control(record.message)
        return super().formatMessage(record)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request()
        record.request_id = getattr(request, "request_id", "") if request is not None else ""
        return True


def _account(request: HttpRequest) -> tuple[str | None, int | None]:
    user = getattr(request, "user", None)
    realm = realm_or_none(user)
    return (realm.name, user.pk) if realm is not None else (None, None)


class AccessLogMiddleware:
    """Logs each request (method, path, status, duration, client IP, realm, account, request id) and counts it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.series: dict[tuple, tuple] = {}  # bounded: routes, 8 method labels, statuses

    def _series(self, route: str, method: str | None, status: int) -> tuple:
        """The request counter and latency histogram of this route, method and status (looked up once)."""
        label = metrics.method_label(method)  # never the client's own method: the dict stays bounded
        key = (route, label, status)
        found = self.series.get(key)
        if found is None:
            found = (
                metrics.REQUESTS.labels(route=route, method=label, status=str(status)),
                metrics.LATENCY.labels(route=route, method=label),
            )
            self.series[key] = found
        return found

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        counter, latency = self._series(route, request.method, response.status_code)
        counter.inc()
        latency.observe(duration)
        if not logger.isEnabledFor(logging.INFO):  # no line to write: build none
            return response
        realm, account_id = _account(request)
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration * 1000, 2),
            "client_ip": client_ip(request),
            "realm": realm,
            "account_id": account_id,
        }
        logger.info(" ".join(f"{key}={logfmt(value)}" for key, value in fields.items()), extra=fields)
        return response
