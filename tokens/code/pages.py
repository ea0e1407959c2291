""" "Email me a code" on the login pages (the browsable API's and the Django admin site's): the
address, then the mailed code (and the authenticator's when MFA is on), ending in a browser
session of the realm, with the checks and budgets of POST .../auth/code/... (§26)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from accounts.apis import limit_mail
from accounts.models import AbstractAccount
from common import ratelimit
from common.exceptions import DomainError, InvalidCredentials
from common.realms import Realm
from tokens import login
from tokens.browser import sessions as browser
from tokens.browser.sessions import safe_next
from tokens.code import services as codes

SENT = "If an account has this address, a code is on its way. It works once, for a few minutes."


@dataclass(frozen=True)
class CodePages:
    realm: Realm
    template: str
    default_next: Any  # a URL (lazy for the admin site)
    before_start: Callable[[HttpRequest, AbstractAccount], None] | None = None  # the admin site: staff only
    extra_context: Callable[[HttpRequest], dict] | None = None

    def view(self) -> Callable[[HttpRequest], HttpResponse]:
        return sensitive_post_parameters("code", "mfa_code")(csrf_protect(never_cache(self.page)))

    def page(self, request: HttpRequest) -> HttpResponse:
        try:
            codes.require_enabled(self.realm)
        except DomainError as exc:
            raise Http404("Sign-in by code is not offered here") from exc
        target = safe_next(request, request.POST.get("next") or request.GET.get("next"), default=str(self.default_next))
        context = {"next": target, "step": "email", "email": "", "error": "", "notice": ""}
        status = 200
        if request.method == "POST":
            email = request.POST.get("email", "").strip()[:254]
            context["email"] = email
            try:
                if "code" in request.POST:
                    context["step"] = "code"
                    self.sign_in(request, email, request.POST["code"].strip(), request.POST.get("mfa_code", ""))
                    return HttpResponseRedirect(target)
                limit_mail(request, self.realm, scope="code", address=email)
                if "@" in email:
                    codes.request_code(realm=self.realm, email=email)
                context["step"], context["notice"] = "code", SENT
            except DomainError as exc:
                context["error"] = _message(exc)
                status = exc.status_code if exc.code == "RATE_LIMITED" else 200
        context |= self.extra_context(request) if self.extra_context else {}
        return render(request, self.template, context, status=status)

    def sign_in(self, request: HttpRequest, email: str, code: str, mfa_code: str) -> None:
        ratelimit.consume(request, "login", self.realm)
        account = codes.check_code(realm=self.realm, email=email, code=code)
        if account.mfa_enabled:
            if not mfa_code:
                raise InvalidCredentials("Multi-factor authentication is on: ask for a new code and enter "
                                         "the one from your authenticator app with it.")  # fmt: skip
            login.check_second_factor(account, mfa_code)
        if self.before_start is not None:
            self.before_start(request, account)
        login.record_login(account, method="code")
        browser.start(request, account, method="code")


def _message(exc: DomainError) -> str:
    if exc.code == "RATE_LIMITED":
        return "Too many attempts from your address. Try again later."
    if exc.code == "INVALID_CREDENTIALS":
        return exc.message if "authenticator" in exc.message else "This code is not valid (wrong, used or expired)."
    return exc.message
