"""The Django admin site at /django-admin/: operators log in with Admin accounts.

Logging in here also starts a browser session of the admin realm (tokens.browser), so the
admin API answers this browser too, and ending that session (logout everywhere, block...)
ends the admin site's session as well.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path, reverse, reverse_lazy
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from admins import invitation_pages
from admins.forms import AdminLoginForm, SitePasswordChangeForm
from common.envelope import success_body
from common.exceptions import DomainError, Forbidden, json_error_response
from common.realms import ADMIN
from common.views import read_json
from tokens.browser import reauth
from tokens.browser import sessions as browser
from tokens.browser.sessions import safe_next
from tokens.code.pages import CodePages
from tokens.oidc import pages as oidc_pages
from tokens.oidc import providers
from tokens.oidc.pages import OidcPages


class AccountsAdminSite(admin.AdminSite):
    site_header = site_title = f"{settings.PRODUCT_NAME} administration"
    index_title = "What operators manage"
    site_url = "/docs"  # "View site": the API has no home page
    login_form = AdminLoginForm
    login_template = "admins/login.html"  # Django's, with the authentication code field
    index_template = "admins/index.html"  # Django's, with the operator dashboard on top

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        from admins import dashboard

        return super().index(request, {**(extra_context or {}), "dashboard": dashboard.context()})

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """A spent per-IP login budget shows its form error and answers 429 with Retry-After.
        The page also offers the identity providers of the admin realm."""
        extra_context = {
            **(extra_context or {}),
            "providers": providers.of_realm(ADMIN),
            "code_login": ADMIN.name in settings.LOGIN_CODE_REALMS,
            "oidc_error": oidc_pages.message_for(request.GET.get("oidc_error")),
        }
        response = super().login(request, extra_context)
        if request.method == "POST" and request.user.is_authenticated and response.status_code == 302:
            browser.start(request, request.user)
        form = (getattr(response, "context_data", None) or {}).get("form")
        limited = getattr(form, "rate_limited", None)
        if limited is not None:
            response.status_code = 429
            response["Retry-After"] = str(max(1, int(limited.retry_after or 1)))
        return response

    def get_urls(self):
        view = require_POST(csrf_protect(self.passkey_login))
        oidc_start, oidc_complete = self.oidc_pages().views()
        return [
            path("passkey/", view, name="passkey_login"),
            path("code/", self.code_pages().view(), name="code_login"),
            path("reauthenticate/", self.admin_view(self.reauthenticate), name="reauthenticate"),
            path("invite/<str:realm>/", self.admin_view(self.invite), name="invite"),
            re_path(r"^oidc/(?P<provider>[a-z][a-z0-9_-]{0,63})/$", oidc_start, name="oidc_start"),
            path("oidc/", oidc_complete, name="oidc_complete"),
            *super().get_urls(),
        ]

    def oidc_pages(self) -> OidcPages:
        """ "Sign in with <provider>" on the login page, ending as the passkey sign-in does."""
        return OidcPages(
            realm=ADMIN, complete_url=f"{self.name}:oidc_complete", login_url=reverse_lazy(f"{self.name}:login"),
            default_next=reverse_lazy(f"{self.name}:index"), before_start=self.staff_only,
        )  # fmt: skip

    def code_pages(self) -> CodePages:
        """ "Email me a code" on the login page: staff only, as the password form."""
        return CodePages(
            realm=ADMIN, template="admins/code_login.html", default_next=reverse_lazy(f"{self.name}:index"),
            before_start=self.staff_only,
            extra_context=lambda request: {**self.each_context(request), "title": "Log in"},
        )  # fmt: skip

    def reauthenticate(self, request: HttpRequest) -> HttpResponse:
        """ "Confirm it's you" before the credential pages' changes (§27; admins.admin.RecentSignInMixin)."""
        return reauth.page(request, realm=ADMIN, template="admins/reauthenticate.html",
                           default_next=reverse("admin:index", current_app=self.name),
                           **self.each_context(request), title="Confirm it's you")  # fmt: skip

    def invite(self, request: HttpRequest, realm: str) -> HttpResponse:
        """The "Invite" button of the user and admin lists: the API's rules (admins.invitations)."""
        return invitation_pages.invite_page(self, request, realm)

    def passkey_login(self, request: HttpRequest) -> HttpResponse:
        """The login page's "Sign in with a passkey": staff only, as the password form."""
        try:
            body = read_json(request)
            browser.sign_in_with_passkey(request, ADMIN, body.get("credential"),
                                         before_start=lambda account: self.staff_only(request, account))  # fmt: skip
        except DomainError as exc:
            return json_error_response(exc, getattr(request, "request_id", None))
        target = safe_next(request, body.get("next"), default=reverse("admin:index", current_app=self.name))
        return JsonResponse(success_body({"next": target}, "Signed in"))

    @staticmethod
    def staff_only(request: HttpRequest, account) -> None:
        """A sign-in without the password form (a passkey, a provider): staff only, and the site signs in too."""
        if not (account.is_active and account.is_staff):
            raise Forbidden("This account may not use the admin site")
        auth_login(request, account, backend="admins.backends.AdminSiteBackend")

    def logout(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        browser.end(request, ADMIN)
        return super().logout(request, extra_context)

    def password_change(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Django's page with the API's rule for the old password (a wrong one counts toward
        lockout); a new password ends every session, and this browser carries on with a new one."""
        request.current_app = self.name
        view = PasswordChangeView.as_view(
            form_class=SitePasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )
        response = view(request)
        if request.method == "POST" and response.status_code == 302:
            browser.start(request, request.user)
        return response

    def has_permission(self, request: HttpRequest) -> bool:
        """A browser whose admin-realm session was ended elsewhere is signed out here too, and
        so is an admin without MFA while ADMIN_MFA_REQUIRED is on (as the API answers 403)."""
        key = browser.session_key(ADMIN)
        ended = key in request.session and browser.current(request, ADMIN) is None
        needs_mfa = settings.ADMIN_MFA_REQUIRED and request.user.is_authenticated and not request.user.mfa_enabled
        if ended or needs_mfa:
            browser.end(request, ADMIN)
            auth_logout(request)
            return False
        return super().has_permission(request)
