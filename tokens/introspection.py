"""Token introspection (RFC 7662) for resource servers: is this token accepted right now, and whose is it?

The same checks as a request to this service: an access JWT's signature, expiry, realm and live
session of an active, not deleted account (one query); a personal access token's digest, expiry,
revocation and owner (one query). Anything else, refresh and MFA tokens included, is inactive.
"""

import hmac
from typing import Any

from django.conf import settings
from django.utils import timezone

from common.exceptions import InvalidToken, NotAuthenticated, NotFound
from tokens import jwt_tokens
from tokens.models import ABILITIES, LoginSession, PersonalAccessToken
from tokens.pats import digest, is_personal_access_token

INACTIVE = {"active": False}


def check_caller(authorization: str) -> None:
    """404 while INTROSPECTION_TOKENS is unset; 401 unless the caller sends one of them as a bearer token."""
    if not settings.INTROSPECTION_TOKENS:
        raise NotFound()
    scheme, _, presented = authorization.partition(" ")
    presented = presented.strip().encode()
    known = any(hmac.compare_digest(presented, token.encode()) for token in settings.INTROSPECTION_TOKENS)
    if scheme.lower() != "bearer" or not presented or not known:
        raise NotAuthenticated("A valid introspection token is required")


def introspect(raw: str) -> dict[str, Any]:
    """RFC 7662's answer for `raw`: the token's facts when this service would accept it now, else inactive."""
    if not raw or len(raw) > 4096:
        return INACTIVE
    facts = _personal_access_token(raw) if is_personal_access_token(raw) else _access_token(raw)
    if facts is None:
        return INACTIVE
    if settings.JWT_ISSUER:
        facts["iss"] = settings.JWT_ISSUER
    return {"active": True, **facts}


def _access_token(raw: str) -> dict[str, Any] | None:
    try:
        realm, claims = jwt_tokens.decode_any_realm(jwt_tokens.AccessJWT, raw)
    except InvalidToken:
        return None
    found = LoginSession.objects.live_owner(realm, account_id=claims["sub"], id=claims[jwt_tokens.SESSION_CLAIM])
    if found is None:
        return None
    account = found[0]
    return {
        "token_type": "access_token", "realm": realm.name, "sub": str(account.pk), "username": account.username,
        "exp": claims["exp"], "iat": claims["iat"], "abilities": list(ABILITIES),
    }  # fmt: skip


def _personal_access_token(raw: str) -> dict[str, Any] | None:
    token = (
        PersonalAccessToken.objects.select_related("user", "admin")
        .filter(digest=digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or (token.expires_at is not None and token.expires_at <= timezone.now()):
        return None
    owner = token.user if token.user_id else token.admin
    if owner is None or not owner.is_active or owner.is_deleted:
        return None
    return {
        "token_type": "personal_access_token", "realm": "user" if token.user_id else "admin", "sub": str(owner.pk),
        "username": owner.username, "exp": int(token.expires_at.timestamp()) if token.expires_at else None,
        "iat": int(token.created_at.timestamp()), "abilities": list(token.abilities),
    }  # fmt: skip
