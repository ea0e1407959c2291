"""Identity providers (docs/api.md §20): OIDC_PROVIDERS as Providers, their discovery documents
and JWK Sets (cached in the Django cache: Redis in production; every call has OIDC_TIMEOUT, so a
provider that is down answers 503), and the checks of an ID token."""

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
import requests
from django.conf import settings
from django.core.cache import cache

from common.exceptions import (
    InvalidCredentials,
    NotFound,
    ServiceUnavailable,
)
from common.realms import Realm

if TYPE_CHECKING:
    pass


METADATA_SECONDS = 3600  # discovery document and JWK Set
KEYS_REFRESH_SECONDS = 60  # an unknown `kid` refetches the JWK Set at most this often
LEEWAY_SECONDS = 60
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_ID_TOKEN = 16_384


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


def of_realm(realm: Realm) -> list[Provider]:
    return [p for p in configured().values() if realm.name in p.realms]


def get(realm: Realm, slug: str) -> Provider:
    found = configured().get(slug)
    if found is None or realm.name not in found.realms:
        raise NotFound("Unknown identity provider")
    return found


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


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


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
        or not (same(claimed, nonce) or same(claimed, hashlib.sha256(nonce.encode()).hexdigest()))
    ):
        raise InvalidCredentials("Invalid ID token")
    return claims


def public_list(realm: Realm) -> list[dict[str, str]]:
    return [{"id": p.slug, "name": p.name} for p in of_realm(realm)]
