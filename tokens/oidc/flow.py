"""Signing in with an identity provider: the redirect flow and the native flow.

authlib builds the authorization request (state, nonce, PKCE S256) and exchanges the code. Flow
state lives in the cache, keyed by the random `state` (10 minutes, single use), and the callback
hands the frontend a one-time code (60 s, single use) instead of tokens, so any process can finish
what another began and no token ever travels in a URL."""

import hashlib
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from accounts import lockout
from accounts.models import AbstractAccount
from common import audit, ratelimit
from common.exceptions import (
    AccountExists,
    DomainError,
    InvalidCredentials,
    ServiceUnavailable,
    ValidationFailed,
)
from common.realms import Realm, realm_of
from tokens.login import check_allowed, finish
from tokens.models import Identity

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session
from tokens.oidc import providers
from tokens.oidc.identities import given_email, link_identity, linked, resolve
from tokens.oidc.providers import Provider, configured, metadata, same, verify_id_token, verify_native

STATE_SECONDS = 600
CODE_SECONDS = 60


def redirect_origins() -> list[str]:
    if settings.OIDC_REDIRECT_ORIGINS:
        return list(settings.OIDC_REDIRECT_ORIGINS)
    frontend = urlsplit(settings.FRONTEND_URL)
    return [f"{frontend.scheme}://{frontend.netloc}"] if settings.FRONTEND_URL else []


def check_redirect(redirect_uri: str) -> None:
    """400 unless the frontend URL is under one of OIDC_REDIRECT_ORIGINS."""
    parts = urlsplit(redirect_uri)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme not in ("https", "http") or origin not in [o.lower() for o in redirect_origins()]:
        raise ValidationFailed(
            "redirect_uri is not allowed", details={"redirect_uri": ["Not under OIDC_REDIRECT_ORIGINS."]}
        )


def callback_url(request: HttpRequest, realm: Realm, p: Provider) -> str:
    """This service's callback for the provider: the URL to register at the provider."""
    return request.build_absolute_uri(reverse(f"{realm.name}-oidc-callback", kwargs={"provider": p.slug}))


def _client(p: Provider, redirect_uri: str) -> "OAuth2Session":
    # authlib is loaded by a worker's first sign-in with a provider, not by every worker at
    # start: the workers' memory budget (docs/benchmarks.md) has no room for it unused.
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        p.client_id, p.client_secret or None, scope=p.scopes, redirect_uri=redirect_uri,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic" if p.client_secret else "none",
    )  # fmt: skip


def authorize(
    request: HttpRequest,
    realm: Realm,
    slug: str,
    redirect_uri: str,
    *,
    link: AbstractAccount | None = None,
    trusted: bool = False,
    binding: str | None = None,
) -> str:
    """The provider's authorization URL; the flow's secrets wait in the cache under its `state`.

    `link`: the callback links this account instead of signing in. `trusted`: redirect_uri is
    one of this service's own pages (the login pages), not a frontend's. `binding`: the secret of
    the browser that began the flow; its one-time code is redeemed only with the same secret."""
    p = providers.get(realm, slug)
    if not trusted:
        check_redirect(redirect_uri)
    document = metadata(p)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    callback = callback_url(request, realm, p)
    facts = {"realm": realm.name, "provider": p.slug, "redirect_uri": redirect_uri, "callback": callback,
             "nonce": nonce, "verifier": verifier, "link": link.pk if link is not None else None,
             "binding": _digest(binding) if binding else None}  # fmt: skip
    cache.set(f"oidc-state:{state}", facts, STATE_SECONDS)
    extra = {"response_mode": p.response_mode} if p.response_mode != "query" else {}
    url, _ = _client(p, callback).create_authorization_url(
        document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier, **extra
    )
    return url


def _take(key: str, expected: dict[str, str]) -> dict[str, Any] | None:
    """A cached flow value, once: None if unknown, used, expired or made for another realm or provider."""
    facts = cache.get(key)
    if not isinstance(facts, dict) or any(facts.get(k) != v for k, v in expected.items()):
        return None
    return facts if cache.delete(key) else None  # of two concurrent uses one deletes it


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def callback(request: HttpRequest, realm: Realm, slug: str, params: dict[str, str]) -> str:
    """Where to send the browser back: the frontend's redirect_uri with a one-time `code` (to
    sign in, or to link), or with `error=<ERROR_CODE>`. A missing, used, expired or foreign `state`
    is 400 (there is nowhere safe to send the browser)."""
    p = providers.get(realm, slug)
    state = params.get("state") or ""
    facts = _take(f"oidc-state:{state}", {"realm": realm.name, "provider": p.slug}) if len(state) < 200 else None
    if facts is None:
        raise ValidationFailed("Unknown or expired sign-in", details={"state": ["Unknown, used or expired."]})
    target = facts["redirect_uri"]
    try:
        if params.get("error") or not params.get("code"):
            raise InvalidCredentials("The identity provider did not sign you in")
        ratelimit.consume(request, "login", realm)
        claims = _refused_is_recorded(realm, p, _redeem_code, p, params["code"], facts)
        if facts["link"] is not None:
            # The identity is linked only when the account that began the flow redeems this code
            # (POST .../me/identities/link): a victim's browser sent through an attacker's flow
            # links nothing to the attacker's account.
            found = linked(realm, p, claims)
            if found is not None and found.owner_in(realm).pk != facts["link"]:
                raise AccountExists("This identity is linked to another account")
            code = secrets.token_urlsafe(32)
            kept = {"sub": claims["sub"], "email": given_email(claims)}
            facts = {"realm": realm.name, "account": facts["link"], "provider": p.slug, "claims": kept}
            cache.set(f"oidc-link:{_digest(code)}", facts, CODE_SECONDS)
            return with_query(target, code=code)
        account = resolve(request, realm, p, claims)
    except DomainError as exc:
        return with_query(target, error=exc.code)
    code = secrets.token_urlsafe(32)
    facts = {"realm": realm.name, "account": account.pk, "provider": p.slug, "binding": facts.get("binding")}
    cache.set(f"oidc-code:{_digest(code)}", facts, CODE_SECONDS)
    return with_query(target, code=code)


def redeem_link(account: AbstractAccount, code: str) -> Identity:
    """The one-time code of a linking flow, redeemed by the account that began it: the identity is
    linked (201), or 409 if another account has it. Another account's code, or a sign-in code, is
    400 and stays unspent for its owner."""
    realm = realm_of(account)
    facts = _take(f"oidc-link:{_digest(code)}", {"realm": realm.name, "account": account.pk})
    p = configured().get(facts["provider"]) if facts else None
    if p is None:
        raise ValidationFailed("Invalid or expired code", details={"code": ["Invalid, used or expired."]})
    return link_identity(account, p, facts["claims"])


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _redeem_code(p: Provider, code: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and check the ID token, its nonce included."""
    from authlib.integrations.requests_client import OAuthError as RequestsOAuthError
    from authlib.oauth2.rfc6749.errors import OAuth2Error

    document = metadata(p)
    try:
        token = _client(p, facts["callback"]).fetch_token(
            document["token_endpoint"], code=code, code_verifier=facts["verifier"], timeout=settings.OIDC_TIMEOUT
        )
    except requests.RequestException as exc:
        raise ServiceUnavailable("The identity provider is not reachable") from exc
    except (OAuth2Error, RequestsOAuthError, ValueError) as exc:
        raise InvalidCredentials("The identity provider refused the code") from exc
    claims = verify_id_token(p, token.get("id_token") or "", audiences=(p.client_id,))
    if not same(str(claims.get("nonce", "")), facts["nonce"]):
        raise InvalidCredentials("Invalid ID token")
    return claims


def _refused_is_recorded(realm: Realm, p: Provider, verify: Callable[..., dict[str, Any]], *args: Any) -> dict:
    """`verify(*args)`; a refused code or ID token is a failed login in the audit trail (and metrics)."""
    try:
        return verify(*args)
    except InvalidCredentials:
        audit.record("login.failed", realm=realm, reason="invalid_id_token", method="oidc", provider=p.slug)
        raise


def sign_in(request: HttpRequest, account: AbstractAccount, p: Provider) -> dict[str, Any]:
    """A token pair (an `oidc` session), or the MFA challenge when the account has MFA on."""
    return finish(account, request, method="oidc", provider=p.slug)


def redeem(realm: Realm, code: str, binding: str | None = None) -> tuple[AbstractAccount, Provider]:
    """The account a one-time code from the callback stands for (once, within 60 s); 400 otherwise.
    A code of a flow bound to a browser (the login pages) is redeemed only with that browser's
    secret, and an unbound one (a frontend's) only without one: another browser cannot be signed in
    to the account whose flow made the code (login CSRF)."""
    bound = _digest(binding) if binding else None
    facts = _take(f"oidc-code:{_digest(code)}", {"realm": realm.name, "binding": bound})
    account = realm.model.objects.alive().filter(pk=facts["account"]).first() if facts else None
    p = configured().get(facts["provider"]) if facts else None
    if account is None or p is None:
        raise ValidationFailed("Invalid or expired code", details={"code": ["Invalid, used or expired."]})
    lockout.refuse_if_locked(account)
    check_allowed(account)
    return account, p


def exchange(request: HttpRequest, realm: Realm, code: str) -> dict[str, Any]:
    account, p = redeem(realm, code)
    return sign_in(request, account, p)


def native_sign_in(request: HttpRequest, realm: Realm, slug: str, id_token: str, nonce: str | None) -> dict:
    p = providers.get(realm, slug)
    claims = _refused_is_recorded(realm, p, verify_native, p, id_token, nonce)
    return sign_in(request, resolve(request, realm, p, claims), p)
