"""The audit trail (docs/api.md §15): events recorded by the services, in the change's transaction."""

import pytest
from django.core.management import call_command
from django.db import transaction

from common import audit
from common.models import AuditEvent
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer

EVENT_KEYS = {
    "id",
    "created_at",
    "event",
    "realm",
    "account_id",
    "actor",
    "ip_address",
    "user_agent",
    "request_id",
    "details",
}


def events(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list("event", flat=True))


class TestRecording:
    def test_a_login_is_recorded_with_ip_user_agent_and_request_id(self, api_client, realm_case):
        account = realm_case.make()
        api_client.post(
            realm_case.login, {"username": account.username, "password": PASSWORD},
            REMOTE_ADDR="::ffff:198.51.100.7", HTTP_USER_AGENT="pytest-agent", HTTP_X_REQUEST_ID="req-login-1",
        )  # fmt: skip
        event = AuditEvent.objects.get(event="login.succeeded")
        assert (event.realm, event.account_id, event.actor_id) == (realm_case.name, account.pk, None)
        assert (event.ip_address, event.user_agent, event.request_id) == ("198.51.100.7", "pytest-agent", "req-login-1")

    @pytest.mark.parametrize("reason", ["unknown_account", "wrong_password", "inactive", "locked"])
    def test_failed_logins_name_their_reason(self, api_client, realm_case, reason, settings):
        account = realm_case.make(is_active=reason != "inactive")
        username = "nobody-here" if reason == "unknown_account" else account.username
        password = PASSWORD if reason in ("inactive", "locked") else "wrong"
        if reason == "locked":
            realm_case.factory._meta.model.objects.filter(pk=account.pk).update(
                locked_until="2999-01-01T00:00Z", failed_login_attempts=settings.MAX_LOGIN_ATTEMPTS
            )
        api_client.post(realm_case.login, {"username": username, "password": password})
        event = AuditEvent.objects.get(event="login.failed")
        assert event.details == {"reason": reason} and event.realm == realm_case.name
        assert event.account_id == (None if reason == "unknown_account" else account.pk)

    def test_the_lockout_is_recorded(self, api_client, realm_case, settings):
        account = realm_case.make()
        for _ in range(settings.MAX_LOGIN_ATTEMPTS):
            api_client.post(realm_case.login, {"username": account.username, "password": "wrong"})
        assert events(event="account.locked", account_id=account.pk) == ["account.locked"]

    def test_an_admin_acting_on_a_user_is_the_actor(self, api_client, admin, admin_token):
        user = UserFactory()
        assert_ok(api_client.patch(f"/admin/users/{user.pk}/block", **bearer(admin_token)))
        event = AuditEvent.objects.get(event="account.blocked")
        assert (event.realm, event.account_id, event.actor_realm, event.actor_id) == (
            "user",
            user.pk,
            "admin",
            admin.pk,
        )

    def test_self_service_changes_have_no_actor(self, api_client, user, user_token):
        assert_ok(api_client.patch("/users/me", {"name": "New Name"}, format="json", **bearer(user_token)))
        event = AuditEvent.objects.get(event="account.updated")
        assert event.actor_id is None and event.details == {"fields": ["name"]}

    def test_the_credential_lifecycle(self, api_client, realm_case):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        access = pair["access_token"]
        token = assert_ok(api_client.post(realm_case.tokens, {"name": "ci"}, format="json", **bearer(access)), 201)
        assert_ok(api_client.delete(f"{realm_case.tokens}/{token['id']}", **bearer(access)))
        body = {"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}
        new = assert_ok(api_client.post(realm_case.password, body, format="json", **bearer(access)))
        realm_case.use_refresh(api_client, new["refresh_token"])
        realm_case.use_refresh(api_client, new["refresh_token"])  # reused
        other = realm_case.login_pair(api_client, account, "a-brand-new-passphrase")
        assert_ok(api_client.post(realm_case.logout, **bearer(other["access_token"])))
        assert events(account_id=account.pk) == [
            "login.succeeded", "token.created", "token.revoked", "password.changed", "refresh.reused",
            "login.succeeded", "logout",
        ]  # fmt: skip
        created = AuditEvent.objects.get(event="token.created")
        assert created.details == {"id": token["id"], "name": "ci", "abilities": ["read", "write"]}

    def test_no_secret_ever_lands_in_details(self, api_client, realm_case):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        secret = assert_ok(api_client.post(realm_case.tokens, {"name": "x"}, format="json", **bearer(access)), 201)[
            "token"
        ]
        stored = str(list(AuditEvent.objects.values("details", "user_agent")))
        assert secret not in stored and PASSWORD not in stored and access not in stored
        event = audit.record("account.updated", account=account, password="p", token="t", code="c", fields=["x"])
        assert event.details == {"fields": ["x"]}

    def test_a_failed_change_leaves_no_event(self, realm_case):
        account = realm_case.make()
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record("account.updated", account=account, fields=["name"])
            raise RuntimeError("the change failed")
        assert not AuditEvent.objects.exists()

    def test_a_conflicting_profile_change_leaves_no_event(self, api_client, user, user_token):
        UserFactory(username="taken")
        assert_error(
            api_client.patch("/users/me", {"username": "taken"}, format="json", **bearer(user_token)), 409, "CONFLICT"
        )
        assert not AuditEvent.objects.filter(event="account.updated").exists()


class TestAdminAudit:
    def test_it_lists_newest_first_with_filters(self, api_client, admin, admin_token):
        user = UserFactory()
        for action in ("block", "activate", "unlock"):
            api_client.patch(f"/admin/users/{user.pk}/{action}", **bearer(admin_token))
        page = assert_ok(
            api_client.get("/admin/audit", {"realm": "user", "account_id": user.pk}, **bearer(admin_token))
        )
        assert [e["event"] for e in page["items"]] == ["account.unlocked", "account.activated", "account.blocked"]
        assert set(page["items"][0]) == EVENT_KEYS
        assert page["items"][0]["actor"] == {"realm": "admin", "id": admin.pk}
        only = assert_ok(api_client.get("/admin/audit", {"event": "account.blocked"}, **bearer(admin_token)))
        assert [e["event"] for e in only["items"]] == ["account.blocked"]
        since = page["items"][1]["created_at"]
        later = assert_ok(api_client.get("/admin/audit", {"realm": "user", "since": since}, **bearer(admin_token)))
        assert {e["event"] for e in later["items"]} <= {"account.unlocked", "account.activated"}
        until = assert_ok(api_client.get("/admin/audit", {"until": "2000-01-01T00:00:00Z"}, **bearer(admin_token)))
        assert until["total"] == 0

    @pytest.mark.parametrize(
        "query",
        [{"event": "account.exploded"}, {"realm": "robot"}, {"account_id": "x"}, {"since": "yesterday"}, {"page": "0"}],
    )
    def test_bad_filters_are_400(self, api_client, admin_token, query):
        assert_error(api_client.get("/admin/audit", query, **bearer(admin_token)), 400, "VALIDATION_ERROR")

    def test_users_cannot_read_it(self, api_client, user_token):
        assert_error(api_client.get("/admin/audit", **bearer(user_token)), 401, "INVALID_TOKEN")


class TestSecurityEvents:
    def test_each_account_sees_only_events_about_itself(self, api_client, realm_case):
        me, other = realm_case.make(), realm_case.make()
        realm_case.login_pair(api_client, other)
        access = realm_case.login_pair(api_client, me)["access_token"]
        page = assert_ok(api_client.get(f"{realm_case.me}/security-events", **bearer(access)))
        assert [e["event"] for e in page["items"]] == ["login.succeeded"]
        assert page["items"][0]["account_id"] == me.pk and page["items"][0]["realm"] == realm_case.name

    def test_same_id_in_the_other_realm_is_not_mine(self, api_client, user_case, admin_case):
        user = UserFactory()
        admin = AdminFactory(id=user.pk)
        admin_case.login_pair(api_client, admin)
        access = user_case.login_pair(api_client, user)["access_token"]
        page = assert_ok(api_client.get("/users/me/security-events", **bearer(access)))
        assert [e["realm"] for e in page["items"]] == ["user"]


def test_purge_audit_deletes_only_old_events(db):
    user = UserFactory()
    old = audit.record("account.updated", account=user, fields=["name"])
    AuditEvent.objects.filter(pk=old.pk).update(created_at="2000-01-01T00:00Z")
    audit.record("account.updated", account=user, fields=["email"])
    call_command("purge_audit", "--older-than", "30")
    assert list(AuditEvent.objects.values_list("details", flat=True)) == [{"fields": ["email"]}]
