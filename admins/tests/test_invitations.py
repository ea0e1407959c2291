"""Invitations (docs/api.md §26): operators bring people into either realm."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from admins import roles
from admins.models import Admin, Invitation, Role
from admins.tests.test_roles import jwt_of, operator
from common import product
from common.models import AuditEvent, Setting
from common.tests.factories import UserFactory
from common.tests.utils import assert_error, assert_ok, bearer

pytestmark = pytest.mark.django_db
LINK = re.compile(r"(https?://\S+/(?:admin/)?accept-invitation)\?token=([\w.:-]+)")
PASSWORD = "an-invited-passphrase"


@pytest.fixture
def auth(admin_token) -> dict:
    return bearer(admin_token)


def invite(client, auth, **body):
    return client.post("/admin/invitations", {"realm": "user", **body}, format="json", **auth)


def token_of(message) -> tuple[str, str]:
    found = set(LINK.findall(message.body))
    assert len(found) == 1, found
    return found.pop()


def accept(client, realm, token, **fields):
    prefix = "/admin/auth" if realm == "admin" else "/auth"
    body = {"token": token, "username": "invitee", "password": PASSWORD, **fields}
    return client.post(f"{prefix}/invitations/accept", body, format="json")


@pytest.mark.parametrize("realm", ["user", "admin"])
def test_invite_inspect_accept(api_client, auth, admin, realm, committed):
    with committed():
        invitation = assert_ok(invite(api_client, auth, email="New@Example.com", name="Nina", realm=realm), 201)
    assert invitation["status"] == "pending" and invitation["email"] == "new@example.com"
    assert invitation["invited_by"] == {"id": admin.pk, "username": admin.username} and invitation["roles"] == []
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    url, token = token_of(message)
    assert url == f"http://testserver/{'admin/' if realm == 'admin' else ''}accept-invitation"
    prefix = "/admin/auth" if realm == "admin" else "/auth"
    shown = assert_ok(api_client.post(f"{prefix}/invitations/inspect", {"token": token}, format="json"))
    assert shown["email"] == "new@example.com" and shown["realm"] == realm and shown["name"] == "Nina"
    pair = assert_ok(accept(api_client, realm, token), 201)
    me = assert_ok(api_client.get("/admin/me" if realm == "admin" else "/users/me", **bearer(pair["access_token"])))
    assert (me["email"], me["email_verified"], me["name"], me["username"]) == (
        "new@example.com",
        True,
        "Nina",
        "invitee",
    )
    assert_error(accept(api_client, realm, token, username="second"), 400, "VALIDATION_ERROR")
    listed = assert_ok(api_client.get("/admin/invitations", {"status": "accepted"}, **auth))
    assert [i["id"] for i in listed["items"]] == [invitation["id"]]
    assert set(AuditEvent.objects.filter(event__startswith="invitation.").values_list("event", flat=True)) == {
        "invitation.created", "invitation.accepted"}  # fmt: skip


def test_an_admin_invitation_gives_its_roles(api_client, auth, committed):
    viewer = Role.objects.create(name="Viewers")
    viewer.permissions.set(roles.permission_rows(["accounts.view_user"]))
    with committed():
        assert_ok(invite(api_client, auth, email="op@example.com", realm="admin", roles=[viewer.pk]), 201)
    pair = assert_ok(accept(api_client, "admin", token_of(mail.outbox[0])[1]), 201)
    made = Admin.objects.get(email="op@example.com")
    assert list(made.groups.values_list("name", flat=True)) == ["Viewers"] and not made.is_superuser
    assert assert_ok(api_client.get("/admin/users", **bearer(pair["access_token"])))


def test_roles_only_the_inviter_holds_and_only_for_admins(api_client):
    strong = Role.objects.create(name="Strong")
    strong.permissions.set(roles.permission_rows(["accounts.delete_user"]))
    inviter = operator("admins.add_admin", "accounts.add_user")
    auth = bearer(jwt_of(inviter))
    response = invite(api_client, auth, email="x@example.com", realm="admin", roles=[strong.pk])
    assert assert_error(response, 403, "FORBIDDEN") == {"roles": ["Strong"]}
    details = assert_error(invite(api_client, auth, email="x@example.com", roles=[strong.pk]), 400, "VALIDATION_ERROR")
    assert list(details) == ["roles"]
    assert not Invitation.objects.exists()


def test_permissions_follow_the_realm(api_client):
    clerk = bearer(jwt_of(operator("accounts.add_user", "accounts.view_user")))
    assert_ok(invite(api_client, clerk, email="u@example.com"), 201)
    details = assert_error(invite(api_client, clerk, email="a@example.com", realm="admin"), 403, "FORBIDDEN")
    assert details == {"permission": ["admins.add_admin"]}
    assert assert_ok(api_client.get("/admin/invitations", **clerk))["items"][0]["email"] == "u@example.com"
    nobody = bearer(jwt_of(operator()))
    assert_error(api_client.get("/admin/invitations", **nobody), 403, "FORBIDDEN")
    assert_error(invite(api_client, nobody, email="n@example.com"), 403, "FORBIDDEN")


def test_conflicts(api_client, auth):
    user = UserFactory()
    assert_error(invite(api_client, auth, email=user.email.upper()), 409, "CONFLICT")
    assert_ok(invite(api_client, auth, email="twice@example.com"), 201)
    assert_error(invite(api_client, auth, email="twice@example.com"), 409, "CONFLICT")
    assert_ok(invite(api_client, auth, email="twice@example.com", realm="admin"), 201)  # another realm


def test_resend_kills_the_old_link_and_revoke_kills_the_new(api_client, auth, committed):
    with committed():
        invitation = assert_ok(invite(api_client, auth, email="r@example.com"), 201)
    old = token_of(mail.outbox[-1])[1]
    with time_machine.travel(timezone.now() + timedelta(seconds=2)), committed():
        assert_ok(api_client.post(f"/admin/invitations/{invitation['id']}/resend", **auth))
    new = token_of(mail.outbox[-1])[1]
    assert_error(api_client.post("/auth/invitations/inspect", {"token": old}, format="json"), 400, "VALIDATION_ERROR")
    assert_ok(api_client.post("/auth/invitations/inspect", {"token": new}, format="json"))
    assert_ok(api_client.delete(f"/admin/invitations/{invitation['id']}", **auth))
    details = assert_error(accept(api_client, "user", new), 400, "VALIDATION_ERROR")
    assert details == {"token": ["This token is invalid or has expired."]}
    assert (
        assert_ok(api_client.get("/admin/invitations", {"status": "revoked"}, **auth))["items"][0]["status"]
        == "revoked"
    )
    assert_error(api_client.post(f"/admin/invitations/{invitation['id']}/resend", **auth), 409, "CONFLICT")


def test_expired_tampered_and_other_realm_tokens(api_client, auth, committed):
    with committed():
        assert_ok(invite(api_client, auth, email="e@example.com"), 201)
    token = token_of(mail.outbox[-1])[1]
    assert_error(accept(api_client, "admin", token), 400, "VALIDATION_ERROR")
    assert_error(accept(api_client, "user", token[:-2] + "xx"), 400, "VALIDATION_ERROR")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert_error(accept(api_client, "user", token), 400, "VALIDATION_ERROR")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    listed = assert_ok(api_client.get("/admin/invitations", {"status": "expired"}, **auth))
    assert [i["status"] for i in listed["items"]] == ["expired"]


def test_accepting_works_while_registration_is_closed_and_checks_the_fields(api_client, auth, committed):
    Setting.objects.create(key="registration_open", value=False)
    product.forget()
    with committed():
        assert_ok(invite(api_client, auth, email="closed@example.com"), 201)
    token = token_of(mail.outbox[-1])[1]
    assert list(assert_error(accept(api_client, "user", token, username="x"), 400, "VALIDATION_ERROR")) == ["username"]
    assert "password" in assert_error(accept(api_client, "user", token, password="short"), 400, "VALIDATION_ERROR")
    UserFactory(username="taken")
    assert_error(accept(api_client, "user", token, username="taken"), 409, "CONFLICT")
    assert_ok(accept(api_client, "user", token), 201)


def test_an_address_taken_meanwhile_is_409(api_client, auth, committed):
    with committed():
        assert_ok(invite(api_client, auth, email="race@example.com"), 201)
    token = token_of(mail.outbox[-1])[1]
    UserFactory(email="race@example.com")
    assert_error(accept(api_client, "user", token), 409, "CONFLICT")


def test_the_admin_site_invites_with_the_same_rules(client, committed):
    strong = Role.objects.create(name="Strong")
    strong.permissions.set(roles.permission_rows(["accounts.delete_user"]))
    inviter = operator("admins.add_admin", "admins.view_admin")
    inviter.is_staff = True
    inviter.save()
    client.force_login(inviter, backend="admins.backends.AdminSiteBackend")
    page = client.get("/django-admin/invite/admin/")
    assert page.status_code == 200 and b"Strong" not in page.content  # only roles the inviter holds
    assert client.get("/django-admin/invite/user/").status_code == 403
    with committed():
        sent = client.post("/django-admin/invite/admin/", {"email": "site@example.com", "name": "Site"})
    assert sent.status_code == 302
    assert Invitation.objects.get().invited_by == inviter and token_of(mail.outbox[-1])
    again = client.post("/django-admin/invite/admin/", {"email": "site@example.com"})
    assert b"pending invitation" in again.content
