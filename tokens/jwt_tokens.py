"""Access and refresh JWTs, built on simplejwt's token classes (which wrap PyJWT).

simplejwt's own authentication and serializers resolve accounts through
get_user_model() (Admin here), so only its token layer is used: the claims are ours.
Its backend is given the key: SECRET_KEY for HS256, else the signing-key store
(tokens.signing_keys), with the key's `kid` in every token's header. JWT_ISSUER and
JWT_AUDIENCE are set in tokens and required of them when configured.
"""

import functools
import re
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.tokens import Token

from common.exceptions import InvalidToken
from common.realms import REALMS, Realm
from tokens import signing_keys

REALM_CLAIM = "realm"
SESSION_CLAIM = "sid"
_ID = re.compile(r"^[1-9][0-9]{0,17}$")  # an ASCII positive integer that fits a 64-bit column


def access_lifetime() -> timedelta:
    return timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)


def refresh_lifetime() -> timedelta:
    return timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS)


class KeyStoreBackend(TokenBackend):
    """simplejwt's backend, signing with the store's current key and verifying with the key the
    token's `kid` names (only keys of the configured algorithm: no `none`, no HS/ES confusion)."""

    def encode(self, payload: dict[str, Any]) -> str:
        key = signing_keys.store.signing()
        claims = {
            **payload,
            **({"aud": self.audience} if self.audience else {}),
            **({"iss": self.issuer} if self.issuer else {}),
        }
        token = jwt.encode(claims, key.private, algorithm=self.algorithm, headers={"kid": key.kid})
        return _low_s(token) if self.algorithm == "ES256" else token

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        if verify and self.algorithm == "ES256" and not _is_low_s(token):
            raise TokenBackendError("Token is invalid")  # (r, n - s) also verifies: only one form is ours
        return super().decode(token, verify)

    def get_verifying_key(self, token: Any) -> Any:
        entry = signing_keys.store.verifying(jwt.get_unverified_header(token).get("kid"))
        if entry is None:
            raise TokenBackendError("Unknown or retired signing key")
        return entry.public


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _signature(token: str) -> tuple[str, int, int] | None:
    """(signing input, r, s) of a compact ES256 token; None if it has no 64-byte signature."""
    head, _, signature = str(token).rpartition(".")
    try:
        raw = jwt.utils.base64url_decode(signature)
    except (ValueError, TypeError):
        return None
    return (head, int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")) if len(raw) == 64 else None


def _low_s(token: str) -> str:
    """The token with its ECDSA signature in the canonical low-S form (s <= n/2), as ours always are."""
    head, r, s = _signature(token)
    if s <= P256_ORDER // 2:
        return token
    raw = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
    return f"{head}.{jwt.utils.base64url_encode(raw).decode()}"


def _is_low_s(token: Any) -> bool:
    found = _signature(token)
    return found is None or found[2] <= P256_ORDER // 2  # (no signature at all fails verification anyway)


@functools.cache
def _backend(algorithm: str, secret: str, issuer: str | None, audience: str | None) -> TokenBackend:
    if algorithm in signing_keys.ALGORITHMS:
        return KeyStoreBackend(algorithm, audience=audience, issuer=issuer)
    return TokenBackend(algorithm, signing_key=secret, audience=audience, issuer=issuer)


def current_backend() -> TokenBackend:
    return _backend(settings.ALGORITHM, settings.SECRET_KEY, settings.JWT_ISSUER, settings.JWT_AUDIENCE)


class ServiceJWT(Token):
    """A token of this service, signed and verified as the settings say (read on each use)."""

    @property
    def token_backend(self) -> TokenBackend:
        return current_backend()


class AccessJWT(ServiceJWT):
    token_type = "access"

    @property
    def lifetime(self) -> timedelta:
        return access_lifetime()


class RefreshJWT(ServiceJWT):
    token_type = "refresh"

    @property
    def lifetime(self) -> timedelta:
        return refresh_lifetime()


def encode(
    token_class: type[Token], *, realm: Realm, account_id: int, session_id: int, auth_time: int, amr: list[str]
) -> Token:
    """A token of one session; `auth_time` (Unix seconds) and `amr` say when and how it was proven."""
    token = token_class()
    token["sub"] = str(account_id)
    token[REALM_CLAIM] = realm.name
    token[SESSION_CLAIM] = session_id
    token["auth_time"] = auth_time
    token["amr"] = amr
    return token


class VerifiedCache:
    """Access tokens whose signature this process has checked, so a client's next request with
    the same token skips the signature (an ES256 verify costs more than the rest of the check).

    An entry is used only while the token has not expired, under the same key settings (the
    backend), and while its signing key is still usable; everything else (realm, the live
    session, the account) is checked on every request as before.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, backend: TokenBackend, raw: str) -> dict[str, Any] | None:
        with self.lock:
            payload = self.entries.get((id(backend), raw))
        if payload is None or payload.get("exp", 0) <= time.time():
            return None
        if isinstance(backend, KeyStoreBackend) and signing_keys.store.verifying(payload.get("_kid")) is None:
            return None
        return payload

    def put(self, backend: TokenBackend, raw: str, payload: dict[str, Any]) -> None:
        with self.lock:
            self.entries[(id(backend), raw)] = payload
            if len(self.entries) > self.SIZE:
                self.entries.popitem(last=False)


verified = VerifiedCache()


def _verified_payload(token_class: type[Token], raw: str) -> dict[str, Any]:
    if token_class is not AccessJWT:
        return token_class(raw).payload
    backend = current_backend()
    payload = verified.get(backend, raw)
    if payload is None:
        payload = token_class(raw).payload
        if isinstance(backend, KeyStoreBackend):
            payload = {**payload, "_kid": jwt.get_unverified_header(raw).get("kid")}
        verified.put(backend, raw, payload)
    return payload


def decode(token_class: type[Token], raw: str, *, realm: Realm) -> dict[str, Any]:
    """Verified claims of a token of this realm, or InvalidToken (other realm, bad shape, expired...).

    `sub` and `sid` come back as ints.
    """
    try:
        payload = _verified_payload(token_class, raw)
    except TokenError as exc:
        raise InvalidToken() from exc
    sub, sid = payload.get("sub"), payload.get(SESSION_CLAIM)
    if payload.get(REALM_CLAIM) != realm.name or not isinstance(sub, str) or not _ID.match(sub):
        raise InvalidToken()
    if type(sid) is not int or not 0 < sid < 2**63:
        raise InvalidToken()
    return {key: value for key, value in payload.items() if key != "_kid"} | {"sub": int(sub)}


def decode_any_realm(token_class: type[Token], raw: str) -> tuple[Realm, dict[str, Any]]:
    """Verified claims of a token of either realm, and that realm (introspection serves both)."""
    try:
        payload = _verified_payload(token_class, raw)
    except TokenError as exc:
        raise InvalidToken() from exc
    realm = REALMS.get(payload.get(REALM_CLAIM)) if isinstance(payload.get(REALM_CLAIM), str) else None
    if realm is None:
        raise InvalidToken()
    return realm, decode(token_class, raw, realm=realm)
