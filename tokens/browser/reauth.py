"""The "confirm it's you" page of the browsable API and the admin site (§27): before a sensitive
change, a session older than REAUTH_MAX_AGE_SECONDS is proven again with the password or a
second-factor code, as POST .../auth/reauthenticate does for tokens."""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from common.exceptions import DomainError
from common.realms import Realm
from tokens.browser import sessions as browser
from tokens.browser.sessions import safe_next

MESSAGES = {
    "INVALID_CREDENTIALS": "That is not right. Try again.",
    "ACCOUNT_LOCKED": "This account is locked after too many failed attempts. Try again later.",
    "RATE_LIMITED": "Too many attempts from your address. Try again later.",
    "NOT_AUTHENTICATED": "Sign in first.",
}


@sensitive_post_parameters("password", "code")
@csrf_protect
@never_cache
def page(request: HttpRequest, *, realm: Realm, template: str, default_next: str, **extra: Any) -> HttpResponse:
    target = safe_next(request, request.POST.get("next") or request.GET.get("next"), default=default_next)
    error = ""
    if request.method == "POST":
        try:
            browser.reauthenticate(request, realm, password=request.POST.get("password", ""),
                                   code=request.POST.get("code", "").strip())  # fmt: skip
            return HttpResponseRedirect(target)
        except DomainError as exc:
            error = MESSAGES.get(exc.code, exc.message)
    return render(request, template, {**extra, "next": target, "error": error}, status=200)
