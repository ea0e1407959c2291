"""GET /health: database and cache checks."""

import logging

from django.core.cache import cache
from django.db import DatabaseError, connection
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.envelope import ok
from common.exceptions import ServiceUnavailable
from common.schema import api_doc

logger = logging.getLogger(__name__)


class HealthSerializer(serializers.Serializer):
    database = serializers.CharField()
    cache = serializers.CharField()


class HealthApi(APIView):
    name = "Health"
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @api_doc(summary="Database and cache status", responses={200: HealthSerializer}, errors=(503,), tags=["service"])
    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as exc:
            raise ServiceUnavailable("Database unavailable", details={"database": "unavailable"}) from exc
        return ok({"database": "ok", "cache": _cache_status()}, "Service is healthy")


def _cache_status() -> str:
    """The cache only weakens rate limiting when down, so it is reported, not fatal."""
    try:
        cache.set("health:ping", "1", 5)
        return "ok" if cache.get("health:ping") == "1" else "unavailable"
    except Exception:
        logger.warning("Cache health check failed", exc_info=True)
        return "unavailable"
