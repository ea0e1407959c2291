from django.conf import settings
from django.contrib import admin
from django.urls import include, re_path
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common.health import HealthApi
from common.metrics import metrics_view
from common.urls import api_path
from common.views import media as media_view


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI: a page (its renderer has no answer to OPTIONS, which is 405 like any other
    method the page does not serve)."""

    http_method_names = ["get", "head"]


urlpatterns = [  # the API first: URLs are resolved in order, and the API is the hot path
    re_path("", include("accounts.urls")),
    re_path("", include("admins.urls")),
    re_path(r"^django-admin/", admin.site.urls),
    api_path("health", HealthApi.as_view(), name="health"),
    api_path(
        "schema", SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer, OpenApiYamlRenderer]), name="schema"
    ),
    # The split view loads its start script from a URL, so /docs needs no inline script (CSP).
    api_path("metrics", metrics_view, name="metrics"),
    api_path("docs", DocsView.as_view(url_name="schema"), name="docs"),
]

if settings.SERVE_MEDIA:
    # Avatars are served by the service itself unless a web server in front does it.
    media = settings.MEDIA_URL.strip("/")
    urlpatterns.append(re_path(rf"^{media}/(?P<path>avatars/[A-Za-z0-9_-]+\.(?:jpg|png|webp))$", media_view))

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
handler400 = "common.views.bad_request"
handler403 = "common.views.forbidden"
