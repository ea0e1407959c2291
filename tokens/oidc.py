"""Sign in with an identity provider (docs/api.md §20): any OpenID Connect issuer of OIDC_PROVIDERS.

authlib builds the authorization request (state, nonce, PKCE S256) and exchanges the code;
PyJWT checks the ID token against the provider's JWK Set. The discovery document and the
JWK Set are cached (the Django cache: Redis in production), and every call to a provider has
a timeout (OIDC_TIMEOUT), so a provider that is down answers 503 or `?error=SERVICE_UNAVAILABLE`.

Flow state lives in the cache too, keyed by the random `state` (10 minutes, single use), and
the callback hands the frontend a one-time code (60 s, single use) instead of tokens, so any
process can finish what another began and no token ever travels in a URL.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts import lockout
from accounts import services as account_services
from accounts.models import AbstractAccount, normalize_email
from common import audit, mail, ratelimit
from common.exceptions import (
    AccountExists,
    Conflict,
    DomainError,
    InvalidCredentials,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from common.realms import ADMIN, Realm, realm_of
from tokens.login import check_allowed, finish
from tokens.models import Identity, owner_kwargs, ways_in

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

STATE_SECONDS = 600
CODE_SECONDS = 60
METADATA_SECONDS = 3600  # discovery document and JWK Set
KEYS_REFRESH_SECONDS = 60  # an unknown `kid` refetches the JWK Set at most this often
LEEWAY_SECONDS = 60
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_ID_TOKEN = 16_384
USERNAME_CHARS = re.compile(r"[^A-Za-z0-9.+_-]")


# --- Providers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    slug: str
    issuer: str
    client_id: str
    client_secret: str
    name: str
    realms: tuple[str, ...]
    scopes: str
    audiences: tuple[str, ...]
    response_mode: str  # "query" (the default), or "form_post" (Apple, when it shares name and email)


def configured() -> dict[str, Provider]:
    """OIDC_PROVIDERS as Providers (config/settings.py refuses a malformed one at startup)."""
    found = {}
    for slug, entry in (settings.OIDC_PROVIDERS or {}).items():
        found[slug] = Provider(
            slug=slug,
            issuer=str(entry["issuer"]).rstrip("/"),
            client_id=str(entry["client_id"]),
            client_secret=str(entry.get("client_secret") or ""),
            name=str(entry.get("name") or slug),
            realms=tuple(entry.get("realms") or ["user"]),
            scopes=str(entry.get("scopes") or "openid email profile"),
            audiences=tuple(str(a) for a in entry.get("audiences") or ()),
            response_mode=str(entry.get("response_mode") or "query"),
        )
    return found


def providers(realm: Realm) -> list[Provider]:
    return [p for p in configured().values() if realm.name in p.realms]


def provider(realm: Realm, slug: str) -> Provider:
    found = configured().get(slug)
    if found is None or realm.name not in found.realms:
        raise NotFound("Unknown identity provider")
    return found


# --- Talking to a provider ------------------------------------------------------------------------


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ServiceUnavailable("The identity provider is not reachable") from exc
    if not isinstance(document, dict):
        raise ServiceUnavailable("The identity provider answered something unexpected")
    return document


def metadata(p: Provider) -> dict[str, Any]:
    """The provider's discovery document (cached), whose `issuer` must be the configured one."""
    key = f"oidc-discovery:{p.issuer}"
    document = cache.get(key)
    if document is None:
        document = _get_json(f"{p.issuer}/.well-known/openid-configuration")
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if str(document.get("issuer", "")).rstrip("/") != p.issuer or not all(document.get(k) for k in needed):
            raise ServiceUnavailable("The identity provider's discovery document does not match its issuer")
        cache.set(key, document, METADATA_SECONDS)
    return document


def _signing_key(p: Provider, kid: str | None, algorithm: str) -> jwt.PyJWK:
    """The provider's public key for this `kid`, from its JWK Set (refetched when a new kid appears)."""
    uri = metadata(p)["jwks_uri"]
    key = f"oidc-jwks:{uri}"
    for attempt in range(2):
        keys = cache.get(key)
        if keys is None or attempt:
            if attempt and not cache.add(f"oidc-jwks-refetch:{uri}", 1, KEYS_REFRESH_SECONDS):
                break
            keys = _get_json(uri).get("keys")
            if not isinstance(keys, list):
                raise ServiceUnavailable("The identity provider's key set is not a JWK Set")
            cache.set(key, keys, METADATA_SECONDS)
        for jwk in keys:
            if isinstance(jwk, dict) and jwk.get("use", "sig") == "sig" and (kid is None or jwk.get("kid") == kid):
                try:
                    found = jwt.PyJWK(jwk, algorithm=algorithm)
                except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                    continue
                return found
    raise InvalidCredentials("Invalid ID token")


def verify_id_token(p: Provider, raw: str, *, audiences: tuple[str, ...]) -> dict[str, Any]:
    """The claims of an ID token whose signature checks against the provider's keys and whose
    `iss`, `aud` (and `azp`), `exp`, `iat` and `sub` are right; else 401 INVALID_CREDENTIALS."""
    invalid = InvalidCredentials("Invalid ID token")
    if not isinstance(raw, str) or len(raw) > MAX_ID_TOKEN:
        raise invalid
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError as exc:
        raise invalid from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:  # never `none`, never a symmetric key
        raise invalid
    key = _signing_key(p, header.get("kid"), algorithm)
    try:
        claims = jwt.decode(
            raw, key, algorithms=[algorithm], audience=list(audiences), issuer=p.issuer, leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        raise invalid from exc
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audience) > 1 and claims.get("azp") not in audiences:
        raise invalid
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255 or "\x00" in claims["sub"]:
        raise invalid
    return claims


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --- The redirect flow ------------------------------------------------------------------------------


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
    p = provider(realm, slug)
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
    p = provider(realm, slug)
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
            found = _linked(realm, p, claims)
            if found is not None and found.owner_in(realm).pk != facts["link"]:
                raise AccountExists("This identity is linked to another account")
            code = secrets.token_urlsafe(32)
            kept = {"sub": claims["sub"], "email": _given_email(claims)}
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
    if not _same(str(claims.get("nonce", "")), facts["nonce"]):
        raise InvalidCredentials("Invalid ID token")
    return claims


# --- The native flow ---------------------------------------------------------------------------------


def verify_native(p: Provider, id_token: str, nonce: str | None) -> dict[str, Any]:
    """An ID token from a platform SDK: the client id or any of `audiences`; a `nonce` claim
    needs the request's nonce (equal, or its SHA-256 hex digest equal), no claim needs none."""
    claims = verify_id_token(p, id_token, audiences=(p.client_id, *p.audiences))
    claimed = claims.get("nonce")
    if claimed is None:
        if nonce:
            raise InvalidCredentials("Invalid ID token")
    elif (
        not nonce
        or not isinstance(claimed, str)
        or not (_same(claimed, nonce) or _same(claimed, hashlib.sha256(nonce.encode()).hexdigest()))
    ):
        raise InvalidCredentials("Invalid ID token")
    return claims


def _refused_is_recorded(realm: Realm, p: Provider, verify: Callable[..., dict[str, Any]], *args: Any) -> dict:
    """`verify(*args)`; a refused code or ID token is a failed login in the audit trail (and metrics)."""
    try:
        return verify(*args)
    except InvalidCredentials:
        audit.record("login.failed", realm=realm, reason="invalid_id_token", method="oidc", provider=p.slug)
        raise


# --- Which account --------------------------------------------------------------------------------------


def _given_email(claims: dict[str, Any]) -> str:
    """The address as the provider gave it (an Identity shows it), within the column's length."""
    email = claims.get("email")
    return email.replace("\x00", "").strip()[:254] if isinstance(email, str) else ""


def _email_of(claims: dict[str, Any]) -> tuple[str, bool]:
    """The provider's address (lower-cased; empty unless it is a valid address), and whether it vouches for it."""
    email = claims.get("email")
    email = normalize_email(email) if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    verified = claims.get("email_verified") is True or claims.get("email_verified") == "true"  # Apple: a string
    return email, verified


def resolve(request: HttpRequest, realm: Realm, p: Provider, claims: dict[str, Any]) -> AbstractAccount:
    """The account these claims sign in to (docs/api.md §20), after every check a password login
    makes but the password: linked identity, else a verified email at both ends, else (users
    only) a new account."""
    email, verified = _email_of(claims)
    identity = _linked(realm, p, claims)
    if identity is not None:
        account = identity.owner_in(realm)
        if account.is_deleted:
            raise AccountExists("This identity belongs to a deleted account")
    else:
        account = realm.model.objects.by_email(email).first() if email else None
        if account is not None and (account.is_deleted or not (verified and account.email_verified)):
            raise AccountExists()
        if account is None and realm is ADMIN:
            audit.record("login.failed", realm=realm, reason="unknown_account", method="oidc", provider=p.slug)
            raise InvalidCredentials()
        if account is None:
            ratelimit.consume(request, "register", realm)
        with transaction.atomic():  # a new account is never left without its identity
            existing = account is not None
            account = account or _new_user(request, realm, claims, email, verified)
            identity = _link(account, p, claims, notify=existing)
    lockout.refuse_if_locked(account)
    check_allowed(account)
    identity.email, identity.last_used_at = _given_email(claims), timezone.now()
    identity.save(update_fields=["email", "last_used_at"])
    return account


def _new_user(
    request: HttpRequest, realm: Realm, claims: dict[str, Any], email: str, verified: bool
) -> AbstractAccount:
    if not email:
        raise ValidationFailed(
            "The identity provider did not share an email address",
            details={"email": ["The identity provider did not share an email address."]},
        )
    username = _free_username(realm, str(claims.get("preferred_username") or email.partition("@")[0]))
    name = str(claims.get("name") or " ".join(filter(None, [claims.get("given_name"), claims.get("family_name")])))
    name = name.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    data = {"username": username, "email": email, "name": (name or username)[:255], "password": None}
    try:
        return account_services.register(realm=realm, data=data, request=request, email_verified=verified)
    except Conflict as exc:  # the same person signing in twice at once
        raise AccountExists() from exc


def _free_username(realm: Realm, wanted: str) -> str:
    """The provider's username or the email's local part, in the allowed characters, made unique."""
    base = USERNAME_CHARS.sub("", wanted)[:140] or "user"
    base = base if len(base) >= 3 else f"{base}user"
    candidate = base
    while realm.model.objects.by_username(candidate).exists():
        candidate = f"{base}{secrets.randbelow(1_000_000)}"
    return candidate


def _linked(realm: Realm, p: Provider, claims: dict[str, Any]) -> Identity | None:
    """The identity of this provider's `sub` in the realm, with its account, if one is linked."""
    found = Identity.objects.filter(provider=p.slug, subject=claims["sub"], **{f"{realm.name}__isnull": False})
    return found.select_related(realm.name).first()


def _link(account: AbstractAccount, p: Provider, claims: dict[str, Any], *, notify: bool = True) -> Identity:
    try:
        with transaction.atomic():
            identity = Identity.objects.create(**owner_kwargs(account), provider=p.slug, subject=claims["sub"],
                                               email=_given_email(claims))  # fmt: skip
    except IntegrityError as exc:  # linked to another account at the same moment
        raise AccountExists("This identity is linked to another account") from exc
    audit.record("identity.linked", account=account, provider=p.slug, identity_id=identity.pk)
    if notify:
        mail.security_notice(account, f"Your {p.name} account was linked as a way to sign in")
    return identity


def link_identity(account: AbstractAccount, p: Provider, claims: dict[str, Any]) -> Identity:
    """The callback of a linking flow: this account gains the identity, unless another has it (409)."""
    realm = realm_of(account)
    found = _linked(realm, p, claims)
    if found is not None and found.owner_in(realm).pk != account.pk:
        raise AccountExists("This identity is linked to another account")
    return found or _link(account, p, claims)


# --- Signing in ------------------------------------------------------------------------------------------


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
    p = provider(realm, slug)
    claims = _refused_is_recorded(realm, p, verify_native, p, id_token, nonce)
    return sign_in(request, resolve(request, realm, p, claims), p)


# --- Identities of an account ----------------------------------------------------------------------------


def of_account(account: AbstractAccount):
    return Identity.objects.of_account(account).order_by("-created_at", "-id")


@transaction.atomic
def unlink(account: AbstractAccount, identity_id: int) -> None:
    """Unlink an identity, unless it is the account's last way to sign in (409 CONFLICT)."""
    identity = of_account(account).select_for_update().filter(pk=identity_id).first()
    if identity is None:
        raise NotFound("Identity not found")
    if ways_in(account) <= 1:
        raise Conflict("This is the last way to sign in to the account", details={"identity": ["Last way in."]})
    delete(identity)


def delete(identity: Identity) -> None:
    """Unlink and record it (also an operator's unlinking on the admin site)."""
    audit.record("identity.unlinked", account=identity.owner, provider=identity.provider, identity_id=identity.pk)
    p = configured().get(identity.provider)
    name = p.name if p is not None else identity.provider
    mail.security_notice(identity.owner, f"Your {name} account was unlinked and no longer signs in")
    identity.delete()


def public_list(realm: Realm) -> list[dict[str, str]]:
    return [{"id": p.slug, "name": p.name} for p in providers(realm)]
