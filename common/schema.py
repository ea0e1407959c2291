"""OpenAPI helpers: every documented response is wrapped in the envelope, errors included."""

from collections.abc import Callable, Iterable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from common.exceptions import codes_by_status

_cache: dict[str, serializers.Serializer] = {}

# Notes added to the codes the error table gives for a status.
_NOTES = {
    409: "details name the fields",
    423: "Retry-After header",
    429: "Retry-After header",
    500: "details.request_id",
}


def error_description(status: int) -> str:
    """The codes a status may carry, read from the one error table."""
    codes = " or ".join(codes_by_status().get(status, ["VALIDATION_ERROR"]))
    return f"{codes} ({_NOTES[status]})" if status in _NOTES else codes


def _once(name: str, build: Callable[[], serializers.Serializer]) -> serializers.Serializer:
    if name not in _cache:
        _cache[name] = build()
    return _cache[name]


def error_envelope() -> serializers.Serializer:
    def build() -> serializers.Serializer:
        error = inline_serializer(
            "Error",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(help_text="{field: [messages]}, non_field_errors, request_id"),
            },
        )
        return inline_serializer(
            "ErrorEnvelope",
            {"success": serializers.BooleanField(default=False), "message": serializers.CharField(), "error": error},
        )

    return _once("ErrorEnvelope", build)


def envelope(data: Any, *, page: bool = False) -> serializers.Serializer:
    """`{"success": true, "message": ..., "data": <data>}` (a Page of <data> when `page`).

    `data` is a serializer class, None, a ready serializer instance (one of several shapes), or
    `[serializer class]` for a plain list.
    """
    if isinstance(data, list):
        item = data[0]
        name = f"{item.__name__.removesuffix('Serializer')}ListEnvelope"
        return _once(name, lambda: _wrap(name, item(many=True)))
    if isinstance(data, serializers.BaseSerializer | PolymorphicProxySerializer):
        instance = data
        base = getattr(data, "component_name", type(data).__name__)
        return _once(f"{base}Envelope", lambda: _wrap(f"{base}Envelope", instance))
    base = data.__name__.removesuffix("Serializer") if data else "Null"
    name = f"{base}{'Page' if page else ''}Envelope"

    def build() -> serializers.Serializer:
        if data is None:
            payload: serializers.Field = serializers.JSONField(allow_null=True, default=None)
        elif page:
            payload = inline_serializer(
                f"{base}Page",
                {
                    "items": data(many=True),
                    "page": serializers.IntegerField(allow_null=True, help_text="null when paging by cursor"),
                    "page_size": serializers.IntegerField(),
                    "total": serializers.IntegerField(),
                    "pages": serializers.IntegerField(),
                    "next_cursor": serializers.CharField(
                        required=False, allow_null=True, help_text="Only when paging by cursor: the next page's."
                    ),
                },
            )
        else:
            payload = data()
        return _wrap(name, payload)

    return _once(name, build)


def _wrap(name: str, payload: Any) -> serializers.Serializer:
    return inline_serializer(
        name, {"success": serializers.BooleanField(), "message": serializers.CharField(), "data": payload}
    )


def api_doc(
    *,
    summary: str,
    responses: dict[int, Any],  # status → serializer class, None, [class] for a list, (class, True) for a page
    errors: Iterable[int] = (),
    request: Any = None,
    tags: list[str] | None = None,
    **kwargs: Any,
) -> Callable:
    """extend_schema with enveloped success responses and the listed error responses.

    A request body is documented as JSON, the way clients should send it (the form encodings
    of docs/api.md §1 still work); pass `{media type: serializer}` where a file is sent.
    """
    documented: dict[int, Any] = {
        status: OpenApiResponse(envelope(body[0], page=True) if isinstance(body, tuple) else envelope(body))
        for status, body in responses.items()
    }
    for status in (*errors, 500):
        documented[status] = OpenApiResponse(error_envelope(), description=error_description(status))
    documented[414] = OpenApiResponse(
        description="URI too long: refused by gunicorn before the service (its own short page, outside the envelope)"
    )
    if request is not None and not isinstance(request, dict):
        request = {"application/json": request}
    schema = extend_schema(summary=summary, request=request, responses=documented, tags=tags, **kwargs)

    def decorate(method: Callable) -> Callable:
        method = schema(method)
        method.returns_list = any(isinstance(body, tuple | list) for body in responses.values())
        return method

    return decorate


class ApiAutoSchema(AutoSchema):
    """Operation ids from the route names of config/urls.py, stable and readable:
    `user_tokens_list`, `user_tokens_create`, `user_token_destroy`, `user_login`, `admin_user_block`.

    GET is `_list` (a page or a list) or `_retrieve`; DELETE `_destroy`; PUT `_update`; POST is `_create`
    beside a GET, else the route's own name (an action); PATCH `_partial_update` beside a PUT,
    else the route's name.
    """

    def get_auth(self) -> list[dict[str, list]]:
        """A view that reads no credentials needs none (not "optional": generated clients would
        ask for a token)."""
        if not self.view.authentication_classes:
            return []
        return super().get_auth()

    def get_operation_id(self) -> str:
        name = getattr(self.view, "route_name", "")
        if not name:
            return super().get_operation_id()
        base, method = name.replace("-", "_"), self.method.lower()
        handler = getattr(self.view, method, None)
        if method == "get":
            return f"{base}_list" if getattr(handler, "returns_list", False) else f"{base}_retrieve"
        suffix = {
            "delete": "_destroy",
            "put": "_update",
            "post": "_create" if hasattr(self.view, "get") else "",
            "patch": "_partial_update" if hasattr(self.view, "put") else "",
        }[method]
        return base + suffix


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("page_size", int, description="Items per page: default 20, at most 100."),
    OpenApiParameter(
        "cursor", str, description="Instead of page: empty to start, then each page's next_cursor (fast at any depth)."
    ),
]


def without_trailing_slash(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Document paths as `/users/me`; they answer with the slash too."""
    return [(path.rstrip("/") or "/", *rest) for path, *rest in endpoints]
