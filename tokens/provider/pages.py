"""The provider's pages for people (§28): authorization with consent, the device code page and
RP-initiated logout. They use the user realm's browser session (tokens.browser, §18): a person
not signed in goes through the browsable API's login page and comes back."""

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.models import get_application_model

from common.middleware import PAGE_POLICY
from common.realms import USER
from tokens.browser import sessions as browser
from tokens.models import LoginSession
from tokens.provider import services
from tokens.provider.models import ProviderDeviceGrant
from tokens.provider.protocol import core, enabled

LOGIN_PAGE = "/api-auth/login/"
# The service's page policy, but a form here may end in a redirect to the relying party.
POLICY = PAGE_POLICY.replace("; form-action 'self'", "")
CREDENTIAL_KEYS = ("client_id", "redirect_uri", "response_type", "state", "nonce", "code_challenge",
                   "code_challenge_method", "claims")  # fmt: skip


def page(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A provider page: 404 when off, never cached, CSRF-protected, GET and POST, and a page
    policy that lets its form's answer redirect to the relying party."""

    @functools.wraps(view)
    def with_policy(request: HttpRequest) -> HttpResponse:
        response = view(request)
        response["Content-Security-Policy"] = POLICY
        return response

    return enabled(never_cache(csrf_protect(require_http_methods(["GET", "POST"])(with_policy))))


def _message(request: HttpRequest, title: str, text: str, status: int = 200) -> HttpResponse:
    return render(request, "tokens/provider_message.html", {"title": title, "text": text}, status=status)


def _to_login(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"{LOGIN_PAGE}?{urlencode({'next': request.get_full_path()})}")


def _error(error: OAuthToolkitError) -> HttpResponse | None:
    """Where an authorization error goes: back to a registered redirect URI, or None (an error page)."""
    if isinstance(error, FatalClientError) or not error.oauthlib_error.redirect_uri:
        return None
    uri = error.oauthlib_error.redirect_uri
    return HttpResponseRedirect(f"{uri}{'&' if '?' in uri else '?'}{error.oauthlib_error.urlencoded}")


def _validated(request: HttpRequest) -> tuple[list[str], dict[str, Any]] | HttpResponse:
    try:
        scopes, credentials = core().validate_authorization_request(request)
    except OAuthToolkitError as error:
        return _error(error) or _message(
            request, "This sign-in link is not valid", error.oauthlib_error.description or "", status=400
        )
    if "openid" not in scopes or credentials.get("code_challenge_method") != "S256":
        problem = "scope must include openid" if "openid" not in scopes else "PKCE with S256 is required"
        query = {"error": "invalid_request", "error_description": problem}
        if credentials.get("state"):
            query["state"] = credentials["state"]
        return HttpResponseRedirect(f"{credentials['redirect_uri']}?{urlencode(query)}")
    return scopes, credentials


def _grant(request: HttpRequest, session: LoginSession, scopes: list[str], credentials: dict, allow: bool):
    request.user = session.owner_in(USER)
    credentials = {key: credentials[key] for key in CREDENTIAL_KEYS if credentials.get(key) is not None}
    credentials.update(auth_time=session.auth_time, amr=session.amr)
    try:
        uri, _headers, _body, _status = core().create_authorization_response(request, scopes, credentials, allow)
    except OAuthToolkitError as error:
        return _error(error) or _message(request, "Sign-in failed", error.oauthlib_error.description or "", 400)
    if allow:
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        services.consent(request.user, application, scopes)
    return HttpResponseRedirect(uri)


@page
def authorize(request: HttpRequest) -> HttpResponse:
    """GET /oauth/authorize: the code flow; POST: the consent form's answer (`allow` grants)."""
    validated = _validated(request)
    if isinstance(validated, HttpResponse):
        return validated
    scopes, credentials = validated
    session = browser.current(request, USER)
    if session is None:
        return _to_login(request)
    application = get_application_model().objects.get(client_id=credentials["client_id"])
    if request.method == "POST":
        return _grant(request, session, scopes, credentials, allow="allow" in request.POST)
    user = session.owner_in(USER)
    if application.skip_authorization or services.consented(user, application, scopes):
        return _grant(request, session, scopes, credentials, allow=True)
    descriptions = settings.OAUTH2_PROVIDER["SCOPES"]
    context = {"client": application, "scopes": [descriptions[s] for s in scopes], "user": user,
               "action": request.get_full_path()}  # fmt: skip
    return render(request, "tokens/provider_consent.html", context)


@page
def device(request: HttpRequest) -> HttpResponse:
    """The device grant's verification page: a person types the code, then approves (`allow`)."""
    session = browser.current(request, USER)
    if session is None:
        return _to_login(request)
    user_code = (request.POST.get("user_code") or request.GET.get("user_code") or "").strip().upper()
    if not user_code:
        return render(request, "tokens/provider_device.html", {})
    pending = ProviderDeviceGrant.objects.filter(
        user_code=user_code, status=ProviderDeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
    ).first()
    if pending is None:
        return render(request, "tokens/provider_device.html", {"error": "That code is not valid or has expired."},
                      status=400)  # fmt: skip
    application = get_application_model().objects.filter(client_id=pending.client_id).first()
    if request.method == "GET" or "confirm" not in request.POST:
        descriptions = settings.OAUTH2_PROVIDER["SCOPES"]
        context = {"client": application, "user_code": user_code,
                   "scopes": [descriptions.get(s, s) for s in pending.scope.split()]}  # fmt: skip
        return render(request, "tokens/provider_device_confirm.html", context)
    user = session.owner_in(USER)
    allow = "allow" in request.POST
    pending.user, pending.auth_time, pending.amr = user, session.auth_time, session.amr
    pending.status = pending.AUTHORIZED if allow else pending.DENIED
    pending.save(update_fields=["user", "auth_time", "amr", "status"])
    if allow:
        services.consent(user, application, pending.scope.split())
        return _message(request, "Device connected", f"You can go back to {application.name}.")
    return _message(request, "Request denied", "The device was not connected.")


@page
def logout(request: HttpRequest) -> HttpResponse:
    """RP-initiated logout 1.0: with a valid id_token_hint, the browser session here ends and the
    browser goes back to a registered post_logout_redirect_uri (with `state`)."""
    params = request.POST if request.method == "POST" else request.GET
    hint = services.verified_id_token(params.get("id_token_hint", "")) if params.get("id_token_hint") else None
    target = params.get("post_logout_redirect_uri", "")
    application = None
    if hint is not None:
        application = get_application_model().objects.filter(client_id=hint["aud"]).first()
    if target and (application is None or target not in application.post_logout_redirect_uris.split()):
        return _message(request, "Sign-out link not valid", "This address is not registered for the app.", 400)
    if hint is None and request.method == "GET":
        return render(request, "tokens/provider_logout.html", {})
    browser.end(request, USER)
    if target:
        state = params.get("state")
        return HttpResponseRedirect(target + (f"{'&' if '?' in target else '?'}{urlencode({'state': state})}"
                                              if state else ""))  # fmt: skip
    return _message(request, "Signed out", "You are signed out.")
