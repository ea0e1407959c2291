"""What a credential may reach and how odd ones are answered (docs/api.md §13, §16): lockout on a
wrong current password, PATs kept off credential endpoints, no-store answers, malformed tokens,
clients behind IPv4-mapped addresses, sessions ending on any new password."""

import jwt as pyjwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.models import LoginSession
from tokens.tests.factories import PersonalAccessTokenFactory


class TestWrongCurrentPasswordCountsAsAFailedLogin:
    def test_it_locks_the_account_and_then_answers_423(self, api_client, realm_case, settings):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        wrong = {"current_password": "not-my-password", "new_password": "a-brand-new-passphrase"}
        for _ in range(settings.MAX_LOGIN_ATTEMPTS):
            details = assert_error(
                api_client.post(realm_case.password, wrong, format="json", **bearer(access)), 400, "VALIDATION_ERROR"
            )
            assert "current_password" in details
        account.refresh_from_db()
        assert account.failed_login_attempts == settings.MAX_LOGIN_ATTEMPTS and account.is_locked
        right = {"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}
        response = api_client.post(realm_case.password, right, format="json", **bearer(access))
        assert_error(response, 423, "ACCOUNT_LOCKED")
        assert int(response["Retry-After"]) > 0
        account.refresh_from_db()
        assert account.check_password(PASSWORD)


class TestPersonalAccessTokenReach:
    def test_a_pat_cannot_delete_its_account(self, api_client, user):
        token = PersonalAccessTokenFactory(owner=user)
        assert_error(api_client.delete("/users/me", **bearer(token.secret)), 403, "FORBIDDEN")
        user.refresh_from_db()
        assert not user.is_deleted

    def test_an_admin_pat_cannot_create_admins(self, api_client, admin):
        token = PersonalAccessTokenFactory(owner=admin)
        body = {"username": "newadmin", "name": "N", "email": "n@example.com", "password": "a-long-passphrase"}
        response = api_client.post("/admin/auth/register", body, format="json", **bearer(token.secret))
        assert_error(response, 403, "FORBIDDEN")
        assert not type(admin).objects.filter(username="newadmin").exists()

    @pytest.mark.parametrize("path", ["/auth/logout-all", "/users/me/sessions", "/users/me/tokens"])
    def test_a_pat_is_refused_on_credential_endpoints(self, api_client, user, path):
        token = PersonalAccessTokenFactory(owner=user)
        method = api_client.post if path.endswith("logout-all") else api_client.get
        assert_error(method(path, **bearer(token.secret)), 403, "FORBIDDEN")


class TestTokenResponsesAreNotCached:
    def test_login_refresh_password_and_pat_creation_say_no_store(self, api_client, realm_case):
        account = realm_case.make()
        response = api_client.post(realm_case.login, {"username": account.username, "password": PASSWORD})
        assert response["Cache-Control"] == "no-store"
        pair = response.json()["data"]
        response = realm_case.use_refresh(api_client, pair["refresh_token"])
        assert response["Cache-Control"] == "no-store"
        access = response.json()["data"]["access_token"]
        response = api_client.post(
            realm_case.password,
            {"current_password": PASSWORD, "new_password": "another-long-passphrase"},
            format="json",
            **bearer(access),
        )
        assert response["Cache-Control"] == "no-store"
        access = response.json()["data"]["access_token"]
        response = api_client.post(realm_case.tokens, {"name": "ci"}, format="json", **bearer(access))
        assert response.status_code == 201 and response["Cache-Control"] == "no-store"
        assert "no-store" not in api_client.get(realm_case.me, **bearer(access)).get("Cache-Control", "")


@pytest.mark.parametrize("sub", ["٣", "99999999999999999999999", "-1", "0", " 1", "1.0"])
def test_a_signed_token_with_a_bad_sub_is_invalid_not_500(api_client, user, login, sub):
    claims = pyjwt.decode(login(user)["access_token"], settings.SECRET_KEY, algorithms=["HS256"])
    claims["sub"] = sub
    forged = pyjwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    assert_error(api_client.get("/users/me", **bearer(forged)), 401, "INVALID_TOKEN")


def test_a_huge_session_id_claim_is_invalid_not_500(api_client, user, login):
    claims = pyjwt.decode(login(user)["access_token"], settings.SECRET_KEY, algorithms=["HS256"])
    claims["sid"] = 2**70
    forged = pyjwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    assert_error(api_client.get("/users/me", **bearer(forged)), 401, "INVALID_TOKEN")


def test_deeply_nested_json_is_400_not_500(api_client, db):
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.post("/auth/refresh", body, content_type="application/json")
    assert_error(response, 400, "VALIDATION_ERROR")


def test_ipv4_mapped_ipv6_clients_are_told_apart_by_their_ipv4(api_client, db, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    body = {"username": "nobody", "password": "x"}
    for _ in range(2):
        assert_error(api_client.post("/auth/login", body, REMOTE_ADDR="::ffff:203.0.113.7"), 401, "INVALID_CREDENTIALS")
    assert_error(api_client.post("/auth/login", body, REMOTE_ADDR="203.0.113.7"), 429, "RATE_LIMITED")
    assert_error(api_client.post("/auth/login", body, REMOTE_ADDR="::ffff:203.0.113.8"), 401, "INVALID_CREDENTIALS")


def test_the_session_records_the_mapped_ipv4_address(api_client, user):
    api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="::ffff:198.51.100.4")
    assert LoginSession.objects.get(user=user).ip_address == "198.51.100.4"


def test_a_password_set_by_the_model_anywhere_ends_the_sessions(api_client, db, login):
    """The rule lives in the model's save: services, forms and commands cannot forget it."""
    for account in (UserFactory(), AdminFactory()):
        pair = login(account)
        account.set_password("set-somewhere-else-entirely")
        account.save()
        assert LoginSession.objects.of_account(account).filter(revoked_at__isnull=True).count() == 0
        path = "/users/me" if account._meta.model_name == "user" else "/admin/me"
        assert_error(api_client.get(path, **bearer(pair["access_token"])), 401, "INVALID_TOKEN")


def test_createadmin_never_touches_an_existing_admin(db, login):
    admin = AdminFactory(username="root")
    pair = login(admin)
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "createadmin", "--username", "root", "--email", "r2@example.com", "--name", "R", "--password",
            "another-long-passphrase", "--no-input",
        )  # fmt: skip
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)
    assert LoginSession.objects.of_account(admin).filter(revoked_at__isnull=True).count() == 1
    assert_ok(APIClient().get("/admin/me", **bearer(pair["access_token"])))
