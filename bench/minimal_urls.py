"""The minimal project's one view: a primary-key query, answered in the envelope's shape."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User


class PrimaryKeyApi(APIView):
    def get(self, request: Request) -> Response:
        user = User.objects.filter(pk=int(request.query_params.get("id", 1))).first()
        return Response({"success": True, "message": "OK", "data": {"id": user.pk if user else None}})


urlpatterns = [path("_bench/pk", PrimaryKeyApi.as_view())]
