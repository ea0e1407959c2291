"""Changing product settings (docs/api.md §25): the one write path of the API and the admin site.
Reading, defaults and the rules of each known key: common.product."""

from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AbstractAccount
from common import audit, images, product
from common.exceptions import NotFound, PayloadTooLarge, ValidationFailed
from common.models import Setting
from common.realms import USER
from tokens.oidc import providers

MAX_LOGO_BYTES = 1024 * 1024


def listing() -> list[dict[str, Any]]:
    """Every known key (its value or default) and every custom key, by key."""
    stored = {row.key: row for row in Setting.objects.all()}
    shown = [represent(key, stored.get(key)) for key in product.KNOWN]
    shown += [represent(key, row) for key, row in stored.items() if key not in product.KNOWN]
    return sorted(shown, key=lambda s: s["key"])


def get(key: str) -> dict[str, Any]:
    row = Setting.objects.filter(key=key).first()
    if row is None and key not in product.KNOWN:
        raise NotFound("Setting not found")
    return represent(key, row)


def represent(key: str, row: Setting | None) -> dict[str, Any]:
    """The Setting object of §25; the logo's value is its file's path under MEDIA_URL (or null)."""
    known = product.KNOWN.get(key)
    value = row.value if row is not None else known.default()
    by = {"id": row.updated_by_id, "username": row.updated_by_username} if row and row.updated_by_id else None
    return {
        "key": key,
        "value": value,
        "is_public": True if known else row.is_public,
        "description": known.description if known else row.description,
        "updated_at": row.updated_at if row is not None else None,
        "updated_by": by,
    }


@transaction.atomic
def put(key: str, data: dict[str, Any], *, actor: AbstractAccount) -> dict[str, Any]:
    """Set a known key (by its rule) or create or change a custom key; recorded as setting.changed."""
    known = product.KNOWN.get(key)
    if known is not None and known.clean is None:
        raise ValidationFailed("The logo is set by uploading a file", details={"file": ["This field is required."]})
    if "value" not in data:
        raise ValidationFailed(details={"value": ["This field is required."]})
    if known is not None:
        fields = {"value": known.clean(data["value"])}
    else:
        fields = {"value": product.clean_custom(key, data["value"])}
        fields |= {name: data[name] for name in ("is_public", "description") if name in data}
    return _save(key, fields, actor=actor)


def check_logo(upload: UploadedFile | None) -> images.CleanAvatar:
    """The logo, checked and cleaned by the avatar pipeline (400 with details.file, 413 over 1 MB)."""
    if upload is None:
        raise ValidationFailed(details={"file": ["This field is required."]})
    if upload.size is None or upload.size > MAX_LOGO_BYTES:
        raise PayloadTooLarge("The logo must be at most 1 MB.", details={"file": ["At most 1 MB."]})
    try:
        return images.process_avatar(upload)
    except ValidationFailed as exc:  # the pipeline names its field `avatar`
        raise ValidationFailed(exc.message, details={"file": [exc.message]}) from exc


def put_logo(upload: UploadedFile | None, *, actor: AbstractAccount) -> dict[str, Any]:
    """A new logo through the avatar pipeline (the same hostile-image limits), at most 1 MB; the
    previous file is removed once the new one is saved."""
    clean = check_logo(upload)
    previous = Setting.objects.filter(key="logo").values_list("value", flat=True).first()
    with images.stored_image(clean, product.LOGO_DIR) as name, transaction.atomic():
        shown = _save("logo", {"value": name}, actor=actor)
    if isinstance(previous, str):
        transaction.on_commit(lambda: images.delete_avatar_file(previous))
    return shown


@transaction.atomic
def reset(key: str, *, actor: AbstractAccount) -> None:
    """A known key goes back to its default; a custom key is removed (404 if there is none)."""
    row = Setting.objects.select_for_update().filter(key=key).first()
    if row is None and key not in product.KNOWN:
        raise NotFound("Setting not found")
    if row is not None:
        if key == "logo" and isinstance(row.value, str):
            name = row.value
            transaction.on_commit(lambda: images.delete_avatar_file(name))
        row.delete()
    audit.record("setting.changed", account=actor, key=key, reset=True)
    _forget()


def _save(key: str, fields: dict[str, Any], *, actor: AbstractAccount) -> dict[str, Any]:
    by = {"updated_by_id": actor.pk, "updated_by_username": actor.username, "updated_at": timezone.now()}
    row, _ = Setting.objects.update_or_create(key=key, defaults={**fields, **by})
    recorded = {"value": row.value} if key in product.KNOWN or row.is_public else {}
    audit.record("setting.changed", account=actor, key=key, **recorded)
    _forget()
    return represent(key, row)


def public(request: HttpRequest) -> dict[str, Any]:
    """GET /settings/public: what a frontend needs to brand itself and offer the right sign-ins."""
    logo = product.logo_name()
    support = product.value("support_email")
    return {
        "product_name": product.value("product_name"),
        "logo_url": request.build_absolute_uri(default_storage.url(logo)) if logo else None,
        "support_email": support,
        "registration_open": product.registration_open(),
        "sign_in_methods": {
            "password": True,
            "passkeys": settings.PASSKEYS_ENABLED,
            "code": USER.name in settings.LOGIN_CODE_REALMS,
            "providers": providers.public_list(USER),
        },
        "password_min_length": settings.PASSWORD_MIN_LENGTH,
        "require_email_verification": settings.REQUIRE_EMAIL_VERIFICATION,
        "custom": product.public_custom(),
    }


def _forget() -> None:
    """This process reads the settings again at once, and again after the commit (the first read
    may have come before it)."""
    product.forget()
    transaction.on_commit(product.forget)
