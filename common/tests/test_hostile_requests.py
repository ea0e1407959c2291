"""Hostile requests meet a clear answer and an honest log: forged cursors are 400, odd methods
share one metrics label, the text log cannot be forged, an unhandled error logs its traceback."""

import base64
import json
import logging
import shlex

import pytest
from django.test import Client

from common.logs import TextFormatter, escape_control
from common.tests.factories import UserFactory
from common.tests.utils import assert_error, bearer


def cursor(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


FORGED = [
    {"id": 1, "v": 5},  # an integer where a date belongs
    {"id": 1, "v": "2026-13-45T00:00:00Z"},  # an impossible date
    {"id": 1, "v": "a\u0000b"},  # a NUL byte
    {"id": 10**30, "v": "2026-01-01T00:00:00Z"},  # past bigint
    {"id": True},
    {"id": 1, "v": [1]},
]
LISTS = [
    "/admin/users?ordering=-created_at",
    "/admin/users?ordering=username",
    "/admin/users?ordering=-email",
    "/admin/users",
    "/admin/audit",
    "/admin/me/tokens",
    "/admin/me/sessions",
    "/admin/me/security-events",
    "/admin/users/{user}/sessions",
    "/admin/users/{user}/tokens",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("position", FORGED)
def test_a_forged_cursor_is_400_on_every_list(admin_token, path, position):
    user = UserFactory()
    separator = "&" if "?" in path else "?"
    url = f"{path.format(user=user.pk)}{separator}cursor={cursor(position)}"
    response = Client(raise_request_exception=False).get(url, **bearer(admin_token))
    # A value the list's ordering does not read (a date on an id-ordered list) may be ignored; an
    # unusable one is a 400 naming the cursor; never a 500.
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["cursor"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "position"),
    [
        ("/admin/users?ordering=-created_at", {"id": 1, "v": 5}),
        ("/admin/audit", {"id": 1, "v": 5}),
        ("/admin/me/sessions", {"id": 1, "v": "2026-13-45T00:00:00Z"}),
        ("/admin/users?ordering=username", {"id": 1, "v": "a\u0000b"}),
        ("/admin/users?ordering=email", {"id": 1, "v": 10**30}),
        ("/admin/users", {"id": 10**30}),
    ],
)
def test_forged_cursor_values_are_400(admin_token, path, position):
    separator = "&" if "?" in path else "?"
    response = Client(raise_request_exception=False).get(f"{path}{separator}cursor={cursor(position)}",
                                                         **bearer(admin_token))  # fmt: skip
    assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["cursor"]


@pytest.mark.django_db
def test_options_on_docs_is_an_enveloped_405(api_client):
    assert_error(Client(raise_request_exception=False).options("/docs"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.django_db
def test_unknown_methods_share_one_metrics_label(api_client, settings):
    settings.METRICS_TOKEN = "metrics-secret-123"
    client = Client(raise_request_exception=False)
    for i in range(5):
        client.generic(f"X{i}RANDOM", "/health")
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-123").content.decode()
    assert "X0RANDOM" not in text and "X4RANDOM" not in text
    assert 'method="other"' in text


def test_control_characters_cannot_forge_a_text_log_line():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "path=%s", ("/x\n2026-12-02 INFO fake",), None)
    line = TextFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and line == "INFO path=/x\\x0a2026-12-02 INFO fake"
    assert escape_control("a\r\tb\x1b\u2028") == "a\\x0d\\x09b\\x1b\\x2028"


@pytest.mark.django_db
def test_an_unhandled_error_outside_drf_logs_its_traceback_and_request_id(monkeypatch, caplog):
    from common import views

    def boom(request, path, **kwargs):
        raise RuntimeError("media exploded")

    monkeypatch.setattr(views, "serve", boom)
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.get("/media/avatars/abc.png", HTTP_X_REQUEST_ID="trace-media-500")
    assert assert_error(response, 500, "INTERNAL_ERROR") == {"request_id": "trace-media-500"}
    [record] = [r for r in caplog.records if "trace-media-500" in r.getMessage()]
    assert record.exc_info is not None and "media exploded" in str(record.exc_info[1])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/x%20status=200%20client_ip=10.6.6.6%20realm=admin", 'path="/x status=200 client_ip=10.6.6.6 realm=admin"'),
        ("/x%5cx0a", 'path="/x\\\\x0a"'),  # a literal backslash is doubled: it never reads as an escape
        ("/x%0Ay", 'path="/x\\x0ay"'),
        ("/x%C2%85y", 'path="/x\\x85y"'),  # U+0085 (NEXT LINE) is escaped, not written raw
        ("/x%E2%80%A8y", 'path="/x\\u2028y"'),
        ("/x%22y", 'path="/x\\"y"'),
        ("/plain-path", "path=/plain-path"),
    ],
)
def test_a_path_cannot_forge_a_field_of_the_text_access_log(caplog, path, logged):
    """The access line is logfmt: a value with a space, `=`, a quote, a backslash or anything
    unprintable is quoted and escaped, so it cannot look like a field (or a line) of its own."""
    with caplog.at_level(logging.INFO, logger="access"):
        Client().get(path, REMOTE_ADDR="192.0.2.7")
    [record] = [r for r in caplog.records if r.name == "access"]
    line = TextFormatter("%(message)s").format(record)
    fields = shlex.split(line)  # logfmt's quoting is the shell's, for these values
    assert f" {logged} " in f" {line} "
    assert [f.split("=", 1)[0] for f in fields] == [
        "method", "path", "status", "duration_ms", "client_ip", "realm", "account_id"
    ]  # fmt: skip
    assert "client_ip=192.0.2.7" in line and "\x85" not in line and "\n" not in line
