"""The relying parties allowed to sign people in with this service (docs/api.md §28): clients are
django-oauth-toolkit Applications, with the grant types they may use kept beside them. Secrets
are 256 random bits, shown once and stored as SHA-256 digests (as personal access tokens)."""

import secrets
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from oauth2_provider.models import Application

from admins.models import Admin
from common import audit
from common.exceptions import NotFound, ValidationFailed
from tokens.provider import services
from tokens.provider.models import ClientPolicy

AUTHORIZATION_CODE = "authorization_code"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = (AUTHORIZATION_CODE, "refresh_token", DEVICE_CODE)


def clients() -> QuerySet:
    services.require_provider()
    return Application.objects.select_related("policy").order_by("pk")


def get_client(client_pk: int) -> Application:
    found = clients().filter(pk=client_pk).first()
    if found is None:
        raise NotFound("No such client")
    return found


def _new_secret(client: Application) -> str:
    secret = secrets.token_urlsafe(32)
    client.client_secret = services.secret_digest(secret)
    return secret


def _apply(client: Application, data: dict[str, Any]) -> None:
    simple = {"name": "name", "client_type": "client_type", "skip_consent": "skip_authorization"}
    for field, attribute in simple.items():
        if field in data:
            setattr(client, attribute, data[field])
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        if field in data:
            setattr(client, field, " ".join(data[field]))


@transaction.atomic
def create_client(*, actor: Admin, data: dict[str, Any]) -> tuple[Application, str | None]:
    services.require_provider()
    grant_types = data.get("grant_types") or [AUTHORIZATION_CODE, "refresh_token"]
    client = Application(user=None, hash_client_secret=False, client_secret="", algorithm="")
    _apply(client, data)
    client.authorization_grant_type = "authorization-code" if AUTHORIZATION_CODE in grant_types else DEVICE_CODE
    secret = _new_secret(client) if client.client_type == Application.CLIENT_CONFIDENTIAL else None
    client.save()
    ClientPolicy.objects.create(application=client, grant_types=grant_types)
    audit.record("oauth_client.created", account=actor, client_id=client.client_id, name=client.name)
    return client, secret


@transaction.atomic
def update_client(*, actor: Admin, client: Application, data: dict[str, Any]) -> tuple[Application, str | None]:
    was_public = client.client_type == Application.CLIENT_PUBLIC
    _apply(client, data)
    secret = None
    if client.client_type == Application.CLIENT_PUBLIC:
        client.client_secret = ""
    elif was_public:  # a public client made confidential needs its first secret
        secret = _new_secret(client)
    if "grant_types" in data:
        client.authorization_grant_type = (
            "authorization-code" if AUTHORIZATION_CODE in data["grant_types"] else DEVICE_CODE
        )
        ClientPolicy.objects.update_or_create(application=client, defaults={"grant_types": data["grant_types"]})
    client.save()
    audit.record("oauth_client.updated", account=actor, client_id=client.client_id, fields=sorted(data))
    return client, secret


@transaction.atomic
def rotate_secret(*, actor: Admin, client: Application) -> str:
    if client.client_type != Application.CLIENT_CONFIDENTIAL:
        raise ValidationFailed(
            "A public client has no secret", details={"client_type": ["A public client has no secret."]}
        )
    secret = _new_secret(client)
    client.save(update_fields=["client_secret", "updated"])
    audit.record("oauth_client.updated", account=actor, client_id=client.client_id, fields=["client_secret"])
    return secret


@transaction.atomic
def delete_client(*, actor: Admin, client: Application) -> None:
    audit.record("oauth_client.deleted", account=actor, client_id=client.client_id, name=client.name)
    client.delete()


def grant_types_of(client: Application) -> list[str]:
    policy = getattr(client, "policy", None)
    return policy.grant_types if policy is not None else []
