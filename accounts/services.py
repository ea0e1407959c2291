"""Account rules for both realms: registration, profile and avatar changes, soft delete."""

from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import one_time, signals
from accounts.models import AbstractAccount
from common import audit, mail
from common.exceptions import Conflict, unique_conflict
from common.images import delete_avatar_file, stored_avatar
from common.realms import Realm

PROFILE_FIELDS = ("username", "name", "email", "phone")


def ensure_available(model: type[AbstractAccount], values: dict[str, Any], exclude_pk: int | None = None) -> None:
    """409 naming every unique field whose value another account (deleted ones too) holds."""
    qs = model.objects.exclude(pk=exclude_pk) if exclude_pk else model.objects.all()
    taken = qs.taken_fields(username=values.get("username"), email=values.get("email"), phone=values.get("phone"))
    if taken:
        raise Conflict(details={field: [f"This {field} is already taken."] for field in taken})


def _save(account: AbstractAccount, update_fields: list[str] | None = None) -> None:
    """Save, turning a unique-constraint race into the same 409 the pre-check gives."""
    try:
        with transaction.atomic():
            account.save(update_fields=update_fields)
    except IntegrityError as exc:
        conflict = unique_conflict(exc)
        if conflict is None:
            raise
        raise conflict from exc


@transaction.atomic
def register(
    *, realm: Realm, data: dict[str, Any], request: HttpRequest | None = None, **extra: Any
) -> AbstractAccount:
    """Create an account (with its avatar, if any) and mail it a verification link; nothing is
    left behind on failure.

    `extra` sets model fields only operators may set (is_staff, email_verified...).
    """
    fields = {key: data.get(key) for key in PROFILE_FIELDS}
    ensure_available(realm.model, fields)
    with stored_avatar(data.get("avatar")) as avatar_name:
        account = realm.model(**fields, avatar=avatar_name or "", **extra)
        if data.get("password") is None:  # signed up through an identity provider (tokens.oidc)
            account.set_unusable_password()
        else:
            account.set_password(data["password"])
        _save(account)
        audit.record("account.registered", account=account)
        if not account.email_verified:
            send_verification(account, request)
    return account


def send_verification(account: AbstractAccount, request: HttpRequest | None) -> None:
    """Mail a link that proves the pending address (or else the current one) is its owner's."""
    one_time.mail_link(one_time.VERIFY, account, mail.origin_of(request))


def resend_verification(account: AbstractAccount, request: HttpRequest) -> None:
    if account.email_verified and not account.pending_email:
        raise Conflict("Email address is already verified", details={"email": ["Already verified."]})
    send_verification(account, request)


@transaction.atomic
def verify_email(*, realm: Realm, token: str) -> AbstractAccount:
    """Verify the address a link was made for (once): a pending address becomes the account's
    address, unless another account took it meanwhile (409)."""
    account = one_time.redeem(one_time.VERIFY, realm, token)
    old_email, new_email = account.email, account.pending_email
    if new_email:
        ensure_available(type(account), {"email": new_email}, exclude_pk=account.pk)
        account.email, account.pending_email, account.email_changed_at = new_email, None, timezone.now()
    account.email_verified = True
    _save(account, update_fields=["email", "pending_email", "email_changed_at", "email_verified", "updated_at"])
    if new_email:
        audit.record("email.changed", account=account, old_email=old_email, new_email=new_email)
    audit.record("email.verified", account=account)
    return account


def mask_email(address: str) -> str:
    """`thief@example.com` -> `t***f@example.com`: enough for the owner to recognise, not to copy."""
    local, _, domain = address.partition("@")
    shown = local[0] + "***" + (local[-1] if len(local) > 2 else "")
    return f"{shown}@{domain}"


@transaction.atomic
def update_profile(
    *,
    account: AbstractAccount,
    data: dict[str, Any],
    request: HttpRequest | None = None,
    email_pending: bool = False,
) -> AbstractAccount:
    """Partial update of the profile fields and avatar; the old avatar file goes once this commits.

    A new address is mailed a verification link, and the old one a notice. With
    `email_pending` (an account changing its own address, docs/api.md §11) the new address
    waits as `pending_email` until verified; otherwise (an operator) it replaces the old one
    at once, unverified.
    """
    changes = {key: data[key] for key in PROFILE_FIELDS if key in data}
    old_email = account.email
    new_email = changes.pop("email", old_email)
    ensure_available(type(account), {**changes, "email": new_email if new_email != old_email else None}, account.pk)
    if new_email == old_email:
        if account.pending_email and email_pending:  # asking for the current address again cancels a change
            changes.update(pending_email=None, email_changed_at=timezone.now())
    elif email_pending:
        changes.update(pending_email=new_email, email_changed_at=timezone.now())
    else:
        changes.update(email=new_email, email_verified=False, pending_email=None, email_changed_at=timezone.now())
    upload: File | None = data.get("avatar")
    old_avatar = account.avatar.name
    with stored_avatar(upload) as avatar_name:
        for key, value in changes.items():
            setattr(account, key, value)
        if avatar_name:
            account.avatar = avatar_name
            changes["avatar"] = avatar_name
        # Only the changed columns: a concurrent login failure or lock is not overwritten.
        _save(account, update_fields=[*changes, "updated_at"])
    internal = {"email_verified", "email_changed_at"}
    if changes:
        audit.record("account.updated", account=account, fields=sorted(k for k in changes if k not in internal))
    if new_email != old_email:
        if not email_pending:
            audit.record("email.changed", account=account, old_email=old_email, new_email=new_email)
        send_verification(account, request)
        context = {"name": account.name, "username": account.username, "old_email": old_email}
        context["new_email"] = mask_email(new_email)
        context["pending"] = email_pending
        mail.queue(to=old_email, template="email_changed", context=context)
    if avatar_name and old_avatar:
        delete_avatar_file(old_avatar)
    return account


def remove_avatar(account: AbstractAccount) -> AbstractAccount:
    old_avatar = account.avatar.name
    account.avatar = ""
    account.save(update_fields=["avatar", "updated_at"])
    delete_avatar_file(old_avatar)
    return account


@transaction.atomic
def soft_delete(account: AbstractAccount) -> AbstractAccount:
    """The account can no longer log in; every credential stops; its identifiers stay reserved."""
    if not account.is_deleted:
        account.soft_delete()
        signals.account_deleted.send(sender=type(account), account=account)
        audit.record("account.deleted", account=account)
    return account


@transaction.atomic
def restore(account: AbstractAccount) -> AbstractAccount:
    if account.erased_at is not None:
        raise Conflict("An erased account cannot be restored")
    if account.is_deleted:
        account.restore()
        audit.record("account.restored", account=account)
    return account
