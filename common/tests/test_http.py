"""HTTP hardening: Content-Security-Policy, chunked bodies, gunicorn's own limits."""

import http.client
import json

import pytest
from django.http import HttpResponse

from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import gunicorn


@pytest.mark.django_db
class TestContentSecurityPolicy:
    def test_docs_allow_no_inline_script(self, api_client):
        response = api_client.get("/docs")
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert b"<script>" not in response.content  # the start script is loaded from a URL

    def test_browsable_api_pages_have_a_policy(self, api_client):
        response = api_client.get("/health", HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert "default-src 'self'" in response["Content-Security-Policy"]

    def test_media_is_sandboxed(self, api_client, settings):
        from pathlib import Path

        (Path(settings.MEDIA_ROOT) / "avatars").mkdir()
        (Path(settings.MEDIA_ROOT) / "avatars" / "x.png").write_bytes(b"\x89PNG")
        response = api_client.get("/media/avatars/x.png")
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"

    def test_json_responses_need_no_policy(self, api_client):
        assert "Content-Security-Policy" not in api_client.get("/health")


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_and_gunicorns_limits_are_set():
    user = UserFactory()
    with gunicorn() as url:
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        body = json.dumps({"username": user.username, "password": PASSWORD}).encode()
        connection.request(
            "POST", "/auth/login", body=iter([body[:10], body[10:]]),
            headers={"Content-Type": "application/json"}, encode_chunked=True,
        )  # fmt: skip
        response = connection.getresponse()
        assert response.status == 200, response.read()
        assert json.loads(response.read())["data"]["token_type"] == "bearer"
        connection.close()
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/health?" + "a" * 3000)
        assert connection.getresponse().status in (
            400,
            414,
        )  # limit_request_line = 2048 in gunicorn.conf.py (gunicorn allows 4094)


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_cors_answers_configured_origins_only_and_costs_nothing_when_off():
    from urllib import request as urlrequest

    def preflight(url: str) -> dict:
        req = urlrequest.Request(f"{url}/auth/login", method="OPTIONS", headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        })  # fmt: skip
        with urlrequest.urlopen(req, timeout=10) as response:
            return dict(response.headers)

    with gunicorn(CORS_ALLOWED_ORIGINS="https://app.example.com") as url:
        assert preflight(url)["access-control-allow-origin"] == "https://app.example.com"
    with gunicorn() as url:
        assert "access-control-allow-origin" not in {k.lower() for k in preflight(url)}


class TestBrowserOnlyMiddleware:
    """Sessions, Django's authentication and messages serve browsers; an API client's bearer
    request without cookies skips them, a request with a cookie does not."""

    def run(self, path: str = "/users/me", **meta):
        from django.test import RequestFactory

        from common.browser_middleware import AuthenticationMiddleware, MessageMiddleware, SessionMiddleware

        request = RequestFactory().get(path, **meta)
        seen = {}

        def view(req):
            seen.update(session=hasattr(req, "session"), user=hasattr(req, "user"), messages=hasattr(req, "_messages"))
            return HttpResponse("ok")

        SessionMiddleware(AuthenticationMiddleware(MessageMiddleware(view)))(request)
        return seen

    def test_a_bearer_request_without_cookies_skips_them(self):
        assert self.run(HTTP_AUTHORIZATION="Bearer abc") == {"session": False, "user": False, "messages": False}

    def test_browsers_and_other_requests_keep_them(self):
        everything = {"session": True, "user": True, "messages": True}
        assert self.run() == everything
        assert self.run(HTTP_AUTHORIZATION="Bearer abc", HTTP_COOKIE="sessionid=x") == everything
        assert self.run(HTTP_AUTHORIZATION="Basic abc") == everything
        assert self.run("/django-admin/", HTTP_AUTHORIZATION="Bearer abc") == everything

    @pytest.mark.django_db
    def test_the_admin_site_answers_a_bearer_request_without_cookies(self):
        from django.test import Client

        client = Client()
        client.cookies.clear()
        response = client.get("/django-admin/", HTTP_AUTHORIZATION="Bearer abc")
        assert response.status_code == 302 and response["Location"].startswith("/django-admin/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["", "*/*", "application/json", "application/json; indent=2", "text/html"])
def test_what_api_clients_accept_is_answered_as_the_negotiation_would(api_client, user_token, accept):
    from common.tests.utils import bearer

    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api_client.get("/users/me", **headers, **bearer(user_token))
    assert response.status_code == 200
    expected = "text/html" if accept == "text/html" else "application/json"
    assert response["Content-Type"].startswith(expected)
