"""The browsable API: forms for each endpoint's writes, and who is signed in to which realm."""

from typing import Any

from django.conf import settings
from rest_framework import renderers

from common.exceptions import DomainError

LOGIN_URLS = {"user": "/api-auth/login/", "admin": "/django-admin/login/"}
LOGOUT_URLS = {"user": "/api-auth/logout/", "admin": "/django-admin/logout/"}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """HTML forms come from each view's `form_serializers` (method → input serializer); the
    JSON shown is the envelope itself, and every response follows the contract."""

    template = "common/api.html"

    def show_form_for_method(self, view, method, request, obj) -> bool:
        try:
            return super().show_form_for_method(view, method, request, obj)
        except DomainError:  # refused for this credential (a PAT, MFA required...): no form
            return False

    def get_rendered_html_form(self, data, view, method, request):
        if method not in ("DELETE", "OPTIONS") and method not in getattr(view, "form_serializers", {}):
            return None
        return super().get_rendered_html_form(data, view, method, request)

    def get_context(self, data: Any, accepted_media_type: str, renderer_context: dict) -> dict:
        context = super().get_context(data, accepted_media_type, renderer_context)
        realm = getattr(renderer_context["view"], "realm", None)
        name = realm.name if realm is not None else "user"
        view = renderer_context["view"]
        path = renderer_context["request"].path.rstrip("/")
        context.update(
            passkey_page={"options": f"{path}/options", "finish": path}
            if getattr(view, "passkey_page", False)
            else None,
            product=settings.PRODUCT_NAME,
            realm_title=realm.title if realm is not None else "",
            login_url=LOGIN_URLS[name],
            logout_url=LOGOUT_URLS[name],
        )
        return context
