"""`make bench`: throughput and latency of the main endpoints against a real gunicorn server.

Uses the configured database (it adds accounts named bench-user / bench-admin once)
and the production settings (Argon2), with the login rate limit lifted for the run.
"""

import json
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib import request as urlrequest
from urllib.error import HTTPError

from django.core.management.base import BaseCommand

from accounts.models import User
from admins.models import Admin
from common.servers import run_gunicorn
from tokens.services import create_pat, open_session

PASSWORD = "bench-passphrase-not-secret"

Call = tuple[str, str, bytes | None, dict[str, str]]


def _call(url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
    req = urlrequest.Request(url + path, data=body, method=method, headers=headers)
    try:
        with urlrequest.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Command(BaseCommand):
    help = "Benchmark the main endpoints on a real gunicorn server and print a table."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--requests", type=int, default=400, help="Per scenario (logins: a tenth).")

    def handle(self, *args: Any, workers: int, concurrency: int, requests: int, **options: Any) -> None:
        user = _account(User, "bench-user")
        admin = _account(Admin, "bench-admin")
        user_jwt = open_session(user, None)["access_token"]
        admin_jwt = open_session(admin, None)["access_token"]
        _, pat = create_pat(account=user, name="bench")
        json_headers = {"Content-Type": "application/json"}
        login_body = json.dumps({"username": "bench-user", "password": PASSWORD}).encode()
        refresh_tokens = threading.local()

        def refresh_call() -> Call:
            if not hasattr(refresh_tokens, "token"):
                refresh_tokens.token = open_session(user, None)["refresh_token"]
            return ("POST", "/auth/refresh", json.dumps({"refresh_token": refresh_tokens.token}).encode(), json_headers)

        def after_refresh(body: Any) -> None:
            refresh_tokens.token = body["data"]["refresh_token"]

        scenarios: list[tuple[str, Callable[[], Call], int, Callable[[Any], None] | None]] = [
            ("GET /health", lambda: ("GET", "/health", None, {}), requests, None),
            (
                "GET /users/me (JWT)",
                lambda: ("GET", "/users/me", None, {"Authorization": f"Bearer {user_jwt}"}),
                requests,
                None,
            ),
            (
                "GET /users/me (PAT)",
                lambda: ("GET", "/users/me", None, {"Authorization": f"Bearer {pat}"}),
                requests,
                None,
            ),
            (
                "GET /admin/users?page_size=100",
                lambda: ("GET", "/admin/users?page_size=100", None, {"Authorization": f"Bearer {admin_jwt}"}),
                requests,
                None,
            ),
            ("POST /auth/refresh", refresh_call, requests, after_refresh),
            (
                "POST /auth/login (Argon2)",
                lambda: ("POST", "/auth/login", login_body, json_headers),
                max(requests // 10, 8),
                None,
            ),
        ]
        env = {"RATE_LIMIT_ATTEMPTS": "1000000", "MAX_LOGIN_ATTEMPTS": "1000000"}
        with run_gunicorn(workers=workers, settings_module="config.settings", **env) as url:
            rows = [self._run(url, name, make, count, concurrency, after) for name, make, count, after in scenarios]
        self._print(rows, workers, concurrency)

    def _run(self, url, name, make, count, concurrency, after) -> tuple:
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()

        def one(_: int) -> None:
            nonlocal errors
            method, path, body, headers = make()
            start = time.perf_counter()
            status, payload = _call(url, method, path, body, headers)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                errors += status >= 400
            if after and status < 400:
                after(payload)

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))
        wall = time.perf_counter() - started
        ordered = sorted(latencies)
        return (
            name,
            count,
            count / wall,
            statistics.median(ordered) * 1000,
            ordered[int(len(ordered) * 0.95) - 1] * 1000,
            errors,
        )

    def _print(self, rows: list[tuple], workers: int, concurrency: int) -> None:
        self.stdout.write(f"gunicorn workers={workers}, client concurrency={concurrency}")
        header = f"{'scenario':<32} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for name, count, rate, p50, p95, errors in rows:
            self.stdout.write(f"{name:<32} {count:>8} {rate:>9.1f} {p50:>8.1f} {p95:>8.1f} {errors:>6}")


def _account(model, username: str):
    account = model.objects.by_username(username).first()
    if account is None:
        account = model.objects.create_account(
            username=username, email=f"{username}@example.com", name=username, password=PASSWORD
        )
    return account
