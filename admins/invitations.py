"""Invitations (docs/api.md §26): operators bring people into either realm, also while
registration is closed. The link is a one-time token (accounts.one_time) bound to the realm and
to the invitation's latest mailing, so a resend kills the earlier link and acceptance is once."""

import hashlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import one_time
from accounts import services as account_services
from accounts.models import normalize_email
from admins import roles
from admins.models import Admin, Invitation, Role
from common import audit, mail
from common.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from common.realms import REALMS, Realm
from tokens.login import finish

MAIL_PATH = "accept-invitation"


def lifetime() -> timedelta:
    return timedelta(days=settings.INVITATION_TIMEOUT_DAYS)


def listing(*, realms: list[str], realm: str | None = None, status: str | None = None) -> QuerySet[Invitation]:
    found = Invitation.objects.filter(realm__in=[realm] if realm else realms)
    found = found.with_status(status) if status else found
    return found.select_related("invited_by").prefetch_related("roles")


def get(invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(pk=invitation_id).select_related("invited_by").first()
    if invitation is None:
        raise NotFound("Invitation not found")
    return invitation


@transaction.atomic
def create(*, actor: Admin, realm: Realm, email: str, name: str = "", role_ids: list[int], request: HttpRequest):
    """A pending invitation, mailed. 409 if the address has an account or a pending invitation in
    the realm; roles only for the admin realm, and only those whose permissions the inviter holds."""
    email = normalize_email(email)
    given = _roles(actor, realm, role_ids)
    if realm.model.objects.by_email(email).exists():
        raise Conflict("This address already has an account", details={"email": ["Already has an account."]})
    if Invitation.objects.pending().filter(realm=realm.name, email=email).select_for_update().exists():
        raise Conflict("This address already has a pending invitation", details={"email": ["Already invited."]})
    now = timezone.now()
    invitation = Invitation.objects.create(
        email=email,
        realm=realm.name,
        name=name,
        invited_by=actor,
        created_at=now,
        sent_at=now,
        expires_at=now + lifetime(),
    )
    invitation.roles.set(given)
    audit.record("invitation.created", account=actor, invitation_id=invitation.pk, realm=realm.name, email=email)
    _mail(invitation, request)
    return invitation


def _roles(actor: Admin, realm: Realm, role_ids: list[int]) -> list[Role]:
    if not role_ids:
        return []
    if realm.name != "admin":
        raise ValidationFailed(details={"roles": ["Only invitations to the admin realm carry roles."]})
    found = list(Role.objects.filter(pk__in=role_ids))
    if len(found) != len(set(role_ids)):
        raise ValidationFailed(details={"roles": ["Unknown role."]})
    for role in found:
        if not roles.holds_all(actor, role):
            raise Forbidden("You may only give roles whose permissions you hold", details={"roles": [role.name]})
    return found


@transaction.atomic
def resend(*, actor: Admin, invitation: Invitation, request: HttpRequest) -> Invitation:
    """A new link (the earlier one dies) and a new expiry; 409 once accepted or revoked."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict(f"This invitation is {invitation.status}")
    now = timezone.now()
    invitation.sent_at, invitation.expires_at = now, now + lifetime()
    invitation.save(update_fields=["sent_at", "expires_at"])
    _mail(invitation, request)
    return invitation


@transaction.atomic
def revoke(*, actor: Admin, invitation: Invitation) -> None:
    """Its link stops working; 409 once accepted."""
    if invitation.accepted_at:
        raise Conflict("This invitation was accepted")
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit.record("invitation.revoked", account=actor, invitation_id=invitation.pk, realm=invitation.realm)


def _state(invitation: Invitation) -> str:
    material = f"{invitation.pk}|{invitation.email}|{invitation.sent_at.isoformat()}"
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def _mail(invitation: Invitation, request: HttpRequest | None) -> None:
    realm = REALMS[invitation.realm]
    token = one_time.sign(one_time.INVITE, realm, [invitation.pk, _state(invitation)])
    link = mail.link(mail.origin_of(request), realm.link_prefix + MAIL_PATH, token)
    inviter = invitation.invited_by.name if invitation.invited_by else ""
    context = {"name": invitation.name or invitation.email, "link": link, "inviter": inviter,
               "valid_for": f"{settings.INVITATION_TIMEOUT_DAYS} days"}  # fmt: skip
    mail.queue(to=invitation.email, template="invitation", context=context)


def inspect(realm: Realm, token: str) -> Invitation:
    """The pending invitation a link names; 400 with details.token for a used, revoked, expired,
    tampered or other-realm one."""
    try:
        invitation_id, state = one_time.unsign(one_time.INVITE, realm, token, lifetime())
    except ValueError as exc:
        raise one_time.invalid_token() from exc
    invitation = Invitation.objects.pending().filter(pk=invitation_id, realm=realm.name).first()
    if invitation is None or _state(invitation) != state:
        raise one_time.invalid_token()
    return invitation


def accept(*, realm: Realm, token: str, data: dict[str, Any], request: HttpRequest) -> dict[str, Any]:
    """Make the invited account (the invited address, verified; the roles) and sign it in: the
    first token pair. Works while registration is closed."""
    with transaction.atomic():
        invitation = inspect(realm, token)
        fields = {**data, "email": invitation.email, "name": data.get("name") or invitation.name or data["username"]}
        account = account_services.register(realm=realm, data=fields, request=request, email_verified=True)
        if (
            not Invitation.objects.pending()
            .filter(pk=invitation.pk)
            .update(accepted_at=timezone.now(), account_id=account.pk)
        ):  # accepted or revoked at the same moment
            raise one_time.invalid_token()
        if realm.name == "admin":
            try:
                account.groups.set(invitation.roles.all())
            except IntegrityError as exc:  # a role deleted meanwhile
                raise Conflict("A role of this invitation is gone") from exc
        audit.record("invitation.accepted", account=account, invitation_id=invitation.pk)
    return finish(account, request)


def forget_erased(sender: type, realm: Realm, ids: list[int], **kwargs: Any) -> None:
    """Listener of accounts.signals.accounts_erasing: the invitations the erased accounts accepted
    no longer hold their addresses or names."""
    Invitation.objects.filter(realm=realm.name, account_id__in=ids).update(email="", name="")
