"""This service as an OpenID Provider (docs/api.md §28): the code flow with PKCE through the
browser session and consent page, tokens, userinfo, refresh, device grant, revocation, clients."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from django.test import Client

from common.models import AuditEvent
from common.tests.factories import AdminFactory, UserFactory
from common.tests.utils import bearer
from tokens import signing_keys
from tokens.tests.test_browser_sessions import browser_login, csrf_client

ISSUER = "http://testserver"
REDIRECT = "http://127.0.0.1:9000/callback"


@pytest.fixture(autouse=True)
def provider(settings, db):
    settings.OIDC_ISSUER = ISSUER
    settings.ALGORITHM = "ES256"
    signing_keys.store.invalidate()
    signing_keys.store.keys = {}
    yield
    signing_keys.store.invalidate()
    signing_keys.store.keys = {}


def make_client(api_client, login, **body) -> dict:
    admin = AdminFactory(is_superuser=True)
    token = login(admin)["access_token"]
    payload = {"name": "Forum", "client_type": "confidential", "redirect_uris": [REDIRECT],
               "post_logout_redirect_uris": ["http://127.0.0.1:9000/bye"], **body}  # fmt: skip
    response = api_client.post("/admin/oauth/clients", payload, format="json", **bearer(token))
    assert response.status_code == 201, response.content
    return response.json()["data"]


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(client: dict, challenge: str, scope: str = "openid profile email", **extra) -> str:
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/oauth/authorize?" + urlencode(query)


def signed_in_browser(user=None) -> tuple[Client, object]:
    user = user or UserFactory()
    browser = csrf_client()
    assert browser_login(browser, user).status_code == 302
    return browser, user


def consent(browser: Client, url: str, allow: bool = True):
    page = browser.get(url)
    assert page.status_code == 200, page.content
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    body = {"csrfmiddlewaretoken": token, **({"allow": "Allow"} if allow else {"deny": "Deny"})}
    return browser.post(url, body)


def code_from(response) -> str:
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(client: dict, code: str, verifier: str, **extra):
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
            "client_id": client["client_id"], "client_secret": client["client_secret"], **extra}  # fmt: skip
    return Client().post("/oauth/token", body)


def flow(api_client, login, scope="openid profile email offline_access", **client_body):
    client = make_client(api_client, login, **client_body)
    browser, user = signed_in_browser()
    verifier, challenge = pkce()
    code = code_from(consent(browser, authorize_url(client, challenge, scope)))
    answer = exchange(client, code, verifier)
    assert answer.status_code == 200, answer.content
    return client, browser, user, answer.json(), (code, verifier)


def verify_id_token(token: str, client: dict) -> dict:
    key = signing_keys.store.verifying(jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, key.public, algorithms=["ES256"], audience=client["client_id"], issuer=ISSUER)


class TestOff:
    def test_every_path_is_404_without_an_issuer(self, settings, api_client, login):
        settings.OIDC_ISSUER = ""
        for path in ("/.well-known/openid-configuration", "/oauth/authorize", "/oauth/userinfo"):
            assert Client().get(path).status_code == 404
        assert Client().post("/oauth/token", {}).status_code == 404
        token = login(UserFactory())["access_token"]
        assert api_client.get("/users/me/grants", **bearer(token)).status_code == 404
        admin_token = login(AdminFactory(is_superuser=True))["access_token"]
        assert api_client.get("/admin/oauth/clients", **bearer(admin_token)).status_code == 404


class TestDiscovery:
    def test_the_document_names_every_endpoint(self):
        document = Client().get("/.well-known/openid-configuration").json()
        assert document["issuer"] == ISSUER
        assert document["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
        assert document["code_challenge_methods_supported"] == ["S256"]
        assert document["response_types_supported"] == ["code"]
        assert document["id_token_signing_alg_values_supported"] == ["ES256"]
        for name in ("authorization", "token", "userinfo", "revocation", "introspection", "device_authorization",
                     "end_session"):  # fmt: skip
            assert document[f"{name}_endpoint"].startswith(f"{ISSUER}/oauth/")


class TestCodeFlow:
    def test_code_flow_with_pkce_gives_tokens_and_a_signed_id_token(self, api_client, login):
        client, _browser, user, tokens, _ = flow(api_client, login)
        assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
        claims = verify_id_token(tokens["id_token"], client)
        assert claims["sub"] == str(user.pk) and claims["nonce"] == "n-1" and claims["azp"] == client["client_id"]
        assert claims["email"] == user.email and claims["preferred_username"] == user.username
        assert claims["amr"] == ["pwd"] and isinstance(claims["auth_time"], int) and claims["at_hash"]
        info = Client().get("/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
        assert info.status_code == 200 and info.json()["sub"] == str(user.pk)
        assert info.json()["email"] == user.email
        assert AuditEvent.objects.filter(event="oauth.authorized", account_id=user.pk).count() == 1

    def test_without_offline_access_there_is_no_refresh_token(self, api_client, login):
        _client, _b, _u, tokens, _ = flow(api_client, login, scope="openid")
        assert "refresh_token" not in tokens and tokens["id_token"]

    def test_a_second_authorization_skips_the_consent_page(self, api_client, login):
        client, browser, _user, _tokens, _ = flow(api_client, login)
        _verifier, challenge = pkce()
        again = browser.get(authorize_url(client, challenge, "openid profile email offline_access"))
        assert again.status_code == 302 and "code=" in again["Location"]

    def test_a_person_not_signed_in_goes_to_the_login_page(self, api_client, login):
        client = make_client(api_client, login)
        _verifier, challenge = pkce()
        response = Client().get(authorize_url(client, challenge))
        assert response.status_code == 302 and response["Location"].startswith("/api-auth/login/?next=")

    def test_denied_consent_returns_access_denied(self, api_client, login):
        client = make_client(api_client, login)
        browser, _user = signed_in_browser()
        _verifier, challenge = pkce()
        response = consent(browser, authorize_url(client, challenge), allow=False)
        query = parse_qs(urlsplit(response["Location"]).query)
        assert query["error"] == ["access_denied"] and query["state"] == ["st-1"]

    @pytest.mark.parametrize("method", ["plain", None])
    def test_plain_or_missing_pkce_is_refused(self, api_client, login, method):
        client = make_client(api_client, login)
        browser, _user = signed_in_browser()
        url = authorize_url(client, "x" * 43)
        url = re.sub(r"&code_challenge_method=S256", f"&code_challenge_method={method}" if method else "", url)
        response = browser.get(url)
        assert response.status_code == 302
        assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]

    def test_an_unregistered_redirect_uri_is_an_error_page(self, api_client, login):
        client = make_client(api_client, login)
        browser, _user = signed_in_browser()
        _verifier, challenge = pkce()
        for uri in (REDIRECT + "?x=1", REDIRECT + "/more", "https://evil.example/cb"):
            response = browser.get(authorize_url(client, challenge, redirect_uri=uri))
            assert response.status_code == 400
        response = browser.get(authorize_url({"client_id": "nope"}, challenge))
        assert response.status_code == 400

    def test_a_wrong_verifier_or_secret_is_invalid(self, api_client, login):
        client = make_client(api_client, login)
        browser, _user = signed_in_browser()
        _verifier, challenge = pkce()
        code = code_from(consent(browser, authorize_url(client, challenge)))
        assert exchange(client, code, "w" * 50).json()["error"] == "invalid_grant"
        verifier2, challenge2 = pkce()
        code2 = code_from(browser.get(authorize_url(client, challenge2)))
        bad_secret = exchange({**client, "client_secret": "wrong"}, code2, verifier2)
        assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"

    def test_a_replayed_code_ends_what_it_issued(self, api_client, login):
        client, _browser, _user, tokens, (code, verifier) = flow(api_client, login)
        replay = exchange(client, code, verifier)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        info = Client().get("/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
        assert info.status_code == 401
        assert TestRefresh().refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


class TestRefresh:
    def refresh(self, client, token):
        body = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client["client_id"],
                "client_secret": client["client_secret"]}  # fmt: skip
        return Client().post("/oauth/token", body)

    def test_refresh_rotates_gives_an_id_token_and_reuse_ends_the_family(self, api_client, login):
        client, _browser, user, tokens, _ = flow(api_client, login)
        first = self.refresh(client, tokens["refresh_token"])
        assert first.status_code == 200, first.content
        renewed = first.json()
        assert renewed["refresh_token"] != tokens["refresh_token"]
        assert verify_id_token(renewed["id_token"], client)["sub"] == str(user.pk)
        assert self.refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
        assert self.refresh(client, renewed["refresh_token"]).json()["error"] == "invalid_grant"

    def test_a_blocked_person_is_refused_at_once(self, api_client, login):
        client, _browser, user, tokens, _ = flow(api_client, login)
        user.is_active = False
        user.save()
        info = Client().get("/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
        assert info.status_code == 401
        assert self.refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"

    def test_a_password_change_ends_the_tokens(self, api_client, login):
        client, _browser, user, tokens, _ = flow(api_client, login)
        user.set_password("another-long-password-42")
        user.save()
        assert self.refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


class TestGrants:
    def test_grants_are_listed_and_revoked(self, api_client, login):
        client, _browser, user, tokens, _ = flow(api_client, login)
        token = login(user)["access_token"]
        listed = api_client.get("/users/me/grants", **bearer(token)).json()["data"]
        assert [(g["client_id"], g["name"]) for g in listed] == [(client["client_id"], "Forum")]
        assert listed[0]["scopes"] == ["email", "offline_access", "openid", "profile"]
        gone = api_client.delete(f"/users/me/grants/{client['client_id']}", **bearer(token))
        assert gone.status_code == 200
        info = Client().get("/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
        assert info.status_code == 401
        assert api_client.delete(f"/users/me/grants/{client['client_id']}", **bearer(token)).status_code == 404


class TestRevokeAndIntrospect:
    def test_revoked_access_token_is_inactive(self, api_client, login):
        client, _browser, user, tokens, _ = flow(api_client, login)
        auth = {"client_id": client["client_id"], "client_secret": client["client_secret"]}
        active = Client().post("/oauth/introspect", {"token": tokens["access_token"], **auth}).json()
        assert active["active"] is True and active["sub"] == str(user.pk)
        assert Client().post("/oauth/revoke", {"token": tokens["access_token"], **auth}).status_code == 200
        assert Client().post("/oauth/introspect", {"token": tokens["access_token"], **auth}).json() == {"active": False}


class TestDevice:
    def test_device_grant_by_polling(self, api_client, login):
        client = make_client(api_client, login, client_type="public", grant_types=[
            "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"])  # fmt: skip
        started = Client().post("/oauth/device_authorization", {"client_id": client["client_id"], "scope": "openid"})
        assert started.status_code == 200, started.content
        device = started.json()
        assert device["verification_uri"] == f"{ISSUER}/oauth/device" and device["interval"] == 5
        poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": device["device_code"],
                "client_id": client["client_id"]}  # fmt: skip
        assert Client().post("/oauth/token", poll).json()["error"] == "authorization_pending"
        assert Client().post("/oauth/token", poll).json()["error"] == "slow_down"
        browser, user = signed_in_browser()
        page = browser.get("/oauth/device")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
        confirm = browser.post("/oauth/device", {"csrfmiddlewaretoken": token, "user_code": device["user_code"]})
        assert confirm.status_code == 200 and b'name="allow"' in confirm.content, confirm.content
        done = browser.post("/oauth/device", {"csrfmiddlewaretoken": token, "user_code": device["user_code"],
                                              "confirm": "1", "allow": "Allow"})  # fmt: skip
        assert done.status_code == 200
        answer = Client().post("/oauth/token", poll)
        assert answer.status_code == 200, answer.content
        assert verify_id_token(answer.json()["id_token"], client)["sub"] == str(user.pk)
        assert Client().post("/oauth/token", poll).json()["error"] == "invalid_grant"


class TestLogout:
    def test_rp_initiated_logout_ends_the_browser_session(self, api_client, login):
        client, browser, _user, tokens, _ = flow(api_client, login)
        query = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9000/bye",
                           "state": "s2"})  # fmt: skip
        response = browser.get(f"/oauth/logout?{query}")
        assert response.status_code == 302 and response["Location"] == "http://127.0.0.1:9000/bye?state=s2"
        _verifier, challenge = pkce()
        assert browser.get(authorize_url(client, challenge))["Location"].startswith("/api-auth/login/")


class TestClients:
    def test_http_redirects_only_to_loopback(self, api_client, login):
        admin = AdminFactory(is_superuser=True)
        token = login(admin)["access_token"]
        body = {"name": "X", "client_type": "public", "redirect_uris": ["http://example.com/cb"]}
        response = api_client.post("/admin/oauth/clients", body, format="json", **bearer(token))
        assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"

    def test_the_secret_is_shown_once_and_rotates(self, api_client, login):
        client = make_client(api_client, login)
        assert len(client["client_secret"]) >= 43
        admin = AdminFactory(is_superuser=True)
        token = login(admin)["access_token"]
        shown = api_client.get(f"/admin/oauth/clients/{client['id']}", **bearer(token)).json()["data"]
        assert "client_secret" not in shown and shown["grant_types"] == ["authorization_code", "refresh_token"]
        rotated = api_client.post(f"/admin/oauth/clients/{client['id']}/rotate-secret", **bearer(token))
        assert rotated.json()["data"]["client_secret"] not in (None, client["client_secret"])

    def test_a_viewer_needs_the_permission(self, api_client, login):
        admin = AdminFactory(is_superuser=False)
        token = login(admin)["access_token"]
        response = api_client.get("/admin/oauth/clients", **bearer(token))
        assert response.status_code == 403
        assert response.json()["error"]["details"]["permission"] == ["oauth2_provider.view_application"]
