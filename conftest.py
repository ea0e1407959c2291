"""Fixtures shared by every app's tests."""

import contextlib
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection
from rest_framework.test import APIClient

from common import product
from common.realms import realm_of
from common.tests.factories import PASSWORD, AdminFactory, UserFactory


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Each test: its own upload folder, an empty rate-limit cache, product settings read afresh."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    # Tests without database access cannot reach the embedded cache; they do not need it.
    with contextlib.suppress(RuntimeError, DatabaseError):
        cache.clear()
    product.forget()
    yield
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def admin(db):
    return AdminFactory()


@pytest.fixture(params=["user", "admin"])
def realm_case(request, db) -> "RealmCase":
    return RealmCase(request.param)


@pytest.fixture
def user_case(db) -> "RealmCase":
    return RealmCase("user")


@pytest.fixture
def admin_case(db) -> "RealmCase":
    return RealmCase("admin")


class RealmCase:
    """Paths and a factory for one realm, so shared behaviour is tested once per realm."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.factory = UserFactory if name == "user" else AdminFactory
        auth = "/auth" if name == "user" else "/admin/auth"
        self.auth = auth
        self.login, self.refresh, self.logout = (f"{auth}/{p}" for p in ("login", "refresh", "logout"))
        self.me = "/users/me" if name == "user" else "/admin/me"
        self.password = f"{self.me}/password"
        self.tokens = f"{self.me}/tokens"
        self.sessions = f"{self.me}/sessions"
        self.logout_all = f"{auth}/logout-all"
        self.other_me = "/admin/me" if name == "user" else "/users/me"

    def make(self, **kwargs: Any):
        return self.factory(**kwargs)

    def login_pair(self, client: APIClient, account, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        body = {"username": account.username, "password": password}
        response = client.post(self.login, body, format="json", **extra)
        assert response.status_code == 200, response.content
        return response.json()["data"]

    def use_refresh(self, client: APIClient, refresh_token: str):
        return client.post(self.refresh, {"refresh_token": refresh_token}, format="json")


@pytest.fixture
def login(api_client) -> Callable[..., dict[str, Any]]:
    """login(account) → token pair, through the account's realm login endpoint."""

    def _login(account, password: str = PASSWORD) -> dict[str, Any]:
        return RealmCase(realm_of(account).name).login_pair(api_client, account, password)

    return _login


@pytest.fixture
def user_token(user, login) -> str:
    return login(user)["access_token"]


@pytest.fixture
def admin_token(admin, login) -> str:
    return login(admin)["access_token"]


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgresql://...")


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[], Any]:
    """`with committed(): ...` runs the block's on-commit work (mail delivery) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
