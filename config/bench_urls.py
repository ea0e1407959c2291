"""The production URLs plus two baselines the benchmark compares the service with."""

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


urlpatterns = [
    path("_bench/bare", BareApi.as_view()),
    path("_bench/pk", PrimaryKeyApi.as_view()),
    *service_urls,
]
