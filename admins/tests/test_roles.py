"""Admin roles and permissions (docs/api.md §24): every admin endpoint needs its permission, with
a JWT and with a PAT, and nobody grants what they do not hold."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admins import roles
from admins.models import Admin, Role
from common.exceptions import Conflict
from common.models import AuditEvent, WebhookEndpoint
from common.tests.factories import AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from common.webhooks import new_secret, seal
from tokens.sessions import open_session
from tokens.tests.factories import PersonalAccessTokenFactory

pytestmark = pytest.mark.django_db


def jwt_of(admin: Admin) -> str:
    return open_session(admin, None)["access_token"]


def operator(*permissions: str, **fields) -> Admin:
    """An admin who is not a superuser, holding a role with exactly these permissions."""
    admin = AdminFactory(is_superuser=False, **fields)
    if permissions:
        role = Role.objects.create(name=f"role of {admin.username}")
        role.permissions.set(roles.permission_rows(list(permissions)))
        admin.groups.add(role)
    return admin


@pytest.fixture
def world(settings):
    """One of each thing the endpoints act on."""
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
    user = UserFactory()
    pat = PersonalAccessTokenFactory(owner=user)
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hooks", events=["*"], secret=seal(new_secret()))
    delivery = endpoint.deliveries.create(message_id="msg_1", event="webhook.test", payload="{}")
    role = Role.objects.create(name="Empty")
    target = AdminFactory(is_superuser=False)
    return {"user": user.pk, "pat": pat.pk, "endpoint": endpoint.pk, "delivery": delivery.pk, "role": role.pk,
            "admin": target.pk}  # fmt: skip


NEW_ADMIN = {"username": "newop", "name": "New Op", "email": "newop@example.com", "password": "a-long-passphrase"}
NEW_ADMIN = {"username": "newop", "name": "New Op", "email": "newop@example.com", "password": "a-long-passphrase"}
# (method, path, body, the permission, the status when it is held)
TABLE = [
    ("get", "/admin/users", None, "accounts.view_user", 200),
    ("get", "/admin/users/{user}", None, "accounts.view_user", 200),
    ("get", "/admin/users/{user}/sessions", None, "accounts.view_user", 200),
    ("get", "/admin/users/{user}/tokens", None, "accounts.view_user", 200),
    ("get", "/admin/users/{user}/identities", None, "accounts.view_user", 200),
    ("patch", "/admin/users/{user}", {"name": "Renamed"}, "accounts.change_user", 200),
    ("put", "/admin/users/{user}", {"name": "Renamed"}, "accounts.change_user", 200),
    ("patch", "/admin/users/{user}/block", None, "accounts.change_user", 200),
    ("patch", "/admin/users/{user}/activate", None, "accounts.change_user", 200),
    ("patch", "/admin/users/{user}/unlock", None, "accounts.change_user", 200),
    ("patch", "/admin/users/{user}/restore", None, "accounts.change_user", 200),
    ("delete", "/admin/users/{user}/sessions", None, "accounts.change_user", 200),
    ("delete", "/admin/users/{user}/tokens/{pat}", None, "accounts.change_user", 200),
    ("delete", "/admin/users/{user}/mfa", None, "accounts.change_user", 200),
    ("delete", "/admin/users/{user}", None, "accounts.delete_user", 200),
    ("get", "/admin/admins", None, "admins.view_admin", 200),
    ("get", "/admin/admins/{admin}", None, "admins.view_admin", 200),
    ("patch", "/admin/admins/{admin}", {"roles": []}, "admins.change_admin", 200),
    ("post", "/admin/auth/register", NEW_ADMIN, "admins.add_admin", 201),
    ("get", "/admin/permissions", None, "auth.view_group", 200),
    ("get", "/admin/roles", None, "auth.view_group", 200),
    ("get", "/admin/roles/{role}", None, "auth.view_group", 200),
    ("post", "/admin/roles", {"name": "Support", "permissions": []}, "auth.add_group", 201),
    ("patch", "/admin/roles/{role}", {"description": "Nothing yet"}, "auth.change_group", 200),
    ("put", "/admin/roles/{role}", {"name": "Still empty", "permissions": []}, "auth.change_group", 200),
    ("delete", "/admin/roles/{role}", None, "auth.delete_group", 200),
    ("get", "/admin/audit", None, "common.view_auditevent", 200),
    ("get", "/admin/webhooks", None, "common.view_webhookendpoint", 200),
    ("get", "/admin/webhooks/{endpoint}", None, "common.view_webhookendpoint", 200),
    ("get", "/admin/webhooks/{endpoint}/deliveries", None, "common.view_webhookendpoint", 200),
    ("post", "/admin/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, "common.add_webhookendpoint", 201),
    ("patch", "/admin/webhooks/{endpoint}", {"description": "x"}, "common.change_webhookendpoint", 200),
    ("post", "/admin/webhooks/{endpoint}/rotate-secret", None, "common.change_webhookendpoint", 200),
    ("post", "/admin/webhooks/{endpoint}/test", None, "common.change_webhookendpoint", 200),
    ("post", "/admin/webhooks/{endpoint}/deliveries/{delivery}/retry", None, "common.change_webhookendpoint", 200),
    ("delete", "/admin/webhooks/{endpoint}", None, "common.delete_webhookendpoint", 200),
]
EVERY = sorted({row[3] for row in TABLE})


def call(client, method: str, path: str, body, credential: str, world: dict):
    return getattr(client, method)(path.format(**world), body, format="json", **bearer(credential))


@pytest.mark.parametrize(("method", "path", "body", "permission", "status"), TABLE,
                         ids=[f"{r[0]} {r[1]}" for r in TABLE])  # fmt: skip
class TestEveryEndpointNeedsItsPermission:
    def test_without_it_403_naming_it(self, api_client, world, method, path, body, permission, status):
        everything_else = operator(*(p for p in EVERY if p != permission))
        response = call(api_client, method, path, body, jwt_of(everything_else), world)
        assert assert_error(response, 403, "FORBIDDEN") == {"permission": [permission]}

    def test_with_it_allowed(self, api_client, world, method, path, body, permission, status):
        assert_ok(call(api_client, method, path, body, jwt_of(operator(permission)), world), status)

    def test_a_pat_acts_with_its_admins_permissions_narrowed_by_its_abilities(
        self, api_client, world, method, path, body, permission, status
    ):
        if path == "/admin/auth/register":
            pytest.skip("creating an admin needs a login session (§13), whatever the permission")
        admin = operator(permission)
        reader = PersonalAccessTokenFactory(owner=admin, abilities=["read"]).secret
        response = call(api_client, method, path, body, reader, world)
        if ".view_" in permission:
            assert_ok(response, status)
        else:
            assert assert_error(response, 403, "FORBIDDEN") == {"permission": [permission]}
            writer = PersonalAccessTokenFactory(owner=admin, abilities=["read", "write"]).secret
            assert_ok(call(api_client, method, path, body, writer, world), status)
        nothing = PersonalAccessTokenFactory(owner=operator(), abilities=["read", "write"]).secret
        assert assert_error(call(api_client, method, path, body, nothing, world), 403, "FORBIDDEN") == {
            "permission": [permission]
        }


def test_a_403_comes_before_the_body_is_read_or_the_id_looked_up(api_client):
    token = jwt_of(operator())
    for path in ("/admin/users/999999", "/admin/roles/999999", "/admin/webhooks/999999"):
        assert assert_error(api_client.delete(path, **bearer(token)), 403, "FORBIDDEN")
    response = api_client.post("/admin/roles", "not json", content_type="application/json", **bearer(token))
    assert assert_error(response, 403, "FORBIDDEN") == {"permission": ["auth.add_group"]}


def test_a_revoked_grant_stops_the_very_next_request(api_client):
    admin = operator("accounts.view_user")
    token = jwt_of(admin)
    assert_ok(api_client.get("/admin/users", **bearer(token)))
    role = admin.groups.get()
    role.permissions.clear()
    assert_error(api_client.get("/admin/users", **bearer(token)), 403, "FORBIDDEN")
    role.permissions.set(roles.permission_rows(["accounts.view_user"]))
    assert_ok(api_client.get("/admin/users", **bearer(token)))
    admin.groups.clear()
    assert_error(api_client.get("/admin/users", **bearer(token)), 403, "FORBIDDEN")


def test_a_registered_admin_holds_nothing_but_its_own_endpoints(api_client):
    creator = jwt_of(operator("admins.add_admin"))
    body = {"username": "fresh", "name": "Fresh", "email": "fresh@example.com", "password": "a-long-passphrase"}
    made = assert_ok(api_client.post("/admin/auth/register", body, format="json", **bearer(creator)), 201)
    assert (made["is_superuser"], made["roles"], made["permissions"]) == (False, [], [])
    fresh = Admin.objects.get(username="fresh")
    token = jwt_of(fresh)
    assert assert_ok(api_client.get("/admin/me", **bearer(token)))["permissions"] == []
    assert_error(api_client.get("/admin/users", **bearer(token)), 403, "FORBIDDEN")


class TestMe:
    def test_shows_roles_and_effective_permissions(self, api_client):
        admin = operator("accounts.view_user", "common.view_auditevent")
        me = assert_ok(api_client.get("/admin/me", **bearer(jwt_of(admin))))
        assert me["is_superuser"] is False
        assert me["roles"] == [{"id": admin.groups.get().pk, "name": f"role of {admin.username}"}]
        assert me["permissions"] == ["accounts.view_user", "common.view_auditevent"]

    def test_a_superuser_holds_every_listed_permission(self, api_client):
        token = jwt_of(AdminFactory())
        me = assert_ok(api_client.get("/admin/me", **bearer(token)))
        listed = [p["name"] for p in assert_ok(api_client.get("/admin/permissions", **bearer(token)))]
        assert me["is_superuser"] is True and me["permissions"] == sorted(listed)
        assert set(EVERY) <= set(listed)
        assert {"name": "accounts.view_user", "description": "Can view user"} in assert_ok(
            api_client.get("/admin/permissions", **bearer(token))
        )

    def test_the_check_costs_no_query_until_the_grants_change(self, api_client, monkeypatch):
        """A role holder's GET /admin/users costs what a superuser's does: the process keeps its
        permission names by the admin's grants_version (read with the account). A change of
        its grants costs one query, once; GET /admin/me checks no permission at all."""
        UserFactory.create_batch(3)

        def queries(token: str, path: str, warm: bool = True) -> int:
            if warm:
                api_client.get(path, **bearer(token))  # warm: the key store, the session, the grants
            with CaptureQueriesContext(connection) as captured:
                assert api_client.get(path, **bearer(token)).status_code == 200
            return len(captured)

        clerk = operator("accounts.view_user")
        boss, clerks = jwt_of(AdminFactory()), jwt_of(clerk)
        base = queries(boss, "/admin/users")
        assert queries(clerks, "/admin/users") == base
        clerk.groups.get().permissions.add(*roles.permission_rows(["common.view_auditevent"]))
        assert queries(clerks, "/admin/users", warm=False) == base + 1
        assert queries(clerks, "/admin/users", warm=False) == base

        def no_check(*args, **kwargs):
            raise AssertionError("a permission was checked")

        monkeypatch.setattr(Admin, "has_perm", no_check)
        assert_ok(api_client.get("/admin/me", **bearer(jwt_of(operator()))))


class TestRoles:
    def test_create_read_update_delete_with_audit(self, api_client):
        boss = AdminFactory()
        token = jwt_of(boss)
        body = {"name": "Support", "description": "Reads users", "permissions": ["accounts.view_user"]}
        role = assert_ok(api_client.post("/admin/roles", body, format="json", **bearer(token)), 201)
        assert role == {"id": role["id"], "name": "Support", "description": "Reads users",
                        "permissions": ["accounts.view_user"], "admin_count": 0}  # fmt: skip
        taken = api_client.post("/admin/roles", {**body, "name": "SUPPORT"}, format="json", **bearer(token))
        assert_error(taken, 409, "CONFLICT")
        unknown = api_client.post("/admin/roles", {"name": "X", "permissions": ["nope.nothing"]}, format="json",
                                  **bearer(token))  # fmt: skip
        assert list(assert_error(unknown, 400, "VALIDATION_ERROR")) == ["permissions"]
        member = AdminFactory(is_superuser=False)
        member.groups.add(role["id"])
        page = assert_ok(api_client.get("/admin/roles", **bearer(token)))
        assert [(r["name"], r["admin_count"]) for r in page["items"]] == [("Support", 1)]
        patch = {"permissions": ["accounts.view_user", "accounts.change_user"]}
        changed = assert_ok(api_client.patch(f"/admin/roles/{role['id']}", patch, format="json", **bearer(token)))
        assert changed["permissions"] == ["accounts.change_user", "accounts.view_user"]
        assert_ok(api_client.delete(f"/admin/roles/{role['id']}", **bearer(token)))
        assert not Role.objects.exists() and member.groups.count() == 0
        events = list(AuditEvent.objects.filter(event__startswith="role.").values_list("event", flat=True))
        assert sorted(events) == ["role.created", "role.deleted", "role.updated"]

    def test_nobody_grants_what_they_do_not_hold(self, api_client):
        clerk = operator("auth.add_group", "auth.change_group", "auth.delete_group", "accounts.view_user")
        token = jwt_of(clerk)
        body = {"name": "Mine", "permissions": ["accounts.view_user", "accounts.delete_user"]}
        response = api_client.post("/admin/roles", body, format="json", **bearer(token))
        assert assert_error(response, 403, "FORBIDDEN") == {"permission": ["accounts.delete_user"]}
        own = clerk.groups.get()
        grow = {"permissions": [*sorted(clerk.permission_names()), "accounts.delete_user"]}
        response = api_client.patch(f"/admin/roles/{own.pk}", grow, format="json", **bearer(token))
        assert assert_error(response, 403, "FORBIDDEN") == {"permission": ["accounts.delete_user"]}
        strong = Role.objects.create(name="Strong")
        strong.permissions.set(roles.permission_rows(["accounts.delete_user"]))
        for attempt in (api_client.patch(f"/admin/roles/{strong.pk}", {"description": "mine"}, format="json",
                                         **bearer(token)), api_client.delete(f"/admin/roles/{strong.pk}",
                                                                             **bearer(token))):  # fmt: skip
            assert assert_error(attempt, 403, "FORBIDDEN") == {"permission": ["accounts.delete_user"]}
        assert set(roles._names_of(own)) == {"auth.add_group", "auth.change_group", "auth.delete_group",
                                             "accounts.view_user"}  # fmt: skip


class TestAdmins:
    def test_list_filter_and_change_roles_with_audit(self, api_client):
        boss = AdminFactory()
        token = jwt_of(boss)
        support = Role.objects.create(name="Support")
        support.permissions.set(roles.permission_rows(["accounts.view_user"]))
        agent = AdminFactory(is_superuser=False, username="agent")
        changed = assert_ok(api_client.patch(f"/admin/admins/{agent.pk}", {"roles": [support.pk]}, format="json",
                                              **bearer(token)))  # fmt: skip
        assert changed["roles"] == [{"id": support.pk, "name": "Support"}]
        assert changed["permissions"] == ["accounts.view_user"]
        listed = assert_ok(api_client.get(f"/admin/admins?role={support.pk}", **bearer(token)))
        assert [a["username"] for a in listed["items"]] == ["agent"]
        event = AuditEvent.objects.get(event="admin.roles_changed")
        assert (event.account_id, event.details) == (agent.pk, {"added": ["Support"], "removed": []})
        unknown = api_client.patch(f"/admin/admins/{agent.pk}", {"roles": [999999]}, format="json", **bearer(token))
        assert list(assert_error(unknown, 400, "VALIDATION_ERROR")) == ["roles"]
        promoted = assert_ok(api_client.patch(f"/admin/admins/{agent.pk}", {"is_superuser": True}, format="json",
                                              **bearer(token)))  # fmt: skip
        assert promoted["is_superuser"] is True
        assert AuditEvent.objects.filter(event="admin.roles_changed").latest("id").details == {
            "added": [], "removed": [], "is_superuser": True,
        }  # fmt: skip

    def test_the_rules_against_escalation(self, api_client):
        boss = AdminFactory()
        manager = operator("admins.change_admin", "admins.view_admin", "accounts.view_user")
        token = jwt_of(manager)
        strong = Role.objects.create(name="Strong")
        strong.permissions.set(roles.permission_rows(["accounts.delete_user"]))
        weak = Role.objects.create(name="Weak")
        weak.permissions.set(roles.permission_rows(["accounts.view_user"]))
        agent = AdminFactory(is_superuser=False)
        path = f"/admin/admins/{agent.pk}"

        def patch(body: dict, as_token: str = token, where: str = path):
            return api_client.patch(where, body, format="json", **bearer(as_token))

        assert assert_error(patch({"roles": [strong.pk]}), 403, "FORBIDDEN") == {"permission": ["accounts.delete_user"]}
        assert_ok(patch({"roles": [weak.pk]}))
        agent.groups.add(strong)  # given by someone stronger: the manager cannot take it away either
        assert assert_error(patch({"roles": [weak.pk]}), 403, "FORBIDDEN") == {"permission": ["accounts.delete_user"]}
        assert_error(patch({"is_superuser": True}), 403, "FORBIDDEN")
        assert_error(patch({"is_active": False}, where=f"/admin/admins/{boss.pk}"), 403, "FORBIDDEN")
        assert_error(patch({"roles": []}, where=f"/admin/admins/{manager.pk}"), 403, "FORBIDDEN")  # its own
        boss_token = jwt_of(boss)
        assert_error(patch({"is_superuser": False}, boss_token, f"/admin/admins/{boss.pk}"), 403, "FORBIDDEN")
        assert_ok(patch({"is_active": False}, boss_token))
        assert Admin.objects.get(pk=agent.pk).is_active is False

    def test_the_last_active_superuser_stays(self, api_client):
        """Through the API only a superuser changes a superuser, and never itself: the last one is
        reached when another superuser's request was already under way (as the concurrent test
        below makes it), which the service judges against the database, not the request's view."""
        first, second = AdminFactory(), AdminFactory()
        under_way = Admin.objects.get(pk=second.pk)  # authenticated before its own demotion
        assert_ok(api_client.patch(f"/admin/admins/{second.pk}", {"is_superuser": False}, format="json",
                                   **bearer(jwt_of(first))))  # fmt: skip
        for change in ({"is_superuser": False}, {"is_active": False}):
            with pytest.raises(Conflict):
                roles.change_admin(actor=under_way, target=Admin.objects.get(pk=first.pk), data=change)
        assert Admin.objects.filter(is_superuser=True, is_active=True).get() == first


@pytest.mark.django_db(transaction=True)
def test_two_demotions_at_once_leave_one_superuser(postgres_only):
    """Two superusers demote each other at the same moment: one of them must fail (409)."""
    from rest_framework.test import APIClient

    from common.tests.utils import run_concurrently

    first, second = AdminFactory(), AdminFactory()
    tokens = [jwt_of(first), jwt_of(second)]
    targets = [second.pk, first.pk]

    def demote(i: int) -> int:
        return APIClient().patch(f"/admin/admins/{targets[i]}", {"is_superuser": False}, format="json",
                                 **bearer(tokens[i])).status_code  # fmt: skip

    # the loser is refused under the lock (409), or, when the winner committed before the loser's
    # request was authenticated, as no longer a superuser (403): either way one superuser stays
    assert sorted(run_concurrently(demote, 2)) in ([200, 403], [200, 409])
    assert Admin.objects.filter(is_superuser=True, is_active=True).count() == 1


class TestTheAdminSite:
    def site_for(self, admin: Admin):
        from django.test import Client

        client = Client()
        client.force_login(admin)
        return client

    def test_roles_are_shown_as_roles_and_groups_are_gone(self):
        page = self.site_for(AdminFactory()).get("/django-admin/").content.decode()
        assert "/django-admin/admins/role/" in page and "/django-admin/auth/group/" not in page

    def test_a_staff_member_cannot_give_its_own_role_every_permission(self):
        clerk = operator("auth.view_group", "auth.change_group", "accounts.view_user")
        own = clerk.groups.get()
        every = list(Role.grantable().values_list("pk", flat=True))
        response = self.site_for(clerk).post(f"/django-admin/admins/role/{own.pk}/change/",
                                             {"name": own.name, "description": "", "permissions": every})  # fmt: skip
        assert response.status_code == 200 and response.context["adminform"].form.errors
        assert roles._names_of(own) == {"auth.view_group", "auth.change_group", "accounts.view_user"}

    def test_a_role_made_on_the_site_goes_through_the_rules_and_the_audit(self):
        boss = AdminFactory()
        view_user = Permission.objects.get(codename="view_user", content_type__app_label="accounts")
        response = self.site_for(boss).post("/django-admin/admins/role/add/",
                                            {"name": "Desk", "description": "Front desk",
                                             "permissions": [view_user.pk]})  # fmt: skip
        assert response.status_code == 302, response.content
        role = Role.objects.get(name="Desk")
        assert (role.description, roles._names_of(role)) == ("Front desk", {"accounts.view_user"})
        assert AuditEvent.objects.filter(event="role.created", details__name="Desk").exists()

    def test_the_site_and_the_api_agree_on_a_limited_admin(self, api_client):
        """One viewer of users, through both doors: each allows and refuses the same things."""
        viewer = operator("accounts.view_user")
        user = UserFactory()
        site, token = self.site_for(viewer), jwt_of(viewer)
        # reading users: both allow
        assert site.get("/django-admin/accounts/user/").status_code == 200
        assert_ok(api_client.get("/admin/users", **bearer(token)))
        # changing a user: both refuse
        page = site.post(f"/django-admin/accounts/user/{user.pk}/change/", {"name": "Changed"})
        assert page.status_code == 403
        assert_error(api_client.patch(f"/admin/users/{user.pk}", {"name": "Changed"}, format="json",
                                      **bearer(token)), 403, "FORBIDDEN")  # fmt: skip
        # deleting a user: both refuse
        assert site.post(f"/django-admin/accounts/user/{user.pk}/delete/", {"post": "yes"}).status_code == 403
        assert_error(api_client.delete(f"/admin/users/{user.pk}", **bearer(token)), 403, "FORBIDDEN")
        # roles and the audit trail: both refuse
        assert site.get("/django-admin/admins/role/").status_code == 403
        assert_error(api_client.get("/admin/roles", **bearer(token)), 403, "FORBIDDEN")
        assert site.get("/django-admin/common/auditevent/").status_code == 403
        assert_error(api_client.get("/admin/audit", **bearer(token)), 403, "FORBIDDEN")
        assert UserFactory._meta.model.objects.get(pk=user.pk).deleted_at is None


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_a_grant_taken_back_stops_the_next_request_on_every_server():
    from common.tests.utils import gunicorn, http

    clerk = operator("accounts.view_user")
    auth = {"Authorization": f"Bearer {jwt_of(clerk)}"}
    with gunicorn(workers=2) as first, gunicorn(workers=2) as second:
        for _ in range(4):  # every worker has read (and keeps) the clerk's grants
            assert http("GET", f"{first}/admin/users", headers=auth)[0] == 200
            assert http("GET", f"{second}/admin/users", headers=auth)[0] == 200
        clerk.groups.get().permissions.clear()
        for _ in range(4):
            for server in (first, second):
                status, body = http("GET", f"{server}/admin/users", headers=auth)
                assert (status, body["error"]["details"]) == (403, {"permission": ["accounts.view_user"]})
        clerk.groups.get().permissions.set(roles.permission_rows(["accounts.view_user"]))
        assert http("GET", f"{second}/admin/users", headers=auth)[0] == 200
        clerk.groups.clear()
        assert http("GET", f"{first}/admin/users", headers=auth)[0] == 403
