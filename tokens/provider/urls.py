"""The provider's routes (§28), mounted at the root by config.urls (each is 404 without OIDC_ISSUER)."""

from django.urls import URLPattern, re_path

from common.urls import api_path
from tokens.provider import apis, pages, protocol


def provider_urlpatterns() -> list[URLPattern]:
    return [
        re_path(r"^\.well-known/openid-configuration/?$", protocol.discovery, name="oidc-discovery"),
        re_path(r"^oauth/authorize/?$", pages.authorize, name="oauth-authorize"),
        re_path(r"^oauth/token/?$", protocol.token, name="oauth-token"),
        re_path(r"^oauth/userinfo/?$", protocol.userinfo, name="oauth-userinfo"),
        re_path(r"^oauth/revoke/?$", protocol.revoke, name="oauth-revoke"),
        re_path(r"^oauth/introspect/?$", protocol.introspect, name="oauth-introspect"),
        re_path(r"^oauth/device_authorization/?$", protocol.device_authorization, name="oauth-device-authorization"),
        re_path(r"^oauth/device/?$", pages.device, name="oauth-device"),
        re_path(r"^oauth/logout/?$", pages.logout, name="oauth-logout"),
        api_path("users/me/grants", apis.GrantListApi.as_view(), name="user-grants"),
        api_path(
            r"users/me/grants/(?P<client_id>[A-Za-z0-9._~-]{1,255})", apis.GrantDetailApi.as_view(), name="user-grant"
        ),
    ]
