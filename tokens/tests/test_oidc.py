"""Sign in with an identity provider (docs/api.md §20), against a real OpenID Connect provider
process (oidc-provider 8.x on loopback): the redirect and native flows, account resolution,
linking, and every refusal the contract lists, in both realms."""

import hashlib
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, parse_qsl, urlsplit

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from accounts.models import User
from common.models import AuditEvent
from common.realms import ADMIN
from common.tests.factories import UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.models import Identity, LoginSession
from tokens.tests.oidc_server import OidcProvider, running_provider

pytestmark = pytest.mark.django_db

FRONTEND = "https://app.example.com"
DONE = f"{FRONTEND}/signed-in"
WEB = {"client_id": "web-app", "client_secret": "web-app-secret-0123456789"}
MOBILE = "mobile-app"
NATIVE_REDIRECT = "http://127.0.0.1/native-callback"


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> OidcProvider:
    clients = [
        {**WEB, "redirect_uris": [f"http://testserver{p}/oidc/test/callback" for p in ("/auth", "/admin/auth")],
         "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": MOBILE, "redirect_uris": [NATIVE_REDIRECT], "token_endpoint_auth_method": "none"},
    ]  # fmt: skip
    with running_provider(tmp_path_factory.mktemp("idp"), clients) as provider:
        yield provider


@pytest.fixture(autouse=True)
def configured(settings, idp):
    settings.OIDC_PROVIDERS = {
        "test": {**WEB, "issuer": idp.issuer, "name": "Test IdP", "realms": ["user", "admin"], "audiences": [MOBILE]}
    }
    settings.OIDC_REDIRECT_ORIGINS = [FRONTEND]
    settings.OIDC_TIMEOUT = 2


def person(idp: OidcProvider, login: str, email: str | None = None, verified: bool = True, **claims) -> str:
    email = email or f"{login}@idp.example"
    return idp.person(login, email=email, email_verified=verified, name=f"{login.title()} Example", **claims)


def provider_redirect(client, case, redirect: str = DONE):
    return client.get(f"{case.auth}/oidc/test/authorize", {"redirect_uri": redirect})


def back_from_provider(client, idp: OidcProvider, authorize_url: str, login: str):
    """The person signs in at the provider, which sends the browser to our callback."""
    back = urlsplit(idp.log_in(authorize_url, login))
    assert back.netloc == "testserver", back
    return client.get(back.path, dict(parse_qsl(back.query)))


def to_frontend(client, case, idp: OidcProvider, login: str) -> dict[str, str]:
    """The whole redirect flow: the query the frontend receives at its redirect_uri."""
    response = back_from_provider(client, idp, provider_redirect(client, case)["Location"], login)
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(DONE + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def exchange(client, case, code: str):
    return client.post(f"{case.auth}/oidc/exchange", {"code": code}, format="json")


@contextmanager
def expired(key: str, seconds: int):
    """Past the cache entry's lifetime: Redis is asked for the key's TTL and then loses the key
    (its clock is its own); the embedded cache is simply visited `seconds` later."""
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(write=True)
        ttl = client.ttl(cache.make_and_validate_key(key))
        assert 0 < ttl <= seconds, ttl
        client.delete(cache.make_and_validate_key(key))
        yield
    else:
        with time_machine.travel(time.time() + seconds + 1):
            yield


def signed_in(client, case, idp, login: str) -> dict:
    query = to_frontend(client, case, idp, login)
    assert "code" in query, query
    return assert_ok(exchange(client, case, query["code"]))


class TestProviders:
    def test_each_realm_lists_its_providers(self, api_client, settings, idp):
        settings.OIDC_PROVIDERS = {
            **settings.OIDC_PROVIDERS,
            "staff": {**WEB, "issuer": idp.issuer, "name": "Staff IdP", "realms": ["admin"]},
        }
        assert assert_ok(api_client.get("/auth/oidc/providers")) == [{"id": "test", "name": "Test IdP"}]
        assert assert_ok(api_client.get("/admin/auth/oidc/providers")) == [
            {"id": "test", "name": "Test IdP"},
            {"id": "staff", "name": "Staff IdP"},
        ]
        assert_error(api_client.get("/auth/oidc/staff/authorize", {"redirect_uri": DONE}), 404, "NOT_FOUND")

    def test_authorize_sends_state_nonce_and_pkce(self, api_client, user_case):
        response = provider_redirect(api_client, user_case)
        assert response.status_code == 302 and response["Cache-Control"] == "no-store"
        url = urlsplit(response["Location"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert query["response_type"] == "code" and query["client_id"] == "web-app"
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
        assert query["redirect_uri"] == "http://testserver/auth/oidc/test/callback"
        assert set(query["scope"].split()) == {"openid", "email", "profile"}

    def test_unknown_provider_and_foreign_redirect(self, api_client, user_case):
        assert_error(api_client.get("/auth/oidc/nope/authorize", {"redirect_uri": DONE}), 404, "NOT_FOUND")
        assert_error(api_client.post("/auth/oidc/nope/token", {"id_token": "x"}, format="json"), 404, "NOT_FOUND")
        for bad in ("https://evil.example/steal", "javascript:alert(1)", "", "https://app.example.com.evil.example/"):
            details = assert_error(provider_redirect(api_client, user_case, bad), 400, "VALIDATION_ERROR")
            assert "redirect_uri" in details

    def test_the_redirect_origins_default_to_the_frontend(self, api_client, user_case, settings):
        settings.OIDC_REDIRECT_ORIGINS = []
        settings.FRONTEND_URL = "https://front.example.com/app"
        assert provider_redirect(api_client, user_case, "https://front.example.com/cb").status_code == 302
        assert_error(provider_redirect(api_client, user_case, DONE), 400, "VALIDATION_ERROR")


class TestRedirectFlow:
    def test_a_new_person_gets_a_new_verified_user(self, api_client, user_case, idp):
        person(idp, "newcomer", preferred_username="new.comer")
        query = to_frontend(api_client, user_case, idp, "newcomer")
        assert set(query) == {"code"}
        pair = assert_ok(exchange(api_client, user_case, query["code"]))
        assert set(pair) >= {"access_token", "refresh_token"}
        me = assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))
        assert me["username"] == "new.comer" and me["email"] == "newcomer@idp.example"
        assert me["name"] == "Newcomer Example" and me["email_verified"] is True
        user = User.objects.get(username="new.comer")
        assert not user.has_usable_password()
        identity = Identity.objects.get(user=user)
        assert (identity.provider, identity.subject, identity.email) == ("test", "newcomer", "newcomer@idp.example")
        assert LoginSession.objects.get(user=user).method == "oidc"
        event = AuditEvent.objects.get(event="login.succeeded", account_id=user.pk)
        assert event.details == {"method": "oidc", "provider": "test"}
        assert AuditEvent.objects.filter(event="identity.linked", account_id=user.pk).exists()

    def test_the_one_time_code_works_once(self, api_client, user_case, idp):
        person(idp, "once")
        code = to_frontend(api_client, user_case, idp, "once")["code"]
        assert_ok(exchange(api_client, user_case, code))
        assert_error(exchange(api_client, user_case, code), 400, "VALIDATION_ERROR")
        assert_error(exchange(api_client, user_case, "garbage"), 400, "VALIDATION_ERROR")
        assert_error(api_client.post("/auth/oidc/exchange", {}, format="json"), 400, "VALIDATION_ERROR")

    def test_the_one_time_code_expires_after_60_seconds(self, api_client, user_case, idp):
        person(idp, "slow")
        code = to_frontend(api_client, user_case, idp, "slow")["code"]
        with expired(f"oidc-code:{hashlib.sha256(code.encode()).hexdigest()}", 60):
            assert_error(exchange(api_client, user_case, code), 400, "VALIDATION_ERROR")

    def test_a_code_of_one_realm_is_refused_by_the_other(self, api_client, user_case, admin_case, idp):
        person(idp, "realmhopper")
        code = to_frontend(api_client, user_case, idp, "realmhopper")["code"]
        assert_error(exchange(api_client, admin_case, code), 400, "VALIDATION_ERROR")
        assert_ok(exchange(api_client, user_case, code))  # a refused try does not spend it

    def test_the_linked_identity_signs_in_again(self, api_client, user_case, idp):
        person(idp, "again")
        first = signed_in(api_client, user_case, idp, "again")
        idp.person("again", email="changed@idp.example", email_verified=False, name="Again")
        second = signed_in(api_client, user_case, idp, "again")
        ids = {assert_ok(api_client.get("/users/me", **bearer(p["access_token"])))["id"] for p in (first, second)}
        assert len(ids) == 1 and User.objects.count() == 1
        assert Identity.objects.get().email == "changed@idp.example"  # as the provider gave it, last time

    def test_a_verified_email_at_both_ends_links_the_existing_account(self, api_client, user_case, idp):
        existing = user_case.make(email="owner@example.com", email_verified=True)
        person(idp, "owner", "Owner@Example.com")
        pair = signed_in(api_client, user_case, idp, "owner")
        assert assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))["id"] == existing.pk
        identity = Identity.objects.get(user=existing)
        assert identity.subject == "owner" and identity.email == "Owner@Example.com"  # as the provider gave it

    @pytest.mark.parametrize(("provider_verified", "account_verified"), [(False, True), (True, False), (False, False)])
    def test_an_unverified_email_at_either_end_never_takes_an_account_over(
        self, api_client, user_case, idp, provider_verified, account_verified
    ):
        user_case.make(email="victim@example.com", email_verified=account_verified)
        person(idp, f"attacker{provider_verified}{account_verified}", "victim@example.com", verified=provider_verified)
        query = to_frontend(api_client, user_case, idp, f"attacker{provider_verified}{account_verified}")
        assert query == {"error": "ACCOUNT_EXISTS"}
        assert not Identity.objects.exists() and User.objects.count() == 1

    def test_an_unverified_provider_email_makes_an_unverified_account(self, api_client, user_case, idp, settings):
        person(idp, "unsure", verified=False)
        pair = signed_in(api_client, user_case, idp, "unsure")
        assert assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))["email_verified"] is False

    def test_email_verification_applies(self, api_client, user_case, idp, settings, mailoutbox, committed):
        settings.REQUIRE_EMAIL_VERIFICATION = True
        person(idp, "mustverify", verified=False)
        with committed():
            assert to_frontend(api_client, user_case, idp, "mustverify") == {"error": "EMAIL_NOT_VERIFIED"}
        assert User.objects.get(email="mustverify@idp.example").email_verified is False
        assert Identity.objects.filter(subject="mustverify").exists()  # the next sign-in finds it
        assert [m.to for m in mailoutbox] == [["mustverify@idp.example"]]  # the verification link

    def test_a_deleted_account_is_never_signed_in_revived_or_recreated(self, api_client, user_case, idp):
        person(idp, "ghost", "ghost@example.com")
        pair = signed_in(api_client, user_case, idp, "ghost")
        assert_ok(api_client.delete("/users/me", **bearer(pair["access_token"])))
        assert to_frontend(api_client, user_case, idp, "ghost") == {"error": "ACCOUNT_EXISTS"}
        Identity.objects.all().delete()
        assert to_frontend(api_client, user_case, idp, "ghost") == {"error": "ACCOUNT_EXISTS"}
        assert User.objects.count() == 1 and User.objects.get().is_deleted

    def test_blocked_and_locked_accounts(self, api_client, user_case, idp):
        person(idp, "blocked")
        signed_in(api_client, user_case, idp, "blocked")
        user = User.objects.get(username="blocked")
        User.objects.filter(pk=user.pk).update(is_active=False)
        assert to_frontend(api_client, user_case, idp, "blocked") == {"error": "ACCOUNT_INACTIVE"}
        from django.utils import timezone

        User.objects.filter(pk=user.pk).update(is_active=True, locked_until=timezone.now() + timezone.timedelta(60))
        assert to_frontend(api_client, user_case, idp, "blocked") == {"error": "ACCOUNT_LOCKED"}

    def test_mfa_still_asks_for_the_second_factor(self, api_client, user_case, idp):
        import pyotp

        person(idp, "careful")
        pair = signed_in(api_client, user_case, idp, "careful")
        secret = assert_ok(api_client.post("/users/me/mfa/totp", **bearer(pair["access_token"])))["secret"]
        totp = pyotp.TOTP(secret)
        assert_ok(api_client.post("/users/me/mfa/totp/confirm", {"code": totp.now()}, format="json",
                                  **bearer(pair["access_token"])))  # fmt: skip
        challenge = signed_in(api_client, user_case, idp, "careful")
        assert challenge["mfa_required"] is True and "access_token" not in challenge
        body = {"mfa_token": challenge["mfa_token"], "code": totp.now()}
        assert_error(api_client.post("/auth/mfa/verify", body, format="json"), 401, "INVALID_CREDENTIALS")  # used step
        body["code"] = pyotp.TOTP(secret).at(time.time() + 30)
        with time_machine.travel(time.time() + 30):
            pair = assert_ok(api_client.post("/auth/mfa/verify", body, format="json"))
        assert "access_token" in pair

    def test_state_refusals(self, api_client, user_case, idp):
        person(idp, "stateful")
        authorize_url = provider_redirect(api_client, user_case)["Location"]
        back = urlsplit(idp.log_in(authorize_url, "stateful"))
        query = dict(parse_qsl(back.query))
        # missing and unknown state: nowhere safe to send the browser
        assert_error(api_client.get(back.path, {"code": query["code"]}), 400, "VALIDATION_ERROR")
        assert_error(api_client.get(back.path, {**query, "state": "forged"}), 400, "VALIDATION_ERROR")
        # foreign: a state made for the user realm presented to the admin realm's callback
        assert_error(api_client.get(f"/admin{back.path}", query), 400, "VALIDATION_ERROR")
        assert api_client.get(back.path, query).status_code == 302
        # reused
        assert_error(api_client.get(back.path, query), 400, "VALIDATION_ERROR")

    def test_state_expires_after_10_minutes(self, api_client, user_case, idp):
        person(idp, "late")
        authorize_url = provider_redirect(api_client, user_case)["Location"]
        back = urlsplit(idp.log_in(authorize_url, "late"))
        with expired(f"oidc-state:{dict(parse_qsl(back.query))['state']}", 600):
            assert_error(api_client.get(back.path, dict(parse_qsl(back.query))), 400, "VALIDATION_ERROR")

    def test_a_code_the_provider_did_not_issue_or_an_error_from_it(self, api_client, user_case, idp):
        for params in ({"code": "made-up"}, {"error": "access_denied"}):
            location = provider_redirect(api_client, user_case)["Location"]
            state = parse_qs(urlsplit(location).query)["state"][0]
            response = api_client.get("/auth/oidc/test/callback", {**params, "state": state})
            assert response.status_code == 302
            assert response["Location"] == f"{DONE}?error=INVALID_CREDENTIALS"

    def test_the_pkce_verifier_is_required_by_the_exchange(self, api_client, user_case, idp):
        """The code is bound to our code_challenge: redeemed with another verifier, the provider refuses it."""
        from django.core.cache import cache

        person(idp, "pkce")
        location = provider_redirect(api_client, user_case)["Location"]
        state = parse_qs(urlsplit(location).query)["state"][0]
        facts = cache.get(f"oidc-state:{state}")
        cache.set(f"oidc-state:{state}", {**facts, "verifier": "w" * 64}, 600)
        back = urlsplit(idp.log_in(location, "pkce"))
        response = api_client.get(back.path, dict(parse_qsl(back.query)))
        assert response["Location"] == f"{DONE}?error=INVALID_CREDENTIALS"

    def test_the_nonce_must_match(self, api_client, user_case, idp):
        from django.core.cache import cache

        person(idp, "noncey")
        location = provider_redirect(api_client, user_case)["Location"]
        state = parse_qs(urlsplit(location).query)["state"][0]
        cache.set(f"oidc-state:{state}", {**cache.get(f"oidc-state:{state}"), "nonce": "another"}, 600)
        back = urlsplit(idp.log_in(location, "noncey"))
        assert api_client.get(back.path, dict(parse_qsl(back.query)))["Location"] == f"{DONE}?error=INVALID_CREDENTIALS"
        assert not User.objects.exists()
        failed = AuditEvent.objects.get(event="login.failed")
        assert failed.details == {"reason": "invalid_id_token", "method": "oidc", "provider": "test"}

    def test_response_mode_form_post_as_apple_uses(self, api_client, user_case, idp, settings):
        settings.OIDC_PROVIDERS["test"]["response_mode"] = "form_post"
        person(idp, "poster")
        location = provider_redirect(api_client, user_case)["Location"]
        assert parse_qs(urlsplit(location).query)["response_mode"] == ["form_post"]
        back = urlsplit(idp.log_in(location, "poster"))  # the provider's self-submitting form, read
        response = api_client.post(back.path, dict(parse_qsl(back.query)))  # as a browser posts it
        assert response.status_code == 302
        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
        assert_ok(exchange(api_client, user_case, code))

    def test_the_frontend_query_is_kept(self, api_client, user_case, idp):
        person(idp, "keeper")
        response = provider_redirect(api_client, user_case, f"{DONE}?next=%2Fhome&code=old")
        back = back_from_provider(api_client, idp, response["Location"], "keeper")
        query = parse_qs(urlsplit(back["Location"]).query)
        assert query["next"] == ["/home"] and len(query["code"]) == 1 and query["code"] != ["old"]


class TestAdminRealm:
    def test_an_admin_signs_in_with_a_verified_address(self, api_client, admin_case, idp):
        admin = admin_case.make(email="boss@example.com", email_verified=True)
        person(idp, "boss", "boss@example.com")
        pair = signed_in(api_client, admin_case, idp, "boss")
        assert assert_ok(api_client.get("/admin/me", **bearer(pair["access_token"])))["id"] == admin.pk
        assert Identity.objects.get().admin_id == admin.pk

    def test_the_admin_realm_never_creates_accounts(self, api_client, admin_case, idp):
        person(idp, "stranger")
        assert to_frontend(api_client, admin_case, idp, "stranger") == {"error": "INVALID_CREDENTIALS"}
        assert not ADMIN.model.objects.filter(email="stranger@idp.example").exists() and not User.objects.exists()

    def test_the_same_person_may_be_a_user_and_an_admin(self, api_client, user_case, admin_case, idp):
        admin_case.make(email="both@example.com", email_verified=True)
        user_case.make(email="both@example.com", email_verified=True)
        person(idp, "both", "both@example.com")
        signed_in(api_client, user_case, idp, "both")
        signed_in(api_client, admin_case, idp, "both")
        assert Identity.objects.filter(subject="both").count() == 2


class TestNativeFlow:
    def post(self, client, case, id_token: str, nonce: str | None = None):
        body = {"id_token": id_token, **({"nonce": nonce} if nonce is not None else {})}
        return client.post(f"{case.auth}/oidc/test/token", body, format="json")

    def test_an_sdk_token_for_an_extra_audience_with_a_nonce(self, api_client, user_case, idp):
        person(idp, "phone")
        id_token = idp.native_id_token("phone", MOBILE, NATIVE_REDIRECT, nonce="raw-nonce-1234")
        assert_error(self.post(api_client, user_case, id_token), 401, "INVALID_CREDENTIALS")  # nonce needed
        assert_error(self.post(api_client, user_case, id_token, "other"), 401, "INVALID_CREDENTIALS")
        pair = assert_ok(self.post(api_client, user_case, id_token, "raw-nonce-1234"))
        assert assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))["email"] == "phone@idp.example"

    def test_a_hashed_nonce_as_some_sdks_send(self, api_client, user_case, idp):
        person(idp, "apple")
        raw = "raw-nonce-5678"
        id_token = idp.native_id_token("apple", MOBILE, NATIVE_REDIRECT, nonce=hashlib.sha256(raw.encode()).hexdigest())
        assert_ok(self.post(api_client, user_case, id_token, raw))

    def test_no_nonce_claim_needs_no_nonce(self, api_client, user_case, idp):
        person(idp, "plain")
        id_token = idp.native_id_token("plain", MOBILE, NATIVE_REDIRECT)
        assert_error(self.post(api_client, user_case, id_token, "unexpected"), 401, "INVALID_CREDENTIALS")
        assert_ok(self.post(api_client, user_case, id_token))

    def test_refusals(self, api_client, user_case, idp, settings):
        settings.RATE_LIMIT_ATTEMPTS = 100
        person(idp, "mallory")
        good = idp.claims("mallory", "web-app", email="mallory@idp.example", email_verified=True)
        assert_ok(self.post(api_client, user_case, idp.sign(good)))
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = int(time.time())
        refused = {
            "another key": idp.sign(good, key=other_key),
            "unknown kid": idp.sign(good, kid="unknown"),
            "tampered": idp.sign(good)[:-4] + "AAAA",
            "wrong issuer": idp.sign({**good, "iss": "https://evil.example"}),
            "wrong audience": idp.sign({**good, "aud": "someone-else"}),
            "expired": idp.sign({**good, "exp": now - 120}),
            "issued in the future": idp.sign({**good, "iat": now + 3600}),
            "no iat": idp.sign({k: v for k, v in good.items() if k != "iat"}),
            "no sub": idp.sign({k: v for k, v in good.items() if k != "sub"}),
            "symmetric": idp.sign(good, key="web-app-secret-0123456789-and-more-bytes", algorithm="HS256"),
            "unsigned": idp.sign(good).rsplit(".", 1)[0] + ".",
            "garbage": "not.a.jwt",
            "azp elsewhere": idp.sign({**good, "aud": ["web-app", "x"], "azp": "x"}),
        }
        for reason, token in refused.items():
            response = self.post(api_client, user_case, token)
            assert response.status_code == 401, reason
            assert_error(response, 401, "INVALID_CREDENTIALS")
        assert_error(self.post(api_client, user_case, ""), 400, "VALIDATION_ERROR")
        assert AuditEvent.objects.filter(event="login.failed", details__reason="invalid_id_token").count() == len(
            refused
        )

    def test_a_sub_linked_elsewhere_cannot_be_linked_again(self, api_client, user_case, idp):
        person(idp, "shared")
        first = signed_in(api_client, user_case, idp, "shared")
        other = user_case.make()
        access = user_case.login_pair(api_client, other)["access_token"]
        body = {"redirect_uri": DONE}
        url = assert_ok(api_client.post("/users/me/identities/test", body, format="json", **bearer(access)))
        back = back_from_provider(api_client, idp, url["authorize_url"], "shared")
        assert back["Location"] == f"{DONE}?error=ACCOUNT_EXISTS"
        owner = assert_ok(api_client.get("/users/me", **bearer(first["access_token"])))["id"]
        assert Identity.objects.get().user_id == owner != other.pk  # still the first account's


class TestIdentities:
    def test_link_list_and_unlink(self, api_client, user_case, idp):
        account = user_case.make()
        access = user_case.login_pair(api_client, account)["access_token"]
        person(idp, "linker", "someone-else@idp.example", verified=False)  # linking needs no matching email
        answer = assert_ok(api_client.post("/users/me/identities/test", {"redirect_uri": DONE}, format="json",
                                           **bearer(access)))  # fmt: skip
        assert set(answer) == {"authorize_url"} and answer["authorize_url"].startswith(idp.issuer)
        back = back_from_provider(api_client, idp, answer["authorize_url"], "linker")
        assert back["Location"].startswith(f"{DONE}?code=")
        assert not Identity.objects.exists()  # nothing is linked until the account redeems the code
        code = parse_qs(urlsplit(back["Location"]).query)["code"][0]
        linked = assert_ok(api_client.post("/users/me/identities/link", {"code": code}, format="json",
                                           **bearer(access)), 201)  # fmt: skip
        assert linked["provider"] == "test" and linked["subject"] == "linker"
        assert_error(api_client.post("/users/me/identities/link", {"code": code}, format="json", **bearer(access)),
                     400, "VALIDATION_ERROR")  # fmt: skip
        items = assert_ok(api_client.get("/users/me/identities", **bearer(access)))
        assert len(items) == 1
        assert set(items[0]) == {"id", "provider", "subject", "email", "created_at", "last_used_at"}
        assert items[0]["provider"] == "test" and items[0]["subject"] == "linker"
        assert items[0]["email"] == "someone-else@idp.example"
        # the linked identity now signs in to this account
        pair = signed_in(api_client, user_case, idp, "linker")
        assert assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))["id"] == account.pk
        assert_ok(api_client.delete(f"/users/me/identities/{items[0]['id']}", **bearer(access)))
        assert assert_ok(api_client.get("/users/me/identities", **bearer(access))) == []
        events = list(AuditEvent.objects.filter(event__startswith="identity.").values_list("event", flat=True))
        assert sorted(events) == ["identity.linked", "identity.unlinked"]

    def test_the_last_way_in_cannot_be_unlinked(self, api_client, user_case, idp):
        person(idp, "onlyway")
        pair = signed_in(api_client, user_case, idp, "onlyway")
        identity = Identity.objects.get()
        response = api_client.delete(f"/users/me/identities/{identity.pk}", **bearer(pair["access_token"]))
        assert_error(response, 409, "CONFLICT")
        assert_error(api_client.delete("/users/me/identities/999999", **bearer(pair["access_token"])), 404,
                     "NOT_FOUND")  # fmt: skip
        response = api_client.delete("/users/me/identities/test", **bearer(pair["access_token"]))
        assert_error(response, 404, "NOT_FOUND")  # not a number: no such identity
        response = api_client.post("/users/me/identities/123", {"redirect_uri": DONE}, format="json",
                                   **bearer(pair["access_token"]))  # fmt: skip
        assert_error(response, 404, "NOT_FOUND")  # a number: no such provider

    def test_a_passkey_is_another_way_in(self, api_client, user_case, idp):
        from tokens.tests.authenticator import Authenticator
        from tokens.tests.test_passkeys import enrol

        person(idp, "haskey")
        pair = signed_in(api_client, user_case, idp, "haskey")
        passkey = enrol(api_client, user_case, pair["access_token"], Authenticator())
        identity = Identity.objects.get()
        assert_ok(api_client.delete(f"/users/me/identities/{identity.pk}", **bearer(pair["access_token"])))
        response = api_client.delete(f"/users/me/passkeys/{passkey['id']}", **bearer(pair["access_token"]))
        assert_error(response, 409, "CONFLICT")  # now the passkey is the last way in

    def test_identity_endpoints_need_a_login_session(self, api_client, user_case):
        from tokens.tests.factories import PersonalAccessTokenFactory

        token = PersonalAccessTokenFactory(owner=user_case.make())
        assert_error(api_client.get("/users/me/identities", **bearer(token.secret)), 403, "FORBIDDEN")
        assert_error(api_client.get("/users/me/identities"), 401, "NOT_AUTHENTICATED")

    def test_an_operator_sees_a_users_identities(self, api_client, user_case, idp, admin_token):
        person(idp, "watched")
        signed_in(api_client, user_case, idp, "watched")
        user = User.objects.get(username="watched")
        items = assert_ok(api_client.get(f"/admin/users/{user.pk}/identities", **bearer(admin_token)))
        assert [i["subject"] for i in items] == ["watched"]
        assert_error(api_client.get("/admin/users/999999/identities", **bearer(admin_token)), 404, "NOT_FOUND")

    def test_the_login_budget_applies(self, api_client, user_case, idp, settings):
        settings.RATE_LIMIT_ATTEMPTS = 2
        for _ in range(2):
            assert_error(TestNativeFlow.post(None, api_client, user_case, "a.b.c"), 401, "INVALID_CREDENTIALS")
        response = TestNativeFlow.post(None, api_client, user_case, "a.b.c")
        assert_error(response, 429, "RATE_LIMITED")
        assert int(response["Retry-After"]) > 0
        person(idp, "limited")
        assert to_frontend(api_client, user_case, idp, "limited") == {"error": "RATE_LIMITED"}

    def test_new_accounts_spend_the_registration_budget(self, api_client, user_case, idp, settings):
        settings.REGISTER_RATE = "1/h"
        person(idp, "first")
        person(idp, "second")
        signed_in(api_client, user_case, idp, "first")
        assert to_frontend(api_client, user_case, idp, "second") == {"error": "RATE_LIMITED"}
        signed_in(api_client, user_case, idp, "first")  # signing in again creates nothing

    def test_closed_registration_creates_no_account_but_linked_people_sign_in(self, api_client, user_case, idp):
        from common import product
        from common.models import Setting

        person(idp, "known")
        signed_in(api_client, user_case, idp, "known")
        Setting.objects.create(key="registration_open", value=False)
        product.forget()
        person(idp, "stranger")
        assert to_frontend(api_client, user_case, idp, "stranger") == {"error": "REGISTRATION_CLOSED"}
        assert not Identity.objects.filter(subject="stranger").exists()
        signed_in(api_client, user_case, idp, "known")


class TestProviderTrouble:
    def test_a_provider_that_is_down_answers_503_quickly(self, api_client, user_case, settings):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        settings.OIDC_PROVIDERS = {"test": {**WEB, "issuer": f"http://127.0.0.1:{port}"}}
        assert_error(provider_redirect(api_client, user_case), 503, "SERVICE_UNAVAILABLE")
        well_formed = jwt.encode({"sub": "x"}, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
        response = api_client.post("/auth/oidc/test/token", {"id_token": well_formed}, format="json")
        assert_error(response, 503, "SERVICE_UNAVAILABLE")

    def test_a_provider_that_hangs_answers_within_the_timeout(self, api_client, user_case, settings):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections, never answers
        accepted = []
        threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
        settings.OIDC_PROVIDERS = {"test": {**WEB, "issuer": f"http://127.0.0.1:{listener.getsockname()[1]}"}}
        settings.OIDC_TIMEOUT = 1
        started = time.monotonic()
        try:
            assert_error(provider_redirect(api_client, user_case), 503, "SERVICE_UNAVAILABLE")
        finally:
            listener.close()
        assert time.monotonic() - started < 5

    def test_a_provider_down_at_the_callback_sends_the_error_back(self, api_client, user_case, idp):
        from django.core.cache import cache

        person(idp, "unlucky")
        authorize_url = provider_redirect(api_client, user_case)["Location"]
        back = urlsplit(idp.log_in(authorize_url, "unlucky"))
        key = f"oidc-discovery:{idp.issuer}"  # the token endpoint stops answering
        cache.set(key, {**cache.get(key), "token_endpoint": "http://127.0.0.1:9/token"}, 600)
        response = api_client.get(back.path, dict(parse_qsl(back.query)))
        assert response["Location"] == f"{DONE}?error=SERVICE_UNAVAILABLE"

    def test_a_discovery_document_of_another_issuer_is_refused(self, api_client, user_case, settings, idp):
        settings.OIDC_PROVIDERS = {"test": {**WEB, "issuer": idp.issuer.replace("127.0.0.1", "localhost")}}
        assert_error(provider_redirect(api_client, user_case), 503, "SERVICE_UNAVAILABLE")


class TestLinkingCsrf:
    def test_a_victim_sent_through_an_attackers_linking_flow_links_nothing_to_the_attacker(
        self, api_client, user_case, idp
    ):
        """The attacker begins linking and sends the authorize_url to a victim signed in at the
        provider: the code that comes back is the attacker's flow's, and only the account that
        began it can redeem it, so the victim's own account redeeming it is refused, unspent."""
        attacker, victim = user_case.make(), user_case.make()
        attacker_access = user_case.login_pair(api_client, attacker)["access_token"]
        victim_access = user_case.login_pair(api_client, victim)["access_token"]
        person(idp, "victim-at-idp")
        answer = assert_ok(api_client.post("/users/me/identities/test", {"redirect_uri": DONE}, format="json",
                                           **bearer(attacker_access)))  # fmt: skip
        back = back_from_provider(api_client, idp, answer["authorize_url"], "victim-at-idp")
        code = parse_qs(urlsplit(back["Location"]).query)["code"][0]
        response = api_client.post("/users/me/identities/link", {"code": code}, format="json", **bearer(victim_access))
        assert_error(response, 400, "VALIDATION_ERROR")
        assert_error(exchange(api_client, user_case, code), 400, "VALIDATION_ERROR")  # not a sign-in code
        assert not Identity.objects.exists()
        # the code is still the (attacker's) flow's: only that account could redeem it
        assert_ok(api_client.post("/users/me/identities/link", {"code": code}, format="json",
                                  **bearer(attacker_access)), 201)  # fmt: skip


class TestHostileClaims:
    """Claims a provider (or its signing key) may send."""

    post = TestNativeFlow.post

    def test_a_nul_in_sub_is_an_invalid_id_token_not_a_500(self, api_client, user_case, idp):
        good = idp.claims("nul", "web-app", email="nul@idp.example", email_verified=True)
        assert_error(self.post(api_client, user_case, idp.sign({**good, "sub": "a\x00b"})), 401, "INVALID_CREDENTIALS")
        bad_address = {**good, "email": "nul@idp.example\x00"}
        assert_error(self.post(api_client, user_case, idp.sign(bad_address)), 400, "VALIDATION_ERROR")
        pair = assert_ok(self.post(api_client, user_case, idp.sign({**good, "name": "Nul\x00Name"})))
        assert assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))["name"] == "NulName"

    @pytest.mark.parametrize("vouched", [1, "1", "yes", "True"])
    def test_only_true_or_the_string_true_vouches_for_an_address(self, api_client, user_case, idp, vouched):
        UserFactory(username="kept", email="kept@example.com", email_verified=True)
        claims = idp.claims("taker", "web-app", email="kept@example.com", email_verified=vouched)
        assert_error(self.post(api_client, user_case, idp.sign(claims)), 409, "ACCOUNT_EXISTS")

    def test_a_kelvin_sign_is_the_same_address(self, api_client, user_case, idp):
        """NFKC: the provider's verified K-with-Kelvin-sign address is kate's, so it may not take
        an account with an unverified address over, and links one with a verified address."""
        kate = UserFactory(username="kate", email="kate@example.com", email_verified=False)
        claims = idp.claims("kelvin", "web-app", email="\u212aate@example.com", email_verified=True)
        assert_error(self.post(api_client, user_case, idp.sign(claims)), 409, "ACCOUNT_EXISTS")
        User.objects.filter(pk=kate.pk).update(email_verified=True)
        pair = assert_ok(self.post(api_client, user_case, idp.sign(claims)))
        assert assert_ok(api_client.get("/users/me", **bearer(pair["access_token"])))["id"] == kate.pk
