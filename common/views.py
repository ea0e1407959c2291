"""Plain Django views and their helpers outside DRF: the envelope for unknown URLs and unexpected
errors, and a JSON body read the way the API reads one."""

import json
import sys

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.static import serve

from common.exceptions import Forbidden, InternalError, ValidationFailed, json_error_response


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(Http404(), getattr(request, "request_id", None))


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500: called while the unhandled exception is being handled, so the log line gets
    its traceback and the request id."""
    exc = sys.exc_info()[1]
    return json_error_response(exc if exc is not None else InternalError(), getattr(request, "request_id", None))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(ValidationFailed("Bad request"), getattr(request, "request_id", None))


def forbidden(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error_response(Forbidden(), getattr(request, "request_id", None))


def media(request: HttpRequest, path: str) -> HttpResponse:
    """Uploaded avatars, served by the service itself unless SERVE_MEDIA=false."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


def read_json(request: HttpRequest) -> dict:
    """A JSON object body, or 400."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise ValidationFailed("Malformed JSON") from exc
    if not isinstance(body, dict):
        raise ValidationFailed("Expected a JSON object")
    return body
