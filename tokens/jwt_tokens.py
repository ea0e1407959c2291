"""Access and refresh JWTs, built on simplejwt's token classes (which wrap PyJWT).

simplejwt's own authentication and serializers resolve accounts through
get_user_model() (Admin here), so only its token layer is used: the claims are ours.
"""

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token

from common.exceptions import InvalidToken
from common.realms import Realm

REALM_CLAIM = "realm"
SESSION_CLAIM = "sid"
_ID = re.compile(r"^[1-9][0-9]{0,17}$")  # an ASCII positive integer that fits a 64-bit column


def access_lifetime() -> timedelta:
    return timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)


def refresh_lifetime() -> timedelta:
    return timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS)


class AccessJWT(Token):
    token_type = "access"

    @property
    def lifetime(self) -> timedelta:
        return access_lifetime()


class RefreshJWT(Token):
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
