"""`import_fastapi` (docs/api.md §22): real source databases made with the FastAPI service's
libraries, then people sign in with the passwords and tokens they had."""

import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from PIL import Image

from accounts.models import User
from admins.models import Admin, Role
from common.models import AuditEvent
from common.tests.utils import assert_error, assert_ok, bearer
from testkit.fastapi_source import Source, argon2, bcrypt_hash
from testkit.servers import database_url
from tokens.models import PersonalAccessToken

pytestmark = pytest.mark.django_db
LONG = "a" * 72 + "-and-then-some-more"  # over bcrypt's 72 bytes: the old service ignored the rest
LEGACY_TOKEN = "Zk3lKq9vR2mN8pX4tY7wB1cD5eF6gH0jA2sL3qW9e"


def png(path: Path) -> None:
    Image.new("RGB", (2000, 1000), "navy").save(path, "PNG")


def source(tmp_path: Path) -> Source:
    media = tmp_path / "uploads"
    media.mkdir()
    png(media / "alice.png")
    (media / "broken.png").write_bytes(b"not an image")
    s = Source()
    s.account("users", 7, "alice", argon2("alice-passphrase"), avatar="alice.png", phone="+15550001111")
    s.account("users", 9, "bob", bcrypt_hash("bob-passphrase"), avatar="gone.png")
    s.account("users", 12, "carol", bcrypt_hash(LONG, "$2y$"), avatar="broken.png")
    s.account("users", 15, "dave", "md5$legacy$abcdef")  # nothing here reads it
    s.account("users", 16, "erin", argon2("erin-passphrase"), deleted_at=datetime(2025, 1, 2, 3, 4, 5))
    s.account("users", 20, "frank", argon2("frank-passphrase"), failed_login_attempts=5,
              locked_until=datetime.utcnow() + timedelta(minutes=10))  # fmt: skip
    s.account("admins", 3, "root", argon2("root-passphrase"))
    s.token(1, LEGACY_TOKEN, user_id=7)
    s.token(2, "expired-legacy-token-0123456789", user_id=7, expires_at=datetime(2020, 1, 1))
    s.token(3, "admin-legacy-token-0123456789abc", admin_id=3, expires_at=None, name=None)
    return s


def run(url: str, *args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("import_fastapi", url, *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return out.getvalue() + str(exc), exc.returncode
    return out.getvalue(), 0


def login(client, path: str, username: str, password: str):
    return client.post(path, {"username": username, "password": password}, format="json")


class TestRoles:
    def test_roles_their_mapped_permissions_and_holders_move(self, tmp_path):
        s = source(tmp_path)
        s.account("admins", 4, "agent", argon2("agent-passphrase"))
        s.role(1, "Support", ["users:read", "audit_logs:read", "collections:read"], holders=[4])
        s.role(2, "Operators", ["users:read", "users:create", "users:update", "users:delete", "admins:read",
                                "roles:update", "roles:delete"], holders=[3, 4])  # fmt: skip
        s.role(3, "Retired", ["users:delete"], holders=[4], is_active=False)
        url = s.sqlite(str(tmp_path / "fastapi.db"))
        out, status = run(url)
        assert status == 0, out
        assert "roles moved: 3" in out and "permission not carried (no counterpart here): collections:read" in out

        def grants(name: str) -> set[str]:
            role = Role.objects.get(name=name)
            return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all()}

        assert grants("Support") == {"accounts.view_user", "common.view_auditevent"}
        assert grants("Operators") == {"accounts.view_user", "accounts.add_user", "accounts.change_user",
                                       "accounts.delete_user", "admins.view_admin", "auth.change_group",
                                       "auth.delete_group"}  # fmt: skip
        assert grants("Retired") == set()
        assert Role.objects.get(name="Support").description == "Support role"
        agent, root = Admin.objects.get(username="agent"), Admin.objects.get(username="root")
        assert sorted(agent.groups.values_list("name", flat=True)) == ["Operators", "Retired", "Support"]
        assert list(root.groups.values_list("name", flat=True)) == ["Operators"]
        assert not agent.is_superuser and not root.is_superuser  # imported admins are not superusers
        again, status = run(url)
        assert status == 0 and "roles skipped: 3" in again and Role.objects.count() == 3

    def test_a_source_from_before_roles_still_imports(self, tmp_path):
        out, status = run(source(tmp_path).sqlite(str(tmp_path / "old.db")))
        assert status == 0 and "roles moved: 0" in out and not Role.objects.exists()


class TestImport:
    def test_everything_moves_and_people_sign_in_as_before(self, api_client, tmp_path, settings):
        settings.RATE_LIMIT_ATTEMPTS = 100
        settings.PASSWORD_HASHERS = ["accounts.hashers.BoundedArgon2PasswordHasher",
                                     "accounts.hashers.LegacyBCryptPasswordHasher"]  # fmt: skip
        url = source(tmp_path).sqlite(str(tmp_path / "fastapi.db"))
        out, code = run(url, "--media-dir", str(tmp_path / "uploads"))
        assert code == 0, out
        for line in ("users moved: 6", "admins moved: 1", "unusable passwords: 1", "avatars moved: 1",
                     "avatars missing: 2", "tokens moved: 2", "tokens skipped: 1", "conflicts: 0"):  # fmt: skip
            assert line in out, out
        alice = User.objects.get(pk=7)
        assert (alice.username, alice.email, alice.phone, alice.email_verified) == (
            "alice", "alice@example.com", "+15550001111", True,
        )  # fmt: skip
        assert alice.created_at == datetime(2024, 5, 1, 12, 30, 7, tzinfo=UTC)
        with Image.open(Path(settings.MEDIA_ROOT) / alice.avatar.name) as avatar:
            assert max(avatar.size) == 1024  # through the pipeline: scaled
        assert User.objects.get(pk=16).is_deleted and User.objects.get(pk=20).is_locked
        assert not User.objects.get(pk=15).has_usable_password()

        for username, password in (("alice", "alice-passphrase"), ("bob", "bob-passphrase"), ("carol", LONG)):
            assert "access_token" in assert_ok(login(api_client, "/auth/login", username, password)), username
            rehashed = User.objects.get(username=username).password
            assert rehashed.startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$")  # the service's own hasher now
            assert_ok(login(api_client, "/auth/login", username, password))  # and still signs in
        assert_error(login(api_client, "/auth/login", "bob", "wrong"), 401, "INVALID_CREDENTIALS")
        assert_error(login(api_client, "/auth/login", "erin", "erin-passphrase"), 401, "INVALID_CREDENTIALS")
        assert_error(login(api_client, "/auth/login", "frank", "frank-passphrase"), 423, "ACCOUNT_LOCKED")
        assert_ok(login(api_client, "/admin/auth/login", "root", "root-passphrase"))

        me = assert_ok(api_client.get("/users/me", **bearer(LEGACY_TOKEN)))
        assert me["username"] == "alice"
        assert_ok(api_client.get("/admin/me", **bearer("admin-legacy-token-0123456789abc")))
        assert_error(api_client.get("/users/me", **bearer("expired-legacy-token-0123456789")), 401, "INVALID_TOKEN")
        token = PersonalAccessToken.objects.get(user_id=7)
        assert LEGACY_TOKEN not in token.digest and token.abilities == ["read", "write"] and token.name == "token 1"
        assert PersonalAccessToken.objects.get(admin_id=3).name == "imported"
        event = AuditEvent.objects.get(event="import.completed")
        assert event.details["users_moved"] == 6 and event.details["conflicts"] == 0

    def test_running_again_skips_what_moved(self, tmp_path):
        url = source(tmp_path).sqlite(str(tmp_path / "fastapi.db"))
        assert run(url)[1] == 0
        out, code = run(url)
        assert code == 0 and "users moved: 0" in out and "users skipped: 6" in out and "admins skipped: 1" in out
        assert "tokens moved: 0" in out
        assert User.objects.count() == 6 and PersonalAccessToken.objects.count() == 2

    def test_conflicts_are_listed_never_overwritten_and_exit_1(self, tmp_path):
        from common.tests.factories import UserFactory

        UserFactory(id=500, username="Alice")  # the same username, in another case, on another account
        UserFactory(id=9, username="someone-else")  # bob's id
        url = source(tmp_path).sqlite(str(tmp_path / "fastapi.db"))
        out, code = run(url)
        assert code == 1 and "conflicts: 2" in out
        assert "users id 7 (alice): username, email already taken here" in out and "users id 9 (bob): id" in out
        assert User.objects.get(pk=500).username == "Alice" and User.objects.get(pk=9).username == "someone-else"
        assert not PersonalAccessToken.objects.filter(user_id=7).exists()  # tokens of accounts not moved stay out

    def test_a_dry_run_reports_the_same_and_writes_nothing(self, tmp_path, settings):
        url = source(tmp_path).sqlite(str(tmp_path / "fastapi.db"))
        out, code = run(url, "--dry-run", "--media-dir", str(tmp_path / "uploads"))
        assert code == 0 and out.startswith("Dry run: nothing was written.") and "users moved: 6" in out
        assert not User.objects.exists() and not Admin.objects.exists() and not PersonalAccessToken.objects.exists()
        assert not AuditEvent.objects.exists()
        assert not any((Path(settings.MEDIA_ROOT) / "avatars").glob("*"))

    def test_unverified(self, tmp_path):
        run(source(tmp_path).sqlite(str(tmp_path / "fastapi.db")), "--unverified")
        assert not User.objects.filter(email_verified=True).exists()


class TestSourceErrors:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ("DROP TABLE personal_access_tokens", "The source has no table personal_access_tokens."),
            ("ALTER TABLE admins DROP COLUMN deleted_at", "The source table admins has no column deleted_at."),
        ],
    )
    def test_a_missing_table_or_column_is_exit_2_and_writes_nothing(self, tmp_path, change, message):
        import sqlite3

        url = source(tmp_path).sqlite(str(tmp_path / "fastapi.db"))
        with sqlite3.connect(tmp_path / "fastapi.db") as db:
            db.execute(change)
        out, code = run(url)
        assert code == 2 and message in out and not User.objects.exists()

    def test_an_unreachable_source_is_one_line_and_exit_2(self, tmp_path):
        result = subprocess.run(
            [sys.executable, "manage.py", "import_fastapi", "postgresql://nobody@127.0.0.1:1/none"],
            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
            env={"DJANGO_SETTINGS_MODULE": "config.tests.settings", "DATABASE_URL": database_url(),
                 "PATH": "/usr/bin:/bin", "SECRET_KEY": settings.SECRET_KEY},
        )  # fmt: skip
        assert result.returncode == 2
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("CommandError: The source database cannot be reached")
        missing = run(f"sqlite:///{tmp_path}/nothing-here.db")
        assert missing[1] == 2 and "does not exist" in missing[0]


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_source_moves_and_the_sequences_move_past_it(postgres_only, tmp_path, api_client):
    name = f"fastapi_source_{uuid.uuid4().hex[:8]}"
    admin_url = database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    source_url = database_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(source_url) as db:
            source(tmp_path).write(db, placeholder="%s")
        out, code = run(source_url)
        assert code == 0 and "users moved: 6" in out, out
        assert_ok(login(api_client, "/auth/login", "alice", "alice-passphrase"))
        assert_ok(api_client.get("/users/me", **bearer(LEGACY_TOKEN)))
        body = {"username": "newcomer", "name": "New", "email": "new@example.com", "password": "a-long-passphrase"}
        assert assert_ok(api_client.post("/auth/register", body, format="json"), 201)["id"] == 21
    finally:
        with psycopg.connect(admin_url, autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert connection.vendor == "postgresql"


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_people_sign_in_through_gunicorn_with_what_they_had(tmp_path):
    import json

    from common.tests.utils import gunicorn, http

    assert run(source(tmp_path).sqlite(str(tmp_path / "fastapi.db")))[1] == 0
    with gunicorn() as url:
        for username, password in (("alice", "alice-passphrase"), ("carol", LONG)):
            body = json.dumps({"username": username, "password": password}).encode()
            status, answer = http("POST", f"{url}/auth/login", body, {"Content-Type": "application/json"})
            assert status == 200 and "access_token" in answer["data"], answer
        status, answer = http("GET", f"{url}/users/me", headers={"Authorization": f"Bearer {LEGACY_TOKEN}"})
        assert status == 200 and answer["data"]["username"] == "alice"


class TestUntrustedSource:
    """The source is checked, not trusted."""

    def test_values_that_break_the_field_rules_are_conflicts_and_exit_1(self, tmp_path):
        s = Source()
        s.account("users", 1, "bad name", argon2("a-passphrase"), email="bad@example.com")
        s.account("users", 2, "mallory", argon2("a-passphrase"), email="not-an-address")
        s.account("users", 3, "phoney", argon2("a-passphrase"), phone="call me")
        s.account("users", 4, "maybe", argon2("a-passphrase"), is_active="perhaps")
        s.account("users", 5, "okay", argon2("a-passphrase"))
        out, code = run(s.sqlite(str(tmp_path / "fastapi.db")))
        assert code == 1 and "conflicts: 4" in out, out
        assert "users id 1 (bad name): invalid username" in out
        assert "users id 2 (mallory): invalid email" in out
        assert "users id 3 (phoney): invalid phone" in out
        assert "users id 4 (maybe): is_active is not a boolean ('perhaps')" in out
        assert list(User.objects.values_list("username", flat=True)) == ["okay"]

    def test_booleans_are_parsed_strictly_and_addresses_normalized(self, tmp_path):
        s = Source()
        s.account("users", 1, "offline", argon2("a-passphrase"), is_active="false")
        s.account("users", 2, "online", argon2("a-passphrase"), is_active="true", email="Kate@\uff45xample.com")
        assert run(s.sqlite(str(tmp_path / "fastapi.db")))[1] == 0
        assert not User.objects.get(username="offline").is_active
        on = User.objects.get(username="online")
        assert on.is_active and on.email == "kate@example.com"

    def test_hashes_over_the_cost_bounds_move_without_a_usable_password(self, tmp_path, api_client, settings):
        from passlib.hash import argon2 as passlib_argon2

        settings.PASSWORD_HASHERS = ["accounts.hashers.BoundedArgon2PasswordHasher",
                                     "accounts.hashers.LegacyBCryptPasswordHasher"]  # fmt: skip
        costly = passlib_argon2.using(memory_cost=262_144, rounds=8).hash("slow-passphrase")
        expensive_bcrypt = "$2b$16$" + "a" * 53
        s = Source()
        s.account("users", 1, "slow", costly)
        s.account("users", 2, "slower", expensive_bcrypt)
        s.account("users", 3, "fine", argon2("fine-passphrase"))
        out, code = run(s.sqlite(str(tmp_path / "fastapi.db")))
        assert code == 0 and "costly hashes: 2" in out, out
        assert "hash over the cost bounds (moved without a usable password; resets): users id 1 (slow)" in out
        assert not User.objects.get(username="slow").has_usable_password()
        assert not User.objects.get(username="slower").has_usable_password()
        assert_error(login(api_client, "/auth/login", "slow", "slow-passphrase"), 401, "INVALID_CREDENTIALS")
        assert_ok(login(api_client, "/auth/login", "fine", "fine-passphrase"))

    def test_a_malformed_stored_hash_is_a_wrong_password_not_a_500(self, api_client, settings):
        from common.tests.factories import UserFactory

        settings.PASSWORD_HASHERS = ["accounts.hashers.BoundedArgon2PasswordHasher"]
        UserFactory(username="garbled", password="x").__class__.objects.filter(username="garbled").update(
            password="argon2$argon2id$garbage$x"
        )
        assert_error(login(api_client, "/auth/login", "garbled", "anything"), 401, "INVALID_CREDENTIALS")

    def test_short_tokens_are_not_carried(self, tmp_path, api_client):
        s = Source()
        s.account("users", 1, "alice", argon2("a-passphrase"))
        s.token(1, "a", user_id=1)
        s.token(2, "b" * 31, user_id=1)
        s.token(3, "c" * 32, user_id=1)
        out, code = run(s.sqlite(str(tmp_path / "fastapi.db")))
        assert code == 0 and "tokens moved: 1" in out and "tokens skipped: 2" in out, out
        assert_error(api_client.get("/users/me", **bearer("a")), 401, "INVALID_TOKEN")
        assert_ok(api_client.get("/users/me", **bearer("c" * 32)))
