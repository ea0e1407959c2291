"""Domain errors (the one table of status, code and message) and the handler that makes every failure the envelope."""

import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.envelope import error_body

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A failure the client can act on: an HTTP status, a code, a message and details.

    The subclasses below are the only table of status → code → message; the handler,
    the middleware's translation of Django's HTML error pages and the OpenAPI error
    responses all read it.
    """

    status_code = 400
    code = "VALIDATION_ERROR"
    message = "Invalid request"
    www_authenticate = "Bearer"  # the challenge of a 401

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


class NotAuthenticated(DomainError):
    status_code, code, message = 401, "NOT_AUTHENTICATED", "Authentication credentials were not provided"


class InvalidToken(DomainError):
    status_code, code, message = 401, "INVALID_TOKEN", "Invalid or expired token"


class InvalidCredentials(DomainError):
    status_code, code, message = 401, "INVALID_CREDENTIALS", "Invalid credentials"


class ReauthenticationRequired(DomainError):
    """A sensitive operation on a session not proven recently enough (RFC 9470's challenge)."""

    status_code, code = 401, "REAUTHENTICATION_REQUIRED"
    message = "Sign in again (or reauthenticate) to do this"

    def __init__(self, max_age: int) -> None:
        super().__init__(details={"max_age": max_age})
        self.www_authenticate = f'Bearer error="insufficient_user_authentication", max_age={max_age}'


class Forbidden(DomainError):
    status_code, code, message = 403, "FORBIDDEN", "You do not have permission to perform this action"


class RegistrationClosed(DomainError):
    status_code, code, message = 403, "REGISTRATION_CLOSED", "Registration is closed"


class AccountInactive(DomainError):
    status_code, code, message = 403, "ACCOUNT_INACTIVE", "Account is inactive"


class EmailNotVerified(DomainError):
    status_code, code, message = 403, "EMAIL_NOT_VERIFIED", "Email address is not verified"


class MfaRequired(DomainError):
    status_code, code, message = 403, "MFA_REQUIRED", "Multi-factor authentication must be enabled first"


class NotFound(DomainError):
    status_code, code, message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(DomainError):
    status_code, code, message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class Conflict(DomainError):
    status_code, code, message = 409, "CONFLICT", "Already taken"


class AccountExists(DomainError):
    status_code, code, message = (
        409,
        "ACCOUNT_EXISTS",
        "An account with this address exists: sign in to it and link the provider",
    )


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


def error_classes() -> list[type[DomainError]]:
    """Every concrete error class, in declaration order."""
    return DomainError.__subclasses__()


def for_status(status: int) -> DomainError:
    """The error a bare HTTP status stands for (Django's own error pages)."""
    for cls in error_classes():
        if cls.status_code == status:
            return cls()
    return (InternalError if status >= 500 else ValidationFailed)()


def codes_by_status() -> dict[int, list[str]]:
    """status → the codes it may carry (OpenAPI descriptions)."""
    table: dict[int, list[str]] = {}
    for cls in error_classes():
        if cls.code not in table.setdefault(cls.status_code, []):
            table[cls.status_code].append(cls.code)
    return table


# Unique constraints are named "<table>_<field>_uniq"; SQLite names a partial unique index
# by its column ("accounts_user.phone"). Only the first line is read: later lines
# (PostgreSQL's DETAIL) quote the user's values.
_UNIQUE_CONSTRAINT = re.compile(r"(?:_(username|email|phone)_uniq\b|\w\.(username|email|phone)\b)")


def unique_conflict(exc: IntegrityError) -> Conflict | None:
    """A race on a unique account field → 409 naming it; None when the error is something else."""
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    fields = sorted({name for match in _UNIQUE_CONSTRAINT.findall(first_line) for name in match if name})
    if not fields:
        return None
    return Conflict(details={f: [f"This {f} is already taken."] for f in fields})


def _field_errors(detail: Any) -> dict[str, Any]:
    """DRF error detail → {"field": ["message", ...]} with non_field_errors for the rest."""
    if isinstance(detail, dict):
        out: dict[str, Any] = {}
        for key, value in detail.items():
            name = "non_field_errors" if key in ("detail", "__all__") else key
            if isinstance(value, dict) and value and all(str(k).isdigit() for k in value):
                out[name] = _item_errors(value)  # a list field's items: still a list of messages (§2)
            elif isinstance(value, dict):
                out[name] = _field_errors(value)
            elif isinstance(value, list):
                out[name] = [str(v) if not isinstance(v, dict) else _field_errors(v) for v in value]
            else:
                out[name] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def _item_errors(detail: dict[Any, Any]) -> list[str]:
    """{"0": ["Not a valid choice."]} → ["Item 1: Not a valid choice."]."""
    messages = []
    for index in sorted(detail, key=int):
        value = detail[index]
        for message in value if isinstance(value, list) else [value]:
            messages.append(f"Item {int(index) + 1}: {message}")
    return messages


def _django_validation(exc: DjangoValidationError) -> DomainError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    return ValidationFailed(details=_field_errors(detail))


def _apiexception(exc: drf.APIException) -> DomainError:
    error = for_status(exc.status_code)
    error.message = str(exc.detail) if isinstance(exc.detail, str) else error.message
    return error


# Known exceptions of Django, DRF and django-ratelimit → domain errors. The most specific
# class is found by walking the exception's MRO.
_TRANSLATIONS: dict[type[BaseException], Callable[[Any], DomainError]] = {
    Ratelimited: lambda exc: RateLimited(retry_after=settings.RATE_LIMIT_WINDOW_MINUTES * 60),
    drf.ValidationError: lambda exc: ValidationFailed(details=_field_errors(exc.detail)),
    drf.ParseError: lambda exc: ValidationFailed(
        f"Malformed request body: {exc.detail}", details={"non_field_errors": [str(exc.detail)]}
    ),
    drf.NotAuthenticated: lambda exc: NotAuthenticated(),
    drf.AuthenticationFailed: lambda exc: InvalidToken(),
    drf.PermissionDenied: lambda exc: Forbidden(),
    DjangoPermissionDenied: lambda exc: Forbidden(),
    drf.NotFound: lambda exc: NotFound(),
    Http404: lambda exc: NotFound(),
    drf.MethodNotAllowed: lambda exc: MethodNotAllowed(),
    drf.UnsupportedMediaType: lambda exc: UnsupportedMediaType(str(exc.detail)),
    drf.Throttled: lambda exc: RateLimited(retry_after=int(exc.wait or 1)),
    drf.APIException: _apiexception,
    DjangoValidationError: _django_validation,
    RequestDataTooBig: lambda exc: PayloadTooLarge("Request body is too large"),
    SuspiciousOperation: lambda exc: ValidationFailed("Bad request"),
    RecursionError: lambda exc: ValidationFailed("Request body is nested too deeply"),
    OperationalError: lambda exc: ServiceUnavailable("Database unavailable"),
    InterfaceError: lambda exc: ServiceUnavailable("Database unavailable"),
}


def to_domain_error(exc: BaseException) -> DomainError | None:
    """Translate a known exception into a DomainError; None means unexpected (a logged 500)."""
    if isinstance(exc, DomainError):
        return exc
    for cls in type(exc).__mro__:
        if cls in _TRANSLATIONS:
            return _TRANSLATIONS[cls](exc)
    return None


def error_response_data(exc: BaseException, request_id: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for any exception; unexpected ones are logged with the request id."""
    error = to_domain_error(exc)
    if error is None:
        logger.error("Unhandled error (request_id=%s)", request_id, exc_info=exc)
        error = InternalError(details={"request_id": request_id})
    elif isinstance(error, ServiceUnavailable | InternalError) or isinstance(exc, DatabaseError):
        logger.error("%s (request_id=%s)", error.code, request_id, exc_info=exc)
    headers: dict[str, str] = {}
    if error.status_code == 401:
        headers["WWW-Authenticate"] = error.www_authenticate
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
