"""Access and refresh JWTs, built on simplejwt's token classes (which wrap PyJWT).

simplejwt's own authentication and serializers resolve accounts through
get_user_model() (Admin here), so only its token layer is used: the claims are ours.
Its backend is given the key: SECRET_KEY for HS256, else the signing-key store
(tokens.signing_keys), with the key's `kid` in every token's header. JWT_ISSUER and
JWT_AUDIENCE are set in tokens and required of them when configured.
"""

import functools
import re
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.tokens import Token

from common.exceptions import InvalidToken
from common.realms import Realm
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
        return jwt.encode(claims, key.private, algorithm=self.algorithm, headers={"kid": key.kid})

    def get_verifying_key(self, token: Any) -> Any:
        entry = signing_keys.store.verifying(jwt.get_unverified_header(token).get("kid"))
        if entry is None:
            raise TokenBackendError("Unknown or retired signing key")
        return entry.public


@functools.cache
def _backend(algorithm: str, secret: str, issuer: str | None, audience: str | None) -> TokenBackend:
    if algorithm in signing_keys.ALGORITHMS:
        return KeyStoreBackend(algorithm, audience=audience, issuer=issuer)
    return TokenBackend(algorithm, signing_key=secret, audience=audience, issuer=issuer)


class ServiceJWT(Token):
    """A token of this service, signed and verified as the settings say (read on each use)."""

    @property
    def token_backend(self) -> TokenBackend:
        return _backend(settings.ALGORITHM, settings.SECRET_KEY, settings.JWT_ISSUER, settings.JWT_AUDIENCE)


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


def encode(token_class: type[Token], *, realm: Realm, account_id: int, session_id: int) -> Token:
    token = token_class()
    token["sub"] = str(account_id)
    token[REALM_CLAIM] = realm.name
    token[SESSION_CLAIM] = session_id
    return token


def decode(token_class: type[Token], raw: str, *, realm: Realm) -> dict[str, Any]:
    """Verified claims of a token of this realm, or InvalidToken (other realm, bad shape, expired...).

    `sub` and `sid` come back as ints.
    """
    try:
        payload = token_class(raw).payload
    except TokenError as exc:
        raise InvalidToken() from exc
    sub, sid = payload.get("sub"), payload.get(SESSION_CLAIM)
    if payload.get(REALM_CLAIM) != realm.name or not isinstance(sub, str) or not _ID.match(sub):
        raise InvalidToken()
    if type(sid) is not int or not 0 < sid < 2**63:
        raise InvalidToken()
    return {**payload, "sub": int(sub)}


def unverified_realm(raw: str) -> str:
    """The realm a token claims, read before its signature is checked (to know how to check it)."""
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken() from exc
    realm = claims.get(REALM_CLAIM)
    return realm if isinstance(realm, str) else ""
