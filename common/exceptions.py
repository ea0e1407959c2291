"""Domain exceptions and the one handler that turns every failure into the envelope."""

import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.envelope import error_body

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A failure the client can act on: an HTTP status, a code, a message and details."""

    status_code = 400
    code = "VALIDATION_ERROR"
    message = "Invalid request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details or {}
        self.retry_after = retry_after
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "Validation failed"


class InvalidToken(DomainError):
    status_code, code, message = 401, "INVALID_TOKEN", "Invalid or expired token"


class NotAuthenticated(DomainError):
    status_code, code, message = 401, "NOT_AUTHENTICATED", "Authentication credentials were not provided"


class InvalidCredentials(DomainError):
    status_code, code, message = 401, "INVALID_CREDENTIALS", "Invalid credentials"


class AccountInactive(DomainError):
    status_code, code, message = 403, "ACCOUNT_INACTIVE", "Account is inactive"


class Forbidden(DomainError):
    status_code, code, message = 403, "FORBIDDEN", "You do not have permission to perform this action"


class NotFound(DomainError):
    status_code, code, message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(DomainError):
    status_code, code, message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class Conflict(DomainError):
    status_code, code, message = 409, "CONFLICT", "Already taken"


class PayloadTooLarge(DomainError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class UnsupportedMediaType(DomainError):
    status_code, code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class AccountLocked(DomainError):
    status_code, code, message = 423, "ACCOUNT_LOCKED", "Account is locked after too many failed login attempts"


class RateLimited(DomainError):
    status_code, code, message = 429, "RATE_LIMITED", "Too many attempts, try again later"


class InternalError(DomainError):
    status_code, code, message = 500, "INTERNAL_ERROR", "Internal server error"


class ServiceUnavailable(DomainError):
    status_code, code, message = 503, "SERVICE_UNAVAILABLE", "Service unavailable"


# Unique constraints are named "<table>_<field>_uniq"; SQLite names a partial unique index
# by its column ("accounts_user.phone"). Only the first line is read: later lines
# (PostgreSQL's DETAIL) quote the user's values.
_UNIQUE_CONSTRAINT = re.compile(r"(?:_(username|email|phone)_uniq\b|\w\.(username|email|phone)\b)")


def conflict_from_integrity_error(exc: IntegrityError) -> DomainError:
    """A unique-constraint race → 409 naming the field; any other integrity error → 409 too."""
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    fields = sorted({name for match in _UNIQUE_CONSTRAINT.findall(first_line) for name in match if name})
    return Conflict(details={f: [f"This {f} is already taken."] for f in fields})


def _field_errors(detail: Any) -> dict[str, Any]:
    """DRF error detail → {"field": ["message", ...]} with non_field_errors for the rest."""
    if isinstance(detail, dict):
        out: dict[str, Any] = {}
        for key, value in detail.items():
            name = "non_field_errors" if key == "detail" else key
            if isinstance(value, dict):
                out[name] = _field_errors(value)
            elif isinstance(value, list):
                out[name] = [str(v) if not isinstance(v, dict) else _field_errors(v) for v in value]
            else:
                out[name] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def to_domain_error(exc: BaseException) -> DomainError | None:
    """Translate a known exception into a DomainError; None means unexpected."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, Ratelimited):
        return RateLimited(retry_after=settings.RATE_LIMIT_WINDOW_MINUTES * 60)
    if isinstance(exc, drf.ValidationError):
        return ValidationFailed(details=_field_errors(exc.detail))
    if isinstance(exc, drf.ParseError):
        return ValidationFailed(
            f"Malformed request body: {exc.detail}", details={"non_field_errors": [str(exc.detail)]}
        )
    if isinstance(exc, drf.NotAuthenticated):
        return NotAuthenticated()
    if isinstance(exc, drf.AuthenticationFailed):
        return InvalidToken()
    if isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        return Forbidden()
    if isinstance(exc, drf.NotFound | Http404):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        return RateLimited(retry_after=int(exc.wait or 1))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("Request body is too large")
    if isinstance(exc, SuspiciousOperation):
        return ValidationFailed("Bad request")
    if isinstance(exc, IntegrityError):
        return conflict_from_integrity_error(exc)
    if isinstance(exc, OperationalError | InterfaceError):
        return ServiceUnavailable("Database unavailable")
    if isinstance(exc, drf.APIException):
        error = DomainError(str(exc.detail))
        error.status_code, error.code = exc.status_code, exc.default_code.upper()
        return error
    return None


def error_response_data(exc: BaseException, request_id: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for any exception; unexpected ones are logged with the request id."""
    error = to_domain_error(exc)
    if error is None:
        logger.error("Unhandled error (request_id=%s)", request_id, exc_info=exc)
        error = InternalError(details={"request_id": request_id})
    elif isinstance(error, ServiceUnavailable | InternalError) or (
        isinstance(exc, DatabaseError) and not isinstance(exc, IntegrityError)
    ):
        logger.error("%s (request_id=%s)", error.code, request_id, exc_info=exc)
    headers: dict[str, str] = {}
    if error.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(error.retry_after)))
    return error.status_code, error_body(error.code, error.message, error.details), headers


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error is the JSON envelope, whatever Accept said."""
    request = context.get("request")
    request_id = getattr(getattr(request, "_request", request), "request_id", None)
    status, body, headers = error_response_data(exc, request_id)
    if request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
    return Response(body, status=status, headers=headers)


def json_error_response(exc: BaseException, request_id: str | None) -> JsonResponse:
    """The same envelope for paths outside DRF (handler404, handler500, middleware)."""
    status, body, headers = error_response_data(exc, request_id)
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response
