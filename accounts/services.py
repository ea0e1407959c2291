"""Account rules for both realms: registration, profile and avatar changes, soft delete."""

from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from common import audit, mail
from common.exceptions import Conflict, unique_conflict
from common.images import delete_avatar_file, stored_avatar
from common.models import AbstractAccount
from common.realms import Realm
from tokens import one_time
from tokens import services as credentials

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
        account.set_password(data["password"])
        _save(account)
        audit.record("account.registered", account=account)
        if not account.email_verified:
            send_verification(account, request)
    return account


def send_verification(account: AbstractAccount, request: HttpRequest | None) -> None:
    """Mail a link that proves the account's current address is its owner's."""
    one_time.mail_link(one_time.VERIFY, account, request)


def resend_verification(account: AbstractAccount, request: HttpRequest) -> None:
    if account.email_verified:
        raise Conflict("Email address is already verified", details={"email": ["Already verified."]})
    send_verification(account, request)


def verify_email(*, realm: Realm, token: str) -> AbstractAccount:
    """Mark the address a verification link was made for as verified (once)."""
    account = one_time.redeem(one_time.VERIFY, realm, token)
    account.email_verified = True
    account.save(update_fields=["email_verified", "updated_at"])
    audit.record("email.verified", account=account)
    return account


@transaction.atomic
def update_profile(
    *, account: AbstractAccount, data: dict[str, Any], request: HttpRequest | None = None
) -> AbstractAccount:
    """Partial update of the profile fields and avatar; the old avatar file goes once this commits.

    A new email address is unverified: a link goes to it, and a notice to the old one.
    """
    changes = {key: data[key] for key in PROFILE_FIELDS if key in data}
    old_email = account.email
    if "email" in changes and changes["email"] == old_email:
        del changes["email"]
    ensure_available(type(account), changes, exclude_pk=account.pk)
    if "email" in changes:
        changes["email_verified"] = False
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
    if changes:
        audit.record("account.updated", account=account, fields=sorted(k for k in changes if k != "email_verified"))
    if "email" in changes:
        audit.record("email.changed", account=account, old_email=old_email, new_email=account.email)
        send_verification(account, request)
        context = {"name": account.name, "username": account.username, "old_email": old_email}
        mail.queue(to=old_email, template="email_changed", context={**context, "new_email": account.email})
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
def soft_delete(account: AbstractAccount) -> None:
    """The account can no longer log in; every credential stops; its identifiers stay reserved."""
    if not account.is_deleted:
        account.soft_delete()
        credentials.revoke_all_credentials(account)
        audit.record("account.deleted", account=account)


@transaction.atomic
def restore(account: AbstractAccount) -> AbstractAccount:
    if account.is_deleted:
        account.restore()
        audit.record("account.restored", account=account)
    return account
