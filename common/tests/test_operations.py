"""Operations (docs/api.md §17): request ids, JSON logs, Prometheus metrics, production checks."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from common.tests.factories import PASSWORD
from common.tests.utils import assert_error


@pytest.mark.django_db
class TestRequestId:
    def test_a_well_formed_id_is_echoed(self, api_client):
        response = api_client.get("/health", HTTP_X_REQUEST_ID="abc.DEF-123_x")
        assert response["X-Request-ID"] == "abc.DEF-123_x"

    @pytest.mark.parametrize("incoming", ["", "has space", "x" * 129, "semi;colon", "ünï"])
    def test_anything_else_is_replaced(self, api_client, incoming):
        response = api_client.get("/health", HTTP_X_REQUEST_ID=incoming)
        assert response["X-Request-ID"] != incoming and len(response["X-Request-ID"]) == 32

    def test_the_id_is_in_the_500_envelope_and_the_log(self, api_client, monkeypatch, caplog):
        from common import health

        def boom(*args, **kwargs):
            raise RuntimeError("unexpected")

        monkeypatch.setattr(health.HealthApi, "get", boom)
        with caplog.at_level(logging.ERROR):
            response = api_client.get("/health", HTTP_X_REQUEST_ID="trace-500")
        assert assert_error(response, 500, "INTERNAL_ERROR") == {"request_id": "trace-500"}
        assert any("trace-500" in record.getMessage() for record in caplog.records)


def test_json_logs_are_one_object_per_line_with_the_request_fields(tmp_path):
    """A fresh process with LOG_FORMAT=json serves one request through Django's test client."""
    script = (
        "import django;django.setup()\n"
        "from django.test.utils import setup_test_environment;setup_test_environment()\n"
        "from django.test import Client\n"
        "Client().get('/no/such/path', HTTP_X_REQUEST_ID='json-log-1', REMOTE_ADDR='::ffff:192.0.2.5')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.tests.settings", "LOG_FORMAT": "json"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    access = next(line for line in lines if line.get("logger") == "access")
    assert access["method"] == "GET" and access["path"] == "/no/such/path" and access["status"] == 404
    assert access["client_ip"] == "192.0.2.5" and access["request_id"] == "json-log-1"
    assert isinstance(access["duration_ms"], float) and access["realm"] is None and access["account_id"] is None


@pytest.mark.django_db
class TestMetrics:
    def test_without_a_token_configured_metrics_is_404(self, api_client, settings):
        settings.METRICS_TOKEN = ""
        assert_error(api_client.get("/metrics"), 404, "NOT_FOUND")

    def test_it_needs_the_token(self, api_client, settings):
        settings.METRICS_TOKEN = "metrics-secret-123"
        assert_error(api_client.get("/metrics"), 401, "NOT_AUTHENTICATED")
        assert_error(api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong"), 401, "NOT_AUTHENTICATED")
        response = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-123")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")

    def test_counters_move(self, api_client, settings, user):
        settings.METRICS_TOKEN = "metrics-secret-123"

        def sample(name: str, **labels: str) -> float:
            text = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-123").content.decode()
            wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
            for line in text.splitlines():
                if line.startswith(f"{name}{{") and all(part in line for part in wanted.split(",")):
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        failed = sample("logins_total", realm="user", outcome="wrong_password")
        ok = sample("logins_total", realm="user", outcome="success")
        api_client.post("/auth/login", {"username": user.username, "password": "wrong"})
        api_client.post("/auth/login", {"username": user.username, "password": PASSWORD})
        assert sample("logins_total", realm="user", outcome="wrong_password") == failed + 1
        assert sample("logins_total", realm="user", outcome="success") == ok + 1
        assert sample("http_requests_total", route="^auth/login/?$", method="POST", status="401") >= 1


def test_check_deploy_is_clean_with_the_production_settings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "a-production-secret-key-" + "x" * 40 + "-with-entropy-9f8e7d6c5b4a",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "api.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_across_gunicorn_workers():
    from common.tests.utils import gunicorn, http

    with gunicorn(workers=3, METRICS_TOKEN="metrics-secret-123") as url:
        for _ in range(30):
            assert http("GET", f"{url}/health")[0] == 200
        headers = {"Authorization": "Bearer metrics-secret-123"}
        from urllib import request as urlrequest

        with urlrequest.urlopen(urlrequest.Request(f"{url}/metrics", headers=headers), timeout=10) as response:
            text = response.read().decode()
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("http_requests_total{") and 'route="^health/?$"' in line and 'status="200"' in line
    ]
    assert sum(counts) >= 30  # the startup probe adds one or two
