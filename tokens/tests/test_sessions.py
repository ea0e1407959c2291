"""Sessions and logout everywhere (docs/api.md §12) and personal access token abilities (§13)."""

import json

import pytest

from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer, gunicorn, http
from tokens.models import LoginSession
from tokens.tests.factories import PersonalAccessTokenFactory

SESSION_KEYS = {"id", "created_at", "last_seen_at", "expires_at", "ip_address", "user_agent", "method", "current"}


def three_logins(client, case, account) -> list[dict]:
    return [
        case.login_pair(client, account, REMOTE_ADDR=f"192.0.2.{i}", HTTP_USER_AGENT=f"device-{i}") for i in range(3)
    ]


class TestSessionList:
    def test_three_logins_are_three_sessions_newest_first_with_the_callers_marked(self, api_client, realm_case):
        account = realm_case.make()
        pairs = three_logins(api_client, realm_case, account)
        page = assert_ok(api_client.get(realm_case.sessions, **bearer(pairs[1]["access_token"])))
        assert page["total"] == 3 and page["page"] == 1 and page["pages"] == 1
        items = page["items"]
        assert set(items[0]) == SESSION_KEYS
        assert [s["user_agent"] for s in items] == ["device-2", "device-1", "device-0"]
        assert [s["ip_address"] for s in items] == ["192.0.2.2", "192.0.2.1", "192.0.2.0"]
        assert [s["current"] for s in items] == [False, True, False]
        assert all(s["last_seen_at"] == s["created_at"] for s in items)

    def test_a_refresh_continues_the_session_and_moves_last_seen(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        new = assert_ok(realm_case.use_refresh(api_client, pair["refresh_token"]))
        items = assert_ok(api_client.get(realm_case.sessions, **bearer(new["access_token"])))["items"]
        assert len(items) == 1 and items[0]["current"] is True
        assert items[0]["last_seen_at"] > items[0]["created_at"]

    def test_ip_address_is_the_proxy_aware_client_ip(self, api_client, realm_case, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account, HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1")
        items = assert_ok(api_client.get(realm_case.sessions, **bearer(pair["access_token"])))["items"]
        assert items[0]["ip_address"] == "198.51.100.1"

    def test_revoked_and_expired_sessions_are_not_listed(self, api_client, realm_case):
        account = realm_case.make()
        pairs = three_logins(api_client, realm_case, account)
        assert_ok(api_client.post(realm_case.logout, **bearer(pairs[0]["access_token"])))
        LoginSession.objects.filter(pk=LoginSession.objects.order_by("id")[1].pk).update(expires_at="2000-01-01T00:00Z")
        items = assert_ok(api_client.get(realm_case.sessions, **bearer(pairs[2]["access_token"])))["items"]
        assert len(items) == 1 and items[0]["current"]

    def test_listing_is_one_query_plus_the_count(self, api_client, realm_case, django_assert_num_queries):
        account = realm_case.make()
        pairs = three_logins(api_client, realm_case, account)
        with django_assert_num_queries(3):  # authentication, count, page
            assert_ok(api_client.get(realm_case.sessions, **bearer(pairs[0]["access_token"])))


class TestRevokeOne:
    def test_it_kills_that_sessions_access_and_refresh_tokens_only(self, api_client, realm_case):
        account = realm_case.make()
        pairs = three_logins(api_client, realm_case, account)
        target = LoginSession.objects.of_account(account).order_by("id")[0]
        assert_ok(api_client.delete(f"{realm_case.sessions}/{target.pk}", **bearer(pairs[2]["access_token"])))
        assert_error(api_client.get(realm_case.me, **bearer(pairs[0]["access_token"])), 401, "INVALID_TOKEN")
        assert_error(realm_case.use_refresh(api_client, pairs[0]["refresh_token"]), 401, "INVALID_TOKEN")
        for pair in pairs[1:]:
            assert_ok(api_client.get(realm_case.me, **bearer(pair["access_token"])))

    def test_revoking_the_calling_session_works_like_logout(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        session = LoginSession.objects.of_account(account).get()
        assert_ok(api_client.delete(f"{realm_case.sessions}/{session.pk}/", **bearer(pair["access_token"])))
        assert_error(api_client.get(realm_case.me, **bearer(pair["access_token"])), 401, "INVALID_TOKEN")

    def test_another_accounts_session_is_404_and_stays_alive(self, api_client, realm_case):
        mine, theirs = realm_case.make(), realm_case.make()
        pair = realm_case.login_pair(api_client, mine)
        other = realm_case.login_pair(api_client, theirs)
        session = LoginSession.objects.of_account(theirs).get()
        response = api_client.delete(f"{realm_case.sessions}/{session.pk}", **bearer(pair["access_token"]))
        assert_error(response, 404, "NOT_FOUND")
        assert_ok(api_client.get(realm_case.me, **bearer(other["access_token"])))


class TestLogoutEverywhere:
    def test_every_session_ends_and_pats_survive(self, api_client, realm_case):
        account = realm_case.make()
        pairs = three_logins(api_client, realm_case, account)
        pat = PersonalAccessTokenFactory(owner=account)
        assert_ok(api_client.post(realm_case.logout_all, **bearer(pairs[0]["access_token"])))
        for pair in pairs:
            assert_error(api_client.get(realm_case.me, **bearer(pair["access_token"])), 401, "INVALID_TOKEN")
            assert_error(realm_case.use_refresh(api_client, pair["refresh_token"]), 401, "INVALID_TOKEN")
        assert_ok(api_client.get(realm_case.me, **bearer(pat.secret)))

    def test_keep_current_keeps_the_calling_session(self, api_client, realm_case):
        account = realm_case.make()
        pairs = three_logins(api_client, realm_case, account)
        body = {"keep_current": True}
        assert_ok(api_client.post(realm_case.logout_all, body, format="json", **bearer(pairs[1]["access_token"])))
        assert_ok(api_client.get(realm_case.me, **bearer(pairs[1]["access_token"])))
        assert_ok(realm_case.use_refresh(api_client, pairs[1]["refresh_token"]))
        for pair in (pairs[0], pairs[2]):
            assert_error(api_client.get(realm_case.me, **bearer(pair["access_token"])), 401, "INVALID_TOKEN")

    def test_keep_current_must_be_a_boolean(self, api_client, realm_case):
        pair = realm_case.login_pair(api_client, realm_case.make())
        response = api_client.post(realm_case.logout_all, {"keep_current": "maybe"}, **bearer(pair["access_token"]))
        assert "keep_current" in assert_error(response, 400, "VALIDATION_ERROR")


class TestOperators:
    def test_admin_lists_and_ends_a_users_sessions_but_not_its_tokens(self, api_client, admin_token, user_case):
        user = UserFactory()
        pairs = three_logins(api_client, user_case, user)
        pat = PersonalAccessTokenFactory(owner=user)
        url = f"/admin/users/{user.pk}/sessions"
        page = assert_ok(api_client.get(url, **bearer(admin_token)))
        assert page["total"] == 3 and not any(s["current"] for s in page["items"])
        assert_ok(api_client.delete(url, **bearer(admin_token)))
        assert_error(api_client.get("/users/me", **bearer(pairs[0]["access_token"])), 401, "INVALID_TOKEN")
        assert_ok(api_client.get("/users/me", **bearer(pat.secret)))
        assert assert_ok(api_client.get(url, **bearer(admin_token)))["total"] == 0

    def test_admin_lists_and_revokes_a_users_token(self, api_client, admin_token):
        user, other = UserFactory(), UserFactory()
        pat, others = PersonalAccessTokenFactory(owner=user), PersonalAccessTokenFactory(owner=other)
        page = assert_ok(api_client.get(f"/admin/users/{user.pk}/tokens", **bearer(admin_token)))
        assert [t["id"] for t in page["items"]] == [pat.pk]
        assert page["items"][0]["abilities"] == ["read", "write"]
        wrong = api_client.delete(f"/admin/users/{user.pk}/tokens/{others.pk}", **bearer(admin_token))
        assert_error(wrong, 404, "NOT_FOUND")
        assert_ok(api_client.delete(f"/admin/users/{user.pk}/tokens/{pat.pk}", **bearer(admin_token)))
        assert_error(api_client.get("/users/me", **bearer(pat.secret)), 401, "INVALID_TOKEN")
        assert_ok(api_client.get("/users/me", **bearer(others.secret)))

    def test_unknown_user_is_404(self, api_client, admin_token):
        assert_error(api_client.get("/admin/users/999999/sessions", **bearer(admin_token)), 404, "NOT_FOUND")
        assert_error(api_client.get("/admin/users/999999/tokens", **bearer(admin_token)), 404, "NOT_FOUND")

    def test_user_tokens_are_refused_there(self, api_client, user_token, user):
        assert_error(api_client.get(f"/admin/users/{user.pk}/sessions", **bearer(user_token)), 401, "INVALID_TOKEN")


class TestAbilities:
    def test_created_with_read_only_it_can_get_but_not_write(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        created = assert_ok(
            api_client.post(realm_case.tokens, {"name": "ro", "abilities": ["read"]}, format="json", **bearer(access)),
            201,
        )
        assert created["abilities"] == ["read"]
        token = created["token"]
        assert_ok(api_client.get(realm_case.me, **bearer(token)))
        for method in ("put", "patch"):
            response = getattr(api_client, method)(realm_case.me, {"name": "X"}, format="json", **bearer(token))
            assert_error(response, 403, "FORBIDDEN")
        assert_error(api_client.delete(f"{realm_case.me}/avatar", **bearer(token)), 403, "FORBIDDEN")
        account.refresh_from_db()
        assert account.name != "X"
        listed = assert_ok(api_client.get(realm_case.tokens, **bearer(access)))["items"]
        assert listed[0]["abilities"] == ["read"]

    def test_a_read_only_admin_token_cannot_block_users(self, api_client, admin, login):
        user = UserFactory()
        token = PersonalAccessTokenFactory(owner=admin, abilities=["read"])
        assert_ok(api_client.get("/admin/users", **bearer(token.secret)))
        assert_error(api_client.patch(f"/admin/users/{user.pk}/block", **bearer(token.secret)), 403, "FORBIDDEN")
        user.refresh_from_db()
        assert user.is_active

    def test_default_is_read_and_write(self, api_client, realm_case):
        access = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        created = assert_ok(api_client.post(realm_case.tokens, {"name": "rw"}, format="json", **bearer(access)), 201)
        assert created["abilities"] == ["read", "write"]
        assert_ok(api_client.patch(realm_case.me, {"name": "Y"}, format="json", **bearer(created["token"])))

    @pytest.mark.parametrize("abilities", [[], ["admin"], ["read", "delete"], "read"])
    def test_bad_abilities_are_400(self, api_client, realm_case, abilities):
        access = realm_case.login_pair(api_client, realm_case.make())["access_token"]
        body = {"name": "x", "abilities": abilities}
        response = api_client.post(realm_case.tokens, body, format="json", **bearer(access))
        assert "abilities" in assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_a_session_revoked_through_one_server_is_refused_at_once_by_another():
    user = UserFactory()
    with gunicorn() as first, gunicorn() as second:
        body = json.dumps({"username": user.username, "password": PASSWORD}).encode()
        pairs = [
            http("POST", f"{first}/auth/login", body, {"Content-Type": "application/json"})[1]["data"] for _ in "ab"
        ]
        victim = {"Authorization": f"Bearer {pairs[0]['access_token']}"}
        caller = {"Authorization": f"Bearer {pairs[1]['access_token']}"}
        assert http("GET", f"{second}/users/me", headers=victim)[0] == 200
        session = LoginSession.objects.of_account(user).order_by("id").first()
        assert http("DELETE", f"{first}/users/me/sessions/{session.pk}", headers=caller)[0] == 200
        status, answer = http("GET", f"{second}/users/me", headers=victim)
        assert status == 401 and answer["error"]["code"] == "INVALID_TOKEN"
        assert http("GET", f"{second}/users/me", headers=caller)[0] == 200


def test_a_login_that_cannot_open_its_session_records_no_success(realm_case, monkeypatch):
    from common.models import AuditEvent
    from common.realms import REALMS
    from tokens import login, sessions

    account = realm_case.make()

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(sessions, "new_session", broken)
    with pytest.raises(RuntimeError):
        login.password_login(
            realm=REALMS[realm_case.name], identifier=account.username, password=PASSWORD, request=None
        )
    account.refresh_from_db()
    assert account.last_login_at is None
    assert not AuditEvent.objects.filter(event="login.succeeded").exists()
