"""Email verification and email change (docs/api.md §11), in both realms."""

import re
from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from common.testing import assert_error, assert_ok, bearer

TOKEN = re.compile(r"token=([A-Za-z0-9_\-.]+)")


def token_in(message) -> str:
    return TOKEN.search(message.body).group(1)


def verify(client, case, token):
    return client.post(f"{case.auth}/email/verify", {"token": token}, format="json")


def register_body(username="fresh"):
    return {"username": username, "name": "Fresh", "email": f"{username}@example.com", "password": "a-long-passphrase"}


class TestRegistration:
    def test_user_registration_mails_a_verification_link_that_verifies_once(self, api_client, committed, user_case):
        case = user_case
        with committed():
            account = assert_ok(api_client.post("/auth/register", register_body(), format="json"), 201)
        assert account["email_verified"] is False
        [message] = mail.outbox
        assert message.to == ["fresh@example.com"] and "Confirm your email" in message.subject
        assert "http://testserver/verify-email?token=" in message.body
        verified = assert_ok(verify(api_client, case, token_in(message)))
        assert verified["email_verified"] is True and verified["id"] == account["id"]
        assert "token" in assert_error(verify(api_client, case, token_in(message)), 400, "VALIDATION_ERROR")

    def test_admin_registration_mails_the_new_admin(self, api_client, admin_token, committed):
        with committed():
            body = register_body("newadmin")
            assert_ok(api_client.post("/admin/auth/register", body, format="json", **bearer(admin_token)), 201)
        assert mail.outbox[0].to == ["newadmin@example.com"]


class TestVerification:
    def test_resend_mails_a_new_link_and_a_verified_account_gets_409(self, api_client, realm_case, committed):
        account = realm_case.make(email_verified=False)
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            assert assert_ok(api_client.post(f"{realm_case.auth}/email/verify/resend", **bearer(access))) is None
        assert_ok(verify(api_client, realm_case, token_in(mail.outbox[0])))
        response = api_client.post(f"{realm_case.auth}/email/verify/resend", **bearer(access))
        assert_error(response, 409, "CONFLICT")

    def test_expired_tampered_and_other_realm_tokens_are_400(self, api_client, realm_case, committed, settings):
        account = realm_case.make(email_verified=False)
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            api_client.post(f"{realm_case.auth}/email/verify/resend", **bearer(access))
        token = token_in(mail.outbox[0])
        other = "/admin/auth" if realm_case.name == "user" else "/auth"
        response = api_client.post(f"{other}/email/verify", {"token": token}, format="json")
        assert "token" in assert_error(response, 400, "VALIDATION_ERROR")
        assert "token" in assert_error(verify(api_client, realm_case, "x" + token), 400, "VALIDATION_ERROR")
        later = timezone.now() + timedelta(hours=settings.EMAIL_VERIFICATION_TIMEOUT_HOURS, minutes=1)
        with time_machine.travel(later):
            assert "token" in assert_error(verify(api_client, realm_case, token), 400, "VALIDATION_ERROR")
        assert_ok(verify(api_client, realm_case, token))

    def test_resend_is_rate_limited_apart_from_forgot_password(self, api_client, realm_case, settings):
        settings.EMAIL_RATE = "1/h"
        account = realm_case.make(email_verified=False)
        access = realm_case.login_pair(api_client, account)["access_token"]
        assert_ok(api_client.post(f"{realm_case.auth}/password/forgot", {"email": account.email}, format="json"))
        assert_ok(api_client.post(f"{realm_case.auth}/email/verify/resend", **bearer(access)))
        response = api_client.post(f"{realm_case.auth}/email/verify/resend", **bearer(access))
        assert_error(response, 429, "RATE_LIMITED")


class TestEmailChange:
    def test_a_new_address_is_unverified_gets_a_link_and_the_old_one_a_notice(self, api_client, realm_case, committed):
        account = realm_case.make(email="old@example.com", email_verified=False)
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            api_client.post(f"{realm_case.auth}/email/verify/resend", **bearer(access))
        stale = token_in(mail.outbox[-1])
        mail.outbox.clear()
        with committed():
            data = assert_ok(
                api_client.patch(realm_case.me, {"email": "New@Example.com"}, format="json", **bearer(access))
            )
        assert data["email"] == "new@example.com" and data["email_verified"] is False
        by_recipient = {m.to[0]: m for m in mail.outbox}
        assert set(by_recipient) == {"new@example.com", "old@example.com"}
        assert "new@example.com" in by_recipient["old@example.com"].body
        assert not TOKEN.search(by_recipient["old@example.com"].body)
        assert "token" in assert_error(verify(api_client, realm_case, stale), 400, "VALIDATION_ERROR")
        assert assert_ok(verify(api_client, realm_case, token_in(by_recipient["new@example.com"])))["email_verified"]

    def test_the_same_address_in_other_case_is_no_change(self, api_client, realm_case, committed):
        account = realm_case.make(email="same@example.com", email_verified=True)
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            data = assert_ok(
                api_client.patch(realm_case.me, {"email": "SAME@example.com"}, format="json", **bearer(access))
            )
        assert data["email_verified"] is True and mail.outbox == []

    def test_an_admin_changing_a_users_email_does_the_same(self, api_client, admin_token, user, committed):
        with committed():
            data = assert_ok(
                api_client.patch(
                    f"/admin/users/{user.pk}", {"email": "moved@example.com"}, format="json", **bearer(admin_token)
                )
            )
        assert data["email_verified"] is False
        assert {m.to[0] for m in mail.outbox} == {"moved@example.com", user.email}
