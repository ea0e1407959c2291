"""Authentication across both realms: JWT sessions, rotation, revocation, personal access tokens."""

import base64
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer, run_concurrently
from tokens.models import LoginSession, PersonalAccessToken
from tokens.tests.factories import PersonalAccessTokenFactory


def me(client, case, token):
    return client.get(case.me, **bearer(token))


class TestLogin:
    def test_login_returns_a_token_pair(self, api_client, realm_case):
        account = realm_case.make()
        response = api_client.post(
            realm_case.login, {"username": account.username, "password": PASSWORD}, format="json"
        )
        pair = assert_ok(response)
        assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
        assert pair["token_type"] == "bearer"
        assert pair["expires_in"] == 3600
        assert pair["refresh_expires_in"] == 7 * 86400
        assert LoginSession.objects.filter(**{realm_case.name: account}).count() == 1

    def test_access_token_claims(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        claims = pyjwt.decode(pair["access_token"], settings.SECRET_KEY, algorithms=["HS256"])
        assert claims["sub"] == str(account.pk)
        assert claims["realm"] == realm_case.name
        assert {"exp", "iat", "jti", "sid"} <= set(claims)
        assert claims["exp"] - claims["iat"] == 3600

    def test_oauth2_form_login_with_email_in_other_case(self, api_client, realm_case):
        account = realm_case.make(username="Mixed.Case", email="mixed@example.com")
        response = api_client.post(
            realm_case.login, {"username": "MIXED@Example.COM", "password": PASSWORD, "grant_type": "password"}
        )
        assert_ok(response)
        response = api_client.post(realm_case.login, {"username": "mixed.case", "password": PASSWORD})
        assert_ok(response)
        account.refresh_from_db()
        assert account.last_login_at is not None

    def test_wrong_grant_type_is_400(self, api_client, realm_case):
        account = realm_case.make()
        response = api_client.post(
            realm_case.login, {"username": account.username, "password": PASSWORD, "grant_type": "client_credentials"}
        )
        assert "grant_type" in assert_error(response, 400, "VALIDATION_ERROR")

    def test_unknown_account_and_wrong_password_look_the_same(self, api_client, realm_case):
        account = realm_case.make()
        wrong = api_client.post(
            realm_case.login, {"username": account.username, "password": "nope-nope"}, format="json"
        )
        unknown = api_client.post(realm_case.login, {"username": "ghost", "password": "nope-nope"}, format="json")
        assert_error(wrong, 401, "INVALID_CREDENTIALS")
        assert_error(unknown, 401, "INVALID_CREDENTIALS")
        assert wrong.json() == unknown.json()
        assert wrong["WWW-Authenticate"] == "Bearer"

    def test_inactive_account_with_right_password_is_403(self, api_client, realm_case):
        account = realm_case.make(is_active=False)
        response = api_client.post(realm_case.login, {"username": account.username, "password": PASSWORD})
        assert_error(response, 403, "ACCOUNT_INACTIVE")

    def test_soft_deleted_account_cannot_log_in(self, api_client, realm_case):
        account = realm_case.make()
        account.soft_delete()
        response = api_client.post(realm_case.login, {"username": account.username, "password": PASSWORD})
        assert_error(response, 401, "INVALID_CREDENTIALS")

    def test_missing_fields_are_400(self, api_client, realm_case):
        details = assert_error(api_client.post(realm_case.login, {}, format="json"), 400, "VALIDATION_ERROR")
        assert set(details) == {"username", "password"}


class TestRealms:
    def test_token_of_one_realm_is_invalid_in_the_other(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        assert_ok(me(api_client, realm_case, pair["access_token"]))
        response = api_client.get(realm_case.other_me, **bearer(pair["access_token"]))
        assert_error(response, 401, "INVALID_TOKEN")
        assert response["WWW-Authenticate"] == "Bearer"

    def test_same_id_and_username_in_both_realms_stay_apart(self, api_client, db):
        # Same id and username in both tables: the classic confusion of a design without a realm claim.
        user = UserFactory(pk=4242, username="twin")
        admin = AdminFactory(pk=4242, username="twin")
        user_pair = RealmLogin.user(api_client)
        admin_pair = RealmLogin.admin(api_client)
        assert_error(api_client.get("/admin/me", **bearer(user_pair["access_token"])), 401, "INVALID_TOKEN")
        assert_error(api_client.get("/users/me", **bearer(admin_pair["access_token"])), 401, "INVALID_TOKEN")
        assert assert_ok(api_client.get("/users/me", **bearer(user_pair["access_token"])))["id"] == user.pk
        assert assert_ok(api_client.get("/admin/me", **bearer(admin_pair["access_token"])))["id"] == admin.pk
        assert_error(
            api_client.post("/admin/auth/refresh", {"refresh_token": user_pair["refresh_token"]}, format="json"),
            401,
            "INVALID_TOKEN",
        )

    def test_user_pat_is_invalid_in_the_admin_realm(self, api_client, user):
        token = PersonalAccessTokenFactory(owner=user)
        AdminFactory(pk=user.pk)
        assert_ok(api_client.get("/users/me", **bearer(token.secret)))
        assert_error(api_client.get("/admin/me", **bearer(token.secret)), 401, "INVALID_TOKEN")

    def test_no_credentials_is_401_not_authenticated(self, api_client, realm_case):
        response = api_client.get(realm_case.me)
        assert_error(response, 401, "NOT_AUTHENTICATED")
        assert response["WWW-Authenticate"] == "Bearer"


class RealmLogin:
    @staticmethod
    def user(client):
        return assert_ok(client.post("/auth/login", {"username": "twin", "password": PASSWORD}, format="json"))

    @staticmethod
    def admin(client):
        return assert_ok(client.post("/admin/auth/login", {"username": "twin", "password": PASSWORD}, format="json"))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TestForgedTokens:
    @pytest.fixture
    def claims(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        return pyjwt.decode(pair["access_token"], settings.SECRET_KEY, algorithms=["HS256"])

    def assert_refused(self, api_client, realm_case, token):
        assert_error(api_client.get(realm_case.me, **bearer(token)), 401, "INVALID_TOKEN")

    def test_alg_none(self, api_client, realm_case, claims):
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        self.assert_refused(api_client, realm_case, token)

    def test_another_key(self, api_client, realm_case, claims):
        self.assert_refused(api_client, realm_case, pyjwt.encode(claims, "another-key-" * 4, algorithm="HS256"))

    def test_tampered_payload(self, api_client, realm_case, claims):
        good = pyjwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
        header, _, signature = good.split(".")
        forged = _b64({**claims, "sub": str(int(claims["sub"]) + 1)})
        self.assert_refused(api_client, realm_case, f"{header}.{forged}.{signature}")

    def test_expired(self, api_client, realm_case, claims):
        expired = {**claims, "exp": int(timezone.now().timestamp()) - 10}
        self.assert_refused(api_client, realm_case, pyjwt.encode(expired, settings.SECRET_KEY, algorithm="HS256"))

    def test_missing_realm_claim(self, api_client, realm_case, claims):
        del claims["realm"]
        self.assert_refused(api_client, realm_case, pyjwt.encode(claims, settings.SECRET_KEY, algorithm="HS256"))

    def test_refresh_token_used_as_access_token(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        self.assert_refused(api_client, realm_case, pair["refresh_token"])

    def test_garbage(self, api_client, realm_case):
        self.assert_refused(api_client, realm_case, "not-a-jwt")

    def test_access_token_expires_with_time(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        with time_machine.travel(timezone.now() + timedelta(minutes=61)):
            self.assert_refused(api_client, realm_case, pair["access_token"])


class TestRefresh:
    def test_rotation_gives_a_new_pair_and_the_old_refresh_token_is_single_use(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        new = assert_ok(realm_case.use_refresh(api_client, pair["refresh_token"]))
        assert new["refresh_token"] != pair["refresh_token"]
        assert_ok(me(api_client, realm_case, new["access_token"]))
        reuse = realm_case.use_refresh(api_client, pair["refresh_token"])
        assert_error(reuse, 401, "INVALID_TOKEN")

    def test_reuse_revokes_every_descendant(self, api_client, realm_case):
        first = realm_case.login_pair(api_client, realm_case.make())
        second = assert_ok(realm_case.use_refresh(api_client, first["refresh_token"]))
        third = assert_ok(realm_case.use_refresh(api_client, second["refresh_token"]))
        assert_error(realm_case.use_refresh(api_client, first["refresh_token"]), 401, "INVALID_TOKEN")
        assert_error(realm_case.use_refresh(api_client, third["refresh_token"]), 401, "INVALID_TOKEN")
        assert_error(me(api_client, realm_case, third["access_token"]), 401, "INVALID_TOKEN")

    def test_refresh_is_not_a_login_attempt(self, api_client, realm_case, settings):
        settings.RATE_LIMIT_ATTEMPTS = 1
        pair = realm_case.login_pair(api_client, realm_case.make())
        for _ in range(3):
            pair = assert_ok(realm_case.use_refresh(api_client, pair["refresh_token"]))

    def test_refresh_of_a_blocked_account_is_refused(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        type(account).objects.filter(pk=account.pk).update(is_active=False)
        response = realm_case.use_refresh(api_client, pair["refresh_token"])
        assert_error(response, 401, "INVALID_TOKEN")

    def test_expired_refresh_token_is_refused(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        with time_machine.travel(timezone.now() + timedelta(days=8)):
            response = realm_case.use_refresh(api_client, pair["refresh_token"])
        assert_error(response, 401, "INVALID_TOKEN")

    def test_missing_refresh_token_is_400(self, api_client, realm_case):
        assert_error(api_client.post(realm_case.refresh, {}, format="json"), 400, "VALIDATION_ERROR")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_give_exactly_one_pair(postgres_only):
    account = UserFactory()
    pair = assert_ok(
        APIClient().post("/auth/login", {"username": account.username, "password": PASSWORD}, format="json")
    )

    def refresh(_: int) -> int:
        return APIClient().post("/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json").status_code

    results = run_concurrently(refresh, 8)
    assert sorted(results) == [200] + [401] * 7


class TestLogout:
    def test_logout_kills_this_session_only(self, api_client, realm_case):
        account = realm_case.make()
        first = realm_case.login_pair(api_client, account)
        other = realm_case.login_pair(api_client, account)
        response = api_client.post(
            realm_case.logout, {"refresh_token": first["refresh_token"]}, **bearer(first["access_token"])
        )
        assert assert_ok(response) is None
        assert_error(me(api_client, realm_case, first["access_token"]), 401, "INVALID_TOKEN")
        assert_error(realm_case.use_refresh(api_client, first["refresh_token"]), 401, "INVALID_TOKEN")
        assert_ok(me(api_client, realm_case, other["access_token"]))
        assert_ok(realm_case.use_refresh(api_client, other["refresh_token"]))

    def test_logout_without_body_revokes_the_session_of_the_access_token(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        assert_ok(api_client.post(realm_case.logout, **bearer(pair["access_token"])))
        assert_error(realm_case.use_refresh(api_client, pair["refresh_token"]), 401, "INVALID_TOKEN")

    def test_logout_needs_credentials(self, api_client, realm_case):
        assert_error(api_client.post(realm_case.logout), 401, "NOT_AUTHENTICATED")

    def test_logout_with_a_pat_is_forbidden(self, api_client, realm_case):
        token = PersonalAccessTokenFactory(owner=realm_case.make())
        assert_error(api_client.post(realm_case.logout, **bearer(token.secret)), 403, "FORBIDDEN")


class TestPasswordChange:
    def test_change_kills_older_tokens_returns_a_working_pair_and_keeps_pats(self, api_client, realm_case):
        account = realm_case.make()
        old = realm_case.login_pair(api_client, account)
        other = realm_case.login_pair(api_client, account)
        pat = PersonalAccessTokenFactory(owner=account)
        response = api_client.post(
            realm_case.password,
            {"current_password": PASSWORD, "new_password": "a-much-better-passphrase"},
            format="json",
            **bearer(old["access_token"]),
        )
        new = assert_ok(response)
        assert set(new) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
        for stale in (old, other):
            assert_error(me(api_client, realm_case, stale["access_token"]), 401, "INVALID_TOKEN")
            assert_error(realm_case.use_refresh(api_client, stale["refresh_token"]), 401, "INVALID_TOKEN")
        assert_ok(me(api_client, realm_case, new["access_token"]))
        assert_ok(me(api_client, realm_case, pat.secret))
        assert_ok(
            api_client.post(realm_case.login, {"username": account.username, "password": "a-much-better-passphrase"})
        )
        assert_error(
            api_client.post(realm_case.login, {"username": account.username, "password": PASSWORD}),
            401,
            "INVALID_CREDENTIALS",
        )

    def test_wrong_current_password_is_400_on_current_password(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        response = api_client.post(
            realm_case.password,
            {"current_password": "wrong-one", "new_password": "a-much-better-passphrase"},
            format="json",
            **bearer(pair["access_token"]),
        )
        assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["current_password"]
        assert_ok(me(api_client, realm_case, pair["access_token"]))

    def test_weak_new_password_is_400(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        response = api_client.post(
            realm_case.password,
            {"current_password": PASSWORD, "new_password": "12345"},
            format="json",
            **bearer(pair["access_token"]),
        )
        assert "new_password" in assert_error(response, 400, "VALIDATION_ERROR")

    def test_pat_cannot_change_the_password(self, api_client, realm_case):
        token = PersonalAccessTokenFactory(owner=realm_case.make())
        response = api_client.post(
            realm_case.password,
            {"current_password": PASSWORD, "new_password": "a-much-better-passphrase"},
            format="json",
            **bearer(token.secret),
        )
        assert_error(response, 403, "FORBIDDEN")


class TestPersonalAccessTokens:
    def test_lifecycle(self, api_client, realm_case):
        account = realm_case.make()
        jwt_token = realm_case.login_pair(api_client, account)["access_token"]
        created = assert_ok(
            api_client.post(
                realm_case.tokens, {"name": "ci", "expires_in_days": 30}, format="json", **bearer(jwt_token)
            ),
            201,
        )
        assert set(created) == {"id", "name", "abilities", "created_at", "expires_at", "last_used_at", "token"}
        secret = created["token"]
        assert secret.startswith("pat_") and len(secret) >= 36
        stored = PersonalAccessToken.objects.get(pk=created["id"])
        assert stored.digest != secret and len(stored.digest) == 64
        assert abs((stored.expires_at - stored.created_at) - timedelta(days=30)) < timedelta(seconds=5)

        assert assert_ok(me(api_client, realm_case, secret))["id"] == account.pk
        listed = assert_ok(api_client.get(realm_case.tokens, **bearer(jwt_token)))
        assert listed["total"] == 1 and listed["page"] == 1 and listed["pages"] == 1
        assert "token" not in listed["items"][0]
        assert listed["items"][0]["last_used_at"] is not None

        assert assert_ok(api_client.delete(f"{realm_case.tokens}/{created['id']}", **bearer(jwt_token))) is None
        assert_error(me(api_client, realm_case, secret), 401, "INVALID_TOKEN")
        assert assert_ok(api_client.get(realm_case.tokens, **bearer(jwt_token)))["total"] == 0

    def test_default_expiry_is_pat_default_expire_days(self, api_client, realm_case):
        jwt_token = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        created = assert_ok(api_client.post(realm_case.tokens, {"name": "x"}, format="json", **bearer(jwt_token)), 201)
        stored = PersonalAccessToken.objects.get(pk=created["id"])
        assert abs((stored.expires_at - stored.created_at) - timedelta(days=90)) < timedelta(seconds=5)

    @pytest.mark.parametrize(
        "body",
        [
            {"name": ""},
            {"name": "x" * 101},
            {"name": "x", "expires_in_days": 0},
            {"name": "x", "expires_in_days": 366},
            {},
        ],
    )
    def test_bad_input_is_400(self, api_client, realm_case, body):
        jwt_token = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        assert_error(
            api_client.post(realm_case.tokens, body, format="json", **bearer(jwt_token)), 400, "VALIDATION_ERROR"
        )
        assert PersonalAccessToken.objects.count() == 0

    def test_expired_pat_is_401(self, api_client, realm_case):
        token = PersonalAccessTokenFactory(owner=realm_case.make(), expires_at=timezone.now() - timedelta(seconds=1))
        assert_error(me(api_client, realm_case, token.secret), 401, "INVALID_TOKEN")

    def test_another_accounts_token_id_is_404(self, api_client, realm_case):
        mine = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        theirs = PersonalAccessTokenFactory(owner=realm_case.make())
        assert_error(api_client.delete(f"{realm_case.tokens}/{theirs.pk}", **bearer(mine)), 404, "NOT_FOUND")
        assert_ok(me(api_client, realm_case, theirs.secret))

    def test_pat_cannot_manage_tokens(self, api_client, realm_case):
        token = PersonalAccessTokenFactory(owner=realm_case.make())
        assert_error(api_client.get(realm_case.tokens, **bearer(token.secret)), 403, "FORBIDDEN")
        assert_error(
            api_client.post(realm_case.tokens, {"name": "x"}, format="json", **bearer(token.secret)), 403, "FORBIDDEN"
        )
        assert_error(api_client.delete(f"{realm_case.tokens}/{token.pk}", **bearer(token.secret)), 403, "FORBIDDEN")

    def test_last_used_at_is_written_at_most_once_a_minute(self, api_client, realm_case, django_assert_num_queries):
        token = PersonalAccessTokenFactory(owner=realm_case.make())
        assert_ok(me(api_client, realm_case, token.secret))
        token.refresh_from_db()
        first = token.last_used_at
        assert first is not None
        with django_assert_num_queries(1 + roles_shown(realm_case)):
            assert_ok(me(api_client, realm_case, token.secret))
        token.refresh_from_db()
        assert token.last_used_at == first
        with time_machine.travel(timezone.now() + timedelta(seconds=61)):
            assert_ok(me(api_client, realm_case, token.secret))
        token.refresh_from_db()
        assert token.last_used_at > first


def roles_shown(realm_case) -> int:
    """/admin/me also shows the admin's roles (§24): one query of the representation, not of the check
    (a superuser's permissions are every grantable one, known to the process)."""
    return 1 if realm_case.name == "admin" else 0


class TestQueryBudget:
    def test_jwt_request_costs_one_query(self, api_client, realm_case, django_assert_num_queries):
        pair = realm_case.login_pair(api_client, realm_case.make())
        with django_assert_num_queries(1 + roles_shown(realm_case)):
            assert_ok(me(api_client, realm_case, pair["access_token"]))

    def test_pat_request_costs_one_query_plus_the_throttled_write(
        self, api_client, realm_case, django_assert_max_num_queries
    ):
        token = PersonalAccessTokenFactory(owner=realm_case.make())
        with django_assert_max_num_queries(2 + roles_shown(realm_case)):
            assert_ok(me(api_client, realm_case, token.secret))


class TestAdminRegistration:
    BODY = {
        "username": "newadmin",
        "name": "New Admin",
        "email": "newadmin@example.com",
        "password": "a-long-passphrase",
    }

    def test_without_token_is_401(self, api_client, db):
        assert_error(api_client.post("/admin/auth/register", self.BODY, format="json"), 401, "NOT_AUTHENTICATED")

    def test_with_user_token_is_401(self, api_client, user_token):
        response = api_client.post("/admin/auth/register", self.BODY, format="json", **bearer(user_token))
        assert_error(response, 401, "INVALID_TOKEN")

    def test_with_admin_token_is_201(self, api_client, admin_token):
        data = assert_ok(api_client.post("/admin/auth/register", self.BODY, format="json", **bearer(admin_token)), 201)
        assert data["username"] == "newadmin"
        assert_ok(api_client.post("/admin/auth/login", {"username": "newadmin", "password": "a-long-passphrase"}))


class TestRevocationOnAccountChanges:
    def test_blocking_kills_jwt_and_pat(self, api_client, realm_case):
        from tokens import sessions

        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        pat = PersonalAccessTokenFactory(owner=account)
        account.is_active = False
        account.save()
        sessions.revoke_all_credentials(account)
        assert_error(me(api_client, realm_case, pair["access_token"]), 401, "INVALID_TOKEN")
        assert_error(me(api_client, realm_case, pat.secret), 401, "INVALID_TOKEN")

    def test_deactivation_alone_stops_tokens_at_once(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        pat = PersonalAccessTokenFactory(owner=account)
        type(account).objects.filter(pk=account.pk).update(is_active=False)
        assert_error(me(api_client, realm_case, pair["access_token"]), 401, "INVALID_TOKEN")
        assert_error(me(api_client, realm_case, pat.secret), 401, "INVALID_TOKEN")

    def test_user_self_delete_kills_every_token(self, api_client, user, login):
        pair = login(user)
        pat = PersonalAccessTokenFactory(owner=user)
        assert assert_ok(api_client.delete("/users/me", **bearer(pair["access_token"]))) is None
        assert_error(api_client.get("/users/me", **bearer(pair["access_token"])), 401, "INVALID_TOKEN")
        assert_error(api_client.get("/users/me", **bearer(pat.secret)), 401, "INVALID_TOKEN")
        response = api_client.post("/auth/login", {"username": user.username, "password": PASSWORD})
        assert_error(response, 401, "INVALID_CREDENTIALS")
        assert PersonalAccessToken.objects.get(pk=pat.pk).revoked_at is not None


def test_open_endpoints_ignore_a_stale_bearer_token(api_client, realm_case):
    account = realm_case.make()
    pair = realm_case.login_pair(api_client, account)
    stale = bearer("expired-or-garbage")
    assert_ok(api_client.post(realm_case.refresh, {"refresh_token": pair["refresh_token"]}, format="json", **stale))
    assert_ok(api_client.post(realm_case.login, {"username": account.username, "password": PASSWORD}, **stale))
    if realm_case.name == "user":
        body = {"username": "fresh", "name": "F", "email": "fresh@example.com", "password": "a-long-passphrase"}
        assert_ok(api_client.post("/auth/register", body, format="json", **stale), 201)


@pytest.mark.django_db
def test_a_pat_can_read_and_update_the_profile(api_client, realm_case):
    token = PersonalAccessTokenFactory(owner=realm_case.make())
    assert_ok(api_client.get(realm_case.me, **bearer(token.secret)))
    data = assert_ok(api_client.patch(realm_case.me, {"name": "Via PAT"}, format="json", **bearer(token.secret)))
    assert data["name"] == "Via PAT"
