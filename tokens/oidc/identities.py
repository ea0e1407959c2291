"""Which account an identity provider's claims sign in to (docs/api.md §20), and an account's
linked identities: link, list, unlink."""

import re
import secrets
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import lockout
from accounts import services as account_services
from accounts.models import AbstractAccount, normalize_email
from common import audit, mail, product, ratelimit
from common.exceptions import (
    AccountExists,
    Conflict,
    InvalidCredentials,
    NotFound,
    ValidationFailed,
)
from common.realms import ADMIN, Realm, realm_of
from tokens.login import check_allowed
from tokens.models import Identity, owner_kwargs
from tokens.ways_in import refuse_last_way_in

if TYPE_CHECKING:
    pass
from tokens.oidc.providers import Provider, configured

USERNAME_CHARS = re.compile(r"[^A-Za-z0-9.+_-]")


def given_email(claims: dict[str, Any]) -> str:
    """The address as the provider gave it (an Identity shows it), within the column's length."""
    email = claims.get("email")
    return email.replace("\x00", "").strip()[:254] if isinstance(email, str) else ""


def _email_of(claims: dict[str, Any]) -> tuple[str, bool]:
    """The provider's address (lower-cased; empty unless it is a valid address), and whether it vouches for it."""
    email = claims.get("email")
    email = normalize_email(email) if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    verified = claims.get("email_verified") is True or claims.get("email_verified") == "true"  # Apple: a string
    return email, verified


def resolve(request: HttpRequest, realm: Realm, p: Provider, claims: dict[str, Any]) -> AbstractAccount:
    """The account these claims sign in to (docs/api.md §20), after every check a password login
    makes but the password: linked identity, else a verified email at both ends, else (users
    only) a new account."""
    email, verified = _email_of(claims)
    identity = linked(realm, p, claims)
    if identity is not None:
        account = identity.owner_in(realm)
        if account.is_deleted:
            raise AccountExists("This identity belongs to a deleted account")
    else:
        account = realm.model.objects.by_email(email).first() if email else None
        if account is not None and (account.is_deleted or not (verified and account.email_verified)):
            raise AccountExists()
        if account is None and realm is ADMIN:
            audit.record("login.failed", realm=realm, reason="unknown_account", method="oidc", provider=p.slug)
            raise InvalidCredentials()
        if account is None:
            ratelimit.consume(request, "register", realm)
        with transaction.atomic():  # a new account is never left without its identity
            existing = account is not None
            account = account or _new_user(request, realm, claims, email, verified)
            identity = _link(account, p, claims, notify=existing)
    lockout.refuse_if_locked(account)
    check_allowed(account)
    identity.email, identity.last_used_at = given_email(claims), timezone.now()
    identity.save(update_fields=["email", "last_used_at"])
    return account


def _new_user(
    request: HttpRequest, realm: Realm, claims: dict[str, Any], email: str, verified: bool
) -> AbstractAccount:
    product.refuse_if_registration_closed()
    if not email:
        raise ValidationFailed(
            "The identity provider did not share an email address",
            details={"email": ["The identity provider did not share an email address."]},
        )
    username = _free_username(realm, str(claims.get("preferred_username") or email.partition("@")[0]))
    name = str(claims.get("name") or " ".join(filter(None, [claims.get("given_name"), claims.get("family_name")])))
    name = name.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    data = {"username": username, "email": email, "name": (name or username)[:255], "password": None}
    try:
        return account_services.register(realm=realm, data=data, request=request, email_verified=verified)
    except Conflict as exc:  # the same person signing in twice at once
        raise AccountExists() from exc


def _free_username(realm: Realm, wanted: str) -> str:
    """The provider's username or the email's local part, in the allowed characters, made unique."""
    base = USERNAME_CHARS.sub("", wanted)[:140] or "user"
    base = base if len(base) >= 3 else f"{base}user"
    candidate = base
    while realm.model.objects.by_username(candidate).exists():
        candidate = f"{base}{secrets.randbelow(1_000_000)}"
    return candidate


def linked(realm: Realm, p: Provider, claims: dict[str, Any]) -> Identity | None:
    """The identity of this provider's `sub` in the realm, with its account, if one is linked."""
    found = Identity.objects.filter(provider=p.slug, subject=claims["sub"], **{f"{realm.name}__isnull": False})
    return found.select_related(realm.name).first()


def _link(account: AbstractAccount, p: Provider, claims: dict[str, Any], *, notify: bool = True) -> Identity:
    try:
        with transaction.atomic():
            identity = Identity.objects.create(**owner_kwargs(account), provider=p.slug, subject=claims["sub"],
                                               email=given_email(claims))  # fmt: skip
    except IntegrityError as exc:  # linked to another account at the same moment
        raise AccountExists("This identity is linked to another account") from exc
    audit.record("identity.linked", account=account, provider=p.slug, identity_id=identity.pk)
    if notify:
        mail.security_notice(account, f"Your {p.name} account was linked as a way to sign in")
    return identity


def link_identity(account: AbstractAccount, p: Provider, claims: dict[str, Any]) -> Identity:
    """The callback of a linking flow: this account gains the identity, unless another has it (409)."""
    realm = realm_of(account)
    found = linked(realm, p, claims)
    if found is not None and found.owner_in(realm).pk != account.pk:
        raise AccountExists("This identity is linked to another account")
    return found or _link(account, p, claims)


def of_account(account: AbstractAccount):
    return Identity.objects.of_account(account).order_by("-created_at", "-id")


@transaction.atomic
def unlink(account: AbstractAccount, identity_id: int) -> None:
    """Unlink an identity, unless it is the account's last way to sign in (409 CONFLICT)."""
    identity = of_account(account).select_for_update().filter(pk=identity_id).first()
    if identity is None:
        raise NotFound("Identity not found")
    refuse_last_way_in(account, "identity")
    delete(identity)


def delete(identity: Identity) -> None:
    """Unlink and record it (also an operator's unlinking on the admin site)."""
    audit.record("identity.unlinked", account=identity.owner, provider=identity.provider, identity_id=identity.pk)
    p = configured().get(identity.provider)
    name = p.name if p is not None else identity.provider
    mail.security_notice(identity.owner, f"Your {name} account was unlinked and no longer signs in")
    identity.delete()
