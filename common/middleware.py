"""Request ids, request body limits, and the envelope for failures outside DRF views."""

import contextvars
import io
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from common.exceptions import PayloadTooLarge, for_status, json_error_response

HTML_PAGES = ("/django-admin/", "/api-auth/", "/oauth/authorize", "/oauth/device", "/oauth/logout")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_current: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("current_request", default=None)


def current_request() -> HttpRequest | None:
    """The request this thread is serving (for audit events and logs), or None outside a request."""
    return _current.get()


def body_limit() -> int:
    """No request may be larger than an avatar upload plus the form fields beside it."""
    return settings.MAX_UPLOAD_MB * 1024 * 1024 + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestIdMiddleware:
    """Tag each request with an id (a well-formed incoming X-Request-ID is kept) and echo it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = _current.set(request)
        try:
            response = self._check_body(request) or self.get_response(request)
        finally:
            _current.reset(token)
        response = self._as_envelope(request, response)
        response["X-Request-ID"] = request.request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A database outage outside a DRF view (admin site, sessions) is still a 503 envelope.
        if isinstance(exception, OperationalError | InterfaceError):
            return json_error_response(exception, getattr(request, "request_id", None))
        return None

    @staticmethod
    def _check_body(request: HttpRequest) -> HttpResponse | None:
        """Refuse an oversized body before reading it; read a chunked body (no Content-Length) up to the limit."""
        limit = body_limit()
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH") and "wsgi.input" in request.META:
            data = request.META["wsgi.input"].read(limit + 1)
            if len(data) > limit:
                return _too_large(request)
            request.META["CONTENT_LENGTH"] = str(len(data))
            request._stream = LimitedStream(io.BytesIO(data), len(data))
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        return _too_large(request) if length > limit else None

    @staticmethod
    def _as_envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """An HTML error page (Django's 404/500, also under DEBUG) never reaches an API client."""
        status = response.status_code
        is_html = response.get("Content-Type", "").startswith("text/html")
        # The admin site's and the browsable API's login pages answer people with HTML forms.
        form_page = request.path.startswith(HTML_PAGES) and status < 500
        if status < 400 or not is_html or form_page:
            return response
        error = for_status(status)
        error.status_code = status
        if status >= 500:
            error.details = {"request_id": request.request_id}
        if response.has_header("Retry-After"):
            error.retry_after = int(response["Retry-After"])
        return json_error_response(error, request.request_id)


def _too_large(request: HttpRequest) -> HttpResponse:
    return json_error_response(PayloadTooLarge("Request body is too large"), request.request_id)


# Pages of the service: the browsable API and the admin site keep small inline scripts (DRF's
# CSRF setup); Swagger UI loads every script from a URL; avatars are never active content.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self' 'unsafe-inline'", "script-src 'self'")
MEDIA_POLICY = "default-src 'none'; sandbox"


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on every HTML page and on uploaded media."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(settings.MEDIA_URL):
            response["Content-Security-Policy"] = MEDIA_POLICY
        elif response.get("Content-Type", "").startswith("text/html"):
            docs = request.path.rstrip("/") == "/docs"
            response.setdefault("Content-Security-Policy", DOCS_POLICY if docs else PAGE_POLICY)
        return response
