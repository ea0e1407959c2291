"""Password reset by email, security notices and the outbox (docs/api.md §11), in both realms.
Here rather than in accounts/tests: a reset must end the sessions and tokens (tokens), which the
accounts floor may not import."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from common.models import OutboxEmail
from common.tests.factories import PASSWORD
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.models import LoginSession
from tokens.tests.factories import PersonalAccessTokenFactory

TOKEN = re.compile(r"token=([A-Za-z0-9_\-.]+)")
NEW = "a-brand-new-passphrase"


def only_token(message) -> str:
    """The one token a mail carries, the same in its text and HTML parts and nowhere else."""
    html = message.alternatives[0][0]
    tokens = set(TOKEN.findall(message.body)) | set(TOKEN.findall(html))
    assert len(tokens) == 1, tokens
    token = tokens.pop()
    assert message.body.count(token) == 1 and html.count(token) == 1
    return token


def forgot(client, case, email, **extra):
    return client.post(f"{case.auth}/password/forgot", {"email": email}, format="json", **extra)


def reset(client, case, token, password=NEW):
    return client.post(f"{case.auth}/password/reset", {"token": token, "new_password": password}, format="json")


class TestForgot:
    def test_links_never_take_the_port_from_the_host_header(self, api_client, realm_case, committed, settings):
        settings.ALLOWED_HOSTS = ["127.0.0.1"]
        account = realm_case.make()
        with committed():
            forgot(api_client, realm_case, account.email, HTTP_HOST="127.0.0.1:31337", SERVER_PORT="8000")
        body = mail.outbox[0].body
        assert "31337" not in body and "http://127.0.0.1:8000/" in body

    def test_it_mails_a_reset_link_to_the_account(self, api_client, realm_case, committed):
        account = realm_case.make()
        with committed():
            response = forgot(api_client, realm_case, account.email.upper())
        assert assert_ok(response) is None
        [message] = mail.outbox
        assert message.to == [account.email]
        assert "Reset your" in message.subject
        token = only_token(message)
        prefix = "admin/" if realm_case.name == "admin" else ""  # links name their realm (§11)
        assert f"http://testserver/{prefix}reset-password?token={token}" in message.body
        assert message.alternatives[0][1] == "text/html"
        assert OutboxEmail.objects.get().status == OutboxEmail.SENT

    def test_frontend_url_is_the_links_origin(self, api_client, realm_case, committed, settings):
        settings.FRONTEND_URL = "https://app.example.com"
        account = realm_case.make()
        with committed():
            forgot(api_client, realm_case, account.email)
        prefix = "admin/" if realm_case.name == "admin" else ""
        assert f"https://app.example.com/{prefix}reset-password?token=" in mail.outbox[0].body

    def test_unknown_inactive_and_deleted_addresses_get_the_same_answer_and_no_mail(
        self, api_client, realm_case, committed
    ):
        known = realm_case.make()
        inactive, deleted = realm_case.make(is_active=False), realm_case.make()
        deleted.soft_delete()
        with committed():
            expected = forgot(api_client, realm_case, known.email)
        mail.outbox.clear()
        for email in ("nobody@example.com", inactive.email, deleted.email):
            with committed():
                response = forgot(api_client, realm_case, email)
            assert response.status_code == expected.status_code and response.json() == expected.json()
        assert mail.outbox == []

    def test_bad_email_is_400(self, api_client, realm_case):
        assert "email" in assert_error(forgot(api_client, realm_case, "not-an-email"), 400, "VALIDATION_ERROR")

    def test_it_is_limited_per_ip_and_per_address(self, api_client, realm_case, settings):
        settings.EMAIL_RATE = "2/h"
        for _ in range(2):
            assert_ok(forgot(api_client, realm_case, "a@example.com", REMOTE_ADDR="10.9.0.1"))
        response = forgot(api_client, realm_case, "b@example.com", REMOTE_ADDR="10.9.0.1")
        assert_error(response, 429, "RATE_LIMITED")
        assert int(response["Retry-After"]) > 0
        # per address: another IP asking for the same address is refused too
        assert_error(forgot(api_client, realm_case, "a@example.com", REMOTE_ADDR="10.9.0.2"), 429, "RATE_LIMITED")
        assert_ok(forgot(api_client, realm_case, "c@example.com", REMOTE_ADDR="10.9.0.3"))


class TestReset:
    def reset_token(self, client, case, account, committed) -> str:
        with committed():
            forgot(client, case, account.email)
        token = only_token(mail.outbox[-1])
        mail.outbox.clear()
        return token

    def test_it_sets_the_password_ends_sessions_keeps_pats_clears_lockout_and_sends_a_notice(
        self, api_client, realm_case, committed
    ):
        account = realm_case.make()
        pair = realm_case.login_pair(api_client, account)
        pat = PersonalAccessTokenFactory(owner=account)
        type(account).objects.filter(pk=account.pk).update(
            failed_login_attempts=9, locked_until=timezone.now() + timedelta(minutes=5)
        )
        token = self.reset_token(api_client, realm_case, account, committed)
        with committed():
            assert assert_ok(reset(api_client, realm_case, token)) is None
        account.refresh_from_db()
        assert account.check_password(NEW) and account.failed_login_attempts == 0 and account.locked_until is None
        assert_error(api_client.get(realm_case.me, **bearer(pair["access_token"])), 401, "INVALID_TOKEN")
        assert_error(realm_case.use_refresh(api_client, pair["refresh_token"]), 401, "INVALID_TOKEN")
        assert_ok(api_client.get(realm_case.me, **bearer(pat.secret)))
        assert [m.subject for m in mail.outbox] == [mail.outbox[0].subject]
        assert "password was changed" in mail.outbox[0].subject and mail.outbox[0].to == [account.email]
        assert_ok(api_client.post(realm_case.login, {"username": account.username, "password": NEW}))

    def test_a_token_works_once_and_every_other_outstanding_one_dies(self, api_client, realm_case, committed):
        account = realm_case.make()
        first = self.reset_token(api_client, realm_case, account, committed)
        second = self.reset_token(api_client, realm_case, account, committed)
        assert_ok(reset(api_client, realm_case, second))
        for used in (second, first):
            assert "token" in assert_error(
                reset(api_client, realm_case, used, "yet-another-passphrase"), 400, "VALIDATION_ERROR"
            )

    def test_a_password_change_by_another_path_kills_outstanding_tokens(self, api_client, realm_case, committed):
        account = realm_case.make()
        token = self.reset_token(api_client, realm_case, account, committed)
        access = realm_case.login_pair(api_client, account)["access_token"]
        body = {"current_password": PASSWORD, "new_password": "changed-in-the-api-1"}
        assert_ok(api_client.post(realm_case.password, body, format="json", **bearer(access)))
        assert "token" in assert_error(reset(api_client, realm_case, token), 400, "VALIDATION_ERROR")

    def test_expired_tampered_and_other_realm_tokens_are_400(self, api_client, realm_case, committed, settings):
        account = realm_case.make()
        token = self.reset_token(api_client, realm_case, account, committed)
        other = "/admin/auth" if realm_case.name == "user" else "/auth"
        response = api_client.post(f"{other}/password/reset", {"token": token, "new_password": NEW}, format="json")
        assert "token" in assert_error(response, 400, "VALIDATION_ERROR")
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert "token" in assert_error(reset(api_client, realm_case, tampered), 400, "VALIDATION_ERROR")
        with time_machine.travel(timezone.now() + timedelta(minutes=settings.PASSWORD_RESET_TIMEOUT_MINUTES + 1)):
            assert "token" in assert_error(reset(api_client, realm_case, token), 400, "VALIDATION_ERROR")
        assert_ok(reset(api_client, realm_case, token))  # still valid before it expires
        account.refresh_from_db()
        assert account.check_password(NEW)

    def test_a_weak_password_is_400_on_new_password_and_keeps_the_token(self, api_client, realm_case, committed):
        account = realm_case.make()
        token = self.reset_token(api_client, realm_case, account, committed)
        assert "new_password" in assert_error(reset(api_client, realm_case, token, "123"), 400, "VALIDATION_ERROR")
        assert_ok(reset(api_client, realm_case, token))


class TestNotices:
    def test_a_lockout_sends_a_notice_once(self, api_client, realm_case, committed, settings):
        account = realm_case.make()
        for _ in range(settings.MAX_LOGIN_ATTEMPTS):
            with committed():
                api_client.post(realm_case.login, {"username": account.username, "password": "wrong"})
        [message] = mail.outbox
        assert message.to == [account.email] and "locked" in message.subject
        with committed():
            api_client.post(realm_case.login, {"username": account.username, "password": "wrong"})
        assert len(mail.outbox) == 1

    def test_a_password_change_sends_a_notice(self, api_client, realm_case, committed):
        account = realm_case.make()
        access = realm_case.login_pair(api_client, account)["access_token"]
        with committed():
            body = {"current_password": PASSWORD, "new_password": NEW}
            assert_ok(api_client.post(realm_case.password, body, format="json", **bearer(access)))
        [message] = mail.outbox
        assert "password was changed" in message.subject and not TOKEN.search(message.body)


def test_require_email_verification_refuses_unverified_logins_after_the_password_and_active_checks(
    api_client, realm_case, settings
):
    settings.REQUIRE_EMAIL_VERIFICATION = True
    unverified = realm_case.make(email_verified=False)
    body = {"username": unverified.username, "password": PASSWORD}
    assert_error(api_client.post(realm_case.login, body), 403, "EMAIL_NOT_VERIFIED")
    wrong = {"username": unverified.username, "password": "wrong"}
    assert_error(api_client.post(realm_case.login, wrong), 401, "INVALID_CREDENTIALS")
    inactive = realm_case.make(email_verified=False, is_active=False)
    assert_error(
        api_client.post(realm_case.login, {"username": inactive.username, "password": PASSWORD}),
        403,
        "ACCOUNT_INACTIVE",
    )
    assert not LoginSession.objects.exists()
    assert_ok(api_client.post(realm_case.login, {"username": realm_case.make().username, "password": PASSWORD}))


@pytest.mark.django_db
def test_forgot_password_does_the_same_work_before_answering_for_known_and_unknown_addresses(
    api_client, user, monkeypatch
):
    """Every lookup, token and mail happens after the response: the answer's timing cannot tell."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from common import after_response

    deferred: list = []
    monkeypatch.setattr(after_response, "after_response", deferred.append)
    counts = []
    api_client.post("/auth/password/forgot", {"email": "warm-up@example.com"}, format="json")  # the IP's budget
    deferred.clear()
    for address in (user.email, "nobody@example.com"):
        with CaptureQueriesContext(connection) as queries:
            assert_ok(api_client.post("/auth/password/forgot", {"email": address}, format="json"))
        counts.append(len(queries))
    assert counts[0] == counts[1] and len(deferred) == 2
    assert mail.outbox == []
    deferred[0]()  # the known address's work, once run, mails it
    assert OutboxEmail.objects.filter(to=user.email).count() == 1
    deferred[1]()
    assert OutboxEmail.objects.count() == 1
