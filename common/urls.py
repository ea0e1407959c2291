"""Routes that answer with and without a trailing slash, never redirecting."""

from collections.abc import Callable

from django.urls import URLPattern, re_path


def api_path(route: str, view: Callable, name: str | None = None) -> URLPattern:
    """`route` uses regex groups for parameters, e.g. r"users/(?P<user_id>[0-9]+)".

    An API view learns its route's name (`route_name`): the OpenAPI operation ids are made from it.
    """
    if name and hasattr(view, "initkwargs") and hasattr(view.cls, "route_name"):
        view.initkwargs["route_name"] = name
    return re_path(rf"^{route}/?$", view, name=name)


def id_param(name: str) -> str:
    """A path parameter for a database id (at most 18 digits, so it always fits the column)."""
    return rf"(?P<{name}>[0-9]{{1,18}})"
