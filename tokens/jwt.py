"""Access and refresh JWTs, built on simplejwt's token classes and backend.

simplejwt's own authentication and serializers resolve accounts through
get_user_model() (Admin here), so only its token layer is used: claims are ours.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token

from common.exceptions import InvalidToken
from common.realms import Realm

REALM_CLAIM = "realm"
SESSION_CLAIM = "sid"


def access_lifetime() -> timedelta:
    return timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)


def refresh_lifetime() -> timedelta:
    return timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS)


class AccessJWT(Token):
    token_type = "access"
    lifetime = timedelta(minutes=60)  # replaced per token by access_lifetime()


class RefreshJWT(Token):
    token_type = "refresh"
    lifetime = timedelta(days=7)  # replaced per token by refresh_lifetime()


def encode(token_class: type[Token], *, realm: Realm, account_id: int, session_id: int, lifetime: timedelta) -> Token:
    token = token_class()
    token.set_exp(lifetime=lifetime)
    token["sub"] = str(account_id)
    token[REALM_CLAIM] = realm.name
    token[SESSION_CLAIM] = session_id
    return token


def decode(token_class: type[Token], raw: str, *, realm: Realm) -> dict[str, Any]:
    """Verified claims of a token of this realm, or InvalidToken (other realm, bad shape, expired...)."""
    try:
        payload = token_class(raw).payload
    except TokenError as exc:
        raise InvalidToken() from exc
    sub, sid = payload.get("sub"), payload.get(SESSION_CLAIM)
    if payload.get(REALM_CLAIM) != realm.name or not isinstance(sub, str) or not sub.isdigit():
        raise InvalidToken()
    if not isinstance(sid, int) or isinstance(sid, bool):
        raise InvalidToken()
    return payload
