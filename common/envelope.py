"""The two response shapes of docs/api.md §2."""

from typing import Any

from rest_framework import status as http
from rest_framework.response import Response


def success_body(data: Any, message: str) -> dict[str, Any]:
    return {"success": True, "message": message, "data": data}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "message": message,
        "error": {"code": code, "message": message, "details": details or {}},
    }


def ok(data: Any = None, message: str = "OK", status: int = http.HTTP_200_OK, *, secret: bool = False) -> Response:
    """A success response; `secret` ones (tokens, codes) must not be cached anywhere (RFC 6749 §5.1)."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"} if secret else None
    return Response(success_body(data, message), status=status, headers=headers)
