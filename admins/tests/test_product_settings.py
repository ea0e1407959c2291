"""Product settings and statistics (docs/api.md §25)."""

import io
import json
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from admins.tests.test_roles import jwt_of, operator
from common.models import AuditEvent, Setting
from common.tests.factories import AdminFactory, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from testkit import hostile_images

pytestmark = pytest.mark.django_db


def png(size: tuple[int, int] = (32, 16)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def admin_auth(admin_token) -> dict:
    return bearer(admin_token)


def put(client, auth, key, body):
    return client.put(f"/admin/settings/{key}", body, format="json", **auth)


def public(client) -> dict:
    return assert_ok(client.get("/settings/public"))


class TestPublicSettings:
    def test_the_defaults_from_the_configuration(self, api_client, settings):
        settings.PRODUCT_NAME, settings.PASSWORD_MIN_LENGTH, settings.REQUIRE_EMAIL_VERIFICATION = "Acme", 9, True
        response = api_client.get("/settings/public")
        assert response["Cache-Control"] == "public, max-age=30"
        assert response.json()["data"] == {
            "product_name": "Acme", "logo_url": None, "support_email": None, "registration_open": True,
            "sign_in_methods": {"password": True, "passkeys": True, "code": True, "providers": []},
            "password_min_length": 9, "require_email_verification": True, "custom": {},
        }  # fmt: skip

    def test_sign_in_methods_follow_the_configuration(self, api_client, settings):
        settings.OIDC_PROVIDERS = {
            "acme": {"issuer": "https://id.example.com", "client_id": "c", "name": "Acme ID"},
            "staff": {"issuer": "https://staff.example.com", "client_id": "s", "realms": ["admin"]},
        }
        settings.PASSKEYS_ENABLED = False
        methods = public(api_client)["sign_in_methods"]
        assert methods["providers"] == [{"id": "acme", "name": "Acme ID"}] and methods["passkeys"] is False
        settings.OIDC_PROVIDERS, settings.PASSKEYS_ENABLED = {}, True
        methods = public(api_client)["sign_in_methods"]
        assert methods["providers"] == [] and methods["passkeys"] is True

    def test_passkeys_turned_off_cannot_be_added_or_used(self, api_client, settings, user_token):
        settings.PASSKEYS_ENABLED = False
        assert_error(api_client.post("/auth/passkey/options", {}, format="json"), 404, "NOT_FOUND")
        assert_error(api_client.post("/users/me/passkeys/options", {}, format="json", **bearer(user_token)), 404,
                     "NOT_FOUND")  # fmt: skip
        assert assert_ok(api_client.get("/users/me/passkeys", **bearer(user_token))) == []


class TestKnownKeys:
    @pytest.mark.parametrize(
        ("key", "value", "shown"),
        [("product_name", "  Acme  ", "Acme"), ("support_email", "help@example.com", "help@example.com"),
         ("support_email", None, None), ("registration_open", False, False)],
    )  # fmt: skip
    def test_a_valid_value_is_saved_shown_and_reset(self, api_client, admin_auth, admin, key, value, shown):
        saved = assert_ok(put(api_client, admin_auth, key, {"value": value}))
        assert saved["key"] == key and saved["value"] == shown and saved["is_public"] is True
        assert saved["updated_by"] == {"id": admin.pk, "username": admin.username}
        assert public(api_client)[key] == shown
        assert assert_ok(api_client.delete(f"/admin/settings/{key}", **admin_auth)) is None
        default = {"product_name": "Accounts", "support_email": None, "registration_open": True}[key]
        setting = assert_ok(api_client.get(f"/admin/settings/{key}", **admin_auth))
        assert setting["value"] == default and setting["updated_by"] is None
        assert public(api_client)[key] == default

    @pytest.mark.parametrize(
        ("key", "value"),
        [("product_name", ""), ("product_name", "x" * 101), ("product_name", 7), ("support_email", "nope"),
         ("support_email", 3), ("registration_open", "false"), ("registration_open", 0), ("registration_open", None)],
    )  # fmt: skip
    def test_a_bad_value_is_400_with_details_value(self, api_client, admin_auth, key, value):
        details = assert_error(put(api_client, admin_auth, key, {"value": value}), 400, "VALIDATION_ERROR")
        assert list(details) == ["value"]
        assert not Setting.objects.exists()

    def test_a_missing_value_is_400(self, api_client, admin_auth):
        response = assert_error(put(api_client, admin_auth, "product_name", {}), 400, "VALIDATION_ERROR")
        assert response == {"value": ["This field is required."]}

    def test_the_list_shows_every_known_key_and_the_custom_ones(self, api_client, admin_auth):
        put(api_client, admin_auth, "theme.colour", {"value": "#fff", "is_public": True, "description": "Brand"})
        listed = assert_ok(api_client.get("/admin/settings", **admin_auth))
        assert [s["key"] for s in listed] == ["logo", "product_name", "registration_open", "support_email",
                                              "theme.colour"]  # fmt: skip
        assert listed[1]["value"] == "Accounts" and listed[1]["updated_at"] is None

    def test_changes_are_audited(self, api_client, admin_auth, admin):
        put(api_client, admin_auth, "product_name", {"value": "Acme"})
        api_client.delete("/admin/settings/product_name", **admin_auth)
        events = AuditEvent.objects.filter(event="setting.changed").order_by("id")
        assert [e.details for e in events] == [{"key": "product_name", "value": "Acme"},
                                               {"key": "product_name", "reset": True}]  # fmt: skip
        assert {e.account_id for e in events} == {admin.pk}


class TestCustomKeys:
    def test_public_and_private_custom_keys(self, api_client, admin_auth):
        value = {"colours": ["#123456"], "beta": True}
        assert_ok(put(api_client, admin_auth, "theme", {"value": value, "is_public": True}))
        assert_ok(put(api_client, admin_auth, "billing.key", {"value": "s3cr3t-value"}))
        assert public(api_client)["custom"] == {"theme": value}
        events = AuditEvent.objects.filter(event="setting.changed").order_by("id")
        assert events[0].details == {"key": "theme", "value": value}
        assert events[1].details == {"key": "billing.key"}
        assert "s3cr3t-value" not in json.dumps([e.details for e in AuditEvent.objects.all()])
        assert_ok(api_client.delete("/admin/settings/billing.key", **admin_auth))
        assert_error(api_client.get("/admin/settings/billing.key", **admin_auth), 404, "NOT_FOUND")
        assert_error(api_client.delete("/admin/settings/billing.key", **admin_auth), 404, "NOT_FOUND")

    @pytest.mark.parametrize("key", ["Theme", "1abc", "a b", "x" * 99 + "X", "a$"])
    def test_a_bad_key_is_400(self, api_client, admin_auth, key):
        details = assert_error(put(api_client, admin_auth, key, {"value": 1}), 400, "VALIDATION_ERROR")
        assert list(details) == ["key"]
        assert not Setting.objects.exists()

    def test_a_key_longer_than_100_is_no_setting(self, api_client, admin_auth):
        assert_error(put(api_client, admin_auth, "x" * 101, {"value": 1}), 404, "NOT_FOUND")

    def test_a_value_over_4_kb_is_400(self, api_client, admin_auth):
        response = assert_error(put(api_client, admin_auth, "big", {"value": "x" * 4100}), 400, "VALIDATION_ERROR")
        assert list(response) == ["value"]
        assert_ok(put(api_client, admin_auth, "big", {"value": "x" * 4000}))


class TestLogo:
    def test_an_image_is_stored_shown_and_replaced(self, api_client, admin_auth, committed):
        first = assert_ok(api_client.put("/admin/settings/logo", {"file": io.BytesIO(png())}, format="multipart",
                                         **admin_auth))  # fmt: skip
        assert first["value"].startswith("http://testserver/media/logos/")
        assert public(api_client)["logo_url"] == first["value"]
        name = Setting.objects.get(key="logo").value
        assert default_storage.exists(name)
        assert api_client.get(first["value"].removeprefix("http://testserver")).status_code == 200
        with committed():
            second = assert_ok(api_client.put("/admin/settings/logo", {"file": io.BytesIO(png((8, 8)))},
                                              format="multipart", **admin_auth))  # fmt: skip
        assert second["value"] != first["value"] and not default_storage.exists(name)
        name = Setting.objects.get(key="logo").value
        with committed():
            assert_ok(api_client.delete("/admin/settings/logo", **admin_auth))
        assert public(api_client)["logo_url"] is None and not default_storage.exists(name)

    @pytest.mark.parametrize(
        ("make", "status", "code"),
        [(hostile_images.apng, 400, "VALIDATION_ERROR"),  # the pipeline's own refusals, under 1 MB
         (lambda: hostile_images.lossless_webp(6300), 400, "VALIDATION_ERROR"),  # a 1.6 KB decompression bomb
         (hostile_images.jpeg_segment_flood, 413, "PAYLOAD_TOO_LARGE")],  # over the logo's 1 MB
    )  # fmt: skip
    def test_a_hostile_image_is_refused_and_nothing_is_stored(self, api_client, admin_auth, make, status, code):
        response = api_client.put("/admin/settings/logo", {"file": io.BytesIO(make())}, format="multipart",
                                  **admin_auth)  # fmt: skip
        assert list(assert_error(response, status, code)) == ["file"]
        assert not Setting.objects.exists()
        assert not default_storage.exists("logos") or not default_storage.listdir("logos")[1]

    def test_not_an_image_is_400_and_a_json_value_is_refused(self, api_client, admin_auth):
        response = api_client.put("/admin/settings/logo", {"file": io.BytesIO(b"not an image")}, format="multipart",
                                  **admin_auth)  # fmt: skip
        assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["file"]
        assert_error(put(api_client, admin_auth, "logo", {"value": "x"}), 400, "VALIDATION_ERROR")


class TestRegistrationSwitch:
    def test_closed_registration_is_403_and_opens_again(self, api_client, admin_auth):
        put(api_client, admin_auth, "registration_open", {"value": False})
        body = {"username": "newbie", "email": "newbie@example.com", "password": "long-enough-1", "name": "N"}
        assert_error(api_client.post("/auth/register", body, format="json"), 403, "REGISTRATION_CLOSED")
        assert not UserFactory._meta.model.objects.filter(username="newbie").exists()
        put(api_client, admin_auth, "registration_open", {"value": True})
        assert api_client.post("/auth/register", body, format="json").status_code == 201


class TestPermissions:
    @pytest.mark.parametrize(
        ("method", "path", "permission"),
        [("get", "/admin/settings", "common.view_setting"), ("get", "/admin/settings/product_name",
         "common.view_setting"), ("put", "/admin/settings/product_name", "common.change_setting"),
         ("delete", "/admin/settings/product_name", "common.delete_setting"),
         ("get", "/admin/statistics", "accounts.view_user")],
    )  # fmt: skip
    def test_each_endpoint_needs_its_permission(self, api_client, method, path, permission):
        without = bearer(jwt_of(operator()))
        response = getattr(api_client, method)(path, {"value": "X"}, format="json", **without)
        assert assert_error(response, 403, "FORBIDDEN") == {"permission": [permission]}
        granted = bearer(jwt_of(operator(permission)))
        assert getattr(api_client, method)(path, {"value": "X"}, format="json", **granted).status_code == 200


class TestStatistics:
    def test_the_numbers(self, api_client, admin_auth):
        now = timezone.now()
        UserFactory(mfa_enabled=True)
        UserFactory(is_active=False, email_verified=False)
        UserFactory(locked_until=now + timedelta(minutes=5))
        old = UserFactory()
        UserFactory._meta.model.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
        gone = UserFactory()
        gone.soft_delete()
        AdminFactory(is_active=False)
        from common import audit

        for event in ("login.succeeded", "login.succeeded", "login.failed"):
            audit.record(event, account=old, reason="wrong_password")
        stats = assert_ok(api_client.get("/admin/statistics", **admin_auth))
        assert stats["users"] == {"total": 4, "active": 3, "inactive": 1, "deleted": 1, "verified": 3,
                                  "mfa_enabled": 1, "new_24h": 3, "new_7d": 4}  # fmt: skip
        assert stats["admins"] == {"total": 2, "active": 1}
        # both realms sign in: the admin_token fixture's login is the third success
        assert stats["logins"] == {"succeeded_24h": 3, "failed_24h": 1, "locked_now": 1}
        days = stats["signups_30d"]
        assert len(days) == 30 and days[-1] == {"date": now.date().isoformat(), "count": 4}
        assert days[-4]["count"] == 1 and sum(d["count"] for d in days) == 5
        UserFactory()
        again = assert_ok(api_client.get("/admin/statistics", **admin_auth))
        assert again == stats  # kept up to 60 s


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_closing_registration_reaches_every_server_within_5_seconds():
    from common.tests.utils import gunicorn, http

    admin = AdminFactory()
    auth = {"Authorization": f"Bearer {jwt_of(admin)}", "Content-Type": "application/json"}
    body = lambda n: json.dumps({"username": f"sw{n}", "email": f"sw{n}@example.com", "password": "long-enough-1",  # noqa: E731
                                 "name": "S"}).encode()  # fmt: skip
    register = {"Content-Type": "application/json"}
    with gunicorn(workers=2) as first, gunicorn(workers=2) as second:
        for server in (first, second):
            assert http("GET", f"{server}/settings/public")[1]["data"]["registration_open"] is True
        status, _ = http(
            "PUT", f"{first}/admin/settings/registration_open", json.dumps({"value": False}).encode(), auth
        )
        assert status == 200
        time.sleep(5)
        for i, server in enumerate((first, second) * 3):
            status, answer = http("POST", f"{server}/auth/register", body(i), register)
            assert (status, answer["error"]["code"]) == (403, "REGISTRATION_CLOSED")
        status, _ = http(
            "PUT", f"{second}/admin/settings/registration_open", json.dumps({"value": True}).encode(), auth
        )
        time.sleep(5)
        for i, server in enumerate((first, second) * 2):
            assert http("POST", f"{server}/auth/register", body(10 + i), register)[0] == 201
