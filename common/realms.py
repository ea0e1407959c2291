"""The realm descriptor that shared code receives instead of a hard-coded model."""

from dataclasses import dataclass

from django.apps import apps
from django.db import models


@dataclass(frozen=True)
class Realm:
    """One account realm. `name` is the JWT `realm` claim and the owner field on token tables."""

    name: str
    model_label: str
    title: str

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def link_prefix(self) -> str:
        """Where this realm's one-time links live on the frontend: `/reset-password`, `/admin/reset-password`."""
        return "" if self.name == "user" else f"{self.name}/"


USER = Realm(name="user", model_label="accounts.User", title="User")
ADMIN = Realm(name="admin", model_label="admins.Admin", title="Admin")
REALMS = {realm.name: realm for realm in (USER, ADMIN)}


_BY_LABEL = {realm.model_label: realm for realm in (USER, ADMIN)}


def realm_of(account: models.Model) -> Realm:
    """The realm an account belongs to (KeyError for anything that is not an account)."""
    return _BY_LABEL[account._meta.label]


def realm_or_none(value: object) -> Realm | None:
    """The realm of `value` when it is an account, else None (an anonymous user, nothing)."""
    meta = getattr(value, "_meta", None)
    return _BY_LABEL.get(meta.label) if meta is not None else None
