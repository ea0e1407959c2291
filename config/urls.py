"""The whole URL tree. Each realm mounts its account routes (accounts.urls) and its credential
routes (tokens.urls) side by side with its own authentication classes; the admin realm adds
user management and the audit trail (admins.urls). URLs are resolved in order, so the
hottest paths come first: what resource servers call (two patterns), then `users/me`."""

from django.conf import settings
from django.contrib import admin
from django.urls import re_path
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import urls as account_urls
from admins import urls as admin_urls
from admins.serializers import AdminAccountSerializer
from common.health import HealthApi
from common.metrics import metrics_view
from common.realms import ADMIN, USER
from common.urls import api_path
from common.views import media as media_view
from tokens import urls as credential_urls
from tokens.authentication import ADMIN_AUTHENTICATION, USER_AUTHENTICATION
from tokens.browser import urls as browser_urls
from tokens.provider.urls import provider_urlpatterns

USER_ROUTES = {"realm": USER, "authentication": USER_AUTHENTICATION, "auth_prefix": "auth", "me_prefix": "users/me"}
ADMIN_ROUTES = {
    "realm": ADMIN, "authentication": ADMIN_AUTHENTICATION, "auth_prefix": "admin/auth", "me_prefix": "admin/me",
}  # fmt: skip


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI: a page (its renderer has no answer to OPTIONS, which is 405 like any other
    method the page does not serve)."""

    http_method_names = ["get", "head"]


urlpatterns = [
    # What other services call on each request of theirs: token introspection and the JWK Set.
    *credential_urls.service_urlpatterns(),
    # The user realm: /auth/... and /users/me/...
    *account_urls.build_urlpatterns(
        **USER_ROUTES, open_registration=True, me_methods=("get", "put", "patch", "delete")
    ),
    *credential_urls.build_urlpatterns(**USER_ROUTES),
    *browser_urls.browser_urlpatterns(),  # /api-auth/login/, logout, passkey and providers
    *provider_urlpatterns(),  # this service as an OpenID Provider (§28): /oauth/... and its discovery
    # The admin realm: /admin/auth/..., /admin/me/..., then user management and the audit trail.
    *account_urls.build_urlpatterns(
        **ADMIN_ROUTES,
        open_registration=False,
        me_methods=("get", "put", "patch"),
        account_serializer=AdminAccountSerializer,
    ),
    *credential_urls.build_urlpatterns(**ADMIN_ROUTES),
    *admin_urls.urlpatterns,
    # Operators and operations.
    re_path(r"^django-admin/", admin.site.urls),
    api_path("health", HealthApi.as_view(), name="health"),
    api_path(
        "schema", SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer, OpenApiYamlRenderer]), name="schema"
    ),
    api_path("metrics", metrics_view, name="metrics"),
    # The split view loads its start script from a URL, so /docs needs no inline script (CSP).
    api_path("docs", DocsView.as_view(url_name="schema"), name="docs"),
]

if settings.SERVE_MEDIA:
    # Avatars are served by the service itself unless a web server in front does it.
    media = settings.MEDIA_URL.strip("/")
    urlpatterns.append(
        re_path(rf"^{media}/(?P<path>(?:avatars|logos)/[A-Za-z0-9_-]+\.(?:jpg|png|webp))$", media_view, name="media")
    )

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
handler400 = "common.views.bad_request"
handler403 = "common.views.forbidden"
