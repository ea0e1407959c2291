"""The production URLs plus the baselines the benchmark compares the service with."""

import functools
import time

from django.contrib.auth.hashers import check_password, make_password
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.urls import urlpatterns as service_urls


class BareApi(APIView):
    """A DRF view that does nothing: the ceiling of the stack."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"success": True, "message": "OK", "data": None})


class PrimaryKeyApi(BareApi):
    """A DRF view that does one primary-key query: what `GET /users/me` must do at least."""

    def get(self, request: Request) -> Response:
        user = User.objects.filter(pk=int(request.query_params.get("id", 1))).first()
        return Response({"success": True, "message": "OK", "data": {"id": user.pk if user else None}})


@functools.cache
def _argon2_hash() -> str:
    return make_password("bench-argon2-baseline", hasher="argon2")


class Argon2Api(BareApi):
    """One Argon2 verify with the login's parameters, timed inside a worker between logins: the
    login's baseline, measured where the login's own verify runs (a verify in a loop of its own
    runs with warm caches, which no login's verify has)."""

    def get(self, request: Request) -> Response:
        hashed = _argon2_hash()
        started = time.perf_counter()
        check_password("bench-argon2-baseline", hashed)
        return Response({"success": True, "message": "OK", "data": {"ms": (time.perf_counter() - started) * 1000}})


urlpatterns = [
    path("_bench/bare", BareApi.as_view()),
    path("_bench/pk", PrimaryKeyApi.as_view()),
    path("_bench/argon2", Argon2Api.as_view()),
    *service_urls,
]
