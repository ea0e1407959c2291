"""The Django admin site at /django-admin/: Admin accounts, the API's lockout, actions through services."""

import re

import pytest
from django.test import Client

from accounts.models import User
from admins.models import Admin
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from tokens.models import LoginSession
from tokens.tests.factories import PersonalAccessTokenFactory

LOGIN = "/django-admin/login/"


@pytest.fixture
def site(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def change_form(site: Client, url: str, fields: dict) -> dict:
    """`fields` plus the management form of the page's inlines (the credential lists)."""
    page = site.get(url).content.decode()
    management = dict(re.findall(r'name="([^"]*-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="([^"]*)"', page))
    return {**management, **fields}


def post_login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/django-admin/"})


def test_admin_logs_in_with_username_in_any_case(admin):
    client = Client()
    response = post_login(client, admin.username.upper(), PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/django-admin/"
    assert client.get("/django-admin/").status_code == 200


def test_users_cannot_log_into_the_admin_site(db):
    user = UserFactory()
    response = post_login(Client(), user.username, PASSWORD)
    assert response.status_code == 200
    assert b"Please enter the correct" in response.content


def test_locked_admin_is_refused_even_with_the_right_password(admin, settings):
    settings.RATE_LIMIT_ATTEMPTS = 100
    client = Client()
    for _ in range(settings.MAX_LOGIN_ATTEMPTS):
        assert post_login(client, admin.username, "wrong-password").status_code == 200
    admin.refresh_from_db()
    assert admin.is_locked
    response = post_login(client, admin.username, PASSWORD)
    assert response.status_code == 200
    assert b"locked after too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_staff_without_permissions_sees_nothing(db):
    staff = AdminFactory(is_superuser=False)
    client = Client()
    client.force_login(staff)
    index = client.get("/django-admin/")
    assert index.status_code == 200
    assert b"/django-admin/accounts/user/" not in index.content
    assert client.get("/django-admin/accounts/user/").status_code == 403
    assert client.get("/django-admin/tokens/personalaccesstoken/").status_code == 403


def test_changelists_search_and_filters(site):
    UserFactory(username="findme", email="findme@example.com")
    UserFactory(username="other")
    response = site.get("/django-admin/accounts/user/", {"q": "FINDME"})
    assert response.status_code == 200
    assert b"findme@example.com" in response.content
    assert b"other@example.com" not in response.content
    for query in ({"locked": "yes"}, {"deleted": "yes"}, {"is_active__exact": "0"}):
        assert site.get("/django-admin/accounts/user/", query).status_code == 200
    assert site.get("/django-admin/admins/admin/").status_code == 200
    assert site.get("/django-admin/tokens/personalaccesstoken/").status_code == 200
    assert site.get("/django-admin/tokens/loginsession/").status_code == 200


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("action_block", lambda u: not u.is_active),
        ("action_activate", lambda u: u.is_active),
        ("action_unlock", lambda u: u.failed_login_attempts == 0 and u.locked_until is None),
        ("action_delete", lambda u: u.is_deleted),
        ("action_restore", lambda u: not u.is_deleted),
    ],
)
def test_actions_go_through_the_services(site, action, check):
    from django.utils import timezone

    user = UserFactory(is_active=action != "action_activate", failed_login_attempts=5, locked_until=timezone.now())
    if action == "action_restore":
        user.soft_delete()
    response = site.post("/django-admin/accounts/user/", {"action": action, "_selected_action": [user.pk]})
    assert response.status_code == 302
    user.refresh_from_db()
    assert check(user)


def test_block_action_revokes_tokens(site):
    user = UserFactory()
    token = PersonalAccessTokenFactory(owner=user)
    site.post("/django-admin/accounts/user/", {"action": "action_block", "_selected_action": [user.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoke_all_tokens_action(site):
    user = UserFactory()
    token = PersonalAccessTokenFactory(owner=user)
    site.post(
        "/django-admin/accounts/user/", {"action": "action_revoke_all_credentials", "_selected_action": [user.pk]}
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    user.refresh_from_db()
    assert user.is_active


def test_add_user_hashes_and_validates_the_password(site):
    weak = site.post(
        "/django-admin/accounts/user/add/",
        {"username": "weakling", "name": "W", "email": "w@example.com", "password1": "123", "password2": "123"},
    )
    assert weak.status_code == 200
    assert not User.objects.filter(username="weakling").exists()
    response = site.post(
        "/django-admin/accounts/user/add/",
        {
            "username": "newbie",
            "name": "New Bie",
            "email": "NewBie@Example.com",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(username="newbie")
    assert created.email == "newbie@example.com"
    assert created.password != "a-long-passphrase"
    assert created.check_password("a-long-passphrase")


def test_add_user_with_taken_username_in_other_case_is_refused(site):
    UserFactory(username="taken")
    response = site.post(
        "/django-admin/accounts/user/add/",
        {
            "username": "TAKEN",
            "name": "T",
            "email": "t2@example.com",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
        },
    )
    assert response.status_code == 200
    assert User.objects.filter(username__iexact="taken").count() == 1


def test_change_form_and_password_form_render(site):
    user = UserFactory()
    assert site.get(f"/django-admin/accounts/user/{user.pk}/change/").status_code == 200
    assert site.get(f"/django-admin/accounts/user/{user.pk}/password/").status_code == 200
    response = site.post(
        f"/django-admin/accounts/user/{user.pk}/password/",
        {"password1": "another-long-passphrase", "password2": "another-long-passphrase", "usable_password": "true"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase")


def test_token_digest_is_read_only_and_tokens_cannot_be_added(site):
    token = PersonalAccessTokenFactory()
    page = site.get(f"/django-admin/tokens/personalaccesstoken/{token.pk}/change/")
    assert page.status_code == 200
    assert b'name="digest"' not in page.content
    assert site.get("/django-admin/tokens/personalaccesstoken/add/").status_code == 403


def test_soft_deleted_admin_loses_the_admin_site_session(site, admin):
    admin.soft_delete()
    response = site.get("/django-admin/")
    assert response.status_code == 302
    assert Admin.objects.filter(pk=admin.pk).exists()


def test_avatar_upload_goes_through_the_pipeline_and_shows_a_thumbnail(site, settings):
    from pathlib import Path

    from accounts.tests.images import image_bytes, jpeg_with_gps, upload

    user = UserFactory()
    form = {"username": user.username, "name": user.name, "email": user.email, "phone": "", "is_active": "on"}
    url = f"/django-admin/accounts/user/{user.pk}/change/"
    form = change_form(site, url, form)
    rejected = site.post(url, {**form, "avatar": upload(b"<?php echo 1; ?>", "x.png")})
    assert rejected.status_code == 200
    assert "avatar" in rejected.context["adminform"].form.errors
    gif = site.post(url, {**form, "avatar": upload(image_bytes("GIF"), "x.gif", "image/gif")})
    assert gif.context["adminform"].form.errors["avatar"] == ["Avatar must be a JPEG, PNG or WebP image."]
    assert (
        site.post(url, {**form, "avatar": upload(jpeg_with_gps(), "holiday-photo.jpg", "image/jpeg")}).status_code
        == 302
    )
    user.refresh_from_db()
    first = user.avatar.name
    assert first.startswith("avatars/") and first.endswith(".jpg") and "holiday" not in first
    assert b"Spy Camera" not in (Path(settings.MEDIA_ROOT) / first).read_bytes()
    assert site.post(url, {**form, "avatar": upload(image_bytes("PNG"), "next.png")}).status_code == 302
    user.refresh_from_db()
    assert not (Path(settings.MEDIA_ROOT) / first).exists()
    listing = site.get("/django-admin/accounts/user/")
    assert f'src="/media/{user.avatar.name}"'.encode() in listing.content


def test_unticking_active_in_the_change_form_blocks_and_revokes_tokens(site):
    user = UserFactory()
    token = PersonalAccessTokenFactory(owner=user)
    form = {"username": user.username, "name": user.name, "email": user.email, "phone": ""}  # is_active left out
    url = f"/django-admin/accounts/user/{user.pk}/change/"
    assert site.post(url, change_form(site, url, form)).status_code == 302
    user.refresh_from_db()
    token.refresh_from_db()
    assert not user.is_active and token.revoked_at is not None


class TestHardening:
    def test_setting_a_users_password_in_the_admin_site_ends_its_sessions(self, site, api_client, login):
        user = UserFactory()
        pair = login(user)
        response = site.post(
            f"/django-admin/accounts/user/{user.pk}/password/",
            {"password1": "another-long-passphrase", "password2": "another-long-passphrase", "usable_password": "true"},
        )
        assert response.status_code == 302
        assert api_client.get("/users/me", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code == 401
        refreshed = api_client.post("/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
        assert refreshed.json()["error"]["code"] == "INVALID_TOKEN"

    def test_an_admin_changing_its_own_password_in_the_admin_site_ends_its_api_sessions(self, db, api_client, login):
        admin = AdminFactory()
        pair = login(admin)
        client = Client()
        client.force_login(admin)
        response = client.post(
            "/django-admin/password_change/",
            {
                "old_password": PASSWORD,
                "new_password1": "fresh-long-passphrase",
                "new_password2": "fresh-long-passphrase",
            },
        )
        assert response.status_code == 302
        assert api_client.get("/admin/me", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code == 401

    def test_the_admin_site_login_shares_the_admin_login_budget(self, api_client, admin, settings):
        settings.RATE_LIMIT_ATTEMPTS = 3
        for _ in range(3):
            api_client.post("/admin/auth/login", {"username": admin.username, "password": "wrong"})
        response = post_login(Client(), admin.username, PASSWORD)
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert b"Too many login attempts" in response.content
        admin.refresh_from_db()
        assert admin.failed_login_attempts == 3  # the refused attempt did not even check the password

    def test_the_user_login_budget_is_separate(self, api_client, admin, settings):
        settings.RATE_LIMIT_ATTEMPTS = 3
        for _ in range(3):
            api_client.post("/auth/login", {"username": "someone", "password": "wrong"})
        assert post_login(Client(), admin.username, PASSWORD).status_code == 302

    def test_staff_admins_cannot_grant_themselves_superuser(self, db):
        staff = AdminFactory(is_superuser=False)
        from django.contrib.auth.models import Permission

        staff.user_permissions.add(*Permission.objects.filter(codename__in=["change_admin", "view_admin"]))
        client = Client()
        client.force_login(staff)
        url = f"/django-admin/admins/admin/{staff.pk}/change/"
        page = client.get(url)
        assert page.status_code == 200
        assert b'name="is_superuser"' not in page.content and b'name="user_permissions"' not in page.content
        form = {"username": staff.username, "name": staff.name, "email": staff.email, "phone": "", "is_active": "on"}
        response = client.post(url, change_form(client, url, {**form, "is_superuser": "on", "is_staff": "on"}))
        assert response.status_code == 302
        staff.refresh_from_db()
        assert not staff.is_superuser

    def test_staff_admins_cannot_set_another_admins_password(self, db):
        staff, other = AdminFactory(is_superuser=False), AdminFactory()
        from django.contrib.auth.models import Permission

        staff.user_permissions.add(*Permission.objects.filter(codename__in=["change_admin", "view_admin"]))
        client = Client()
        client.force_login(staff)
        response = client.post(
            f"/django-admin/admins/admin/{other.pk}/password/",
            {"password1": "taken-over-passphrase", "password2": "taken-over-passphrase", "usable_password": "true"},
        )
        assert response.status_code == 403
        other.refresh_from_db()
        assert other.check_password(PASSWORD)

    def test_superusers_still_manage_permissions(self, site, admin):
        staff = AdminFactory(is_superuser=False)
        url = f"/django-admin/admins/admin/{staff.pk}/change/"
        assert b'name="is_superuser"' in site.get(url).content
        form = {"username": staff.username, "name": staff.name, "email": staff.email, "phone": "", "is_active": "on"}
        assert (
            site.post(url, change_form(site, url, {**form, "is_superuser": "on", "is_staff": "on"})).status_code == 302
        )
        staff.refresh_from_db()
        assert staff.is_superuser


def test_the_users_page_ends_a_session_and_revokes_a_token(site, api_client, login):
    user = UserFactory()
    pair = login(user)
    keep, revoke = PersonalAccessTokenFactory(owner=user), PersonalAccessTokenFactory(owner=user)
    url = f"/django-admin/accounts/user/{user.pk}/change/"
    page = site.get(url).content.decode()
    ids = dict(re.findall(r'name="([^"]+-\d+-id)"[^>]*value="(\d+)"', page))  # inline row → object id
    session = LoginSession.objects.get(user=user)
    session_field = next(name for name, value in ids.items() if name.startswith("-1-") and value == str(session.pk))
    token_field = next(name for name, value in ids.items() if name.startswith("-2-") and value == str(revoke.pk))
    form = {"username": user.username, "name": user.name, "email": user.email, "phone": "", "is_active": "on"}
    form[session_field.replace("-id", "-DELETE")] = "on"
    form[token_field.replace("-id", "-DELETE")] = "on"
    form.update(ids)
    response = site.post(url, change_form(site, url, form))
    assert response.status_code == 302, response.context["adminform"].form.errors
    revoke.refresh_from_db()
    keep.refresh_from_db()
    assert revoke.revoked_at is not None and keep.revoked_at is None
    assert api_client.get("/users/me", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code == 401


class TestMfaLogin:
    def enrolled(self):
        import time

        import pyotp

        from tokens.mfa import services as mfa

        admin = AdminFactory()
        totp = pyotp.TOTP(mfa.start_totp(admin)["secret"])
        mfa.confirm_totp(admin, totp.now())
        return admin, totp.at(time.time() + 30)

    def test_a_code_is_needed_and_a_wrong_one_counts_as_a_failure(self, db):
        admin, code = self.enrolled()
        client = Client()
        response = post_login(client, admin.username, PASSWORD)
        assert response.status_code == 200 and b"Enter the code" in response.content
        response = client.post(LOGIN, {"username": admin.username, "password": PASSWORD, "code": "123456"})
        assert b"not valid" in response.content and "_auth_user_id" not in client.session
        admin.refresh_from_db()
        assert admin.failed_login_attempts == 1
        response = client.post(
            LOGIN, {"username": admin.username, "password": PASSWORD, "code": code, "next": "/django-admin/"}
        )
        assert response.status_code == 302 and client.session["_auth_user_id"] == str(admin.pk)

    def test_admin_mfa_required_refuses_admins_without_mfa_with_a_clear_message(self, admin, settings):
        settings.ADMIN_MFA_REQUIRED = True
        response = post_login(Client(), admin.username, PASSWORD)
        assert response.status_code == 200 and b"Multi-factor authentication is required for admins" in response.content

    def test_turn_off_mfa_action(self, site):
        from tokens.mfa import services as mfa

        user = UserFactory()
        started = mfa.start_totp(user)
        import pyotp

        mfa.confirm_totp(user, pyotp.TOTP(started["secret"]).now())
        response = site.post(
            "/django-admin/accounts/user/", {"action": "action_turn_off_mfa", "_selected_action": [user.pk]}
        )
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.mfa_enabled is False


def test_the_audit_trail_and_the_outbox_are_read_only_even_for_superusers(site):
    from common import audit
    from common.models import AuditEvent, OutboxEmail

    event = audit.record("account.updated", account=UserFactory(), fields=["name"])
    email = OutboxEmail.objects.create(to="a@example.com", subject="Reset", body_text="token=secret-link")
    assert site.get("/django-admin/common/auditevent/").status_code == 200
    assert site.get("/django-admin/common/auditevent/add/").status_code == 403
    assert site.post(f"/django-admin/common/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    page = site.get(f"/django-admin/common/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="event"' not in page.content
    outbox = site.get(f"/django-admin/common/outboxemail/{email.pk}/change/")
    assert outbox.status_code == 200 and b"secret-link" not in outbox.content
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_index_shows_the_dashboard(site):
    from datetime import timedelta

    from django.utils import timezone

    from common import audit
    from common.models import AuditEvent

    UserFactory()
    UserFactory(locked_until=timezone.now() + timedelta(minutes=5))
    UserFactory(is_active=False)
    gone = UserFactory()
    gone.soft_delete()
    for event, n in (("login.succeeded", 3), ("login.failed", 2)):
        for _ in range(n):
            audit.record(event, account=gone, reason="wrong_password")
    AuditEvent.objects.filter(event="login.failed").update(created_at=timezone.now() - timedelta(days=40))
    page = site.get("/django-admin/").content.decode()
    for name, value in (("users", 3), ("active", 2), ("locked", 1), ("deleted", 1), ("new", 3)):
        assert f'id="count-{name}">{value}<' in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and "3 succeeded" in page
    assert "succeeded (3)" in page and "failed (0)" in page  # the failures are older than 30 days


def tick_delete(site, user, inline: int, row_pk: int):
    """Save the user's page on the admin site with `delete` ticked on one row of an inline."""
    url = f"/django-admin/accounts/user/{user.pk}/change/"
    page = site.get(url).content.decode()
    ids = dict(re.findall(r'name="([^"]+-\d+-id)"[^>]*value="(\d+)"', page))
    field = next(name for name, value in ids.items() if name.startswith(f"-{inline}-") and value == str(row_pk))
    form = {"username": user.username, "name": user.name, "email": user.email, "phone": "", "is_active": "on"}
    form.update(ids, **{field.replace("-id", "-DELETE"): "on"})
    response = site.post(url, change_form(site, url, form))
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_the_users_page_shows_passkeys_and_removes_one(site):
    from common.models import AuditEvent
    from tokens.models import Passkey

    user = UserFactory()
    kept = Passkey.objects.create(user=user, credential_id="a", public_key=b"k", name="Phone")
    lost = Passkey.objects.create(user=user, credential_id="b", public_key=b"k", name="Lost laptop")
    page = site.get(f"/django-admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Phone" in page and "Lost laptop" in page and "Passkeys (tick delete to remove one)" in page
    tick_delete(site, user, 3, lost.pk)
    assert list(Passkey.objects.values_list("pk", flat=True)) == [kept.pk]
    assert AuditEvent.objects.filter(event="passkey.removed", account_id=user.pk).exists()


def test_the_users_page_shows_identities_and_unlinks_one(site):
    from common.models import AuditEvent
    from tokens.models import Identity

    user = UserFactory()
    kept = Identity.objects.create(user=user, provider="google", subject="g-123", email="kept@gmail.example")
    lost = Identity.objects.create(user=user, provider="okta", subject="o-456", email="gone@corp.example")
    page = site.get(f"/django-admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Identity providers (tick delete to unlink one)" in page
    assert "g-123" in page and "kept@gmail.example" in page and "o-456" in page
    tick_delete(site, user, 4, lost.pk)
    assert list(Identity.objects.values_list("pk", flat=True)) == [kept.pk]
    event = AuditEvent.objects.get(event="identity.unlinked", account_id=user.pk)
    assert event.details == {"provider": "okta", "identity_id": lost.pk}
