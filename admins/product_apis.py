"""Product settings and statistics through the API (docs/api.md §25): the public settings a
frontend reads, the operators' settings, the operators' numbers. Rules: admins.product_settings,
admins.statistics."""

from typing import Any

from django.core.files.storage import default_storage
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from admins import product_settings, statistics
from admins.apis import AdminApi
from admins.serializers import (
    PublicSettingsSerializer,
    SettingInputSerializer,
    SettingSerializer,
    StatisticsSerializer,
)
from common.apis import PublicApi
from common.envelope import ok
from common.permissions import requiring
from common.schema import api_doc

TAGS = ["admin settings"]
PUBLIC_MAX_AGE = 30  # seconds a client or a CDN may keep GET /settings/public
KEY = OpenApiParameter("key", str, OpenApiParameter.PATH, description="A known key or a custom one.")


class PublicSettingsApi(PublicApi):
    name = "Public settings"
    realm = None
    permission_classes = [AllowAny]

    @api_doc(summary="What this service offers and how to brand it (no credentials; cacheable)",
             responses={200: PublicSettingsSerializer}, auth=[], tags=["service"])  # fmt: skip
    def get(self, request: Request) -> Response:
        response = ok(product_settings.public(request), "Public settings retrieved")
        response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
        return response


class SettingsApi(AdminApi):
    def shown(self, setting: dict[str, Any]) -> dict[str, Any]:
        """A Setting; the logo's value as its absolute URL."""
        if setting["key"] == "logo" and setting["value"]:
            setting = {**setting, "value": self.request.build_absolute_uri(default_storage.url(setting["value"]))}
        return SettingSerializer(setting).data


class SettingListApi(SettingsApi):
    name = "Settings"
    permission_classes = requiring("common.view_setting")

    @api_doc(summary="Every known key (with its default when unset) and every custom key",
             responses={200: [SettingSerializer]}, errors=(401, 403), tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok([self.shown(s) for s in product_settings.listing()], "Settings retrieved")


class SettingDetailApi(SettingsApi):
    name = "Setting"
    permission_classes = requiring(GET="common.view_setting", PUT="common.change_setting",
                                   DELETE="common.delete_setting")  # fmt: skip
    form_serializers = {"PUT": SettingInputSerializer}

    @api_doc(summary="A setting", responses={200: SettingSerializer}, errors=(401, 403, 404), parameters=[KEY],
             tags=TAGS)  # fmt: skip
    def get(self, request: Request, key: str) -> Response:
        return ok(self.shown(product_settings.get(key)), "Setting retrieved")

    @api_doc(
        summary="Set a setting (the logo: a multipart `file`)",
        request={"application/json": SettingInputSerializer, "multipart/form-data": SettingInputSerializer},
        responses={200: SettingSerializer}, errors=(400, 401, 403, 413, 415), parameters=[KEY], tags=TAGS,
    )  # fmt: skip
    def put(self, request: Request, key: str) -> Response:
        if key == "logo":
            setting = product_settings.put_logo(request.FILES.get("file"), actor=request.user)
        else:
            setting = product_settings.put(key, self.validated(SettingInputSerializer), actor=request.user)
        return ok(self.shown(setting), "Setting saved")

    @api_doc(summary="Back to the default (a known key) or removed (a custom key)", responses={200: None},
             errors=(401, 403, 404), parameters=[KEY], tags=TAGS)  # fmt: skip
    def delete(self, request: Request, key: str) -> Response:
        product_settings.reset(key, actor=request.user)
        return ok(None, "Setting reset")


class StatisticsApi(AdminApi):
    name = "Statistics"
    permission_classes = requiring("accounts.view_user")

    @api_doc(summary="The operator's numbers (exact, at most 60 seconds old)", responses={200: StatisticsSerializer},
             errors=(401, 403), tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok(statistics.statistics(), "Statistics retrieved")
