"""Registration and profiles (docs/api.md §3, §4, §6), once per realm where both share it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import update_profile
from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer, run_concurrently

ACCOUNT_KEYS = {
    "email_verified",
    "pending_email",
    "mfa_enabled",
    "id",
    "username",
    "name",
    "email",
    "phone",
    "avatar_url",
    "is_active",
    "created_at",
    "last_login_at",
}


def body(**overrides):
    return {
        "username": "alice",
        "name": "Alice Doe",
        "email": "Alice@Example.com",
        "password": "a-long-passphrase",
        **overrides,
    }


class TestRegister:
    def test_register_json(self, api_client, db):
        data = assert_ok(api_client.post("/auth/register", body(phone="+15551234567"), format="json"), 201)
        assert set(data) == ACCOUNT_KEYS
        assert data["email"] == "alice@example.com"
        assert data["phone"] == "+15551234567"
        assert data["is_active"] is True and data["avatar_url"] is None and data["last_login_at"] is None
        assert data["created_at"].endswith("Z")
        user = User.objects.get(username="alice")
        assert user.password.startswith("md5$")  # hashed (fast hasher in tests)
        assert "password" not in data

    def test_register_form_encoded(self, api_client, db):
        assert_ok(api_client.post("/auth/register", body()), 201)

    def test_fields_a_client_may_not_set_are_ignored(self, api_client, db):
        data = assert_ok(
            api_client.post(
                "/auth/register",
                body(id=999, is_active=False, failed_login_attempts=9, deleted_at="2020-01-01T00:00:00Z"),
                format="json",
            ),
            201,
        )
        user = User.objects.get(pk=data["id"])
        assert data["id"] != 999
        assert user.is_active and user.failed_login_attempts == 0 and user.deleted_at is None

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"username": "ab"}, "username"),
            ({"username": "x" * 151}, "username"),
            ({"username": "bad name"}, "username"),
            ({"username": "has@sign"}, "username"),
            ({"username": "ünïcode"}, "username"),
            ({"email": "not-an-email"}, "email"),
            ({"phone": "12345"}, "phone"),
            ({"phone": "+1234567890123456"}, "phone"),
            ({"phone": "555-1234567"}, "phone"),
            ({"name": ""}, "name"),
            ({"name": "n" * 256}, "name"),
            ({"password": "12345"}, "password"),
            ({"password": "password"}, "password"),
            ({"password": "alice-doe"}, "password"),
            ({"password": "p" * 1025}, "password"),
        ],
    )
    def test_field_rules(self, api_client, db, overrides, field):
        details = assert_error(
            api_client.post("/auth/register", body(**overrides), format="json"), 400, "VALIDATION_ERROR"
        )
        assert field in details
        assert User.objects.count() == 0

    def test_username_and_phone_edges_are_accepted(self, api_client, db):
        data = assert_ok(
            api_client.post("/auth/register", body(username="a.b+c-d_e", phone="1234567"), format="json"), 201
        )
        assert data["username"] == "a.b+c-d_e"

    def test_empty_phone_means_null(self, api_client, db):
        assert assert_ok(api_client.post("/auth/register", body(phone=""), format="json"), 201)["phone"] is None

    def test_conflicts_are_409_naming_the_fields_case_insensitively(self, api_client, db):
        UserFactory(username="Alice", email="alice@example.com", phone="+15550000000")
        response = api_client.post("/auth/register", body(username="ALICE", phone="+15550000000"), format="json")
        details = assert_error(response, 409, "CONFLICT")
        assert set(details) == {"username", "email", "phone"}
        assert User.objects.count() == 1

    def test_soft_deleted_accounts_keep_their_names_reserved(self, api_client, db):
        UserFactory(username="alice", email="gone@example.com").soft_delete()
        details = assert_error(api_client.post("/auth/register", body(), format="json"), 409, "CONFLICT")
        assert set(details) == {"username"}


@pytest.mark.django_db(transaction=True)
def test_parallel_registrations_with_one_username_give_one_201(postgres_only, settings):
    settings.REGISTER_RATE = "1000/h"

    def register(i: int) -> tuple[int, dict]:
        response = APIClient().post(
            "/auth/register", body(username="racer", email=f"racer{i}@example.com"), format="json"
        )
        return response.status_code, response.json()

    results = run_concurrently(register, 20)
    statuses = [status for status, _ in results]
    for status, payload in results:
        if status == 409:
            assert payload["error"]["details"] == {"username": ["This username is already taken."]}
    assert sorted(statuses) == [201] + [409] * 19
    assert User.objects.filter(username="racer").count() == 1


class TestMe:
    def test_get(self, api_client, realm_case):
        account = realm_case.make(phone="+15551112222")
        token = realm_case.login_pair(api_client, account)["access_token"]
        data = assert_ok(api_client.get(realm_case.me, **bearer(token)))
        grants = {"is_superuser", "roles", "permissions"} if realm_case.name == "admin" else set()  # §24
        assert set(data) == ACCOUNT_KEYS | grants
        assert (data["id"], data["username"], data["email"], data["phone"]) == (
            account.pk,
            account.username,
            account.email,
            "+15551112222",
        )
        assert data["last_login_at"] is not None

    @pytest.mark.parametrize("method", ["put", "patch"])
    @pytest.mark.parametrize(
        ("field", "value", "expected"),
        [
            ("username", "renamed", "renamed"),
            ("name", "New Name", "New Name"),
            ("phone", "+15559998888", "+15559998888"),
            ("phone", "", None),
        ],
    )
    def test_update_each_field(self, api_client, realm_case, method, field, value, expected):
        account = realm_case.make(phone="+15550001111")
        token = realm_case.login_pair(api_client, account)["access_token"]
        response = getattr(api_client, method)(realm_case.me, {field: value}, format="json", **bearer(token))
        data = assert_ok(response)
        assert data[field] == expected
        assert data["name"] == (expected if field == "name" else account.name)
        account.refresh_from_db()
        assert getattr(account, field) == expected

    def test_conflict_on_another_accounts_email_in_other_case(self, api_client, realm_case):
        realm_case.make(email="taken@example.com")
        account = realm_case.make()
        token = realm_case.login_pair(api_client, account)["access_token"]
        body = {"email": "TAKEN@example.com", "current_password": PASSWORD}
        response = api_client.patch(realm_case.me, body, format="json", **bearer(token))
        assert set(assert_error(response, 409, "CONFLICT")) == {"email"}
        account.refresh_from_db()
        assert account.email != "taken@example.com"

    def test_keeping_ones_own_username_in_other_case_is_fine(self, api_client, realm_case):
        account = realm_case.make(username="keeper")
        token = realm_case.login_pair(api_client, account)["access_token"]
        assert (
            assert_ok(api_client.patch(realm_case.me, {"username": "Keeper"}, format="json", **bearer(token)))[
                "username"
            ]
            == "Keeper"
        )

    def test_is_active_and_password_in_the_body_are_ignored(self, api_client, realm_case):
        account = realm_case.make()
        token = realm_case.login_pair(api_client, account)["access_token"]
        data = assert_ok(
            api_client.put(
                realm_case.me,
                {"is_active": False, "password": "hijacked-password", "failed_login_attempts": 99, "name": "Still Me"},
                format="json",
                **bearer(token),
            )
        )
        assert data["is_active"] is True and data["name"] == "Still Me"
        account.refresh_from_db()
        assert account.is_active and account.check_password(PASSWORD) and account.failed_login_attempts == 0

    def test_invalid_update_changes_nothing(self, api_client, realm_case):
        account = realm_case.make()
        token = realm_case.login_pair(api_client, account)["access_token"]
        response = api_client.patch(realm_case.me, {"name": "Good", "email": "bad"}, format="json", **bearer(token))
        assert "email" in assert_error(response, 400, "VALIDATION_ERROR")
        account.refresh_from_db()
        assert account.name != "Good"

    def test_delete_soft_deletes_and_blocks_login(self, api_client, db):
        user = UserFactory()
        token = assert_ok(api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}))[
            "access_token"
        ]
        assert assert_ok(api_client.delete("/users/me", **bearer(token))) is None
        user.refresh_from_db()
        assert user.is_deleted
        assert_error(api_client.get("/users/me", **bearer(token)), 401, "INVALID_TOKEN")
        assert_error(
            api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}),
            401,
            "INVALID_CREDENTIALS",
        )

    def test_admins_cannot_delete_themselves_through_the_api(self, api_client, admin_token):
        assert_error(api_client.delete("/admin/me", **bearer(admin_token)), 405, "METHOD_NOT_ALLOWED")

    def test_browsable_api_renders_html_with_the_envelope(self, api_client, realm_case):
        account = realm_case.make()
        token = realm_case.login_pair(api_client, account)["access_token"]
        response = api_client.get(realm_case.me, HTTP_ACCEPT="text/html", **bearer(token))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert b"&quot;success&quot;: true" in response.content
        assert account.username.encode() in response.content

    def test_browsable_api_errors_are_json(self, api_client, realm_case):
        response = api_client.get(realm_case.me, HTTP_ACCEPT="text/html")
        assert_error(response, 401, "NOT_AUTHENTICATED")
        assert response["Content-Type"] == "application/json"


def test_profile_update_does_not_overwrite_a_concurrent_lock(user):
    # The request loaded the account before a lock landed: its stale copy must not undo the lock.
    stale = User.objects.get(pk=user.pk)
    locked_until = timezone.now() + timedelta(minutes=30)
    User.objects.filter(pk=user.pk).update(failed_login_attempts=5, locked_until=locked_until)
    update_profile(account=stale, data={"name": "New"})
    user.refresh_from_db()
    assert user.name == "New" and user.failed_login_attempts == 5 and user.locked_until == locked_until


@pytest.mark.django_db
class TestUnicodeAddresses:
    """§4: addresses are stored and compared after NFKC, so one mailbox has one spelling."""

    def body(self, username: str, email: str) -> dict:
        return {"username": username, "name": "Demo", "email": email, "password": "a-long-passphrase"}

    def test_a_fullwidth_letter_is_the_same_address(self, api_client):
        assert_ok(api_client.post("/auth/register", self.body("demo7", "demo7@example.com"), format="json"), 201)
        response = api_client.post("/auth/register", self.body("demo8", "demo7@\uff45xample.com"), format="json")
        assert_error(response, 409, "CONFLICT")

    def test_the_normalized_address_is_stored_and_signs_in(self, api_client):
        data = assert_ok(
            api_client.post("/auth/register", self.body("kelvin", "\u212aate@Example.com"), format="json"), 201
        )
        assert data["email"] == "kate@example.com"
        login = {"username": "\uff4bate@example.com", "password": "a-long-passphrase"}
        assert_ok(api_client.post("/auth/login", login, format="json"))
