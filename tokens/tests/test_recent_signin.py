"""Recent sign-in (docs/api.md §27): a stolen access token cannot plant a second factor, mint a
PAT or remove a way in once its session is older than REAUTH_MAX_AGE_SECONDS; reauthenticating
renews the same session; and the owner is told of every change to the ways in (§11)."""

import time

import jwt
import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver

from common.models import OutboxEmail
from common.permissions import RecentSignIn
from common.tests.factories import PASSWORD
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.models import LoginSession
from tokens.tests.test_mfa import enrol

LATER = 901  # one second past the default REAUTH_MAX_AGE_SECONDS


def claims(access: str) -> dict:
    return jwt.decode(access, options={"verify_signature": False})


def sensitive(case) -> list[tuple[str, str, dict]]:
    """The operations of §27 that need a recent sign-in, for this realm."""
    return [
        ("post", case.tokens, {"name": "ci"}),
        ("post", f"{case.me}/passkeys/options", {}),
        ("post", f"{case.me}/passkeys", {"credential": {}}),
        ("delete", f"{case.me}/passkeys/1", {}),
        ("post", f"{case.me}/mfa/totp", {}),
        ("post", f"{case.me}/mfa/totp/confirm", {"code": "123456"}),
        ("delete", f"{case.me}/mfa/totp", {"current_password": PASSWORD}),
        ("post", f"{case.me}/mfa/recovery-codes", {"current_password": PASSWORD}),
        ("post", f"{case.me}/identities/test", {"redirect_uri": "http://localhost:3000/done"}),
        ("post", f"{case.me}/identities/link", {"code": "x"}),
        ("delete", f"{case.me}/identities/1", {}),
        ("delete", case.me, {}),
    ]


class TestClaims:
    def test_access_tokens_say_when_and_how_the_session_was_proven(self, api_client, realm_case):
        account = realm_case.make()
        before = int(time.time())
        pair = realm_case.login_pair(api_client, account)
        first = claims(pair["access_token"])
        assert before - 1 <= first["auth_time"] <= time.time() and first["amr"] == ["pwd"]
        with time_machine.travel(time.time() + 120):
            renewed = assert_ok(realm_case.use_refresh(api_client, pair["refresh_token"]))
        again = claims(renewed["access_token"])
        assert (again["auth_time"], again["amr"]) == (first["auth_time"], ["pwd"])  # refreshing keeps them

    def test_a_second_factor_shows_in_amr(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        totp, _ = enrol(api_client, realm_case, access)
        challenge = assert_ok(api_client.post(realm_case.login, {"username": account.username, "password": PASSWORD}))
        body = {"mfa_token": challenge["mfa_token"], "code": totp.at(time.time() + 30)}
        pair = assert_ok(api_client.post(f"{realm_case.auth}/mfa/verify", body, format="json"))
        assert claims(pair["access_token"])["amr"] == ["pwd", "otp", "mfa"]


class TestStepUp:
    @pytest.mark.parametrize("index", range(12))
    def test_each_sensitive_operation_needs_a_recent_sign_in(self, api_client, realm_case, index):
        method, path, body = sensitive(realm_case)[index]
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        with time_machine.travel(time.time() + LATER):
            response = getattr(api_client, method)(path, body, format="json", **bearer(access))
        assert_error(response, 401, "REAUTHENTICATION_REQUIRED")
        assert response["WWW-Authenticate"] == 'Bearer error="insufficient_user_authentication", max_age=900'
        account.refresh_from_db()
        assert account.deleted_at is None and not account.mfa_enabled

    def test_reauthenticating_renews_the_same_session(self, api_client, realm_case, settings):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        session_id = claims(pair["access_token"])["sid"]
        with time_machine.travel(time.time() + LATER):
            path = f"{realm_case.auth}/reauthenticate"
            assert_error(
                api_client.post(path, {"password": "wrong"}, format="json", **bearer(pair["access_token"])),
                401, "INVALID_CREDENTIALS",
            )  # fmt: skip
            account.refresh_from_db()
            assert account.failed_login_attempts == 1  # counts toward lockout
            renewed = assert_ok(
                api_client.post(path, {"password": PASSWORD}, format="json", **bearer(pair["access_token"]))
            )
            assert claims(renewed["access_token"])["sid"] == session_id
            assert claims(renewed["access_token"])["auth_time"] >= int(time.time()) - 1
            assert LoginSession.objects.filter(**{realm_case.name: account}).count() == 1
            fresh = bearer(renewed["access_token"])
            assert_ok(api_client.post(realm_case.tokens, {"name": "ci"}, format="json", **fresh), 201)
            assert_ok(realm_case.use_refresh(api_client, renewed["refresh_token"]))

    def test_a_totp_or_recovery_code_reauthenticates_too(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        totp, codes = enrol(api_client, realm_case, access)
        path = f"{realm_case.auth}/reauthenticate"
        with time_machine.travel(time.time() + LATER):
            assert_error(api_client.post(path, {"code": "000000"}, format="json", **bearer(access)), 401,
                         "INVALID_CREDENTIALS")  # fmt: skip
            by_app = assert_ok(api_client.post(path, {"code": totp.now()}, format="json", **bearer(access)))
            assert claims(by_app["access_token"])["amr"] == ["otp", "pwd"]
            renewed = assert_ok(api_client.post(path, {"code": codes[0]}, format="json", **bearer(access)))
            assert claims(renewed["access_token"])["amr"] == ["otp", "pwd"]

    def test_reauthenticate_wants_exactly_one_proof_and_a_login_session(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        path = f"{realm_case.auth}/reauthenticate"
        assert_error(api_client.post(path, {}, format="json", **bearer(access)), 400, "VALIDATION_ERROR")
        both = {"password": PASSWORD, "code": "123456"}
        assert_error(api_client.post(path, both, format="json", **bearer(access)), 400, "VALIDATION_ERROR")
        pat = assert_ok(api_client.post(realm_case.tokens, {"name": "ci"}, format="json", **bearer(access)), 201)
        assert_error(api_client.post(path, {"password": PASSWORD}, format="json", **bearer(pat["token"])), 403,
                     "FORBIDDEN")  # fmt: skip
        assert_error(api_client.post(path, {"password": PASSWORD}, format="json"), 401, "NOT_AUTHENTICATED")

    def test_the_max_age_is_configurable(self, api_client, user_case, settings):
        settings.REAUTH_MAX_AGE_SECONDS = 60
        access = user_case.login_pair(api_client, user_case.make())["access_token"]
        with time_machine.travel(time.time() + 61):
            response = api_client.post(user_case.tokens, {"name": "ci"}, format="json", **bearer(access))
        assert_error(response, 401, "REAUTHENTICATION_REQUIRED")
        assert response["WWW-Authenticate"].endswith("max_age=60")


def test_the_views_that_need_a_recent_sign_in_declare_it():
    """Walks the URL tree and lists the views that declare RecentSignIn: the list of §27 lives
    in the views, and this is it."""
    found = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "view_class", None)
                initkwargs = getattr(pattern.callback, "view_initkwargs", {})
                classes = initkwargs.get("permission_classes") or getattr(view, "permission_classes", [])
                if any(isinstance(c, type) and issubclass(c, RecentSignIn) for c in classes):
                    found.add(view.__name__)

    walk(get_resolver().url_patterns)
    assert found == {
        "TokenListApi", "MfaTotpApi", "MfaConfirmApi", "RecoveryCodesApi", "PasskeyOptionsApi", "PasskeyListApi",
        "PasskeyDetailApi", "IdentityLinkApi", "IdentityRedeemApi", "IdentityDetailApi", "MeApi", "ExportApi",
    }  # fmt: skip


class TestNotices:
    def notices(self, account) -> list[str]:
        return list(OutboxEmail.objects.filter(to=account.email, subject__contains="security notice")
                    .order_by("id").values_list("body_text", flat=True))  # fmt: skip

    def test_turning_mfa_on_new_codes_and_off_each_send_a_notice(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        enrol(api_client, realm_case, access)
        body = {"current_password": PASSWORD}
        assert_ok(api_client.post(f"{realm_case.me}/mfa/recovery-codes", body, format="json", **bearer(access)))
        assert_ok(api_client.delete(f"{realm_case.me}/mfa/totp", body, format="json", **bearer(access)))
        sent = self.notices(account)
        assert len(sent) == 3
        assert "An authenticator app and recovery codes were added" in sent[0]
        assert "New recovery codes were made" in sent[1]
        assert "Two-step sign-in was turned off" in sent[2]
