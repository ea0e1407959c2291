"""Tokens other services can verify (docs/api.md §19): signing keys in the database, the JWK Set,
rotation and retirement, issuer and audience, introspection."""

import base64
import hashlib
import hmac
import json
import logging
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.tests.utils import assert_error, assert_ok, bearer
from tokens import signing_keys
from tokens.models import SigningKey
from tokens.tests.factories import PersonalAccessTokenFactory

pytestmark = pytest.mark.django_db
ASYMMETRIC = ["ES256", "RS256", "EdDSA"]


@pytest.fixture(autouse=True)
def fresh_store():
    signing_keys.store.invalidate()
    signing_keys.store.keys = {}
    yield
    signing_keys.store.invalidate()
    signing_keys.store.keys = {}


@pytest.fixture(params=ASYMMETRIC)
def asymmetric(request, settings) -> str:
    settings.ALGORITHM = request.param
    return request.param


def jwks(client) -> dict:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response["Cache-Control"] == "public, max-age=300"
    return json.loads(response.content)


def verify_with_published_keys(client, token: str, **options) -> dict:
    """What a resource server does: the key the token's kid names, from the served JWK Set only."""
    keys = jwt.PyJWKSet.from_dict(jwks(client))
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, key.key, algorithms=[key.algorithm_name], **options)


def forge(claims: dict, key, algorithm: str, headers: dict | None = None) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


class TestJwkSet:
    def test_it_is_empty_and_not_enveloped_with_hs256(self, api_client):
        assert jwks(api_client) == {"keys": []}

    def test_it_publishes_public_parameters_only_and_tokens_carry_the_kid(self, api_client, realm_case, asymmetric):
        pair = realm_case.login_pair(api_client, realm_case.make())
        [key] = jwks(api_client)["keys"]
        assert key["alg"] == asymmetric and key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        for token in (pair["access_token"], pair["refresh_token"]):
            assert jwt.get_unverified_header(token) == {"alg": asymmetric, "kid": key["kid"], "typ": "JWT"}
        claims = verify_with_published_keys(api_client, pair["access_token"])
        assert claims["realm"] == realm_case.name and claims["token_type"] == "access"
        assert_ok(api_client.get(realm_case.me, **bearer(pair["access_token"])))

    def test_the_private_half_is_encrypted_at_rest(self, api_client, user, login, settings):
        settings.ALGORITHM = "ES256"
        login(user)
        stored = SigningKey.objects.get()
        assert "PRIVATE KEY" not in stored.private_key and stored.private_key.startswith("gAAAA")  # Fernet

    def test_odd_requests_get_plain_answers(self, api_client):
        assert api_client.get("/.well-known/jwks.json", HTTP_ACCEPT="text/html").status_code == 200
        assert api_client.head("/.well-known/jwks.json").status_code == 200
        assert_error(api_client.post("/.well-known/jwks.json"), 405, "METHOD_NOT_ALLOWED")


class TestRotation:
    def test_rotate_keeps_earlier_tokens_and_retire_ends_them(self, api_client, user, login, settings):
        settings.ALGORITHM = "ES256"
        old = login(user)["access_token"]
        old_kid = jwt.get_unverified_header(old)["kid"]
        out = StringIO()
        call_command("signing_keys", "rotate", stdout=out)
        new = login(user)["access_token"]
        new_kid = jwt.get_unverified_header(new)["kid"]
        assert new_kid != old_kid and new_kid in out.getvalue()
        assert {k["kid"] for k in jwks(api_client)["keys"]} == {old_kid, new_kid}
        assert_ok(api_client.get("/users/me", **bearer(old)))
        assert_ok(api_client.get("/users/me", **bearer(new)))
        listing = StringIO()
        call_command("signing_keys", "list", stdout=listing)
        assert f"{new_kid}  ES256" in listing.getvalue() and "signing" in listing.getvalue()

        call_command("signing_keys", "retire", "--", old_kid, stdout=StringIO())  # a kid may begin with -
        assert_error(api_client.get("/users/me", **bearer(old)), 401, "INVALID_TOKEN")
        assert_ok(api_client.get("/users/me", **bearer(new)))
        assert [k["kid"] for k in jwks(api_client)["keys"]] == [new_kid]
        with pytest.raises(CommandError, match="No usable signing key"):
            call_command("signing_keys", "retire", "--", old_kid)

    def test_there_is_nothing_to_rotate_on_hs256(self):
        with pytest.raises(CommandError, match="nothing to rotate"):
            call_command("signing_keys", "rotate")

    def test_a_retired_signing_key_is_replaced_when_a_token_is_needed(self, api_client, user, login, settings):
        settings.ALGORITHM = "RS256"
        first = jwt.get_unverified_header(login(user)["access_token"])["kid"]
        signing_keys.retire(first)
        second = jwt.get_unverified_header(login(user)["access_token"])["kid"]
        assert second != first and SigningKey.objects.filter(retired_at__isnull=True).count() == 1

    def test_a_changed_secret_key_is_a_503_and_one_log_line_until_rotated(
        self, api_client, user, login, settings, caplog
    ):
        settings.ALGORITHM = "ES256"
        token = login(user)["access_token"]
        settings.SECRET_KEY = "another-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
        signing_keys.store.invalidate()
        signing_keys.store.keys = {}
        with caplog.at_level(logging.ERROR):
            signing_keys.startup_check()
        [line] = [r.getMessage() for r in caplog.records if "cannot be decrypted" in r.getMessage()]
        assert "signing_keys rotate" in line and "\n" not in line
        response = api_client.post("/auth/login", {"username": user.username, "password": "correct-horse-battery"})
        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert_ok(api_client.get("/users/me", **bearer(token)))  # verifying needs no private key
        call_command("signing_keys", "rotate", stdout=StringIO())
        assert "access_token" in login(user)


class TestRefusals:
    def claims(self, user) -> dict:
        from tokens.models import LoginSession

        session = LoginSession.objects.create(user=user, refresh_jti="x", expires_at="2999-01-01T00:00:00Z")
        return {"sub": str(user.pk), "realm": "user", "sid": session.pk, "token_type": "access", "jti": "j",
                "iat": 1, "exp": 4102444800}  # fmt: skip

    def test_forged_and_confused_tokens_are_401(self, api_client, user, login, settings):
        settings.ALGORITHM = "ES256"
        good = login(user)["access_token"]
        kid = jwt.get_unverified_header(good)["kid"]
        claims = self.claims(user)
        forged = [
            forge(claims, None, "none", {"kid": kid}),
            forge(claims, settings.SECRET_KEY, "HS256", {"kid": kid}),  # HS256 against an ES256 service
            forge(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid}),  # another key
            forge(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": "unknown"}),
            forge(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", {"kid": kid}),
            forge(claims, ec.generate_private_key(ec.SECP256R1()), "ES256"),  # no kid
            good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        ]
        for token in forged:
            assert_error(api_client.get("/users/me", **bearer(token)), 401, "INVALID_TOKEN")
        public = jwt.PyJWKSet.from_dict(jwks(api_client)).keys[0].key
        pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": kid}).encode()).rstrip(b"=")
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        signature = base64.urlsafe_b64encode(hmac.new(pem, header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
        confused = (header + b"." + body + b"." + signature).decode()  # HMAC keyed with the public key
        assert_error(api_client.get("/users/me", **bearer(confused)), 401, "INVALID_TOKEN")

    def test_tokens_are_low_s_and_the_high_s_twin_of_a_good_token_is_401(self, api_client, user, login, settings):
        """ECDSA signatures are malleable: (r, n - s) verifies too. Ours are always low-S, and the
        other form of a genuine token is refused, so one token has one spelling."""
        from tokens.jwt_tokens import P256_ORDER
        from tokens.sessions import open_session

        settings.ALGORITHM = "ES256"
        for _ in range(8):  # random signatures: about half would be high-S unless normalized
            good = open_session(user, None)["access_token"]
            head, _, signature = good.rpartition(".")
            raw = jwt.utils.base64url_decode(signature)
            r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            assert s <= P256_ORDER // 2
            twin_raw = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
            twin = f"{head}.{jwt.utils.base64url_encode(twin_raw).decode()}"
            public = jwt.PyJWKSet.from_dict(jwks(api_client)).keys[0].key
            jwt.decode(twin, public, algorithms=["ES256"], options={"verify_aud": False})  # the library takes it
            assert_error(api_client.get("/users/me", **bearer(twin)), 401, "INVALID_TOKEN")
            assert_ok(api_client.get("/users/me", **bearer(good)))

    @pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
    def test_issuer_and_audience_are_set_and_required(self, api_client, user, login, settings, algorithm):
        settings.ALGORITHM = algorithm
        settings.JWT_ISSUER, settings.JWT_AUDIENCE = "https://accounts.example.com", "orders-api"
        token = login(user)["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["iss"] == "https://accounts.example.com" and claims["aud"] == "orders-api"
        assert_ok(api_client.get("/users/me", **bearer(token)))
        settings.JWT_AUDIENCE = "another-api"
        assert_error(api_client.get("/users/me", **bearer(token)), 401, "INVALID_TOKEN")
        settings.JWT_AUDIENCE, settings.JWT_ISSUER = "orders-api", "https://elsewhere.example.com"
        assert_error(api_client.get("/users/me", **bearer(token)), 401, "INVALID_TOKEN")
        settings.JWT_ISSUER = settings.JWT_AUDIENCE = None
        without = login(user)["access_token"]
        settings.JWT_ISSUER, settings.JWT_AUDIENCE = "https://accounts.example.com", "orders-api"
        assert_error(api_client.get("/users/me", **bearer(without)), 401, "INVALID_TOKEN")


def test_users_me_with_es256_is_one_query_with_the_key_cached(api_client, user, login, settings):
    settings.ALGORITHM = "ES256"
    token = login(user)["access_token"]
    assert_ok(api_client.get("/users/me", **bearer(token)))  # the process has the keys now
    with CaptureQueriesContext(connection) as queries:
        assert_ok(api_client.get("/users/me", **bearer(token)))
    assert len(queries) == 1


class TestIntrospection:
    TOKENS = ["resource-server-secret-1", "resource-server-secret-2"]

    def introspect(self, client, token: str, caller: str = "resource-server-secret-2", **extra):
        return client.post("/auth/introspect", {"token": token, **extra}, **bearer(caller))

    def test_it_is_404_until_configured(self, api_client):
        assert_error(self.introspect(api_client, "x"), 404, "NOT_FOUND")

    def test_callers_need_a_configured_token(self, api_client, settings):
        settings.INTROSPECTION_TOKENS = self.TOKENS
        assert_error(self.introspect(api_client, "x", caller="wrong"), 401, "NOT_AUTHENTICATED")
        assert_error(api_client.post("/auth/introspect", {"token": "x"}), 401, "NOT_AUTHENTICATED")

    @pytest.mark.parametrize("algorithm", ["HS256", "EdDSA"])
    def test_a_live_access_token_is_active_with_its_facts(self, api_client, realm_case, settings, algorithm):
        settings.INTROSPECTION_TOKENS, settings.ALGORITHM = self.TOKENS, algorithm
        settings.JWT_ISSUER = "https://accounts.example.com"
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        response = self.introspect(api_client, pair["access_token"], token_type_hint="refresh_token")
        assert response.status_code == 200 and response["Cache-Control"] == "no-store"
        claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
        assert response.json() == {
            "active": True, "token_type": "access_token", "realm": realm_case.name, "sub": str(account.pk),
            "username": account.username, "exp": claims["exp"], "iat": claims["iat"], "abilities": ["read", "write"],
            "iss": "https://accounts.example.com",
        }  # fmt: skip
        assert self.introspect(api_client, pair["refresh_token"]).json() == {"active": False}
        api_client.post(realm_case.logout, **bearer(pair["access_token"]))
        assert self.introspect(api_client, pair["access_token"]).json() == {"active": False}

    def test_a_personal_access_token_is_active_until_revoked(self, api_client, user, settings):
        settings.INTROSPECTION_TOKENS = self.TOKENS
        token = PersonalAccessTokenFactory(owner=user, abilities=["read"])
        answer = api_client.post("/auth/introspect", {"token": token.secret}, format="json",
                                 **bearer(self.TOKENS[0])).json()  # fmt: skip
        assert answer["active"] is True and answer["token_type"] == "personal_access_token"
        assert answer["abilities"] == ["read"] and answer["sub"] == str(user.pk) and answer["realm"] == "user"
        user.is_active = False
        user.save()
        assert self.introspect(api_client, token.secret).json() == {"active": False}

    @pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "pat_unknown", "x" * 5000])
    def test_anything_else_is_exactly_inactive(self, api_client, settings, token):
        settings.INTROSPECTION_TOKENS = self.TOKENS
        response = self.introspect(api_client, token)
        assert response.status_code == 200 and response.json() == {"active": False}

    def test_a_live_access_token_is_one_query(self, api_client, user, login, settings):
        settings.INTROSPECTION_TOKENS = self.TOKENS
        token = login(user)["access_token"]
        with CaptureQueriesContext(connection) as queries:
            assert self.introspect(api_client, token).json()["active"] is True
        assert len(queries) == 1


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_two_servers_follow_a_rotation_and_a_retirement_and_resource_servers_use_the_jwk_set(settings):
    """Two gunicorn servers on one database; the command rotates, then retires, while both serve."""
    import time

    from common.tests.factories import PASSWORD, UserFactory
    from common.tests.utils import gunicorn, http

    settings.ALGORITHM = "ES256"
    env = {"ALGORITHM": "ES256", "SIGNING_KEYS_RELOAD_SECONDS": "2", "JWT_ISSUER": "https://accounts.example.com",
           "RATE_LIMIT_ATTEMPTS": "1000"}  # fmt: skip
    user = UserFactory()

    def login(url: str) -> str:
        body = json.dumps({"username": user.username, "password": PASSWORD}).encode()
        return http("POST", f"{url}/auth/login", body, {"Content-Type": "application/json"})[1]["data"]["access_token"]

    def status(url: str, token: str) -> int:
        return http("GET", f"{url}/users/me", headers={"Authorization": f"Bearer {token}"})[0]

    def eventually(check, seconds: float = 8) -> bool:
        deadline = time.monotonic() + seconds
        while not check() and time.monotonic() < deadline:
            time.sleep(0.25)
        return check()

    with gunicorn(**env) as first, gunicorn(**env) as second:
        old = login(first)
        old_kid = jwt.get_unverified_header(old)["kid"]
        assert status(second, old) == 200
        client = jwt.PyJWKClient(f"{second}/.well-known/jwks.json")
        claims = jwt.decode(old, client.get_signing_key_from_jwt(old).key, algorithms=["ES256"],
                            issuer="https://accounts.example.com")  # fmt: skip
        assert claims["sub"] == str(user.pk)

        call_command("signing_keys", "rotate", stdout=StringIO())
        new_kid = SigningKey.objects.usable("ES256").first().kid
        assert eventually(lambda: jwt.get_unverified_header(login(second))["kid"] == new_kid)
        assert eventually(lambda: jwt.get_unverified_header(login(first))["kid"] == new_kid)
        new = login(second)
        assert status(first, new) == 200 and status(first, old) == 200
        resource_server = jwt.PyJWKClient(f"{first}/.well-known/jwks.json")
        assert jwt.decode(new, resource_server.get_signing_key_from_jwt(new).key, algorithms=["ES256"],
                          options={"verify_iss": False})["sub"] == str(user.pk)  # fmt: skip

        call_command("signing_keys", "retire", "--", old_kid, stdout=StringIO())  # a kid may begin with -
        assert eventually(lambda: status(first, old) == 401 and status(second, old) == 401)
        assert status(first, new) == 200 and status(second, new) == 200
        keys = {k.key_id for k in jwt.PyJWKClient(f"{first}/.well-known/jwks.json").get_jwk_set().keys}
        assert keys == {new_kid}


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
def test_a_token_checked_before_is_still_refused_once_expired(api_client, user, login, settings, algorithm):
    import time_machine
    from django.utils import timezone

    settings.ALGORITHM = algorithm
    token = login(user)["access_token"]
    assert_ok(api_client.get("/users/me", **bearer(token)))  # its signature is now known to this process
    later = timezone.now() + timezone.timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES, seconds=5)
    with time_machine.travel(later):
        assert_error(api_client.get("/users/me", **bearer(token)), 401, "INVALID_TOKEN")


@pytest.mark.django_db
def test_retire_takes_a_kid_beginning_with_a_dash_as_list_prints_it(settings):
    """About one kid in 64 begins with "-": the operator types it as `list` printed it."""
    from django.core.management import call_command as run

    settings.ALGORITHM = "ES256"
    SigningKey.objects.create(kid="-dash-first-kid", algorithm="ES256", private_key="unused", public_jwk={})
    run("signing_keys", "retire", "-dash-first-kid", stdout=StringIO())
    assert SigningKey.objects.get(kid="-dash-first-kid").retired_at is not None
    SigningKey.objects.create(kid="--double-dash", algorithm="ES256", private_key="unused", public_jwk={})
    run("signing_keys", "retire", "--double-dash", stdout=StringIO())
    assert SigningKey.objects.get(kid="--double-dash").retired_at is not None
