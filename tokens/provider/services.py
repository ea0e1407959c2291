"""The provider's rules outside the protocol: grants a person made (§28 GET/DELETE
/users/me/grants), and ending every token issued here for a person at once."""

import hashlib
from datetime import datetime
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from common import audit
from common.exceptions import NotFound
from tokens import signing_keys
from tokens.provider.models import (
    Consent,
    ProviderAccessToken,
    ProviderDeviceGrant,
    ProviderGrant,
    ProviderIDToken,
    ProviderRefreshToken,
)

DIGEST_PREFIX = "sha256$"


def secret_digest(secret: str) -> str:
    """A client secret is 256 random bits: a SHA-256 digest stores it safely (as PATs are stored)."""
    return DIGEST_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def end_tokens(user_id: int, application_id: int | None = None, since: datetime | None = None) -> None:
    """Every token issued here for the person (for one client, or for all; issued `since` a time)
    stops at once."""
    scope: dict[str, Any] = {"user_id": user_id}
    if application_id is not None:
        scope["application_id"] = application_id
    if since is not None:
        scope["created__gte"] = since
    with transaction.atomic():
        ProviderRefreshToken.objects.filter(**scope, revoked__isnull=True).update(revoked=timezone.now())
        ProviderAccessToken.objects.filter(**scope).delete()
        ProviderIDToken.objects.filter(**scope).delete()
        ProviderGrant.objects.filter(**scope).delete()
        if application_id is None:
            ProviderDeviceGrant.objects.filter(user_id=user_id).delete()


def avatar_url(user: User) -> str | None:
    return f"{settings.OIDC_ISSUER}{user.avatar.url}" if user.avatar else None


def verified_id_token(token: str) -> dict[str, Any] | None:
    """The claims of an ID token issued here (signature and issuer checked; an expired one is still
    accepted, as RP-initiated logout's id_token_hint may be), else None."""
    try:
        key = signing_keys.store.verifying(jwt.get_unverified_header(token).get("kid"))
        if key is None:
            return None
        return jwt.decode(
            token, key.public, algorithms=[key.algorithm], issuer=settings.OIDC_ISSUER,
            options={"verify_exp": False, "verify_aud": False, "require": ["sub", "aud", "jti"]},
        )  # fmt: skip
    except jwt.PyJWTError:
        return None


def require_provider() -> None:
    """Every §28 path is 404 while OIDC_ISSUER is unset."""
    if not settings.OIDC_ISSUER:
        raise NotFound("This service is not an OpenID Provider (OIDC_ISSUER is not set)")


def grants(user: User) -> list[dict[str, Any]]:
    require_provider()
    return [
        {
            "client_id": consent.application.client_id,
            "name": consent.application.name,
            "scopes": consent.scopes,
            "created_at": consent.created_at,
            "last_used_at": consent.last_used_at,
        }
        for consent in Consent.objects.of(user.pk)
    ]


@transaction.atomic
def revoke_grant(user: User, client_id: str) -> None:
    require_provider()
    consent = Consent.objects.of(user.pk).filter(application__client_id=client_id).first()
    if consent is None:
        raise NotFound("No grant to this client")
    end_tokens(user.pk, consent.application_id)
    consent.delete()
    audit.record("oauth.revoked", account=user, client_id=client_id)


def consent(user: User, application: Any, scopes: list[str]) -> None:
    """Remember what the person approved (the union with what they approved before)."""
    with transaction.atomic():
        row, created = Consent.objects.select_for_update().get_or_create(
            user=user, application=application, defaults={"scopes": sorted(set(scopes))}
        )
        if not created and not set(scopes) <= set(row.scopes):
            row.scopes = sorted(set(row.scopes) | set(scopes))
            row.save(update_fields=["scopes"])
        audit.record("oauth.authorized", account=user, client_id=application.client_id, scopes=sorted(scopes))


def consented(user: User, application: Any, scopes: list[str]) -> bool:
    row = Consent.objects.filter(user=user, application=application).values_list("scopes", flat=True).first()
    return row is not None and set(scopes) <= set(row)


def touch(user_id: int, application_id: int) -> None:
    Consent.objects.filter(user_id=user_id, application_id=application_id).update(last_used_at=timezone.now())


def on_account_change(sender: type, account: Any, **kwargs: Any) -> None:
    """Listener of accounts.signals.password_changed and account_deleted: a new password, or the
    account's deletion, ends what was issued here (user realm only)."""
    if isinstance(account, User):
        end_tokens(account.pk)


def on_erasure(sender: type, realm: Any, ids: list[int], **kwargs: Any) -> None:
    """Listener of accounts.signals.accounts_erasing: nothing issued here, and no grant, survives."""
    if realm.name == "user":
        for user_id in ids:
            end_tokens(user_id)
        Consent.objects.filter(user_id__in=ids).delete()
