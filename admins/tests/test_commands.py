"""Operator commands: createadmin (both modes) and seed."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from admins.models import Admin, Role
from common.tests.factories import AdminFactory, UserFactory
from tokens.models import LoginSession, PersonalAccessToken
from tokens.sessions import open_session
from tokens.tests.factories import PersonalAccessTokenFactory

FLAGS = {"username": "root", "email": "Root@Example.com", "name": "Root Admin", "password": "a-long-passphrase"}


def createadmin(**options):
    out = StringIO()
    call_command("createadmin", interactive=False, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


class TestCreateAdminNoInput:
    def test_creates_a_superuser_admin(self, db):
        assert "Admin 'root' created" in createadmin(**FLAGS)
        admin = Admin.objects.get(username="root")
        assert admin.email == "root@example.com" and admin.name == "Root Admin"
        assert admin.is_superuser and admin.is_staff and admin.check_password("a-long-passphrase")

    def test_password_from_the_environment(self, db, monkeypatch):
        monkeypatch.setenv("ADMIN_PASSWORD", "env-provided-passphrase")
        createadmin(**{k: v for k, v in FLAGS.items() if k != "password"})
        assert Admin.objects.get(username="root").check_password("env-provided-passphrase")

    def test_clash_is_a_clear_error(self, db):
        AdminFactory(username="ROOT")
        with pytest.raises(CommandError, match="username: an admin with this username already exists"):
            createadmin(**FLAGS)
        assert Admin.objects.count() == 1

    def test_bad_email(self, db):
        with pytest.raises(CommandError, match="email"):
            createadmin(**{**FLAGS, "email": "not-an-email"})
        assert not Admin.objects.exists()

    def test_short_password(self, db):
        with pytest.raises(CommandError, match="password"):
            createadmin(**{**FLAGS, "password": "123"})
        assert not Admin.objects.exists()

    def test_with_roles_an_operator_not_a_superuser(self, db):
        from admins import roles

        roles.ensure_default_roles()
        out = createadmin(**FLAGS, role=["viewer", "User manager"])
        assert "with the roles Viewer, User manager" in out
        admin = Admin.objects.get(username="root")
        assert not admin.is_superuser and sorted(admin.groups.values_list("name", flat=True)) == [
            "User manager", "Viewer"
        ]  # fmt: skip
        assert admin.has_perm("accounts.delete_user") and not admin.has_perm("admins.add_admin")

    def test_an_unknown_role_is_a_clear_error_and_makes_nobody(self, db):
        with pytest.raises(CommandError, match="Unknown role: Nobody"):
            createadmin(**FLAGS, role=["Nobody"])
        assert not Admin.objects.exists()

    def test_missing_values(self, db):
        with pytest.raises(CommandError, match="--password"):
            createadmin(username="x", email="x@example.com", name="X")


def test_createadmin_exits_with_status_1_on_bad_input(db):
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.tests.settings", "DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createadmin",
            "--no-input",
            "--username",
            "x",
            "--email",
            "bad",
            "--name",
            "X",
            "--password",
            "a-long-passphrase",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "email" in result.stderr and "Traceback" not in result.stderr


def test_createadmin_interactive_prompts_and_retries(db, monkeypatch):
    AdminFactory(username="taken")
    answers = iter(["taken", "fresh", "not-an-email", "fresh@example.com", "Fresh Admin"])
    passwords = iter(["123", "123", "one-long-passphrase", "different", "one-long-passphrase", "one-long-passphrase"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(passwords))
    err = StringIO()
    call_command("createadmin", stdout=StringIO(), stderr=err)
    admin = Admin.objects.get(username="fresh")
    assert admin.check_password("one-long-passphrase") and admin.name == "Fresh Admin"
    messages = err.getvalue()
    assert "already exists" in messages
    assert "valid email" in messages
    assert "too short" in messages
    assert "didn't match" in messages


class TestSeed:
    def test_counts_and_idempotence(self, db, monkeypatch):
        monkeypatch.setenv("SEED_ADMIN_PASSWORD", "seeded-admin-passphrase")
        out = StringIO()
        call_command("seed", users=30, stdout=out)
        assert User.objects.count() == 30
        assert Admin.objects.get(username="admin").check_password("seeded-admin-passphrase")
        text = out.getvalue()
        assert "Created admin 'admin' with password: seeded-admin-passphrase" in text
        assert "Created 30 users in " in text and "users/s" in text
        hashes = set(User.objects.values_list("password", flat=True))
        assert len(hashes) == 1  # one hash computed once and reused
        again = StringIO()
        call_command("seed", users=30, stdout=again)
        assert User.objects.count() == 30 and Admin.objects.count() == 1
        assert "nothing to add" in again.getvalue()
        assert "Created role 'Viewer'" in text and "Created role 'Viewer'" not in again.getvalue()
        viewer, manager = (Role.objects.get(name=name) for name in ("Viewer", "User manager"))
        viewing = {f"{p.content_type.app_label}.{p.codename}" for p in viewer.permissions.all()}
        assert viewing == {"accounts.view_user", "admins.view_admin", "auth.view_group", "common.view_auditevent",
                           "common.view_webhookendpoint", "common.view_setting",
                           "oauth2_provider.view_application"}  # fmt: skip
        managing = {f"{p.content_type.app_label}.{p.codename}" for p in manager.permissions.all()}
        assert managing == viewing | {"accounts.change_user", "accounts.delete_user"}

    def test_generated_admin_password_is_not_fixed(self, db, monkeypatch):
        monkeypatch.delenv("SEED_ADMIN_PASSWORD", raising=False)
        out = StringIO()
        call_command("seed", users=1, stdout=out)
        password = out.getvalue().split("with password: ")[1].split()[0]
        assert len(password) >= 12
        assert Admin.objects.get(username="admin").check_password(password)

    def test_seeded_users_can_log_in(self, db, monkeypatch, api_client):
        monkeypatch.setenv("SEED_USER_PASSWORD", "demo-user-passphrase")
        call_command("seed", users=3, stdout=StringIO())
        response = api_client.post("/auth/login", {"username": "demo2", "password": "demo-user-passphrase"})
        assert response.status_code == 200


def test_purge_tokens_removes_expired_and_revoked_only(db):
    user = UserFactory()
    live = PersonalAccessTokenFactory(owner=user)
    PersonalAccessTokenFactory(owner=user, expires_at=timezone.now() - timedelta(minutes=1))
    PersonalAccessTokenFactory(owner=user, revoked_at=timezone.now())
    open_session(user, None)
    open_session(user, None)
    LoginSession.objects.filter(pk=LoginSession.objects.first().pk).update(revoked_at=timezone.now())
    out = StringIO()
    call_command("purge_tokens", stdout=out)
    assert out.getvalue().strip() == "Removed 1 login sessions and 2 personal access tokens."
    assert list(PersonalAccessToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert LoginSession.objects.count() == 1
