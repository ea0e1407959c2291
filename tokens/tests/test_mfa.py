"""Multi-factor authentication with TOTP and recovery codes (docs/api.md §14), in both realms."""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import time_machine
from django.utils import timezone

from common.exceptions import InvalidCredentials
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer, run_concurrently
from tokens import login
from tokens.mfa import services as mfa
from tokens.models import LoginSession, RecoveryCode, TotpDevice


def enrol(client, case, access) -> tuple[pyotp.TOTP, list[str]]:
    """Turn MFA on through the API; returns the authenticator and the recovery codes."""
    started = assert_ok(client.post(f"{case.me}/mfa/totp", **bearer(access)))
    totp = pyotp.TOTP(started["secret"])
    codes = assert_ok(client.post(f"{case.me}/mfa/totp/confirm", {"code": totp.now()}, format="json", **bearer(access)))
    return totp, codes["recovery_codes"]


def next_code(totp: pyotp.TOTP) -> str:
    """A code of the next time step (accepted: one step of drift), unused so far."""
    return totp.at(time.time() + 30)


def password_step(client, case, account) -> dict:
    data = assert_ok(client.post(case.login, {"username": account.username, "password": PASSWORD}))
    return data


def verify(client, case, mfa_token, code):
    return client.post(f"{case.auth}/mfa/verify", {"mfa_token": mfa_token, "code": code}, format="json")


@pytest.fixture
def enrolled(api_client, realm_case):
    account = realm_case.make()
    access = realm_case.login_pair(api_client, account)["access_token"]
    totp, codes = enrol(api_client, realm_case, access)
    account.refresh_from_db()
    return account, access, totp, codes


class TestEnrolment:
    def test_start_gives_a_secret_an_otpauth_url_and_a_qr_code(self, api_client, realm_case, settings):
        account = realm_case.make(username="ada")
        access = realm_case.login_pair(api_client, account)["access_token"]
        response = api_client.post(f"{realm_case.me}/mfa/totp", **bearer(access))
        started = assert_ok(response)
        assert response["Cache-Control"] == "no-store"
        url = urlparse(started["otpauth_url"])
        assert url.scheme == "otpauth" and url.netloc == "totp" and url.path == f"/{settings.MFA_ISSUER}:ada"
        assert parse_qs(url.query)["secret"] == [started["secret"]] and parse_qs(url.query)["issuer"] == [
            settings.MFA_ISSUER
        ]
        assert started["qr_svg"].startswith("<svg") and started["qr_svg"].rstrip().endswith("</svg>")
        status = assert_ok(api_client.get(f"{realm_case.me}/mfa", **bearer(access)))
        assert status == {"totp_enabled": False, "recovery_codes_remaining": 0}

    def test_a_wrong_confirm_code_is_400_on_code(self, api_client, realm_case):
        access = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        assert_ok(api_client.post(f"{realm_case.me}/mfa/totp", **bearer(access)))
        response = api_client.post(
            f"{realm_case.me}/mfa/totp/confirm", {"code": "000000"}, format="json", **bearer(access)
        )
        assert "code" in assert_error(response, 400, "VALIDATION_ERROR")

    def test_confirm_turns_mfa_on_with_ten_recovery_codes_and_leaves_sessions_alone(self, api_client, realm_case):
        account = realm_case.make()
        other = realm_case.login_pair(api_client, account)["access_token"]
        access = realm_case.login_pair(api_client, account)["access_token"]
        _totp, codes = enrol(api_client, realm_case, access)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert not RecoveryCode.objects.filter(digest__in=codes).exists()  # stored only as digests
        assert assert_ok(api_client.get(realm_case.me, **bearer(other)))["mfa_enabled"] is True
        status = assert_ok(api_client.get(f"{realm_case.me}/mfa", **bearer(access)))
        assert status == {"totp_enabled": True, "recovery_codes_remaining": 10}
        assert_error(api_client.post(f"{realm_case.me}/mfa/totp", **bearer(access)), 409, "CONFLICT")
        assert "secret" not in str(assert_ok(api_client.get(f"{realm_case.me}/mfa", **bearer(access))))

    def test_the_secret_is_not_in_the_database(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        started = assert_ok(api_client.post(f"{realm_case.me}/mfa/totp", **bearer(access)))
        device = TotpDevice.objects.of_account(account).get()
        assert started["secret"] not in str(device.__dict__)

    def test_a_pat_cannot_touch_mfa(self, api_client, realm_case):
        from tokens.tests.factories import PersonalAccessTokenFactory

        token = PersonalAccessTokenFactory(owner=realm_case.make())
        assert_error(api_client.get(f"{realm_case.me}/mfa", **bearer(token.secret)), 403, "FORBIDDEN")
        assert_error(api_client.post(f"{realm_case.me}/mfa/totp", **bearer(token.secret)), 403, "FORBIDDEN")


class TestLogin:
    def test_the_password_step_answers_a_challenge_and_no_tokens(self, api_client, realm_case, enrolled):
        account, *_ = enrolled
        before = LoginSession.objects.count()
        type(account).objects.filter(pk=account.pk).update(failed_login_attempts=2, last_login_at=None)
        data = password_step(api_client, realm_case, account)
        assert set(data) == {"mfa_required", "mfa_token", "methods", "expires_in"}
        assert (
            data["mfa_required"] is True and data["methods"] == ["totp", "recovery_code"] and data["expires_in"] == 300
        )
        assert LoginSession.objects.count() == before
        account.refresh_from_db()
        assert account.failed_login_attempts == 2 and account.last_login_at is None  # not a login yet

    def test_a_totp_code_finishes_the_login_once(self, api_client, realm_case, enrolled):
        account, _, totp, _ = enrolled
        challenge = password_step(api_client, realm_case, account)
        response = verify(api_client, realm_case, challenge["mfa_token"], next_code(totp))
        pair = assert_ok(response)
        assert response["Cache-Control"] == "no-store"
        assert_ok(api_client.get(realm_case.me, **bearer(pair["access_token"])))
        account.refresh_from_db()
        assert account.last_login_at is not None and account.failed_login_attempts == 0
        again = verify(api_client, realm_case, challenge["mfa_token"], next_code(totp))
        assert_error(again, 401, "INVALID_TOKEN")

    def test_a_used_totp_code_is_refused(self, api_client, realm_case, enrolled):
        account, _, totp, _ = enrolled
        code = next_code(totp)
        assert_ok(verify(api_client, realm_case, password_step(api_client, realm_case, account)["mfa_token"], code))
        response = verify(api_client, realm_case, password_step(api_client, realm_case, account)["mfa_token"], code)
        assert_error(response, 401, "INVALID_CREDENTIALS")

    def test_the_confirm_code_counts_as_used(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        started = assert_ok(api_client.post(f"{realm_case.me}/mfa/totp", **bearer(access)))
        code = pyotp.TOTP(started["secret"]).now()
        assert_ok(api_client.post(f"{realm_case.me}/mfa/totp/confirm", {"code": code}, format="json", **bearer(access)))
        challenge = password_step(api_client, realm_case, account)
        assert_error(verify(api_client, realm_case, challenge["mfa_token"], code), 401, "INVALID_CREDENTIALS")

    def test_a_recovery_code_works_once(self, api_client, realm_case, enrolled):
        account, access, _, codes = enrolled
        challenge = password_step(api_client, realm_case, account)
        assert_ok(verify(api_client, realm_case, challenge["mfa_token"], codes[0].upper()))
        challenge = password_step(api_client, realm_case, account)
        assert_error(verify(api_client, realm_case, challenge["mfa_token"], codes[0]), 401, "INVALID_CREDENTIALS")
        assert assert_ok(api_client.get(f"{realm_case.me}/mfa", **bearer(access)))["recovery_codes_remaining"] == 9

    def test_wrong_codes_lock_the_account(self, api_client, realm_case, enrolled, settings):
        settings.RATE_LIMIT_ATTEMPTS = 100
        account, _, totp, _ = enrolled
        challenge = password_step(api_client, realm_case, account)
        for _ in range(settings.MAX_LOGIN_ATTEMPTS):
            response = verify(api_client, realm_case, challenge["mfa_token"], "000000")
        assert response.status_code in (401, 423)
        response = verify(api_client, realm_case, challenge["mfa_token"], next_code(totp))
        assert_error(response, 423, "ACCOUNT_LOCKED")
        assert int(response["Retry-After"]) > 0

    def test_verify_shares_the_login_rate_limit(self, api_client, realm_case, enrolled, settings):
        account, _, totp, _ = enrolled
        settings.RATE_LIMIT_ATTEMPTS = 2
        challenge = password_step(api_client, realm_case, account)  # 1
        assert_error(verify(api_client, realm_case, challenge["mfa_token"], "000000"), 401, "INVALID_CREDENTIALS")  # 2
        assert_error(verify(api_client, realm_case, challenge["mfa_token"], next_code(totp)), 429, "RATE_LIMITED")

    def test_expired_tampered_and_other_realm_tokens_are_401(self, api_client, realm_case, enrolled):
        account, _, totp, _ = enrolled
        token = password_step(api_client, realm_case, account)["mfa_token"]
        other = "/admin/auth" if realm_case.name == "user" else "/auth"
        response = api_client.post(f"{other}/mfa/verify", {"mfa_token": token, "code": next_code(totp)}, format="json")
        assert_error(response, 401, "INVALID_TOKEN")
        assert_error(verify(api_client, realm_case, token + "x", next_code(totp)), 401, "INVALID_TOKEN")
        with time_machine.travel(timezone.now() + timedelta(minutes=6)):
            assert_error(verify(api_client, realm_case, token, next_code(totp)), 401, "INVALID_TOKEN")
        assert_ok(verify(api_client, realm_case, token, next_code(totp)))


class TestManagement:
    def test_disable_needs_the_password_and_leaves_sessions_alone(self, api_client, realm_case, enrolled):
        account, access, _, _ = enrolled
        url = f"{realm_case.me}/mfa/totp"
        wrong = api_client.delete(url, {"current_password": "nope"}, format="json", **bearer(access))
        assert "current_password" in assert_error(wrong, 400, "VALIDATION_ERROR")
        assert_ok(api_client.delete(url, {"current_password": PASSWORD}, format="json", **bearer(access)))
        status = assert_ok(api_client.get(f"{realm_case.me}/mfa", **bearer(access)))
        assert status == {"totp_enabled": False, "recovery_codes_remaining": 0}
        assert not RecoveryCode.objects.of_account(account).exists()
        assert "access_token" in password_step(api_client, realm_case, account)

    def test_regenerating_codes_needs_the_password_and_kills_the_old_ones(self, api_client, realm_case, enrolled):
        account, access, _, codes = enrolled
        url = f"{realm_case.me}/mfa/recovery-codes"
        assert_error(
            api_client.post(url, {"current_password": "nope"}, format="json", **bearer(access)), 400, "VALIDATION_ERROR"
        )
        new = assert_ok(api_client.post(url, {"current_password": PASSWORD}, format="json", **bearer(access)))[
            "recovery_codes"
        ]
        assert len(new) == 10 and not set(new) & set(codes)
        challenge = password_step(api_client, realm_case, account)
        assert_error(verify(api_client, realm_case, challenge["mfa_token"], codes[1]), 401, "INVALID_CREDENTIALS")
        assert_ok(verify(api_client, realm_case, challenge["mfa_token"], new[1]))

    def test_wrong_current_passwords_here_lock_the_account_too(self, api_client, realm_case, enrolled, settings):
        _account, access, _, _ = enrolled
        url = f"{realm_case.me}/mfa/recovery-codes"
        for _ in range(settings.MAX_LOGIN_ATTEMPTS):
            api_client.post(url, {"current_password": "nope"}, format="json", **bearer(access))
        response = api_client.post(url, {"current_password": PASSWORD}, format="json", **bearer(access))
        assert_error(response, 423, "ACCOUNT_LOCKED")

    def test_an_admin_turns_off_a_users_mfa_and_ends_its_sessions(self, api_client, admin_token, user_case):
        user = UserFactory()
        access = user_case.login_pair(api_client, user)["access_token"]
        enrol(api_client, user_case, access)
        data = assert_ok(api_client.delete(f"/admin/users/{user.pk}/mfa", **bearer(admin_token)))
        assert data["mfa_enabled"] is False
        assert_error(api_client.get("/users/me", **bearer(access)), 401, "INVALID_TOKEN")
        assert "access_token" in password_step(api_client, user_case, user)


class TestAdminMfaRequired:
    def test_an_admin_without_mfa_may_only_get_in_and_enrol(self, api_client, settings, admin_case):
        settings.ADMIN_MFA_REQUIRED = True
        case = admin_case
        admin = AdminFactory()
        pair = case.login_pair(api_client, admin)
        access = pair["access_token"]
        assert_error(api_client.get("/admin/users", **bearer(access)), 403, "MFA_REQUIRED")
        assert_error(api_client.patch("/admin/me", {"name": "X"}, format="json", **bearer(access)), 403, "MFA_REQUIRED")
        assert_error(api_client.get("/admin/me/tokens", **bearer(access)), 403, "MFA_REQUIRED")
        assert_ok(api_client.get("/admin/me", **bearer(access)))
        assert_ok(api_client.get("/admin/me/mfa", **bearer(access)))
        new = assert_ok(case.use_refresh(api_client, pair["refresh_token"]))
        _totp, _ = enrol(api_client, case, new["access_token"])
        assert_ok(api_client.get("/admin/users", **bearer(new["access_token"])))
        assert_ok(api_client.post("/admin/auth/logout", **bearer(new["access_token"])))

    def test_head_is_judged_as_get(self, api_client, settings, admin_case):
        settings.ADMIN_MFA_REQUIRED = True
        access = admin_case.login_pair(api_client, AdminFactory())["access_token"]
        assert api_client.get("/admin/me", **bearer(access)).status_code == 200
        assert api_client.head("/admin/me", **bearer(access)).status_code == 200
        assert api_client.head("/admin/users", **bearer(access)).status_code == 403

    def test_users_are_not_affected(self, api_client, user_token, settings):
        settings.ADMIN_MFA_REQUIRED = True
        assert_ok(api_client.patch("/users/me", {"name": "Free"}, format="json", **bearer(user_token)))


@pytest.mark.django_db(transaction=True)
def test_the_same_code_verified_eight_times_at_once_succeeds_once(postgres_only):
    account = UserFactory()
    device = TotpDevice.objects.create(user=account, seed="race-seed", confirmed_at=timezone.now())
    type(account).objects.filter(pk=account.pk).update(mfa_enabled=True)
    code = mfa._totp(device).now()
    results = run_concurrently(lambda _: mfa.use_code(account, code), 8)
    assert results.count(True) == 1


def test_second_factor_helper_counts_failures(db):
    account = UserFactory(mfa_enabled=True)
    TotpDevice.objects.create(user=account, seed="s", confirmed_at=timezone.now())
    with pytest.raises(InvalidCredentials):
        login.check_second_factor(account, "123456")
    account.refresh_from_db()
    assert account.failed_login_attempts == 1
