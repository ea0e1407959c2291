"""The login pages' "Sign in with <provider>" (docs/api.md §20, §18): the browsable API's and
the Django admin site's, against the real OpenID provider process, ending in browser sessions."""

import time
from urllib.parse import parse_qsl, urlsplit

import pyotp
import pytest
import time_machine
from django.test import Client

from common.models import AuditEvent
from tokens.mfa import services as mfa
from tokens.models import LoginSession
from tokens.tests.oidc_server import OidcProvider, running_provider

pytestmark = pytest.mark.django_db

WEB = {"client_id": "pages-app", "client_secret": "pages-app-secret-0123456789"}


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> OidcProvider:
    callbacks = [
        f"http://testserver{p}/oidc/{slug}/callback" for p in ("/auth", "/admin/auth") for slug in ("test", "staff")
    ]
    clients = [{**WEB, "redirect_uris": callbacks, "token_endpoint_auth_method": "client_secret_basic"}]
    with running_provider(tmp_path_factory.mktemp("idp-pages"), clients) as provider:
        yield provider


@pytest.fixture(autouse=True)
def configured(settings, idp):
    settings.OIDC_PROVIDERS = {
        "test": {**WEB, "issuer": idp.issuer, "name": "Test IdP", "realms": ["user", "admin"]},
        "staff": {**WEB, "issuer": idp.issuer, "name": "Staff IdP", "realms": ["admin"]},
    }
    settings.OIDC_REDIRECT_ORIGINS = []  # the login pages need none: they come back to themselves


def final_redirect(client: Client, idp: OidcProvider, start: str, login: str) -> str:
    """Click the provider's button, sign in there, come back: where the callback sends the browser."""
    response = client.get(start)
    assert response.status_code == 302, response.content
    back = urlsplit(idp.log_in(response["Location"], login))
    response = client.get(back.path, dict(parse_qsl(back.query)))  # the callback
    assert response.status_code == 302
    return response["Location"]


def follow(client: Client, location: str):
    target = urlsplit(location)
    return client.get(target.path, dict(parse_qsl(target.query)))


def through_provider(client: Client, idp: OidcProvider, start: str, login: str):
    """The whole round trip: the last answer of this service."""
    return follow(client, final_redirect(client, idp, start, login))


@pytest.mark.parametrize(("start", "login", "me"), [
    ("/api-auth/oidc/test/", "/api-auth/login/", "/users/me"),
    ("/django-admin/oidc/staff/", "/django-admin/login/", "/admin/me"),
])  # fmt: skip
def test_the_final_redirect_signs_in_only_the_browser_that_began(idp, user_case, admin_case, start, login, me):
    """Login CSRF: an attacker's finished flow, opened in a victim's browser, signs nobody in."""
    admin_case.make(email="mallory@example.com", email_verified=True, is_staff=True)
    idp.person("mallory", email="mallory@example.com", email_verified=True)
    attacker = Client()
    location = final_redirect(attacker, idp, start, "mallory")
    victim = Client()
    landed = follow(victim, location)
    assert landed.status_code == 302 and landed["Location"] == f"{login}?oidc_error=VALIDATION_ERROR"
    assert victim.get(me, HTTP_ACCEPT="application/json").status_code == 401
    # another browser's binding cookie does not help either
    victim.cookies["oidc_browser"] = "x" * 43
    assert follow(victim, location)["Location"] == f"{login}?oidc_error=VALIDATION_ERROR"
    # the code is unspent: the browser that began the flow still finishes it
    assert follow(attacker, location).status_code == 302
    assert attacker.get(me, HTTP_ACCEPT="application/json").status_code == 200


def test_a_login_page_code_is_not_a_frontend_code(idp, api_client):
    """A code bound to a browser is not exchanged through the API (nor a frontend's on the pages)."""
    idp.person("bound", email="bound@example.com", email_verified=True)
    location = final_redirect(Client(), idp, "/api-auth/oidc/test/", "bound")
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    response = api_client.post("/auth/oidc/exchange", {"code": code}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"


class TestBrowsableApi:
    def test_the_login_page_offers_the_users_providers(self):
        page = Client().get("/api-auth/login/?next=/users/me/sessions").content.decode()
        assert 'href="/api-auth/oidc/test?next=/users/me/sessions"' in page and "Sign in with Test IdP" in page
        assert "Staff IdP" not in page

    def test_signing_in_lands_signed_in(self, idp):
        idp.person("browser", email="browser@idp.example", email_verified=True, name="Bea Browser")
        client = Client()
        landed = through_provider(client, idp, "/api-auth/oidc/test/?next=/users/me/sessions", "browser")
        assert landed.status_code == 302 and landed["Location"] == "/users/me/sessions"
        me = client.get("/users/me", HTTP_ACCEPT="application/json").json()["data"]
        assert me["email"] == "browser@idp.example"
        assert LoginSession.objects.get(user_id=me["id"]).method == "oidc"

    def test_a_refusal_is_explained_on_the_login_page(self, idp, user_case):
        user_case.make(email="taken@example.com", email_verified=False)
        idp.person("taker", email="taken@example.com", email_verified=True)
        client = Client()
        landed = through_provider(client, idp, "/api-auth/oidc/test/", "taker")
        assert landed.status_code == 302 and landed["Location"] == "/api-auth/login/?oidc_error=ACCOUNT_EXISTS"
        page = client.get(landed["Location"]).content.decode()
        assert "An account with this address exists" in page
        assert client.get("/users/me", HTTP_ACCEPT="application/json").status_code == 401

    def test_mfa_asks_for_the_code(self, idp, user_case):
        account = user_case.make(email="mfa@example.com", email_verified=True)
        totp = pyotp.TOTP(mfa.start_totp(account)["secret"])
        mfa.confirm_totp(account, totp.now())
        idp.person("mfa", email="mfa@example.com", email_verified=True)
        client = Client(enforce_csrf_checks=True)
        page = through_provider(client, idp, "/api-auth/oidc/test/", "mfa")
        assert page.status_code == 200 and b'name="code"' in page.content
        assert client.get("/users/me", HTTP_ACCEPT="application/json").status_code == 401  # not yet
        csrf = client.cookies["csrftoken"].value
        wrong = client.post("/api-auth/oidc/", {"code": "000000", "csrfmiddlewaretoken": csrf, "next": "/users/me"})
        assert wrong.status_code == 401 and b"not valid" in wrong.content
        with time_machine.travel(time.time() + 30):  # the enrolment spent this step's code
            right = client.post("/api-auth/oidc/", {"code": totp.now(), "csrfmiddlewaretoken": csrf,
                                                    "next": "/users/me"})  # fmt: skip
            assert right.status_code == 302 and right["Location"] == "/users/me"
            assert client.get("/users/me", HTTP_ACCEPT="application/json").status_code == 200
        assert LoginSession.objects.get(user=account).method == "mfa"

    def test_a_code_page_without_a_pending_sign_in_starts_over(self):
        client = Client()
        response = client.post("/api-auth/oidc/", {"code": "123456"})
        assert response.status_code == 302 and response["Location"] == "/api-auth/login/?oidc_error=VALIDATION_ERROR"
        assert client.get("/api-auth/oidc/?code=forged")["Location"] == "/api-auth/login/?oidc_error=VALIDATION_ERROR"
        assert client.get("/api-auth/oidc/nope/")["Location"] == "/api-auth/login/?oidc_error=NOT_FOUND"


class TestAdminSite:
    def test_the_login_page_offers_the_admin_providers(self):
        page = Client().get("/django-admin/login/").content.decode()
        assert "Sign in with Test IdP" in page and "Sign in with Staff IdP" in page

    def test_staff_sign_in_to_the_site(self, idp, admin_case):
        admin = admin_case.make(email="op@example.com", email_verified=True, is_staff=True, is_superuser=True)
        idp.person("operator", email="op@example.com", email_verified=True)
        client = Client()
        landed = through_provider(client, idp, "/django-admin/oidc/staff/", "operator")
        assert landed.status_code == 302 and landed["Location"] == "/django-admin/"
        assert client.get("/django-admin/").status_code == 200
        assert client.get("/admin/me", HTTP_ACCEPT="application/json").json()["data"]["id"] == admin.pk
        event = AuditEvent.objects.get(event="login.succeeded", account_id=admin.pk, realm="admin")
        assert event.details == {"method": "oidc", "provider": "staff"}

    def test_an_admin_who_is_not_staff_is_refused(self, idp, admin_case):
        admin_case.make(email="nostaff@example.com", email_verified=True, is_staff=False)
        idp.person("nostaff", email="nostaff@example.com", email_verified=True)
        client = Client()
        landed = through_provider(client, idp, "/django-admin/oidc/staff/", "nostaff")
        assert landed["Location"] == "/django-admin/login/?oidc_error=FORBIDDEN"
        assert "may not use the admin site" in client.get(landed["Location"]).content.decode()
        assert client.get("/django-admin/").status_code == 302

    def test_admins_need_mfa_when_it_is_required(self, idp, admin_case, settings):
        settings.ADMIN_MFA_REQUIRED = True
        admin_case.make(email="nomfa@example.com", email_verified=True, is_staff=True)
        idp.person("nomfa", email="nomfa@example.com", email_verified=True)
        landed = through_provider(Client(), idp, "/django-admin/oidc/staff/", "nomfa")
        assert landed["Location"] == "/django-admin/login/?oidc_error=MFA_REQUIRED"

    def test_the_user_realms_provider_list_is_not_the_admins(self, idp):
        assert Client().get("/api-auth/oidc/staff/")["Location"] == "/api-auth/login/?oidc_error=NOT_FOUND"
