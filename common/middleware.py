"""Request ids, an early 413 for oversized bodies, and the envelope for failures outside DRF views."""

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from common.exceptions import DomainError, PayloadTooLarge, json_error_response

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Django's own error pages (technical pages under DEBUG included) become the envelope.
_STATUS_ERRORS = {
    400: ("VALIDATION_ERROR", "Bad request"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large"),
    500: ("INTERNAL_ERROR", "Internal server error"),
}


class RequestIdMiddleware:
    """Tag each request with an id (a sane incoming X-Request-ID is kept) and echo it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        response = self._too_large(request) or self.get_response(request)
        response = self._as_envelope(request, response)
        response["X-Request-ID"] = request.request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A database outage outside a DRF view (admin site, sessions) is still a 503 envelope.
        if isinstance(exception, OperationalError | InterfaceError):
            return json_error_response(exception, getattr(request, "request_id", None))
        return None

    @staticmethod
    def _too_large(request: HttpRequest) -> HttpResponse | None:
        """Refuse a body larger than any request may be before reading a byte of it."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024 + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            return json_error_response(PayloadTooLarge("Request body is too large"), request.request_id)
        return None

    @staticmethod
    def _as_envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """An HTML error page (Django's 404/500, also under DEBUG) never reaches an API client."""
        status = response.status_code
        is_html = response.get("Content-Type", "").startswith("text/html")
        admin_page = request.path.startswith("/django-admin/") and status < 500
        if status < 400 or not is_html or admin_page:
            return response
        code, message = _STATUS_ERRORS.get(status, ("INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR", "Error"))
        error = DomainError(message, details={"request_id": request.request_id} if status >= 500 else None)
        error.status_code, error.code = status, code
        return json_error_response(error, request.request_id)
