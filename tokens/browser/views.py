"""/api-auth/login/ and /api-auth/logout/: a person signs in to the browsable API (user realm),
with a password or a passkey (the provider pages are tokens.oidc.pages)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from common.envelope import success_body
from common.exceptions import DomainError, json_error_response
from common.realms import USER
from common.views import read_json
from tokens.browser import reauth
from tokens.browser import sessions as browser
from tokens.browser.forms import BrowserLoginForm
from tokens.browser.sessions import DEFAULT_NEXT, safe_next
from tokens.oidc import pages as oidc_pages
from tokens.oidc import providers


def _next(request: HttpRequest) -> str:
    return safe_next(request, request.POST.get("next") or request.GET.get("next"))


@sensitive_post_parameters("password", "code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def password_login(request: HttpRequest) -> HttpResponse:
    form = BrowserLoginForm(request.POST or None, request=request, realm=USER)
    if request.method == "POST" and form.is_valid():
        browser.start(request, form.account, method="mfa" if form.account.mfa_enabled else "password")
        return HttpResponseRedirect(_next(request))
    context = {
        "form": form,
        "next": _next(request),
        "providers": providers.of_realm(USER),
        "code_login": USER.name in settings.LOGIN_CODE_REALMS,
        "oidc_error": oidc_pages.message_for(request.GET.get("oidc_error")),
    }
    response = render(request, "tokens/browser_login.html", context)
    if form.rate_limited is not None:
        response.status_code = 429
        response["Retry-After"] = str(max(1, int(form.rate_limited.retry_after or 1)))
    return response


@csrf_protect
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Ends only this browser session; the account's other sessions and tokens stay."""
    browser.end(request, USER)
    return HttpResponseRedirect(_next(request) if request.POST.get("next") else "/api-auth/login/")


@csrf_protect
@require_POST
def passkey_login(request: HttpRequest) -> HttpResponse:
    """The login page's "Sign in with a passkey": the assertion (JSON) starts a browser session."""
    try:
        body = read_json(request)
        browser.sign_in_with_passkey(request, USER, body.get("credential"))
    except DomainError as exc:
        return json_error_response(exc, getattr(request, "request_id", None))
    return JsonResponse(success_body({"next": safe_next(request, body.get("next"))}, "Signed in"))


def reauthenticate(request: HttpRequest) -> HttpResponse:
    """/api-auth/reauthenticate/: the browsable API's "confirm it's you" (§27)."""
    return reauth.page(request, realm=USER, template="tokens/reauthenticate.html", default_next=DEFAULT_NEXT)
