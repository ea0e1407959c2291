"""Deny by default: every API endpoint needs an account of its realm unless it says it is public."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from common.tests.utils import assert_error

PUBLIC = {
    "auth/register", "auth/login", "auth/refresh", "admin/auth/login", "admin/auth/refresh",
    "auth/password/forgot", "auth/password/reset", "auth/email/verify",
    "auth/mfa/verify", "admin/auth/mfa/verify", "auth/introspect",
    "auth/passkey/options", "auth/passkey/login", "admin/auth/passkey/options", "admin/auth/passkey/login",
    "admin/auth/password/forgot", "admin/auth/password/reset", "admin/auth/email/verify",
    "health", "schema", "docs", "settings/public",
    *(f"{auth}/invitations/{step}" for auth in ("auth", "admin/auth") for step in ("inspect", "accept")),
    *(f"{auth}/code/{step}" for auth in ("auth", "admin/auth") for step in ("request", "verify")),
    *(f"{auth}/oidc/{tail}" for auth in ("auth", "admin/auth") for tail in (
        "providers", "exchange", *(f"(?P<provider>[a-z][a-z0-9_-]{{0,63}})/{step}"
                                   for step in ("authorize", "callback", "token")))),
}  # fmt: skip


def api_views(patterns=None, prefix: str = ""):
    """(route, view class) for every DRF view in the URL configuration."""
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern).lstrip("^").removesuffix("$").removesuffix("/?")
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and issubclass(getattr(pattern.callback, "cls", object), APIView):
            yield route, pattern.callback


def concrete(route: str) -> str:
    return "/" + re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)


def is_public(view) -> bool:
    classes = view.initkwargs.get("permission_classes", view.cls.permission_classes)
    return any(cls is AllowAny for cls in classes)


def test_only_the_documented_endpoints_are_public():
    assert {route for route, view in api_views() if is_public(view)} == PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "view"), [item for item in api_views() if not is_public(item[1])], ids=lambda v: str(v)[:60]
)
def test_every_other_endpoint_answers_401_without_credentials(api_client, route, view):
    methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view.cls, m)]
    allowed = view.initkwargs.get("http_method_names", view.cls.http_method_names)
    for method in (m for m in methods if m in allowed):
        response = getattr(api_client, method)(concrete(route), {}, format="json")
        assert_error(response, 401, "NOT_AUTHENTICATED")
        assert response["WWW-Authenticate"] == "Bearer"


def test_every_route_of_the_service_is_named():
    """config/urls.py is the whole tree; every route in it has a name to reverse (the admin site's own aside)."""
    unnamed = [str(p.pattern) for p in get_resolver().url_patterns if isinstance(p, URLPattern) and not p.name]
    assert unnamed == []


# The admin's own endpoints need no permission (docs/api.md §24); every other admin route names one.
ADMIN_SELF = re.compile(r"^(admin/me(/.*)?|admin/auth/(?!register$).*)$")


def required_permission(view, method: str) -> str | None:
    from common.permissions import Requires

    classes = view.initkwargs.get("permission_classes", view.cls.permission_classes)
    for cls in (c for c in classes if isinstance(c, type) and issubclass(c, Requires)):
        if (cls.methods is None or method in cls.methods) and method not in cls.exempt:
            return cls.permission
    return None


def test_every_admin_route_names_the_permission_each_method_needs():
    missing = []
    for route, view in api_views():
        if not route.startswith("admin/") or ADMIN_SELF.match(route):
            continue
        allowed = view.initkwargs.get("http_method_names", view.cls.http_method_names)
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view.cls, method) and method in allowed and required_permission(view, method.upper()) is None:
                missing.append(f"{method.upper()} /{route}")
    assert missing == []


def test_the_admins_own_routes_need_no_permission():
    for route, view in api_views():
        if ADMIN_SELF.match(route):
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                assert required_permission(view, method) is None, f"{method} /{route}"
