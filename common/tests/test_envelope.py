"""Every failure is the JSON envelope of docs/api.md §2 with the right status and code."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf

from common import exceptions as errors
from common.exceptions import error_response_data, unique_conflict
from common.tests.utils import assert_error, assert_ok


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.ValidationFailed(), 400, "VALIDATION_ERROR"),
        (errors.NotAuthenticated(), 401, "NOT_AUTHENTICATED"),
        (errors.InvalidToken(), 401, "INVALID_TOKEN"),
        (errors.InvalidCredentials(), 401, "INVALID_CREDENTIALS"),
        (errors.AccountInactive(), 403, "ACCOUNT_INACTIVE"),
        (errors.Forbidden(), 403, "FORBIDDEN"),
        (errors.NotFound(), 404, "NOT_FOUND"),
        (errors.MethodNotAllowed(), 405, "METHOD_NOT_ALLOWED"),
        (errors.Conflict(), 409, "CONFLICT"),
        (errors.PayloadTooLarge(), 413, "PAYLOAD_TOO_LARGE"),
        (errors.UnsupportedMediaType(), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (errors.AccountLocked(retry_after=30), 423, "ACCOUNT_LOCKED"),
        (errors.RateLimited(retry_after=30), 429, "RATE_LIMITED"),
        (errors.InternalError(), 500, "INTERNAL_ERROR"),
        (errors.ServiceUnavailable(), 503, "SERVICE_UNAVAILABLE"),
        (drf.ValidationError({"name": ["bad"]}), 400, "VALIDATION_ERROR"),
        (drf.ParseError(), 400, "VALIDATION_ERROR"),
        (drf.NotAuthenticated(), 401, "NOT_AUTHENTICATED"),
        (drf.AuthenticationFailed(), 401, "INVALID_TOKEN"),
        (drf.PermissionDenied(), 403, "FORBIDDEN"),
        (Http404(), 404, "NOT_FOUND"),
        (drf.MethodNotAllowed("PUT"), 405, "METHOD_NOT_ALLOWED"),
        (drf.UnsupportedMediaType("text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (Ratelimited(), 429, "RATE_LIMITED"),
        (IntegrityError('null value in column "name" violates not-null constraint'), 500, "INTERNAL_ERROR"),
        (DjangoValidationError({"name": ["bad"]}), 400, "VALIDATION_ERROR"),
        (RecursionError(), 400, "VALIDATION_ERROR"),
        (OperationalError("connection refused"), 503, "SERVICE_UNAVAILABLE"),
        (RuntimeError("boom"), 500, "INTERNAL_ERROR"),
    ],
)
def test_every_error_class_maps_to_its_status_and_code(exc, status, code):
    got_status, body, headers = error_response_data(exc, "req-1")
    assert got_status == status
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["details"], dict)
    assert set(body) == {"success", "message", "error"}
    if status == 401:
        assert headers["WWW-Authenticate"] == "Bearer"
    if code in ("ACCOUNT_LOCKED", "RATE_LIMITED"):
        assert headers["Retry-After"] == ("900" if isinstance(exc, Ratelimited) else "30")


def test_unexpected_error_carries_the_request_id():
    _, body, _ = error_response_data(RuntimeError("secret detail"), "abc123")
    assert body["error"]["details"] == {"request_id": "abc123"}
    assert "secret detail" not in str(body)


def test_a_unique_race_is_a_conflict_naming_the_field_and_anything_else_is_not():
    conflict = unique_conflict(IntegrityError("UNIQUE constraint failed: index 'accounts_user_username_uniq'"))
    assert conflict.status_code == 409 and list(conflict.details) == ["username"]
    assert unique_conflict(IntegrityError("CHECK constraint failed: tokens_loginsession_exactly_one_owner")) is None


def test_django_validation_error_keeps_its_fields():
    _, body, _ = error_response_data(DjangoValidationError({"email": ["bad"], "__all__": ["no"]}), None)
    assert body["error"]["details"] == {"email": ["bad"], "non_field_errors": ["no"]}


def test_validation_error_list_goes_to_non_field_errors():
    _, body, _ = error_response_data(drf.ValidationError(["nope"]), None)
    assert body["error"]["details"] == {"non_field_errors": ["nope"]}


@pytest.mark.django_db
class TestOverHttp:
    def test_unknown_path_is_enveloped_404(self, api_client):
        response = api_client.get("/no/such/path")
        assert_error(response, 404, "NOT_FOUND")
        assert response["Content-Type"] == "application/json"
        assert "X-Request-ID" in response

    def test_unknown_path_with_html_accept_is_still_json(self, api_client):
        response = api_client.get("/no/such/path", HTTP_ACCEPT="text/html")
        assert_error(response, 404, "NOT_FOUND")

    def test_wrong_method_is_405(self, api_client):
        assert_error(api_client.delete("/health"), 405, "METHOD_NOT_ALLOWED")

    def test_malformed_json_is_400(self, api_client):
        response = api_client.post("/auth/login", "{not json", content_type="application/json")
        details = assert_error(response, 400, "VALIDATION_ERROR")
        assert "non_field_errors" in details

    def test_unsupported_media_type_is_415(self, api_client):
        response = api_client.post("/auth/login", "<xml/>", content_type="application/xml")
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_unsatisfiable_accept_gets_json_not_406(self, api_client):
        data = assert_ok(api_client.get("/health", HTTP_ACCEPT="application/xml"))
        assert data["database"] == "ok"

    def test_paths_work_with_and_without_trailing_slash(self, api_client):
        for path in ("/health", "/health/"):
            response = api_client.get(path)
            assert response.status_code == 200
            assert assert_ok(response) == {"database": "ok", "cache": "ok"}

    def test_disallowed_host_is_enveloped(self, api_client):
        response = api_client.get("/health", HTTP_HOST="evil.example")
        assert_error(response, 400, "VALIDATION_ERROR")

    def test_server_error_hides_the_traceback_and_returns_request_id(self, api_client, monkeypatch, settings):
        settings.DEBUG = False

        def explode(*args, **kwargs):
            raise RuntimeError("password=hunter2 in a traceback")

        monkeypatch.setattr("common.health._cache_status", explode)
        response = api_client.get("/health", HTTP_X_REQUEST_ID="trace-me")
        details = assert_error(response, 500, "INTERNAL_ERROR")
        assert details == {"request_id": "trace-me"}
        assert response["X-Request-ID"] == "trace-me"
        assert b"hunter2" not in response.content
        assert b"Traceback" not in response.content

    def test_health_is_503_when_the_database_is_down(self, api_client, monkeypatch):
        from django.db.backends.utils import CursorWrapper

        def down(*args, **kwargs):
            raise OperationalError("could not connect")

        monkeypatch.setattr(CursorWrapper, "execute", down)
        details = assert_error(api_client.get("/health"), 503, "SERVICE_UNAVAILABLE")
        assert details == {"database": "unavailable"}


@pytest.mark.django_db
class TestDebugOnStillJson:
    @pytest.fixture(autouse=True)
    def debug(self, settings):
        settings.DEBUG = True

    def test_unknown_path_is_json_even_with_debug(self, api_client):
        response = api_client.get("/no/such/path", HTTP_ACCEPT="text/html")
        assert_error(response, 404, "NOT_FOUND")
        assert b"<html" not in response.content.lower()

    def test_server_error_is_json_even_with_debug(self, api_client, monkeypatch):
        def explode(*args, **kwargs):
            raise RuntimeError("kaboom with secrets")

        monkeypatch.setattr("common.health._cache_status", explode)
        response = api_client.get("/health", HTTP_ACCEPT="text/html")
        details = assert_error(response, 500, "INTERNAL_ERROR")
        assert set(details) == {"request_id"}
        assert b"kaboom" not in response.content


@pytest.mark.django_db
def test_body_over_the_size_limit_is_413_before_it_is_read(api_client, settings):
    settings.MAX_UPLOAD_MB = 1
    body = b"{" + b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024 * 1024 + 10) + b"}"
    assert_error(api_client.post("/auth/login", body, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.django_db
def test_json_body_over_data_upload_limit_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"username": "' + "a" * 2048 + '", "password": "x"}'
    assert_error(api_client.post("/auth/login", body, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.django_db
def test_options_is_enveloped(api_client):
    data = assert_ok(api_client.options("/auth/login"))
    assert "application/json" in data["parses"]


@pytest.mark.django_db
def test_counts_are_exact_up_to_the_threshold_then_estimated_on_postgresql(monkeypatch):
    from django.db import connection

    from common import pagination
    from common.realms import USER
    from common.tests.factories import UserFactory

    for _ in range(5):
        UserFactory()
    users = USER.model.objects.all()
    assert pagination.count(users) == 5
    monkeypatch.setattr(pagination, "COUNT_EXACT_UP_TO", 3)
    counted = pagination.count(users)
    if connection.vendor == "postgresql":
        assert counted >= 4  # at least what the capped count saw; the planner's estimate otherwise
    else:
        assert counted == 5
