"""The login pages' "Sign in with <provider>" (the browsable API's and the Django admin site's):
the redirect flow of tokens.oidc with this service's own page as the redirect target, ending in
a browser session (tokens.browser) instead of a token pair. MFA still asks for its code."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.models import AbstractAccount
from common import ratelimit
from common.exceptions import DomainError, InvalidCredentials, MfaRequired, ValidationFailed
from common.realms import Realm
from tokens import login
from tokens.browser import sessions as browser
from tokens.browser.sessions import safe_next
from tokens.oidc import flow, providers

BINDING = "oidc_browser"  # the cookie that binds a provider sign-in to the browser that began it
PENDING = "oidc_pending"  # the cookie session's note of a sign-in waiting for its MFA code
PENDING_SECONDS = 300

MESSAGES = {
    "ACCOUNT_EXISTS": "An account with this address exists. Sign in with your password, then link the provider "
    "from your account.",
    "ACCOUNT_INACTIVE": "This account is inactive.",
    "ACCOUNT_LOCKED": "This account is locked after too many failed login attempts. Try again later.",
    "EMAIL_NOT_VERIFIED": "Verify your email address first (see the mail we sent).",
    "FORBIDDEN": "This account may not use the admin site.",
    "INVALID_CREDENTIALS": "The identity provider did not sign you in to an account here.",
    "MFA_REQUIRED": "Multi-factor authentication is required for admins. Turn it on first through the API.",
    "RATE_LIMITED": "Too many login attempts from your address. Try again later.",
    "SERVICE_UNAVAILABLE": "The identity provider cannot be reached. Try again later.",
    "VALIDATION_ERROR": "This sign-in expired or was already used. Start again.",
}


def _binding(request: HttpRequest) -> str | None:
    value = request.COOKIES.get(BINDING, "")
    return value if 20 <= len(value) <= 64 else None


def message_for(code: str | None) -> str | None:
    """The login page's explanation of a failed provider sign-in (`?oidc_error=CODE`)."""
    return MESSAGES.get(code or "", "Signing in with the identity provider failed.") if code else None


@dataclass(frozen=True)
class OidcPages:
    """Two views for one realm's login page: `start` (to the provider) and `complete` (back from it)."""

    realm: Realm
    complete_url: str  # the name of the `complete` route
    login_url: str  # or a lazy reverse()
    default_next: str
    before_start: Callable[[HttpRequest, AbstractAccount], None] = lambda request, account: None

    def providers(self) -> list[providers.Provider]:
        return providers.of_realm(self.realm)

    def start(self, request: HttpRequest, provider: str) -> HttpResponse:
        target = safe_next(request, request.GET.get("next"), str(self.default_next))
        back = flow.with_query(request.build_absolute_uri(reverse(self.complete_url)), next=target)
        binding = _binding(request) or secrets.token_urlsafe(32)
        try:
            response = HttpResponseRedirect(
                flow.authorize(request, self.realm, provider, back, trusted=True, binding=binding)
            )
        except DomainError as exc:
            return self.failed(exc.code)
        # Lax: sent on the top-level redirect back from the provider, not on other sites' subrequests.
        response.set_cookie(BINDING, binding, max_age=flow.STATE_SECONDS, httponly=True, samesite="Lax",
                            secure=request.is_secure())  # fmt: skip
        return response

    def complete(self, request: HttpRequest) -> HttpResponse:
        target = safe_next(request, request.POST.get("next") or request.GET.get("next"), str(self.default_next))
        try:
            if request.method == "POST":
                return self._second_factor(request, target)
            if request.GET.get("error") or not request.GET.get("code"):
                return self.failed(request.GET.get("error") or "VALIDATION_ERROR")
            binding = _binding(request)
            if binding is None:  # not the browser that began this sign-in
                raise ValidationFailed()
            account, p = flow.redeem(self.realm, request.GET["code"], binding=binding)
            if self.realm.name == "admin" and settings.ADMIN_MFA_REQUIRED and not account.mfa_enabled:
                raise MfaRequired()
            if account.mfa_enabled:
                request.session[PENDING] = {"account": account.pk, "provider": p.slug, "at": timezone.now().timestamp()}
                return self._code_page(request, target)
            return self._finish(request, account, "oidc", target, provider=p.slug)
        except DomainError as exc:
            return self.failed(exc.code)

    def _second_factor(self, request: HttpRequest, target: str) -> HttpResponse:
        pending = request.session.get(PENDING) or {}
        if timezone.now().timestamp() - pending.get("at", 0) > PENDING_SECONDS:
            raise ValidationFailed()
        account = self.realm.model.objects.alive().filter(pk=pending["account"]).first()
        if account is None:
            raise ValidationFailed()
        login.check_allowed(account)  # (a code's account was checked when the code was redeemed)
        ratelimit.consume(request, "login", self.realm)
        try:
            login.check_second_factor(account, request.POST.get("code", "")[:64])
        except InvalidCredentials:
            return self._code_page(request, target, error="This authentication code is not valid.")
        del request.session[PENDING]
        return self._finish(request, account, "mfa", target)

    def _finish(self, request: HttpRequest, account: AbstractAccount, method: str, target: str, **details):
        browser.begin(request, account, method=method, before_start=lambda a: self.before_start(request, a),
                      **details)  # fmt: skip
        return HttpResponseRedirect(target)

    def _code_page(self, request: HttpRequest, target: str, error: str | None = None) -> HttpResponse:
        context = {"next": target, "error": error, "product": settings.PRODUCT_NAME, "login_url": str(self.login_url)}
        return render(request, "tokens/oidc_code.html", context, status=401 if error else 200)

    def failed(self, code: str) -> HttpResponse:
        return HttpResponseRedirect(flow.with_query(str(self.login_url), oidc_error=code))

    def views(self) -> tuple[Callable, Callable]:
        """(start, complete) as Django views."""
        start = never_cache(require_http_methods(["GET", "HEAD"])(self.start))
        complete = sensitive_post_parameters("code")(csrf_protect(never_cache(
            require_http_methods(["GET", "HEAD", "POST"])(self.complete)
        )))  # fmt: skip
        return start, complete
