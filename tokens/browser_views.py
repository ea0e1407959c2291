"""/api-auth/login/ and /api-auth/logout/: a person signs in to the browsable API (user realm)."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from common.realms import USER
from tokens import browser
from tokens.forms import BrowserLoginForm

DEFAULT_NEXT = "/users/me"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or DEFAULT_NEXT
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if safe else DEFAULT_NEXT


@sensitive_post_parameters("password", "code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    form = BrowserLoginForm(request.POST or None, request=request, realm=USER)
    if request.method == "POST" and form.is_valid():
        browser.start(request, form.account)
        return HttpResponseRedirect(_next(request))
    response = render(request, "tokens/browser_login.html", {"form": form, "next": _next(request)})
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
