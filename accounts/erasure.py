"""Erasure (docs/api.md §27): what identifies a person goes, the row and its events stay.

One path for one account (POST /admin/users/{id}/erase) and for many (`purge_deleted`, in
batches): the credentials go (accounts.signals.accounts_erasing), unsent mail to the addresses
goes, the account's events lose their IP address, user agent and any address or name in their
details, the avatar file is removed after the commit, and the row keeps only its id,
`erased-<id>` and its dates. An erased account is never restored.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from accounts import signals
from accounts.models import AbstractAccount
from common import audit
from common.images import delete_avatar_file
from common.models import AuditEvent, OutboxEmail
from common.realms import realm_of

BATCH = 1000
PERSONAL = ("email", "pending_email", "name", "username", "phone")
PERSONAL_KEYS = {"email", "old_email", "new_email", "pending_email", "name", "username", "phone", "address"}


def erase(account: AbstractAccount) -> AbstractAccount:
    erase_accounts(type(account), [account.pk])
    account.refresh_from_db()
    return account


@transaction.atomic
def erase_accounts(model: type[AbstractAccount], ids: list[int]) -> int:
    """Erase these accounts (those not erased yet, locked; others erasing them at the same moment
    are skipped, so several machines can purge at once). How many were erased."""
    locked = model.objects.select_for_update(skip_locked=True).filter(pk__in=ids, erased_at__isnull=True)
    rows = list(locked.values("pk", "avatar", *PERSONAL))
    if not rows:
        return 0
    ids, realm = [row["pk"] for row in rows], realm_of(model)
    signals.accounts_erasing.send(sender=model, realm=realm, ids=ids)
    addresses = {row[field] for row in rows for field in ("email", "pending_email") if row[field]}
    OutboxEmail.objects.filter(to__in=addresses).exclude(status=OutboxEmail.SENT).delete()
    _scrub_events(realm.name, rows)
    now = timezone.now()
    model.objects.filter(pk__in=ids).update(
        username=Concat(Value("erased-"), Cast("id", CharField())), name="", email="", phone=None,
        pending_email=None, avatar="", password=make_password(None), email_verified=False,
        failed_login_attempts=0, locked_until=None, deleted_at=Coalesce("deleted_at", Value(now)),
        erased_at=now, updated_at=now,
    )  # fmt: skip
    audit.record_many("account.erased", realm=realm, account_ids=ids)
    avatars = [row["avatar"] for row in rows if row["avatar"]]
    transaction.on_commit(lambda: [delete_avatar_file(name) for name in avatars])
    return len(ids)


def _scrub_events(realm: str, rows: list[dict[str, Any]]) -> None:
    ids = [row["pk"] for row in rows]
    events = AuditEvent.objects.filter(realm=realm, account_id__in=ids)
    events.update(ip_address=None, user_agent="")
    personal = {row["pk"]: {str(row[f]).lower() for f in PERSONAL if row[f]} for row in rows}
    changed = []
    for event in events.exclude(details={}).only("id", "account_id", "details"):
        kept = {key: value for key, value in event.details.items()
                if key not in PERSONAL_KEYS and str(value).lower() not in personal[event.account_id]}  # fmt: skip
        if kept != event.details:
            event.details = kept
            changed.append(event)
    AuditEvent.objects.bulk_update(changed, ["details"], batch_size=BATCH)


def due(model: type[AbstractAccount], days: int) -> Any:
    """Accounts deleted more than `days` days ago (0: every deleted account), not erased yet."""
    deleted = model.objects.filter(deleted_at__isnull=False, erased_at__isnull=True)
    return deleted.filter(deleted_at__lte=timezone.now() - timedelta(days=days)) if days else deleted


def purge(model: type[AbstractAccount], days: int) -> Iterator[int]:
    """Erase the due accounts batch by batch (each its own transaction); yields each batch's count."""
    while ids := list(due(model, days).order_by("pk").values_list("pk", flat=True)[:BATCH]):
        erased = erase_accounts(model, ids)
        yield erased
        if not erased:  # every one of them is being erased elsewhere right now
            return
