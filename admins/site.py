"""The Django admin site at /django-admin/: operators log in with Admin accounts."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from admins.forms import AdminLoginForm


class AccountsAdminSite(admin.AdminSite):
    site_header = "Accounts administration"
    site_title = "Accounts administration"
    site_url = "/docs"  # "View site": the API has no home page
    login_form = AdminLoginForm
    login_template = "admins/login.html"  # Django's, with the authentication code field

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """A spent per-IP login budget shows its form error and answers 429 with Retry-After."""
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        limited = getattr(form, "rate_limited", None)
        if limited is not None:
            response.status_code = 429
            response["Retry-After"] = str(max(1, int(limited.retry_after or 1)))
        return response
