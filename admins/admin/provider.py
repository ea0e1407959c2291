"""The OpenID Provider's clients and grants on the admin site (§28), read-only: clients are
registered through POST /admin/oauth/clients (their secret is shown once), grants are revoked by
their owners (DELETE /users/me/grants/...). django-oauth-toolkit's own pages are taken down: they
would store secrets it hashes with Argon2, which this service does not read."""

from django.contrib import admin
from oauth2_provider.models import Application

from admins.admin.operations import ReadOnlyAdmin
from tokens.provider.models import (
    Consent,
    ProviderAccessToken,
    ProviderDeviceGrant,
    ProviderGrant,
    ProviderIDToken,
    ProviderRefreshToken,
)

for model in (Application, ProviderAccessToken, ProviderRefreshToken, ProviderIDToken, ProviderGrant,
              ProviderDeviceGrant):  # fmt: skip
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Application)
class ClientAdmin(ReadOnlyAdmin):
    list_display = ("name", "client_id", "client_type", "skip_authorization", "created")
    fields = ("name", "client_id", "client_type", "redirect_uris", "post_logout_redirect_uris", "skip_authorization",
              "created")  # fmt: skip
    search_fields = ("name", "client_id")


@admin.register(Consent)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("user", "application", "scopes", "created_at", "last_used_at")
    fields = list_display
    list_select_related = ("user", "application")
    search_fields = ("user__username", "application__name")
