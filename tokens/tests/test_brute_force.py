"""Rate limits per client IP, account lockout, timing parity (docs/api.md §6 Login, Rate limit)."""

import json
import statistics
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from common.realms import USER
from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import assert_error, assert_ok, gunicorn, http, run_concurrently


def attempt(client, case, account, password="wrong-password", **extra):
    return client.post(case.login, {"username": account.username, "password": password}, format="json", **extra)


class TestRateLimit:
    def test_sixth_attempt_from_one_ip_is_429_with_retry_after(self, api_client, realm_case):
        account = realm_case.make()
        for _ in range(5):
            assert attempt(api_client, realm_case, account, PASSWORD).status_code == 200
        response = attempt(api_client, realm_case, account, PASSWORD)
        assert_error(response, 429, "RATE_LIMITED")
        retry_after = int(response["Retry-After"])
        assert 1 <= retry_after <= 15 * 60

    def test_every_attempt_counts_whatever_its_outcome(self, api_client, realm_case):
        account = realm_case.make()
        assert attempt(api_client, realm_case, account).status_code == 401
        api_client.post(realm_case.login, {}, format="json")
        for _ in range(3):
            attempt(api_client, realm_case, account, PASSWORD)
        assert_error(attempt(api_client, realm_case, account, PASSWORD), 429, "RATE_LIMITED")

    def test_another_ip_still_passes(self, api_client, realm_case):
        account = realm_case.make()
        for _ in range(6):
            attempt(api_client, realm_case, account, PASSWORD, REMOTE_ADDR="10.0.0.1")
        assert_ok(attempt(api_client, realm_case, account, PASSWORD, REMOTE_ADDR="10.0.0.2"))

    def test_user_and_admin_logins_have_separate_budgets(self, api_client, user, admin):
        for _ in range(5):
            api_client.post("/auth/login", {"username": user.username, "password": "x-wrong"})
        assert_error(
            api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}), 429, "RATE_LIMITED"
        )
        assert_ok(api_client.post("/admin/auth/login", {"username": admin.username, "password": PASSWORD}))

    def test_forged_forwarded_for_does_not_evade_the_limit_by_default(self, api_client, realm_case):
        account = realm_case.make()
        for i in range(5):
            attempt(api_client, realm_case, account, PASSWORD, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        response = attempt(api_client, realm_case, account, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
        assert_error(response, 429, "RATE_LIMITED")

    def test_with_one_trusted_proxy_the_right_most_entry_is_the_client(self, api_client, realm_case, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        account = realm_case.make()
        for _ in range(5):
            attempt(api_client, realm_case, account, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
        # Same right-most address, whatever the client wrote to the left: limited.
        limited = attempt(api_client, realm_case, account, PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
        assert_error(limited, 429, "RATE_LIMITED")
        # Another client behind the same proxy (same REMOTE_ADDR) is not.
        assert_ok(attempt(api_client, realm_case, account, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8"))

    def test_registration_is_limited_by_register_rate(self, api_client, db, settings):
        settings.REGISTER_RATE = "2/h"
        for i in range(2):
            body = {"username": f"reg{i}", "name": "R", "email": f"reg{i}@example.com", "password": "a-long-passphrase"}
            assert_ok(api_client.post("/auth/register", body, format="json"), 201)
        body = {"username": "reg9", "name": "R", "email": "reg9@example.com", "password": "a-long-passphrase"}
        response = api_client.post("/auth/register", body, format="json")
        assert_error(response, 429, "RATE_LIMITED")
        assert int(response["Retry-After"]) >= 1
        assert not USER.model.objects.filter(username="reg9").exists()

    def test_unreachable_redis_keeps_login_working_and_lockout_applies(self, api_client, realm_case, settings):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        account = realm_case.make()
        assert_ok(attempt(api_client, realm_case, account, PASSWORD))
        for _ in range(5):
            assert_error(attempt(api_client, realm_case, account), 401, "INVALID_CREDENTIALS")
        assert_error(attempt(api_client, realm_case, account, PASSWORD), 423, "ACCOUNT_LOCKED")


def test_broken_database_cache_fails_open(api_client, user, monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("no such table: cache_entries")

    monkeypatch.setattr("common.ratelimit.get_usage", broken)
    assert_ok(api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}))


class TestLockout:
    def fail(self, client, case, account, times):
        for i in range(times):
            client.post(case.login, {"username": account.username, "password": "wrong"}, REMOTE_ADDR=f"10.1.0.{i}")

    def test_five_failures_lock_even_the_right_password(self, api_client, realm_case):
        account = realm_case.make()
        self.fail(api_client, realm_case, account, 5)
        response = attempt(api_client, realm_case, account, PASSWORD, REMOTE_ADDR="10.2.0.1")
        assert_error(response, 423, "ACCOUNT_LOCKED")
        assert 29 * 60 <= int(response["Retry-After"]) <= 30 * 60
        account.refresh_from_db()
        assert account.failed_login_attempts == 5
        assert account.is_locked

    def test_attempts_during_the_lock_do_not_extend_it(self, api_client, realm_case):
        account = realm_case.make()
        self.fail(api_client, realm_case, account, 5)
        account.refresh_from_db()
        locked_until = account.locked_until
        with time_machine.travel(timezone.now() + timedelta(minutes=10)):
            response = attempt(api_client, realm_case, account, REMOTE_ADDR="10.3.0.1")
            assert_error(response, 423, "ACCOUNT_LOCKED")
            assert 19 * 60 <= int(response["Retry-After"]) <= 20 * 60
        account.refresh_from_db()
        assert account.locked_until == locked_until

    def test_after_the_lock_expires_counting_starts_from_zero(self, api_client, realm_case):
        account = realm_case.make()
        self.fail(api_client, realm_case, account, 5)
        with time_machine.travel(timezone.now() + timedelta(minutes=31)):
            assert_error(attempt(api_client, realm_case, account, REMOTE_ADDR="10.4.0.1"), 401, "INVALID_CREDENTIALS")
            account.refresh_from_db()
            assert account.failed_login_attempts == 1
            assert not account.is_locked
            assert_ok(attempt(api_client, realm_case, account, PASSWORD, REMOTE_ADDR="10.4.0.2"))

    def test_success_resets_the_count(self, api_client, realm_case):
        account = realm_case.make()
        self.fail(api_client, realm_case, account, 4)
        assert_ok(attempt(api_client, realm_case, account, PASSWORD, REMOTE_ADDR="10.5.0.1"))
        account.refresh_from_db()
        assert account.failed_login_attempts == 0
        self.fail(api_client, realm_case, account, 4)
        assert_ok(attempt(api_client, realm_case, account, PASSWORD, REMOTE_ADDR="10.5.0.2"))

    def test_lockout_is_per_realm(self, api_client, db):
        from common.tests.factories import AdminFactory

        user = UserFactory(username="same")
        admin = AdminFactory(username="same")
        for i in range(5):
            api_client.post("/auth/login", {"username": "same", "password": "wrong"}, REMOTE_ADDR=f"10.6.0.{i}")
        user.refresh_from_db()
        assert user.is_locked
        assert_ok(api_client.post("/admin/auth/login", {"username": "same", "password": PASSWORD}))
        admin.refresh_from_db()
        assert admin.failed_login_attempts == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_lose_no_increment(postgres_only):
    account = UserFactory()

    def wrong(i: int) -> int:
        body = {"username": account.username, "password": "wrong"}
        return APIClient().post("/auth/login", body, REMOTE_ADDR=f"10.9.{i}.1").status_code

    statuses = run_concurrently(wrong, 20)
    assert len(statuses) == 20
    assert set(statuses) <= {401, 423}
    account.refresh_from_db()
    assert account.is_locked
    # Attempts answered 423 never reached the password check, so they did not count.
    assert account.failed_login_attempts == statuses.count(401)
    assert account.failed_login_attempts >= 5


@pytest.mark.django_db
def test_unknown_user_costs_the_same_time_as_a_wrong_password(api_client, settings):
    settings.PASSWORD_HASHERS = ["accounts.hashers.BoundedArgon2PasswordHasher"]
    settings.RATE_LIMIT_ATTEMPTS = 1000
    account = UserFactory(password="correct-horse-battery-argon2")
    assert account.password.startswith("argon2")

    def timed(username: str) -> float:
        start = time.perf_counter()
        response = api_client.post("/auth/login", {"username": username, "password": "wrong"}, format="json")
        elapsed = time.perf_counter() - start
        assert response.status_code == 401
        return elapsed

    timed("warm-up")
    wrong, unknown = [], []
    for i in range(15):
        wrong.append(timed(account.username))
        unknown.append(timed(f"ghost{i}"))
        UserFactory._meta.model.objects.filter(pk=account.pk).update(failed_login_attempts=0, locked_until=None)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.75 <= ratio <= 1.25, (statistics.median(unknown), statistics.median(wrong))


def _count_non_429(url: str, username: str, attempts: int = 12) -> int:
    body = json.dumps({"username": username, "password": "wrong"}).encode()
    statuses = [http("POST", url.format(i=i), body, {"Content-Type": "application/json"})[0] for i in range(attempts)]
    assert 500 not in statuses
    return sum(status != 429 for status in statuses)


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
def test_rate_limit_is_shared_by_workers_and_servers(settings):
    account = UserFactory()
    with (
        gunicorn(workers=2, MAX_LOGIN_ATTEMPTS="100") as first,
        gunicorn(workers=2, MAX_LOGIN_ATTEMPTS="100") as second,
    ):
        servers = [first, second]
        # Alternate between the two servers (and their workers): 12 attempts, one budget.
        passed = 0
        for i in range(12):
            passed += _count_non_429(f"{servers[i % 2]}/auth/login", account.username, attempts=1)
    assert passed == 5
