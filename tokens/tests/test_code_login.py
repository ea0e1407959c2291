"""Signing in with a code mailed to the address (docs/api.md §26), in both realms."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.exceptions import InvalidCredentials
from common.models import AuditEvent
from common.realms import REALMS
from common.tests.utils import assert_error, assert_ok, bearer, run_concurrently
from tokens.code import services as codes
from tokens.models import LoginCode, LoginSession

pytestmark = pytest.mark.django_db
SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")


@pytest.fixture(autouse=True)
def both_realms(settings):
    settings.LOGIN_CODE_REALMS = ["user", "admin"]


def ask(client, case, email, **extra):
    return client.post(f"{case.auth}/code/request", {"email": email}, format="json", **extra)


def verify(client, case, email, code):
    return client.post(f"{case.auth}/code/verify", {"email": email, "code": code}, format="json")


def mailed_code(message) -> str:
    [code] = SIX_DIGITS.findall(message.body)
    return code


def code_for(client, case, account, committed) -> str:
    mail.outbox.clear()
    with committed():
        assert_ok(ask(client, case, account.email), 202)
    return mailed_code(mail.outbox[-1])


class TestRequest:
    def test_the_same_answer_and_work_before_it_for_known_and_unknown(self, api_client, realm_case, monkeypatch):
        """Every lookup, code and mail happens after the response: neither answer nor timing tells."""
        from common import after_response

        account = realm_case.make()
        deferred: list = []
        monkeypatch.setattr(after_response, "after_response", deferred.append)
        ask(api_client, realm_case, "warm-up@example.com")  # the IP's budget
        deferred.clear()
        answers, counts = [], []
        for email in (account.email, "nobody@example.com"):
            with CaptureQueriesContext(connection) as queries:
                answers.append(ask(api_client, realm_case, email).json())
            counts.append(len(queries))
        assert answers[0] == answers[1] == {"success": True, "message": answers[0]["message"], "data": None}
        assert counts[0] == counts[1] and len(deferred) == 2
        deferred[1]()  # the unknown address's work mails nothing
        assert not LoginCode.objects.exists()
        deferred[0]()
        assert LoginCode.objects.count() == 1

    def test_the_mail_carries_one_six_digit_code_stored_only_as_a_digest(self, api_client, realm_case, committed):
        account = realm_case.make()
        code = code_for(api_client, realm_case, account, committed)
        assert mail.outbox[-1].to == [account.email] and code in mail.outbox[-1].alternatives[0][0]
        stored = LoginCode.objects.get()
        assert code not in stored.digest and len(stored.digest) == 64

    def test_no_code_for_a_blocked_or_deleted_account(self, api_client, realm_case, committed):
        blocked, gone = realm_case.make(is_active=False), realm_case.make()
        gone.soft_delete()
        with committed():
            ask(api_client, realm_case, blocked.email)
            ask(api_client, realm_case, gone.email)
        assert mail.outbox == [] and not LoginCode.objects.exists()

    def test_off_where_not_configured(self, api_client, realm_case, settings):
        settings.LOGIN_CODE_REALMS = []
        assert_error(ask(api_client, realm_case, "a@example.com"), 404, "NOT_FOUND")
        assert_error(verify(api_client, realm_case, "a@example.com", "123456"), 404, "NOT_FOUND")

    def test_requests_spend_the_email_budget(self, api_client, realm_case, settings):
        settings.EMAIL_RATE = "2/h"
        for _ in range(2):
            assert_ok(ask(api_client, realm_case, "x@example.com"), 202)
        assert_error(ask(api_client, realm_case, "x@example.com"), 429, "RATE_LIMITED")


class TestVerify:
    def test_the_right_code_signs_in_once_and_verifies_the_address(self, api_client, realm_case, committed):
        account = realm_case.make(email_verified=False)
        code = code_for(api_client, realm_case, account, committed)
        pair = assert_ok(verify(api_client, realm_case, account.email, code))
        assert assert_ok(api_client.get(realm_case.me, **bearer(pair["access_token"])))["email_verified"] is True
        assert LoginSession.objects.get().method == "code"
        assert AuditEvent.objects.get(event="login.succeeded").details == {"method": "code"}
        assert_error(verify(api_client, realm_case, account.email, code), 401, "INVALID_CREDENTIALS")

    def test_a_new_request_replaces_the_code(self, api_client, realm_case, committed):
        account = realm_case.make()
        first = code_for(api_client, realm_case, account, committed)
        second = code_for(api_client, realm_case, account, committed)
        if first != second:
            assert_error(verify(api_client, realm_case, account.email, first), 401, "INVALID_CREDENTIALS")
        assert_ok(verify(api_client, realm_case, account.email, second))

    def test_five_wrong_codes_spend_it(self, api_client, realm_case, committed, settings):
        settings.MAX_LOGIN_ATTEMPTS = settings.RATE_LIMIT_ATTEMPTS = 100
        account = realm_case.make()
        code = code_for(api_client, realm_case, account, committed)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            assert_error(verify(api_client, realm_case, account.email, wrong), 401, "INVALID_CREDENTIALS")
        assert_error(verify(api_client, realm_case, account.email, code), 401, "INVALID_CREDENTIALS")
        failed = AuditEvent.objects.filter(event="login.failed")
        assert failed.count() == 6 and {e.details["reason"] for e in failed} == {"wrong_code"}

    def test_an_expired_code_is_refused(self, api_client, realm_case, committed):
        account = realm_case.make()
        code = code_for(api_client, realm_case, account, committed)
        with time_machine.travel(timezone.now() + timedelta(minutes=11)):
            assert_error(verify(api_client, realm_case, account.email, code), 401, "INVALID_CREDENTIALS")

    def test_wrong_codes_count_toward_lockout(self, api_client, realm_case, committed, settings):
        settings.MAX_LOGIN_ATTEMPTS = 2
        account = realm_case.make()
        code = code_for(api_client, realm_case, account, committed)
        for _ in range(2):
            verify(api_client, realm_case, account.email, "000000" if code != "000000" else "111111")
        assert_error(verify(api_client, realm_case, account.email, code), 423, "ACCOUNT_LOCKED")

    def test_the_usual_checks_and_the_mfa_challenge(self, api_client, realm_case, committed):
        from tokens.mfa import services as mfa

        blocked = realm_case.make()
        code = code_for(api_client, realm_case, blocked, committed)
        type(blocked).objects.filter(pk=blocked.pk).update(is_active=False)
        assert_error(verify(api_client, realm_case, blocked.email, code), 403, "ACCOUNT_INACTIVE")
        guarded = realm_case.make()
        secret = mfa.start_totp(guarded)["secret"]
        import pyotp

        mfa.confirm_totp(guarded, pyotp.TOTP(secret).now())
        code = code_for(api_client, realm_case, guarded, committed)
        assert "mfa_token" in assert_ok(verify(api_client, realm_case, guarded.email, code))

    def test_unknown_addresses_and_malformed_bodies(self, api_client, realm_case):
        assert_error(verify(api_client, realm_case, "nobody@example.com", "123456"), 401, "INVALID_CREDENTIALS")
        assert_error(api_client.post(f"{realm_case.auth}/code/verify", {"email": "x"}, format="json"), 400,
                     "VALIDATION_ERROR")  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_wrong_guesses_get_at_most_five_tries(postgres_only, settings, realm_case):
    settings.MAX_LOGIN_ATTEMPTS = 1000
    account = realm_case.make()
    realm = REALMS[realm_case.name]
    codes.mail_code(account)

    def guess(i: int) -> str:
        try:
            codes.verify_code(realm=realm, email=account.email, code=f"{i:06d}x", request=None)
        except InvalidCredentials:
            return "refused"
        return "signed in"

    assert run_concurrently(guess, 20).count("refused") == 20
    assert LoginCode.objects.get().attempts == 5


class TestLoginPages:
    """ "Email me a code" on the browsable API's login page and the admin site's."""

    PAGES = {"user": "/api-auth/code/", "admin": "/django-admin/code/"}

    def test_the_code_signs_this_browser_in(self, client, realm_case, committed):
        account = realm_case.make()
        page = self.PAGES[realm_case.name]
        with committed():
            asked = client.post(page, {"email": account.email})
        assert asked.status_code == 200 and b'name="code"' in asked.content
        code = mailed_code(mail.outbox[-1])
        done = client.post(page, {"email": account.email, "code": code, "next": "/docs"})
        assert done.status_code == 302 and done["Location"] == "/docs"
        assert LoginSession.objects.get().method == "code"
        assert AuditEvent.objects.get(event="login.succeeded").details == {"method": "code"}

    def test_a_wrong_code_is_an_error_on_the_page(self, client, realm_case):
        account = realm_case.make()
        response = client.post(self.PAGES[realm_case.name], {"email": account.email, "code": "000000"})
        assert response.status_code == 200 and b"This code is not valid" in response.content
        assert not LoginSession.objects.exists()

    def test_the_pages_link_to_it_only_where_offered(self, client, settings):
        assert b'id="code-sign-in"' in client.get("/api-auth/login/").content
        assert b'id="code-sign-in"' in client.get("/django-admin/login/").content
        settings.LOGIN_CODE_REALMS = ["user"]
        assert b'id="code-sign-in"' not in client.get("/django-admin/login/").content
        assert client.get("/django-admin/code/").status_code == 404
