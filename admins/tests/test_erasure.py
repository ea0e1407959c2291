"""Your data and its erasure (docs/api.md §27)."""

import io
import json
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from accounts.models import User
from common.models import AuditEvent, OutboxEmail
from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.code import services as codes
from tokens.mfa import services as mfa
from tokens.models import Identity, LoginSession, Passkey, PersonalAccessToken
from tokens.pats import create_pat

pytestmark = pytest.mark.django_db
EMAIL, PHONE, NAME = "loaded.person@example.com", "+15550001234", "Loaded Person"


def loaded_user(api_client, login) -> tuple[User, dict, str]:
    """A user with a bit of everything: sessions, a PAT, an identity, a passkey, MFA, a code, mail, events."""
    user = UserFactory(email=EMAIL, phone=PHONE, name=NAME, username="loadedperson", pending_email="next@example.com")
    default_storage.save("avatars/loaded.png", io.BytesIO(b"png"))
    User.objects.filter(pk=user.pk).update(avatar="avatars/loaded.png")
    pair = login(user)
    secret = create_pat(account=user, name="cli")[1]
    Identity.objects.create(user=user, provider="acme", subject="acme-sub-1", email=EMAIL)
    Passkey.objects.create(user=user, credential_id="cred-loaded", public_key=b"key-material", name="Laptop")
    mfa.start_totp(user)
    codes.mail_code(user)
    details = {"old_email": EMAIL, "note": NAME, "kept": "yes"}
    AuditEvent.objects.create(event="email.changed", realm="user", account_id=user.pk, ip_address="203.0.113.9",
                              user_agent="Browser/1", details=details)  # fmt: skip
    user.refresh_from_db()
    return user, pair, secret


def test_export_holds_everything_and_no_secret(api_client, login):
    user, pair, secret = loaded_user(api_client, login)
    data = assert_ok(api_client.get("/users/me/export", **bearer(pair["access_token"])))
    assert set(data) == {"account", "sessions", "tokens", "identities", "passkeys", "security_events", "exported_at"}
    assert data["account"]["email"] == EMAIL and len(data["sessions"]) == 1 and data["tokens"][0]["name"] == "cli"
    assert data["identities"][0]["subject"] == "acme-sub-1" and data["passkeys"][0]["name"] == "Laptop"
    assert "email.changed" in [e["event"] for e in data["security_events"]]
    text = json.dumps(data)
    token = PersonalAccessToken.objects.get()
    for hidden in (secret, token.digest, user.password, pair["refresh_token"], "key-material", "cred-loaded"):
        assert hidden not in text
    assert AuditEvent.objects.filter(event="account.exported", account_id=user.pk).exists()


def test_export_needs_a_recent_sign_in(api_client, login, settings):
    user = UserFactory()
    pair = login(user)
    settings.REAUTH_MAX_AGE_SECONDS = 0
    time.sleep(1)
    response = api_client.get("/users/me/export", **bearer(pair["access_token"]))
    assert_error(response, 401, "REAUTHENTICATION_REQUIRED")
    assert "insufficient_user_authentication" in response["WWW-Authenticate"]
    settings.REAUTH_MAX_AGE_SECONDS = 900
    fresh = assert_ok(api_client.post("/auth/reauthenticate", {"password": PASSWORD}, format="json",
                                      **bearer(pair["access_token"])))  # fmt: skip
    assert_ok(api_client.get("/users/me/export", **bearer(fresh["access_token"])))


def rows_pointing_at(user: User) -> list[tuple[str, dict]]:
    """Every row of every table that points at the user: a foreign key, or an account_id of its realm."""
    found = []
    for model in apps.get_models():
        for field in model._meta.fields:
            if isinstance(field, models.ForeignKey) and field.related_model is User:
                found += [(model.__name__, row) for row in model.objects.filter(**{field.name: user}).values()]
        if {"account_id", "realm"} <= {f.name for f in model._meta.fields}:
            found += [(model.__name__, row) for row in model.objects.filter(account_id=user.pk, realm="user").values()]
    return found


def test_erasure_leaves_no_personal_value_anywhere(api_client, login, admin_token, committed):
    user, _, _ = loaded_user(api_client, login)
    personal = [EMAIL, PHONE, NAME, "loadedperson", "next@example.com", "203.0.113.9", "Browser/1"]
    with committed():
        shown = assert_ok(api_client.post(f"/admin/users/{user.pk}/erase", **bearer(admin_token)))
    assert shown["username"] == f"erased-{user.pk}" and shown["email"] == "" and shown["phone"] is None
    row = User.objects.filter(pk=user.pk).values().get()
    assert row["deleted_at"] and row["erased_at"] and row["avatar"] == "" and not row["name"]
    text = json.dumps([row, rows_pointing_at(user)], default=str)
    for value in personal:
        assert value.lower() not in text.lower(), value
    for model in (LoginSession, PersonalAccessToken, Identity, Passkey):
        assert not model.objects.filter(user_id=user.pk).exists(), model
    assert not OutboxEmail.objects.filter(to=EMAIL).exclude(status=OutboxEmail.SENT).exists()
    assert not default_storage.exists("avatars/loaded.png")
    kept = AuditEvent.objects.get(event="email.changed")
    assert kept.details == {"kept": "yes"} and kept.ip_address is None and kept.user_agent == ""
    assert AuditEvent.objects.filter(event="account.erased", account_id=user.pk).exists()
    assert_error(api_client.patch(f"/admin/users/{user.pk}/restore", **bearer(admin_token)), 409, "CONFLICT")
    again = {"username": "loadedperson", "email": EMAIL, "name": "Again", "password": "a-fresh-passphrase-1",
             "phone": PHONE}  # fmt: skip
    assert_ok(api_client.post("/auth/register", again, format="json"), 201)


def test_erase_needs_delete_user(api_client):
    from admins.tests.test_roles import jwt_of, operator

    user = UserFactory()
    details = assert_error(api_client.post(f"/admin/users/{user.pk}/erase", **bearer(jwt_of(operator()))), 403,
                           "FORBIDDEN")  # fmt: skip
    assert details == {"permission": ["accounts.delete_user"]}
    assert_ok(api_client.post(f"/admin/users/{user.pk}/erase", **bearer(jwt_of(operator("accounts.delete_user")))))


def test_purge_deleted_erases_only_what_is_due(db):
    now = timezone.now()
    old, recent, alive = UserFactory(), UserFactory(), UserFactory()
    User.objects.filter(pk=old.pk).update(deleted_at=now - timedelta(days=31))
    User.objects.filter(pk=recent.pk).update(deleted_at=now - timedelta(days=2))
    out = io.StringIO()
    call_command("purge_deleted", "--dry-run", stdout=out)
    assert "user: 1 account(s) would be erased." in out.getvalue()
    assert User.objects.filter(erased_at__isnull=False).count() == 0
    call_command("purge_deleted", stdout=io.StringIO())
    assert list(User.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)) == [old.pk]
    call_command("purge_deleted", "--days", "0", stdout=io.StringIO())
    assert set(User.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)) == {old.pk, recent.pk}
    assert User.objects.get(pk=alive.pk).erased_at is None
