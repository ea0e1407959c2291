"""Email verification and email change (docs/api.md §11), in both realms."""

import re
from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from common.models import AuditEvent
from common.tests.factories import PASSWORD
from common.tests.utils import assert_error, assert_ok, bearer
from conftest import RealmCase

RealmCaseUser = RealmCase("user")

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


def change_email(client, case, access, email, **extra):
    return client.patch(case.me, {"email": email, **extra}, format="json", **bearer(access))


class TestEmailChange:
    """docs/api.md §11: a new address waits, pending, until verified; a stolen token cannot move it."""

    def test_the_new_address_is_pending_until_verified(self, api_client, realm_case, committed):
        account = realm_case.make(email="old@example.com", email_verified=True)
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            data = assert_ok(change_email(api_client, realm_case, access, "New@Example.com", current_password=PASSWORD))
        assert (data["email"], data["email_verified"], data["pending_email"]) == (
            "old@example.com", True, "new@example.com",
        )  # fmt: skip
        by_recipient = {m.to[0]: m for m in mail.outbox}
        assert set(by_recipient) == {"new@example.com", "old@example.com"}
        notice = by_recipient["old@example.com"].body
        assert "n***w@example.com" in notice and "new@example.com" not in notice and not TOKEN.search(notice)
        # Until verified the old address signs in; the new one does not.
        assert_ok(api_client.post(realm_case.login, {"username": "old@example.com", "password": PASSWORD}))
        response = api_client.post(realm_case.login, {"username": "new@example.com", "password": PASSWORD})
        assert_error(response, 401, "INVALID_CREDENTIALS")
        link = by_recipient["new@example.com"].body
        assert f"http://testserver/{'admin/' if realm_case.name == 'admin' else ''}verify-email?token=" in link
        with committed():
            verified = assert_ok(verify(api_client, realm_case, token_in(by_recipient["new@example.com"])))
        assert (verified["email"], verified["email_verified"], verified["pending_email"]) == (
            "new@example.com", True, None,
        )  # fmt: skip
        events = list(AuditEvent.objects.filter(account_id=account.pk).values_list("event", flat=True))
        assert "email.changed" in events and "email.verified" in events
        assert_ok(api_client.post(realm_case.login, {"username": "new@example.com", "password": PASSWORD}))

    def test_a_personal_access_token_cannot_change_the_address(self, api_client, realm_case, committed):
        account = realm_case.make(email="victim@example.com")
        pair = realm_case.login_pair(api_client, account)
        pat = assert_ok(
            api_client.post(realm_case.tokens, {"name": "ci"}, format="json", **bearer(pair["access_token"])), 201
        )["token"]
        response = change_email(api_client, realm_case, pat, "thief@example.com", current_password=PASSWORD)
        assert_error(response, 403, "FORBIDDEN")
        account.refresh_from_db()
        assert (account.email, account.pending_email) == ("victim@example.com", None)
        # Other profile fields still work with a write token.
        assert assert_ok(api_client.patch(realm_case.me, {"name": "Renamed"}, format="json", **bearer(pat)))["name"]

    def test_the_current_password_is_required_and_a_wrong_one_counts(self, api_client, realm_case, settings):
        settings.MAX_LOGIN_ATTEMPTS = 2
        account = realm_case.make(email="keep@example.com")
        access = realm_case.login_pair(api_client, account)["access_token"]
        details = assert_error(change_email(api_client, realm_case, access, "x@example.com"), 400, "VALIDATION_ERROR")
        assert list(details) == ["current_password"]
        for _ in range(2):
            response = change_email(api_client, realm_case, access, "x@example.com", current_password="wrong-one")
            assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["current_password"]
        response = change_email(api_client, realm_case, access, "x@example.com", current_password=PASSWORD)
        assert_error(response, 423, "ACCOUNT_LOCKED")
        account.refresh_from_db()
        assert account.pending_email is None and account.email == "keep@example.com"

    def test_a_reset_for_the_pending_address_goes_nowhere(self, api_client, realm_case, committed):
        account = realm_case.make(email="victim@example.com")
        access = realm_case.login_pair(api_client, account)["access_token"]
        assert_ok(change_email(api_client, realm_case, access, "thief@example.com", current_password=PASSWORD))
        mail.outbox.clear()
        assert_ok(api_client.post(f"{realm_case.auth}/password/forgot", {"email": "thief@example.com"}))
        assert mail.outbox == []

    def test_a_later_change_replaces_the_pending_one_and_kills_its_link(self, api_client, realm_case, committed):
        account = realm_case.make(email="a@example.com")
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            assert_ok(change_email(api_client, realm_case, access, "b@example.com", current_password=PASSWORD))
        first = token_in(next(m for m in mail.outbox if m.to == ["b@example.com"]))
        with committed():
            assert_ok(change_email(api_client, realm_case, access, "c@example.com", current_password=PASSWORD))
        assert "token" in assert_error(verify(api_client, realm_case, first), 400, "VALIDATION_ERROR")
        with committed():
            data = assert_ok(change_email(api_client, realm_case, access, "b@example.com", current_password=PASSWORD))
        assert data["pending_email"] == "b@example.com"
        # b -> c -> b: the first link for b stays dead.
        assert "token" in assert_error(verify(api_client, realm_case, first), 400, "VALIDATION_ERROR")

    def test_verifying_an_address_taken_meanwhile_is_409(self, api_client, realm_case, committed):
        account = realm_case.make(email="mine@example.com")
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            assert_ok(change_email(api_client, realm_case, access, "wanted@example.com", current_password=PASSWORD))
        token = token_in(next(m for m in mail.outbox if m.to == ["wanted@example.com"]))
        realm_case.make(email="wanted@example.com")
        assert_error(verify(api_client, realm_case, token), 409, "CONFLICT")
        account.refresh_from_db()
        assert account.email == "mine@example.com"

    def test_an_address_already_taken_is_409_at_once(self, api_client, realm_case):
        realm_case.make(email="taken@example.com")
        account = realm_case.make(email="mine@example.com")
        access = realm_case.login_pair(api_client, account)["access_token"]
        response = change_email(api_client, realm_case, access, "taken@example.com", current_password=PASSWORD)
        assert "email" in assert_error(response, 409, "CONFLICT")

    def test_the_same_address_in_other_case_is_no_change(self, api_client, realm_case, committed):
        account = realm_case.make(email="same@example.com", email_verified=True)
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            data = assert_ok(change_email(api_client, realm_case, access, "SAME@example.com"))
        assert data["email_verified"] is True and data["pending_email"] is None and mail.outbox == []

    def test_a_quoted_local_part_is_refused(self, api_client, realm_case):
        account = realm_case.make(email="demo1@example.com")
        access = realm_case.login_pair(api_client, account)["access_token"]
        response = change_email(api_client, realm_case, access, '"demo1"@example.com', current_password=PASSWORD)
        assert list(assert_error(response, 400, "VALIDATION_ERROR")) == ["email"]

    def test_an_admin_changing_a_users_email_sets_it_at_once(self, api_client, admin_token, user, committed):
        old = user.email
        with committed():
            api_client.post("/auth/password/forgot", {"email": old}, format="json")
        reset = token_in(mail.outbox[-1])
        mail.outbox.clear()
        with committed():
            data = assert_ok(
                api_client.patch(
                    f"/admin/users/{user.pk}", {"email": "moved@example.com"}, format="json", **bearer(admin_token)
                )
            )
        assert (data["email"], data["email_verified"], data["pending_email"]) == ("moved@example.com", False, None)
        assert {m.to[0] for m in mail.outbox} == {"moved@example.com", old}
        # A reset link mailed to the old address dies with the change.
        body = {"token": reset, "new_password": "another-long-passphrase"}
        assert "token" in assert_error(
            api_client.post("/auth/password/reset", body, format="json"), 400, "VALIDATION_ERROR"
        )

    def test_a_verification_link_for_an_earlier_address_stays_dead(self, api_client, admin_token, committed):
        from common.tests.factories import UserFactory

        user = UserFactory(email="a@example.com", email_verified=False)
        access = RealmCaseUser.login_pair(api_client, user)["access_token"]
        with committed():
            api_client.post("/auth/email/verify/resend", **bearer(access))
        stale = token_in(mail.outbox[-1])
        for address in ("b@example.com", "a@example.com"):  # an operator moves it away and back
            assert_ok(
                api_client.patch(f"/admin/users/{user.pk}", {"email": address}, format="json", **bearer(admin_token))
            )
        assert "token" in assert_error(api_client.post("/auth/email/verify", {"token": stale}), 400, "VALIDATION_ERROR")
