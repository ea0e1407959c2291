"""Personal access tokens: long-lived secrets (`pat_...`), stored as SHA-256 digests, shown once."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from accounts.models import AbstractAccount
from common import audit
from common.exceptions import NotFound
from tokens.models import ABILITIES, PersonalAccessToken, owner_kwargs

PAT_PREFIX = "pat_"


def is_personal_access_token(raw: str) -> bool:
    """`pat_...`, or a token moved from the FastAPI service (anything that is not shaped like a JWT)."""
    return raw.startswith(PAT_PREFIX) or raw.count(".") != 2


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_pat(
    *,
    account: AbstractAccount,
    name: str,
    expires_in_days: int | None = None,
    abilities: list[str] | None = None,
) -> tuple[PersonalAccessToken, str]:
    days = expires_in_days or settings.PAT_DEFAULT_EXPIRE_DAYS
    secret = PAT_PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        **owner_kwargs(account),
        name=name,
        digest=digest(secret),
        abilities=[a for a in ABILITIES if a in (abilities or ABILITIES)],
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record("token.created", account=account, id=token.pk, name=name, abilities=token.abilities)
    return token, secret


def list_pats(account: AbstractAccount) -> models.QuerySet:
    return (
        PersonalAccessToken.objects.of_account(account).filter(revoked_at__isnull=True).order_by("-created_at", "-id")
    )


@transaction.atomic
def revoke_pat(*, account: AbstractAccount, token_id: int) -> None:
    if not PersonalAccessToken.objects.of_account(account).filter(pk=token_id).revoke():
        raise NotFound("Token not found")
    audit.record("token.revoked", account=account, id=token_id)


def touch_pat(token_id: int, last_used_at: datetime | None) -> None:
    """Record use at most about once a minute per token: one cheap conditional UPDATE."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PAT_LAST_USED_RESOLUTION_SECONDS)
    if last_used_at is None or last_used_at <= stale:
        PersonalAccessToken.objects.filter(pk=token_id).filter(
            models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
