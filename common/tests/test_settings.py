"""Configuration comes from the environment; a missing SECRET_KEY fails in one clear line."""

import os
import subprocess
import sys

import environ
from django.conf import settings

CHECK = [sys.executable, "-c", "import django; django.setup()"]


def run_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        CHECK,
        cwd=settings.BASE_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_key_fails_clearly_without_traceback(tmp_path):
    result = run_with({"SECRET_KEY": ""})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Configuration error: SECRET_KEY is not set. Set it in the environment or in .env (at least 32 characters)."
    ]


def test_short_secret_key_is_refused():
    result = run_with({"SECRET_KEY": "short"})
    assert result.returncode == 1
    assert "at least 32 characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_allows_missing_secret_key():
    assert run_with({"SECRET_KEY": "", "DEBUG": "true"}).returncode == 0


def test_database_url_parsing():
    pg = environ.Env.db_url_config("postgresql://app:pw@db.internal:5433/accounts")
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "accounts",
        "app",
        "pw",
        "db.internal",
        5433,
    )
    sqlite = environ.Env.db_url_config("sqlite:///db.sqlite3")
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"


def test_settings_defaults_follow_the_contract():
    assert settings.ACCESS_TOKEN_EXPIRE_MINUTES == 60
    assert settings.REFRESH_TOKEN_EXPIRE_DAYS == 7
    assert settings.MAX_LOGIN_ATTEMPTS == 5
    assert settings.LOCKOUT_DURATION_MINUTES == 30
    assert settings.RATE_LIMIT_ATTEMPTS == 5
    assert settings.RATE_LIMIT_WINDOW_MINUTES == 15
    assert settings.REGISTER_RATE == "20/h"
    assert settings.TRUSTED_PROXY_COUNT == 0
    assert settings.PAT_DEFAULT_EXPIRE_DAYS == 90
    assert settings.MAX_UPLOAD_MB == 10
    assert settings.DEBUG is False


def test_production_hasher_is_argon2():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; import django; django.setup(); "
            "from django.contrib.auth.hashers import get_hasher; print(get_hasher().algorithm)",
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "k" * 40},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "argon2"


def test_deploy_check_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmn",
            "SECURE_SSL_REDIRECT": "true",
            "SECURE_HSTS_SECONDS": "31536000",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_unsupported_algorithm_is_refused():
    result = run_with({"SECRET_KEY": "k" * 40, "ALGORITHM": "none"})
    assert result.returncode == 1
    assert "ALGORITHM must be" in result.stderr and "Traceback" not in result.stderr
