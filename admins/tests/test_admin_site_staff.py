"""What staff may do on the Django admin site (view-only staff, staff beside superusers, the
credential pages, signing in), and what its query strings can reach."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from common.models import OutboxEmail
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from tokens.models import LoginSession, PersonalAccessToken
from tokens.tests.factories import PersonalAccessTokenFactory


def staff_with(*codenames: str):
    staff = AdminFactory(is_superuser=False)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return staff, client


ACTIONS = [
    "action_activate", "action_block", "action_unlock", "action_delete", "action_restore", "action_end_sessions",
    "action_turn_off_mfa", "action_revoke_all_credentials",
]  # fmt: skip


@pytest.mark.django_db
class TestViewOnlyStaff:
    @pytest.mark.parametrize("action", ACTIONS)
    def test_runs_no_action_on_users_or_admins(self, action):
        _, client = staff_with("view_user", "view_admin")
        user, superuser = UserFactory(), AdminFactory()
        token = PersonalAccessTokenFactory(owner=user)
        for url, target in (("/django-admin/accounts/user/", user), ("/django-admin/admins/admin/", superuser)):
            client.post(url, {"action": action, "_selected_action": [target.pk]})
            target.refresh_from_db()
            assert target.is_active and not target.is_deleted
        token.refresh_from_db()
        assert token.revoked_at is None

    def test_the_actions_menu_offers_nothing(self):
        _, client = staff_with("view_user")
        UserFactory()
        page = client.get("/django-admin/accounts/user/").content.decode()
        assert not any(f'value="{action}"' in page for action in ACTIONS)

    def test_cannot_revoke_sessions_or_tokens(self):
        _, client = staff_with("view_user", "view_loginsession", "view_personalaccesstoken")
        token = PersonalAccessTokenFactory(owner=UserFactory())
        client.post("/django-admin/tokens/personalaccesstoken/", {"action": "revoke", "_selected_action": [token.pk]})
        token.refresh_from_db()
        assert token.revoked_at is None


@pytest.mark.django_db
class TestStaffAndSuperusers:
    def test_staff_cannot_change_a_superusers_email_or_password(self):
        _, client = staff_with("view_admin", "change_admin")
        superuser = AdminFactory(email="root@example.com")
        url = f"/django-admin/admins/admin/{superuser.pk}/change/"
        assert b'name="email"' not in client.get(url).content  # shown read-only
        form = {
            "username": superuser.username,
            "name": "x",
            "email": "thief@example.com",
            "phone": "",
            "is_active": "on",
        }
        assert client.post(url, form).status_code == 403
        body = {"password1": "taken-over-pass", "password2": "taken-over-pass", "usable_password": "true"}
        assert client.post(f"/django-admin/admins/admin/{superuser.pk}/password/", body).status_code == 403
        superuser.refresh_from_db()
        assert superuser.email == "root@example.com" and superuser.check_password(PASSWORD)

    def test_staff_cannot_act_on_a_superuser(self):
        _, client = staff_with("view_admin", "change_admin", "delete_admin")
        superuser = AdminFactory()
        for action in ("action_block", "action_delete", "action_turn_off_mfa"):
            client.post("/django-admin/admins/admin/", {"action": action, "_selected_action": [superuser.pk]})
        superuser.refresh_from_db()
        assert superuser.is_active and not superuser.is_deleted

    def test_staff_cannot_change_another_admins_address_or_credentials(self):
        _, client = staff_with("view_admin", "change_admin", "view_personalaccesstoken", "change_personalaccesstoken")
        other = AdminFactory(is_superuser=False, email="colleague@example.com")
        token = PersonalAccessTokenFactory(owner=other)
        page = client.get(f"/django-admin/admins/admin/{other.pk}/change/").content
        assert b'name="email"' not in page
        client.post("/django-admin/admins/admin/", {"action": "action_revoke_all_credentials",
                                                     "_selected_action": [other.pk]})  # fmt: skip
        client.post("/django-admin/tokens/personalaccesstoken/", {"action": "revoke", "_selected_action": [token.pk]})
        token.refresh_from_db()
        assert token.revoked_at is None

    def test_staff_with_change_user_still_manage_users(self):
        _, client = staff_with("view_user", "change_user")
        user = UserFactory()
        client.post("/django-admin/accounts/user/", {"action": "action_block", "_selected_action": [user.pk]})
        user.refresh_from_db()
        assert not user.is_active


@pytest.mark.django_db
class TestQueryStrings:
    def test_the_outbox_cannot_be_filtered_on_its_bodies(self, admin):
        OutboxEmail.objects.create(to=admin.email, subject="Reset", body_text="token=Wabc", body_html="")
        client = Client()
        client.force_login(admin)
        for query in ("body_text__regex=token=W[A-M]", "body_text__contains=token", "body_html__startswith=x"):
            response = client.get(f"/django-admin/common/outboxemail/?to={admin.email}&{query}")
            assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert client.get("/django-admin/common/outboxemail/?status__exact=pending").status_code == 200

    @pytest.mark.parametrize(
        "url",
        [
            "/django-admin/common/auditevent/?created_at__year=99999",
            "/django-admin/common/auditevent/?created_at__year=9999",
            "/django-admin/common/auditevent/?created_at__year=2026&created_at__month=13",
            "/django-admin/accounts/user/?email__regex=(",
            "/django-admin/tokens/loginsession/?ip_address=::g",
            "/django-admin/common/outboxemail/?status=%00",
            "/django-admin/common/outboxemail/?status__exact=%00",
            "/django-admin/accounts/user/?q=%00",
            "/django-admin/autocomplete/?term=%00&app_label=accounts&model_name=user&field_name=user",
        ],
    )
    def test_odd_parameters_are_never_a_500(self, admin, url):
        client = Client(raise_request_exception=False)
        client.force_login(admin)
        assert client.get(url).status_code in (200, 302, 400, 403)


@pytest.mark.django_db
class TestCredentialPages:
    def test_revocation_and_expiry_dates_are_read_only(self, admin):
        client = Client()
        client.force_login(admin)
        token = PersonalAccessTokenFactory(owner=UserFactory())
        PersonalAccessToken.objects.filter(pk=token.pk).revoke()
        page = client.get(f"/django-admin/tokens/personalaccesstoken/{token.pk}/change/").content
        assert b'name="revoked_at' not in page and b'name="expires_at' not in page
        session = LoginSession.objects.create(user=UserFactory(), refresh_jti="x", expires_at=token.expires_at)
        page = client.get(f"/django-admin/tokens/loginsession/{session.pk}/change/").content
        assert b'name="revoked_at' not in page and b'name="expires_at' not in page


@pytest.mark.django_db
class TestSignIn:
    def test_admin_mfa_required_signs_an_admin_without_mfa_out_of_the_site(self, admin, settings):
        client = Client()
        client.force_login(admin)
        assert client.get("/django-admin/").status_code == 200
        settings.ADMIN_MFA_REQUIRED = True
        response = client.get("/django-admin/")
        assert response.status_code == 302 and response["Location"].startswith("/django-admin/login/")
        assert "_auth_user_id" not in client.session

    def test_the_old_password_on_the_sites_password_form_counts_toward_lockout(self, admin, settings):
        settings.MAX_LOGIN_ATTEMPTS = 3
        client = Client()
        client.force_login(admin)
        url = "/django-admin/password_change/"
        for _ in range(3):
            body = {
                "old_password": "guess",
                "new_password1": "brand-new-passphrase",
                "new_password2": "brand-new-passphrase",
            }
            assert client.post(url, body).status_code == 200
        admin.refresh_from_db()
        assert admin.is_locked
        body = {
            "old_password": PASSWORD,
            "new_password1": "brand-new-passphrase",
            "new_password2": "brand-new-passphrase",
        }
        response = client.post(url, body)
        assert response.status_code == 200 and b"locked" in response.content
        admin.refresh_from_db()
        assert admin.check_password(PASSWORD)

    def test_a_planted_user_session_does_not_survive_the_admin_sites_login(self, admin):
        user = UserFactory()
        client = Client()
        body = {"username": user.username, "password": PASSWORD, "next": "/users/me"}
        assert client.post("/api-auth/login/", body).status_code == 302  # the attacker's user session
        assert client.get("/users/me", HTTP_ACCEPT="application/json").status_code == 200
        login = {"username": admin.username, "password": PASSWORD, "next": "/django-admin/"}
        assert client.post("/django-admin/login/", login).status_code == 302  # the victim signs in
        assert client.get("/django-admin/").status_code == 200
        assert client.get("/users/me", HTTP_ACCEPT="application/json").status_code == 401
        assert client.get("/admin/me", HTTP_ACCEPT="application/json").status_code == 200


def test_the_seeded_admin_is_verified(db):
    from django.core.management import call_command

    from admins.models import Admin

    call_command("seed", users=1, stdout=io.StringIO())
    assert Admin.objects.get(username="admin").email_verified
