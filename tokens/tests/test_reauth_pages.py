"""'Confirm it's you' in the browser (§27): the browsable API and the admin site ask for the
password again before the changes the API guards with a recent sign-in."""

import time

import pytest

from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from tokens.models import LoginSession

pytestmark = pytest.mark.django_db


def test_the_browsable_api_sends_a_stale_session_to_confirm_it(client, settings):
    user = UserFactory()
    assert client.post("/api-auth/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    # auth_time is kept in whole seconds (it is a JWT claim): a proof may look up to 1 s older.
    settings.REAUTH_MAX_AGE_SECONDS = 2
    time.sleep(3.1)
    refused = client.post("/users/me/tokens", {"name": "cli"}, content_type="application/json")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "REAUTHENTICATION_REQUIRED"
    assert b'id="reauth-link"' in client.get("/users/me/tokens", HTTP_ACCEPT="text/html").content
    wrong = client.post("/api-auth/reauthenticate/", {"password": "not-it"})
    assert wrong.status_code == 200 and b'id="reauth-error"' in wrong.content
    done = client.post("/api-auth/reauthenticate/", {"password": PASSWORD, "next": "/users/me/tokens"})
    assert done.status_code == 302 and done["Location"] == "/users/me/tokens"
    assert client.post("/users/me/tokens", {"name": "cli"}, content_type="application/json").status_code == 201


def test_the_admin_sites_credential_pages_ask_for_it(client, settings):
    admin = AdminFactory()
    signed_in = client.post("/django-admin/login/", {"username": admin.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    other = UserFactory()
    session = LoginSession.objects.create(user=other, refresh_jti="x", expires_at=other.created_at.replace(year=2099))
    revoke = {"action": "revoke", "_selected_action": [session.pk]}
    settings.REAUTH_MAX_AGE_SECONDS = 2  # whole seconds, as above
    time.sleep(3.1)
    asked = client.post("/django-admin/tokens/loginsession/", revoke)
    assert asked.status_code == 302 and asked["Location"].startswith("/django-admin/reauthenticate/?next=")
    session.refresh_from_db()
    assert session.revoked_at is None
    confirmed = client.post(asked["Location"], {"password": PASSWORD})
    assert confirmed.status_code == 302 and confirmed["Location"] == "/django-admin/tokens/loginsession/"
    client.post("/django-admin/tokens/loginsession/", revoke)
    session.refresh_from_db()
    assert session.revoked_at is not None
