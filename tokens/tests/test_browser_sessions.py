"""A person in a browser (docs/api.md §18): browser sessions per realm, CSRF, revocation, forms."""

import re

import pytest
from django.test import Client

from common.models import AuditEvent
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.models import LoginSession

LOGIN = "/api-auth/login/"


def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client, path: str = LOGIN) -> str:
    page = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def browser_login(client: Client, account, password: str = PASSWORD, **extra):
    token = csrf_token(client)
    body = {"username": account.username, "password": password, "next": "/users/me", "csrfmiddlewaretoken": token}
    return client.post(LOGIN, {**body, **extra})


def cookie_csrf(client: Client) -> str:
    return client.cookies["csrftoken"].value


@pytest.fixture
def signed_in(db):
    user = UserFactory()
    client = csrf_client()
    response = browser_login(client, user)
    assert response.status_code == 302 and response["Location"] == "/users/me"
    return client, user


class TestLogin:
    def test_the_form_renders_with_csrf(self, db):
        response = Client().get(LOGIN)
        assert response.status_code == 200 and b"csrfmiddlewaretoken" in response.content
        assert b'name="code"' in response.content

    def test_a_login_starts_a_user_realm_session(self, signed_in):
        client, user = signed_in
        data = assert_ok(client.get("/users/me", HTTP_ACCEPT="application/json"))
        assert data["id"] == user.pk
        session = LoginSession.objects.get(user=user)
        assert session.revoked_at is None
        assert AuditEvent.objects.filter(event="login.succeeded", account_id=user.pk).exists()
        cookie = client.cookies["sessionid"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"

    def test_the_form_needs_its_csrf_token(self, db):
        user = UserFactory()
        response = csrf_client().post(LOGIN, {"username": user.username, "password": PASSWORD})
        assert response.status_code == 403

    def test_a_wrong_password_counts_toward_lockout(self, db, settings):
        settings.RATE_LIMIT_ATTEMPTS = 100
        user = UserFactory()
        client = csrf_client()
        for _ in range(settings.MAX_LOGIN_ATTEMPTS):
            response = browser_login(client, user, "wrong-password")
            assert response.status_code == 200 and b"Invalid credentials" in response.content
        user.refresh_from_db()
        assert user.is_locked
        assert b"locked" in browser_login(client, user).content
        assert "login_session:user" not in client.session

    def test_the_login_budget_is_shared_with_the_api(self, api_client, db, settings):
        settings.RATE_LIMIT_ATTEMPTS = 2
        user = UserFactory()
        for _ in range(2):
            api_client.post("/auth/login", {"username": user.username, "password": "wrong"})
        response = browser_login(csrf_client(), user)
        assert response.status_code == 429 and int(response["Retry-After"]) > 0

    def test_inactive_and_unverified_accounts_are_refused(self, db, settings):
        assert b"inactive" in browser_login(csrf_client(), UserFactory(is_active=False)).content
        settings.REQUIRE_EMAIL_VERIFICATION = True
        assert b"Verify your email" in browser_login(csrf_client(), UserFactory(email_verified=False)).content

    def test_mfa_asks_for_a_code(self, db):
        import time

        import pyotp

        from tokens.mfa import services as mfa

        user = UserFactory()
        totp = pyotp.TOTP(mfa.start_totp(user)["secret"])
        mfa.confirm_totp(user, totp.now())
        client = csrf_client()
        assert b"Enter the code" in browser_login(client, user).content
        assert b"This authentication code is not valid." in browser_login(client, user, code="000000").content
        assert browser_login(client, user, code=totp.at(time.time() + 30)).status_code == 302

    def test_next_must_stay_on_this_site(self, db):
        user = UserFactory()
        client = csrf_client()
        token = csrf_token(client)
        body = {
            "username": user.username,
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrfmiddlewaretoken": token,
        }
        assert client.post(LOGIN, body)["Location"] == "/users/me"


class TestRealmsAndCsrf:
    def test_a_user_session_is_not_authenticated_on_admin_paths(self, signed_in):
        client, _ = signed_in
        assert_error(client.get("/admin/me", HTTP_ACCEPT="application/json"), 401, "NOT_AUTHENTICATED")

    def test_an_admin_site_session_is_an_admin_realm_session_only(self, db):
        admin = AdminFactory()
        client = csrf_client()
        page = client.get("/django-admin/login/").content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = {
            "username": admin.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
            "next": "/django-admin/",
        }
        assert client.post("/django-admin/login/", body).status_code == 302
        assert assert_ok(client.get("/admin/me", HTTP_ACCEPT="application/json"))["id"] == admin.pk
        assert_error(client.get("/users/me", HTTP_ACCEPT="application/json"), 401, "NOT_AUTHENTICATED")

    def test_unsafe_methods_need_the_csrf_token(self, signed_in):
        client, _user = signed_in
        response = client.patch("/users/me", '{"name": "X"}', content_type="application/json")
        assert_error(response, 403, "FORBIDDEN")
        response = client.patch(
            "/users/me", '{"name": "With Token"}', content_type="application/json", HTTP_X_CSRFTOKEN=cookie_csrf(client)
        )
        assert assert_ok(response)["name"] == "With Token"

    def test_a_bearer_header_is_judged_alone(self, signed_in, login):
        client, _user = signed_in
        assert_error(client.get("/users/me", **bearer("not-a-token")), 401, "INVALID_TOKEN")
        other = UserFactory()
        access = login(other)["access_token"]
        response = client.patch(
            "/users/me", '{"name": "Via Bearer"}', content_type="application/json", **bearer(access)
        )
        assert assert_ok(response)["id"] == other.pk  # no CSRF needed, the cookie's account not touched

    def test_a_browser_session_may_manage_tokens_and_change_the_password(self, signed_in):
        client, _user = signed_in
        headers = {"HTTP_X_CSRFTOKEN": cookie_csrf(client)}
        created = client.post(
            "/users/me/tokens", {"name": "from the browser"}, content_type="application/json", **headers
        )
        assert created.status_code == 201
        body = {"current_password": PASSWORD, "new_password": "browser-new-passphrase"}
        assert_ok(client.post("/users/me/password", body, content_type="application/json", **headers))


class TestRevocation:
    def test_logout_ends_only_this_browser_session(self, signed_in, login):
        client, user = signed_in
        access = login(user)["access_token"]
        response = client.post("/api-auth/logout/", {"csrfmiddlewaretoken": cookie_csrf(client)})
        assert response.status_code == 302
        assert_error(client.get("/users/me", HTTP_ACCEPT="application/json"), 401, "NOT_AUTHENTICATED")
        assert_ok(Client().get("/users/me", **bearer(access)))

    @pytest.mark.parametrize("how", ["password", "block", "deactivate", "delete", "logout_all", "reset"])
    def test_it_ends_with_the_account_s_tokens(self, signed_in, how, admin_token, api_client):
        client, user = signed_in
        if how == "password":
            user.set_password("set-by-someone-else-1")
            user.save()
        elif how == "block":
            api_client.patch(f"/admin/users/{user.pk}/block", **bearer(admin_token))
        elif how == "deactivate":
            api_client.patch(f"/admin/users/{user.pk}", {"is_active": False}, format="json", **bearer(admin_token))
        elif how == "delete":
            api_client.delete(f"/admin/users/{user.pk}", **bearer(admin_token))
        elif how == "logout_all":
            api_client.delete(f"/admin/users/{user.pk}/sessions", **bearer(admin_token))
        else:
            from accounts import one_time

            token = one_time.make(one_time.RESET, user)
            body = {"token": token, "new_password": "reset-in-a-browser-1"}
            assert_ok(api_client.post("/auth/password/reset", body, format="json"))
        assert_error(client.get("/users/me", HTTP_ACCEPT="application/json"), 401, "NOT_AUTHENTICATED")


class TestBrowsableApi:
    def test_pages_show_who_is_signed_in_and_working_forms(self, signed_in):
        client, user = signed_in
        page = client.get("/users/me", HTTP_ACCEPT="text/html").content.decode()
        assert f"Signed in as <b>{user.username}</b> (User realm)" in page
        assert 'action="/api-auth/logout/"' in page
        assert 'name="avatar"' in page and 'enctype="multipart/form-data"' in page  # profile form with upload
        tokens = client.get("/users/me/tokens", HTTP_ACCEPT="text/html").content.decode()
        assert 'name="expires_in_days"' in tokens

    def test_a_form_post_follows_the_contract(self, signed_in):
        client, _user = signed_in
        token = cookie_csrf(client)
        response = client.post(
            "/users/me/tokens", {"name": "form token", "csrfmiddlewaretoken": token}, HTTP_ACCEPT="text/html"
        )
        assert response.status_code == 201
        error = client.post("/users/me/tokens", {"name": "", "csrfmiddlewaretoken": token}, HTTP_ACCEPT="text/html")
        assert_error(error, 400, "VALIDATION_ERROR")

    def test_an_anonymous_page_offers_the_login(self, db):
        page = Client().get("/health", HTTP_ACCEPT="text/html").content.decode()
        assert "/api-auth/login/?next=/health" in page
