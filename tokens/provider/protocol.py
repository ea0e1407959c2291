"""The provider's machine-facing endpoints (§28): discovery, token, userinfo, revocation,
introspection and device authorization. Answers are OAuth's own JSON, not enveloped."""

import functools
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.views import RevokeTokenView, UserInfoView
from oauthlib.oauth2 import DeviceApplicationServer

from tokens import signing_keys
from tokens.provider.models import ClientPolicy, ProviderDeviceGrant
from tokens.provider.server import DEVICE_CODE, Server
from tokens.provider.validator import Validator

DEVICE_CODE_SECONDS = 600


def enabled(view: Callable) -> Callable:
    """Every provider path is 404 unless OIDC_ISSUER is set."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.OIDC_ISSUER:
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapper


@functools.cache
def core() -> OAuthLibCore:
    return OAuthLibCore(Server(Validator()))


def _answer(headers: dict[str, str], body: str, status: int) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


@enabled
@require_safe
def discovery(request: HttpRequest) -> JsonResponse:
    issuer = settings.OIDC_ISSUER
    signing_keys.store.signing()  # a relying party reads the JWK Set next: it holds a key from the start
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "device_authorization_endpoint": f"{issuer}/oauth/device_authorization",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "scopes_supported": list(settings.OAUTH2_PROVIDER["SCOPES"]),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [settings.ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "amr",
            "azp",
            "at_hash",
            *Validator.oidc_claim_scope,
        ],
    }
    document["claims_supported"] = list(dict.fromkeys(document["claims_supported"]))
    response = JsonResponse(document)
    response["Cache-Control"] = "public, max-age=300"
    return response


@enabled
@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    _url, headers, body, status = core().create_token_response(request)
    return _answer(headers, body, status)


@enabled
@csrf_exempt
@require_POST
def introspect(request: HttpRequest) -> HttpResponse:
    uri, method, body, headers = core()._extract_params(request)
    headers, body, status = core().server.create_introspect_response(uri, method, body, headers)
    return _answer(headers, body, status)


@enabled
@csrf_exempt
@require_POST
def device_authorization(request: HttpRequest) -> HttpResponse:
    client_id = request.POST.get("client_id", "")
    policy = ClientPolicy.objects.filter(application__client_id=client_id).first()
    if policy is None or DEVICE_CODE not in policy.grant_types:
        error = {"error": "unauthorized_client", "error_description": "This client may not use the device grant."}
        return _answer({}, json.dumps(error), 400 if policy else 401)
    server = DeviceApplicationServer(
        core().server.request_validator,
        verification_uri=f"{settings.OIDC_ISSUER}/oauth/device",
        verification_uri_complete=lambda user_code: f"{settings.OIDC_ISSUER}/oauth/device?user_code={user_code}",
    )
    uri, method, body, headers = core()._extract_params(request)
    headers["Content-Type"] = "application/x-www-form-urlencoded"  # the body is re-encoded from the form
    headers, answer, status = server.create_device_authorization_response(uri, method, body, headers)
    if status == 200:
        answer = answer if isinstance(answer, dict) else json.loads(answer)
        answer["expires_in"] = DEVICE_CODE_SECONDS
        answer["user_code"] = answer["user_code"].upper()  # typed by a person: compared without case
        ProviderDeviceGrant.objects.create(
            client_id=client_id,
            device_code=answer["device_code"],
            user_code=answer["user_code"],
            scope=request.POST.get("scope", "openid").strip() or "openid",
            expires=timezone.now() + timedelta(seconds=DEVICE_CODE_SECONDS),
        )
        answer = json.dumps(answer)
    return _answer(headers, answer if isinstance(answer, str) else json.dumps(answer), status)


userinfo = enabled(csrf_exempt(UserInfoView.as_view()))
revoke = enabled(csrf_exempt(RevokeTokenView.as_view()))
