"""`make bench`: the service's hot paths against baselines, measured with wrk on real gunicorn.

Baselines run in the same server and the same run (a bare DRF view, and one doing a single
primary-key query, from bench.urls), so the ratios hold on any machine. Prints one
table with the budgets of docs/benchmarks.md and writes it there (not in --smoke mode).
"""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib import request as urlrequest

import django
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from admins import roles
from admins import statistics as statistics_service
from admins.models import Admin, Role
from common.pagination import encode_cursor
from testkit.servers import run_gunicorn
from tokens.pats import create_pat
from tokens.sessions import open_session

PASSWORD = "bench-passphrase-not-secret"
INTROSPECTION_TOKEN = "bench-introspection-token"
MINIMAL = "minimal project: bare DRF view + one PK query"
LARGE = 1_000_000


@dataclass
class Result:
    name: str
    rps: float
    p50: float
    p99: float
    errors: int


def wrk(
    url: str, *, seconds: int, threads: int = 2, connections: int = 32, headers: dict | None = None,
    body: str | None = None,
) -> Result:  # fmt: skip
    """One wrk run: requests/s and the 50th/99th percentile latency in ms (a POST of `body` when given)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if body is not None:
            script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n')
            script.flush()
            command += ["-s", script.name]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result("", rps, _percentile(out, "50%"), _percentile(out, "99%"), int(non_2xx.group(1)) if non_2xx else 0)


def _mean(runs: list[Result]) -> Result:
    n = len(runs)
    return Result(
        "", sum(r.rps for r in runs) / n, sum(r.p50 for r in runs) / n, sum(r.p99 for r in runs) / n,
        sum(r.errors for r in runs),
    )  # fmt: skip


def _percentile(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def _timed(url: str, *, method: str = "GET", body: bytes | None = None, headers=None) -> tuple[float, bytes]:
    """One request: its latency (ms) and its body."""
    request = urlrequest.Request(url, data=body, method=method, headers=headers or {})
    started = time.perf_counter()
    with urlrequest.urlopen(request, timeout=30) as response:
        content = response.read()
    return (time.perf_counter() - started) * 1000, content


def single_client_p50(url: str, *, count: int, headers=None) -> float:
    """Median latency of one client making `count` sequential GETs (ms), after two warm-up requests."""
    return statistics.median([_timed(url, headers=headers)[0] for _ in range(count + 2)][2:])


class Command(BaseCommand):
    help = "Benchmark the hot paths against in-run baselines with wrk; print the budgets; write docs/benchmarks.md."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--smoke", action="store_true", help="Small and quick, no PASS/FAIL, nothing written.")
        parser.add_argument(
            "--large", action="store_true", help=f"Also seed {LARGE:,} users for the admin list budget."
        )
        parser.add_argument("--seconds", type=int, default=10, help="Per wrk scenario (smoke: 2).")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args: Any, smoke: bool, large: bool, seconds: int, workers: int, **options: Any) -> None:
        if shutil.which("wrk") is None:
            raise CommandError("wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk.")
        seconds = 2 if smoke else seconds
        self.lines: list[str] = []
        small = 1_000 if smoke else 10_000
        call_command("seed", users=small, stdout=open(os.devnull, "w"))  # noqa: SIM115
        user, admin = _account(User, "bench-user"), _account(Admin, "bench-admin")
        Admin.objects.filter(pk=admin.pk).update(is_superuser=True)
        admin.refresh_from_db()
        operator = _account(Admin, "bench-operator")  # a Viewer: not a superuser (§24)
        operator.groups.set(Role.objects.filter(name=roles.VIEWER))
        operator_jwt = {"Authorization": f"Bearer {open_session(operator, None)['access_token']}"}
        jwt = {"Authorization": f"Bearer {open_session(user, None)['access_token']}"}
        pat = {"Authorization": f"Bearer {create_pat(account=user, name='bench')[1]}"}
        admin_jwt = {"Authorization": f"Bearer {open_session(admin, None)['access_token']}"}
        queries = {name: _queries_per_request("/users/me", h) for name, h in (("JWT", jwt), ("PAT", pat))}
        queries |= {
            name: _queries_per_request("/admin/users", h)
            for name, h in (("superuser JWT", admin_jwt), ("Viewer JWT", operator_jwt))
        }
        env = {"RATE_LIMIT_ATTEMPTS": "100000000", "MAX_LOGIN_ATTEMPTS": "100000000"}
        env["INTROSPECTION_TOKENS"] = INTROSPECTION_TOKEN
        with (
            run_gunicorn(workers=workers, settings_module="bench.settings", **env) as url,
            run_gunicorn(workers=workers, settings_module="bench.settings", ALGORITHM="ES256", **env) as es_url,
            run_gunicorn(workers=workers, settings_module="bench.minimal_settings", wsgi="bench.minimal_wsgi") as bare,
        ):
            es_jwt = {"Authorization": f"Bearer {_login(es_url, user.username)}"}
            introspect = {
                "Authorization": f"Bearer {INTROSPECTION_TOKEN}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            token_form = f"token={jwt['Authorization'].split()[1]}"
            targets = [
                (MINIMAL, f"{bare}/_bench/pk?id={user.pk}", {}, None),
                ("bare DRF view", f"{url}/_bench/bare", {}, None),
                ("bare DRF view + one PK query", f"{url}/_bench/pk?id={user.pk}", {}, None),
                ("GET /users/me (JWT)", f"{url}/users/me", jwt, None),
                ("GET /users/me (PAT)", f"{url}/users/me", pat, None),
                ("GET /users/me (ES256 JWT, a second server)", f"{es_url}/users/me", es_jwt, None),
                ("POST /auth/introspect (a live JWT)", f"{url}/auth/introspect", introspect, token_form),
                ("GET /admin/users (superuser JWT)", f"{url}/admin/users", admin_jwt, None),
                ("GET /admin/users (Viewer JWT)", f"{url}/admin/users", operator_jwt, None),
                ("GET /health", f"{url}/health", {}, None),
                ("GET /settings/public", f"{url}/settings/public", {}, None),
            ]
            # Login and its baseline first, interleaved, before any load has stirred the machine.
            login_p50, argon2 = _login_and_argon2(url, count=5 if smoke else 30)
            argon2_alone = _argon2_verify_ms()
            for _, target, headers, body in targets:  # warm every worker and connection up first
                wrk(target, seconds=1, headers=headers, body=body)
            rounds = 1 if smoke else 3  # interleaved, so a slow moment of the machine hits every target
            results = {name: [] for name, *_ in targets}
            for _ in range(rounds):
                for name, target, headers, body in targets:
                    results[name].append(wrk(target, seconds=seconds, headers=headers, body=body))
            rows = [(name, _mean(runs)) for name, runs in results.items()]
            rss = _worker_rss_mb()
        # Each size alike: analysed, then a fresh server with one client and nothing else running.
        lists = {f"{small:,}": self._admin_list(workers, env, admin_jwt, count=3 if smoke else 81)}
        if large and not smoke:
            call_command("seed", users=LARGE, stdout=open(os.devnull, "w"))  # noqa: SIM115
            lists[f"{LARGE:,}"] = self._admin_list(workers, env, admin_jwt, count=81)
        # GET /admin/statistics at the largest size seeded, cold and warm.
        stats = (list(lists)[-1], self._statistics(workers, env, admin_jwt, count=3 if smoke else 21))
        argon2s = (argon2, argon2_alone)
        self._report(rows, queries, rss, login_p50, argon2s, lists, stats, smoke=smoke, workers=workers,
                     seconds=seconds)  # fmt: skip

    def _statistics(self, workers: int, env: dict, headers: dict, *, count: int) -> dict[str, float]:
        """GET /admin/statistics p50: cold (the cached numbers cleared before each request) and warm."""
        with run_gunicorn(workers=workers, settings_module="bench.settings", **env) as url:
            cold = []
            for _ in range(count):
                cache.delete(statistics_service.CACHE_KEY)
                cold.append(_timed(f"{url}/admin/statistics", headers=headers)[0])
            warm = single_client_p50(f"{url}/admin/statistics", count=count * 4, headers=headers)
        return {"GET /admin/statistics, cold cache": statistics.median(cold), "GET /admin/statistics, warm": warm}

    def _admin_list(self, workers: int, env: dict, headers: dict, *, count: int) -> dict[str, float]:
        cases = {
            "page 1": "/admin/users",
            "search (part of a username)": "/admin/users?search=demo999",
            "search demo9999 (matches grow with the table)": "/admin/users?search=demo9999",
            "search (part of an email)": "/admin/users?search=o99%40example",
            "deep page (cursor)": "/admin/users?cursor=" + _deep_cursor(),
            "ordering=-created_at": "/admin/users?ordering=-created_at",
            "ordering=username": "/admin/users?ordering=username",
            "ordering=-email": "/admin/users?ordering=-email",
        }
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE accounts_user")
        with run_gunicorn(workers=workers, settings_module="bench.settings", **env) as url:
            return {name: single_client_p50(url + path, count=count, headers=headers) for name, path in cases.items()}

    def _report(self, rows, queries, rss, login_p50, argon2s, lists, stats, *, smoke, workers, seconds) -> None:
        argon2, argon2_alone = argon2s
        by_name = {name: result for name, result in rows}
        bare, pk = by_name["bare DRF view"].rps, by_name["bare DRF view + one PK query"].rps
        minimal = by_name[MINIMAL].rps
        rounds = "1 round" if smoke else "3 interleaved rounds (mean)"
        self._line(f"gunicorn {workers} sync workers, wrk -t2 -c32 -d{seconds}s, {rounds}, {connection.vendor}")
        self._line("")
        self._line("| target | req/s | p50 ms | p99 ms | vs minimal | vs bare | vs bare + PK | SQL/request | non-2xx |")
        self._line("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in rows:
            sql = queries.get(name.split("(")[-1].rstrip(")"), "") if "users/me" in name or "users (" in name else ""
            self._line(
                f"| {name} | {r.rps:,.0f} | {r.p50:.1f} | {r.p99:.1f} | {r.rps / minimal:.2f} | {r.rps / bare:.2f} "
                f"| {r.rps / pk:.2f} "
                f"| {sql} | {r.errors} |"
            )
        self._line("")
        budgets = [
            ("GET /users/me (JWT) >= 0.75 x minimal project", by_name["GET /users/me (JWT)"].rps / minimal, 0.75, True),
            ("GET /users/me (PAT) >= 0.75 x minimal project", by_name["GET /users/me (PAT)"].rps / minimal, 0.75, True),
            ("GET /users/me (JWT) >= 0.75 x bare + PK", by_name["GET /users/me (JWT)"].rps / pk, 0.75, True),
            ("GET /users/me (PAT) >= 0.75 x bare + PK", by_name["GET /users/me (PAT)"].rps / pk, 0.75, True),
            (
                "GET /users/me: ES256 >= 0.9 x HS256",
                by_name["GET /users/me (ES256 JWT, a second server)"].rps / by_name["GET /users/me (JWT)"].rps,
                0.9,
                True,
            ),
            (
                "POST /auth/introspect >= 0.8 x GET /users/me (JWT)",
                by_name["POST /auth/introspect (a live JWT)"].rps / by_name["GET /users/me (JWT)"].rps,
                0.8,
                True,
            ),
            (
                "GET /admin/users: a Viewer >= 0.9 x a superuser",
                by_name["GET /admin/users (Viewer JWT)"].rps / by_name["GET /admin/users (superuser JWT)"].rps,
                0.9,
                True,
            ),
            (
                "GET /admin/users: a Viewer's SQL <= a superuser's + 1",
                queries["Viewer JWT"] - queries["superuser JWT"],
                1,
                False,
            ),
            (
                "GET /settings/public >= 0.9 x GET /health",
                by_name["GET /settings/public"].rps / by_name["GET /health"].rps,
                0.9,
                True,
            ),
            ("login p50 (1 client) <= 1.1 x one Argon2 verify", login_p50 / argon2, 1.1, False),
            ("RSS per worker under load <= 100 MB", max(rss) if rss else 0, 100, False),
        ]
        stats_size, stats_p50 = stats
        budgets.append((f"GET /admin/statistics p50 at {stats_size} users, warm <= 100 ms",
                        stats_p50["GET /admin/statistics, warm"], 100, False))  # fmt: skip
        sizes = list(lists)
        if len(sizes) == 2:
            for case in lists[sizes[0]]:
                ratio = lists[sizes[1]][case] / lists[sizes[0]][case]
                budgets.append((f"admin list {case}: {sizes[1]} <= 2 x {sizes[0]}", ratio, 2, False))
        self._line("| budget | measured | limit | result |")
        self._line("|---|---:|---:|---|")
        for name, value, limit, at_least in budgets:
            ok = value >= limit if at_least else value <= limit
            self._line(f"| {name} | {value:.2f} | {limit} | {'-' if smoke else ('PASS' if ok else 'FAIL')} |")
        self._line("")
        self._line(
            f"login p50 {login_p50:.1f} ms; one Argon2 verify {argon2:.1f} ms in a worker between logins "
            f"({argon2_alone:.1f} ms in a loop of its own); worker RSS {rss} MB"
        )
        self._line(", ".join(f"{name} p50 {ms:.1f} ms" for name, ms in stats_p50.items()) + f" ({stats_size} users)")
        self._line("")
        self._line("| admin list, single client p50 (ms) | " + " | ".join(sizes) + " |")
        self._line("|---|" + "---:|" * len(sizes))
        for case in lists[sizes[0]]:
            self._line(f"| {case} | " + " | ".join(f"{lists[s][case]:.1f}" for s in sizes) + " |")
        if not smoke:
            self._write()

    def _line(self, text: str) -> None:
        self.lines.append(text)
        self.stdout.write(text)

    def _write(self) -> None:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())  # fmt: skip
        header = [
            "# Benchmarks",
            "",
            "Written by `make bench` (`python -m bench`); the budgets are those of the performance issue.",
            "Its budget against the FastAPI service this one replaces is not measured: that service is not",
            "available here. Single runs on a 2-core machine vary by up to 20 % (wrk, PostgreSQL and gunicorn",
            "share the cores).",
            "",
            "The baselines, each served by gunicorn with the same settings (2 sync workers):",
            "",
            "- *minimal project*: a Django project of its own (bench/minimal_settings.py) with no middleware, the",
            "  JSON renderer only and one DRF view doing one primary-key query: what a request costs at the least.",
            "- *bare DRF view*: a view of this project doing nothing, behind the project's whole middleware stack.",
            "- *bare DRF view + one PK query*: the same view doing the one query `GET /users/me` must do.",
            "- *ES256 JWT, a second server*: the same service with ALGORITHM=ES256, beside the HS256 one.",
            "- The avatar, webhook and import budgets are `make bench-avatars`, `bench-webhooks`, `bench-import`.",
            "",
            f"- commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"- {os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, Django {django.get_version()}, "
            f"database {connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''}, "
            f"cache {'Redis (REDIS_URL)' if settings.REDIS_URL else 'the database (no REDIS_URL)'}",
            "",
        ]
        Path(settings.BASE_DIR, "docs", "benchmarks.md").write_text("\n".join([*header, *self.lines, ""]))


def _queries_per_request(path: str, headers: dict) -> int:
    client = Client(HTTP_AUTHORIZATION=headers["Authorization"], HTTP_HOST="localhost")
    client.get(path)  # the PAT's last_used_at write happens once a minute at most
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def _worker_rss_mb() -> list[int]:
    """Resident memory (MB) of each gunicorn worker: gunicorn processes whose parent is the master
    this command started (a child of this process)."""
    processes = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text, cmdline = status.read_text(), Path(status.parent, "cmdline").read_text()
        except OSError:
            continue
        if "gunicorn" in cmdline and "config.wsgi" in cmdline:
            parent = int(re.search(r"PPid:\s+(\d+)", text).group(1))
            processes[int(status.parent.name)] = (parent, int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) // 1024)
    masters = {pid for pid, (parent, _) in processes.items() if parent == os.getpid()}
    return sorted(rss for parent, rss in processes.values() if parent in masters)


def _login_and_argon2(url: str, *, count: int) -> tuple[float, float]:
    """Login p50 (one client), and the median of one Argon2 verify timed inside a worker, the two
    requests alternating so that both meet the same moments of the machine."""
    body = json.dumps({"username": "bench-user", "password": PASSWORD}).encode()
    logins, verifies = [], []
    for _ in range(count + 2):
        headers = {"Content-Type": "application/json"}
        logins.append(_timed(f"{url}/auth/login", method="POST", body=body, headers=headers)[0])
        verifies.append(json.loads(_timed(f"{url}/_bench/argon2")[1])["data"]["ms"])
    return statistics.median(logins[2:]), statistics.median(verifies[2:])


def _argon2_verify_ms() -> float:
    from django.contrib.auth.hashers import check_password

    hashed = make_password(PASSWORD, hasher="argon2")
    timings = []
    for _ in range(10):
        started = time.perf_counter()
        check_password(PASSWORD, hashed)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _deep_cursor() -> str:
    """A cursor near the end of the list (what a client reaches by following next_cursor)."""
    last = User.objects.alive().order_by("-id").values_list("id", flat=True)[100:101]
    return encode_cursor({"id": last[0] if last else 1})


def _login(url: str, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    headers = {"Content-Type": "application/json"}
    return json.loads(_timed(f"{url}/auth/login", method="POST", body=body, headers=headers)[1])["data"]["access_token"]


def _account(model, username: str):
    account = model.objects.by_username(username).first()
    if account is None:
        account = model.objects.create_account(
            username=username, email=f"{username}@example.com", name=username, password=PASSWORD
        )
    return account
