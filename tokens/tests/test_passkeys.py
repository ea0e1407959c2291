"""Passkeys (docs/api.md §21) with a software authenticator: registration, passwordless login,
and every refusal, in both realms."""

import json

import pytest

from common.models import AuditEvent
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.models import LoginSession, Passkey
from tokens.tests.authenticator import UP, Authenticator, RsaAuthenticator, b64url

pytestmark = pytest.mark.django_db


def enrol(client, case, access: str, authenticator: Authenticator, name: str = "Laptop") -> dict:
    options = assert_ok(client.post(f"{case.me}/passkeys/options", **bearer(access)))
    body = {"name": name, "credential": authenticator.create(options)}
    return assert_ok(client.post(f"{case.me}/passkeys", body, format="json", **bearer(access)), 201)


def sign_in(client, case, authenticator: Authenticator, **options):
    challenge = assert_ok(client.post(f"{case.auth}/passkey/options"))
    return client.post(f"{case.auth}/passkey/login", {"credential": authenticator.get(challenge, **options)},
                       format="json")  # fmt: skip


class TestRegistration:
    def test_creation_options_follow_the_contract(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(access)))["publicKey"]
        assert options["rp"]["id"] == "testserver" and options["user"]["name"] == account.username
        assert options["user"]["id"] != b64url(str(account.pk).encode())  # an opaque handle
        assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
        selection = options["authenticatorSelection"]
        assert selection["residentKey"] == "required" and selection["userVerification"] == "required"
        assert options["attestation"] == "none" and options["excludeCredentials"] == []

    def test_register_list_rename_and_remove(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        created = enrol(api_client, realm_case, access, Authenticator())
        assert set(created) == {"id", "name", "created_at", "last_used_at", "backed_up"} and created["name"] == "Laptop"
        assert [p["id"] for p in assert_ok(api_client.get(f"{realm_case.me}/passkeys", **bearer(access)))] == [
            created["id"]
        ]
        renamed = assert_ok(api_client.patch(f"{realm_case.me}/passkeys/{created['id']}", {"name": "Phone"},
                                             format="json", **bearer(access)))  # fmt: skip
        assert renamed["name"] == "Phone"
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(access)))["publicKey"]
        assert len(options["excludeCredentials"]) == 1
        assert_ok(api_client.delete(f"{realm_case.me}/passkeys/{created['id']}", **bearer(access)))
        events = set(AuditEvent.objects.values_list("event", flat=True))
        assert {"passkey.added", "passkey.removed"} <= events

    def test_a_personal_access_token_cannot_register(self, api_client, realm_case):
        from tokens.tests.factories import PersonalAccessTokenFactory

        token = PersonalAccessTokenFactory(owner=realm_case.make())
        response = api_client.post(f"{realm_case.me}/passkeys/options", **bearer(token.secret))
        assert_error(response, 403, "FORBIDDEN")

    @pytest.mark.parametrize(
        "spoil",
        [
            lambda a, o: a.create(o, origin="https://evil.example.com"),
            lambda a, o: a.create(o, flags=UP | 0x40),  # not user-verified
            lambda a, o: Authenticator(rp_id="evil.example.com").create(o),
            lambda a, o: {**a.create(o), "response": {"clientDataJSON": "!!", "attestationObject": "x"}},
            lambda a, o: "not json",
            lambda a, o: {"id": "x" * 20000},
        ],
    )
    def test_a_bad_attestation_is_400_and_stores_nothing(self, api_client, realm_case, spoil):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(access)))
        body = {"credential": spoil(Authenticator(), options)}
        response = api_client.post(f"{realm_case.me}/passkeys", body, format="json", **bearer(access))
        assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["credential"]
        assert not Passkey.objects.exists()

    def test_an_unsupported_algorithm_is_400(self, api_client, realm_case):
        import cbor2

        access = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(access)))
        authenticator = Authenticator()
        key = cbor2.loads(authenticator.cose_key())
        authenticator.cose_key = lambda: cbor2.dumps({**key, 3: -36})  # ES512: not offered
        body = {"credential": authenticator.create(options)}
        response = api_client.post(f"{realm_case.me}/passkeys", body, format="json", **bearer(access))
        assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["credential"]
        assert not Passkey.objects.exists()

    def test_a_challenge_works_once_and_only_for_the_account_that_asked(self, api_client, realm_case):
        first, second = realm_case.make(), realm_case.make()
        access = realm_case.login_pair(api_client, first)["access_token"]
        other = realm_case.login_pair(api_client, second)["access_token"]
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(access)))
        authenticator = Authenticator()
        credential = authenticator.create(options)
        stolen = api_client.post(
            f"{realm_case.me}/passkeys", {"credential": credential}, format="json", **bearer(other)
        )
        assert_error(stolen, 400, "VALIDATION_ERROR")  # the challenge is spent, and was not the other's
        again = api_client.post(f"{realm_case.me}/passkeys", {"credential": credential}, format="json",
                                **bearer(access))  # fmt: skip
        assert_error(again, 400, "VALIDATION_ERROR")

    def test_a_credential_of_another_account_is_409(self, api_client, realm_case):
        authenticator = Authenticator()
        first = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        enrol(api_client, realm_case, first, authenticator)
        second = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(second)))
        body = {"credential": authenticator.create(options)}
        assert_error(api_client.post(f"{realm_case.me}/passkeys", body, format="json", **bearer(second)), 409,
                     "CONFLICT")  # fmt: skip


class TestKeys:
    def test_an_rsa_passkey_of_a_usual_size_registers_and_signs_in(self, api_client, realm_case):
        access = _session_for(api_client, realm_case, realm_case.make())
        authenticator = RsaAuthenticator()
        enrol(api_client, realm_case, access, authenticator)
        assert_ok(sign_in(api_client, realm_case, authenticator))

    @pytest.mark.parametrize("bits", [64_000, 8192, 1024])
    def test_an_rsa_key_too_large_or_too_weak_is_refused(self, api_client, realm_case, bits):
        access = _session_for(api_client, realm_case, realm_case.make())
        options = assert_ok(api_client.post(f"{realm_case.me}/passkeys/options", **bearer(access)))
        body = {"name": "Huge", "credential": RsaAuthenticator(modulus_bits=bits).create(options)}
        response = api_client.post(f"{realm_case.me}/passkeys", body, format="json", **bearer(access))
        assert assert_error(response, 400, "VALIDATION_ERROR") == {
            "credential": ["This passkey response is not valid."]
        }
        assert not Passkey.objects.exists()

    def test_a_forged_assertion_is_refused_before_its_counter_is_judged(self, api_client, realm_case, settings):
        """Another key with the victim's credential id and counter 0: refused as invalid, and not
        recorded as a clone of the victim's passkey (nor sent to webhooks)."""
        account = realm_case.make()
        access = _session_for(api_client, realm_case, account)
        authenticator = Authenticator()
        enrol(api_client, realm_case, access, authenticator)
        assert_ok(sign_in(api_client, realm_case, authenticator))
        forger = Authenticator(credential_id=authenticator.credential_id, user_handle=authenticator.user_handle)
        assert_error(sign_in(api_client, realm_case, forger, count_up=False), 401, "INVALID_CREDENTIALS")
        assert not AuditEvent.objects.filter(event="passkey.clone_suspected").exists()
        assert Passkey.objects.get().sign_count == 1


class TestLogin:
    def test_a_passkey_signs_in_without_a_password_or_a_second_factor(self, api_client, realm_case):
        from tokens.sessions import open_session

        account = realm_case.make(mfa_enabled=True)  # a passkey needs no TOTP code
        access = open_session(account, None)["access_token"]
        authenticator = Authenticator()
        enrol(api_client, realm_case, access, authenticator)
        pair = assert_ok(sign_in(api_client, realm_case, authenticator))
        assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
        me = assert_ok(api_client.get(realm_case.me, **bearer(pair["access_token"])))
        assert me["id"] == account.pk
        event = AuditEvent.objects.filter(event="login.succeeded", account_id=account.pk).latest("id")
        assert event.details["method"] == "passkey"
        sessions = assert_ok(api_client.get(realm_case.sessions, **bearer(pair["access_token"])))["items"]
        assert sessions[0]["method"] == "passkey" and sessions[0]["current"] is True
        passkey = Passkey.objects.get()
        assert passkey.sign_count == 1 and passkey.last_used_at is not None

    def test_refusals_are_401_and_a_counter_that_does_not_increase_is_recorded(self, api_client, realm_case, settings):
        settings.RATE_LIMIT_ATTEMPTS = 100
        account = realm_case.make()
        access = _session_for(api_client, realm_case, account)
        authenticator = Authenticator()
        enrol(api_client, realm_case, access, authenticator)
        assert_ok(sign_in(api_client, realm_case, authenticator))
        for spoil in ({"origin": "https://evil.example.com"}, {"flags": UP}):
            assert_error(sign_in(api_client, realm_case, authenticator, **spoil), 401, "INVALID_CREDENTIALS")
        authenticator.sign_count = 0  # a clone replaying an older counter
        assert_error(sign_in(api_client, realm_case, authenticator), 401, "INVALID_CREDENTIALS")
        assert AuditEvent.objects.filter(event="passkey.clone_suspected", account_id=account.pk).exists()
        stranger = Authenticator()
        assert_error(sign_in(api_client, realm_case, stranger), 401, "INVALID_CREDENTIALS")
        other_realm = "/admin/auth" if realm_case.name == "user" else "/auth"
        challenge = assert_ok(api_client.post(f"{other_realm}/passkey/options"))
        authenticator.sign_count = 100
        response = api_client.post(f"{other_realm}/passkey/login", {"credential": authenticator.get(challenge)},
                                   format="json")  # fmt: skip
        assert_error(response, 401, "INVALID_CREDENTIALS")

    def test_a_forged_signature_is_refused(self, api_client, realm_case):
        account = realm_case.make()
        authenticator = Authenticator()
        enrol(api_client, realm_case, _session_for(api_client, realm_case, account), authenticator)
        challenge = assert_ok(api_client.post(f"{realm_case.auth}/passkey/options"))
        answer = authenticator.get(challenge)
        impostor = Authenticator(credential_id=authenticator.credential_id, sign_count=5)
        impostor.user_handle = authenticator.user_handle
        answer["response"]["signature"] = impostor.get(challenge)["response"]["signature"]
        response = api_client.post(f"{realm_case.auth}/passkey/login", {"credential": answer}, format="json")
        assert_error(response, 401, "INVALID_CREDENTIALS")

    def test_blocked_and_locked_accounts_are_refused(self, api_client, realm_case):
        from django.utils import timezone

        account = realm_case.make()
        authenticator = Authenticator()
        enrol(api_client, realm_case, _session_for(api_client, realm_case, account), authenticator)
        type(account).objects.filter(pk=account.pk).update(locked_until=timezone.now() + timezone.timedelta(minutes=5))
        assert_error(sign_in(api_client, realm_case, authenticator), 423, "ACCOUNT_LOCKED")
        type(account).objects.filter(pk=account.pk).update(locked_until=None, is_active=False)
        assert_error(sign_in(api_client, realm_case, authenticator), 403, "ACCOUNT_INACTIVE")

    def test_garbage_is_401_or_400_never_500(self, api_client, realm_case):
        assert_error(api_client.post(f"{realm_case.auth}/passkey/login", {}, format="json"), 400, "VALIDATION_ERROR")
        for credential in ({"id": "x"}, "{}", {"response": {"clientDataJSON": "%%%"}}, json.dumps({"rawId": 5})):
            response = api_client.post(f"{realm_case.auth}/passkey/login", {"credential": credential}, format="json")
            assert_error(response, 401, "INVALID_CREDENTIALS")

    def test_passkey_attempts_share_the_login_rate_limit(self, api_client, realm_case, settings):
        settings.RATE_LIMIT_ATTEMPTS = 2
        for _ in range(2):
            api_client.post(f"{realm_case.auth}/passkey/login", {"credential": {}}, format="json")
        response = api_client.post(realm_case.login, {"username": "x", "password": "y"}, format="json")
        assert_error(response, 429, "RATE_LIMITED")


def test_the_last_way_in_cannot_be_removed(api_client, user_case):
    account = user_case.make()
    access = _session_for(api_client, user_case, account)
    created = enrol(api_client, user_case, access, Authenticator())
    account.set_unusable_password()
    type(account).objects.filter(pk=account.pk).update(password=account.password)
    response = api_client.delete(f"{user_case.me}/passkeys/{created['id']}", **bearer(access))
    assert_error(response, 409, "CONFLICT")
    assert Passkey.objects.count() == 1


def test_an_admin_session_begun_with_a_passkey_satisfies_admin_mfa_required(api_client, admin_case, settings):
    admin = admin_case.make()
    authenticator = Authenticator()
    settings.ADMIN_MFA_REQUIRED = True
    access = admin_case.login_pair(api_client, admin)["access_token"]
    assert_error(api_client.get("/admin/users", **bearer(access)), 403, "MFA_REQUIRED")
    enrol(api_client, admin_case, access, authenticator)  # reachable without MFA, to enrol one
    pair = assert_ok(sign_in(api_client, admin_case, authenticator))
    assert_ok(api_client.get("/admin/users", **bearer(pair["access_token"])))
    assert LoginSession.objects.filter(method="passkey").count() == 1


def _session_for(client, case, account) -> str:
    return case.login_pair(client, account)["access_token"]


def test_without_webauthn_origins_the_host_headers_port_is_not_trusted(settings, rf):
    """`Host: testserver:31337` does not make http://testserver:31337 an
    accepted passkey origin; the port is the one the server listens on (as for mail links)."""
    from tokens.passkeys.services import origins

    settings.WEBAUTHN_ORIGINS, settings.FRONTEND_URL = [], ""
    request = rf.get("/", HTTP_HOST="testserver:31337", SERVER_PORT="8000")
    assert origins(request) == ["http://testserver:8000"]
