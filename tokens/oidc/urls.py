"""The identity-provider routes of one realm (mounted by tokens.urls)."""

from django.urls import URLPattern

from common.urls import api_path, id_param
from tokens.oidc import apis

SLUG = "(?P<provider>[a-z][a-z0-9_-]{0,63})"  # as config/settings.py checks


def build_urlpatterns(*, auth_prefix: str, me_prefix: str, name: str, auth: dict, public: dict) -> list[URLPattern]:
    """Identity providers (docs/api.md §20): sign-in flows and the account's linked identities."""
    oidc, slug = f"{auth_prefix}/oidc", SLUG  # as config/settings.py checks
    return [
        api_path(f"{oidc}/providers", apis.OidcProvidersApi.as_view(**public), name=f"{name}-oidc-providers"),
        api_path(f"{oidc}/exchange", apis.OidcExchangeApi.as_view(**public), name=f"{name}-oidc-exchange"),
        api_path(f"{oidc}/{slug}/authorize", apis.OidcAuthorizeApi.as_view(**public), name=f"{name}-oidc-authorize"),
        api_path(f"{oidc}/{slug}/callback", apis.OidcCallbackApi.as_view(**public), name=f"{name}-oidc-callback"),
        api_path(f"{oidc}/{slug}/token", apis.OidcTokenApi.as_view(**public), name=f"{name}-oidc-token"),
        api_path(f"{me_prefix}/identities", apis.IdentityListApi.as_view(**auth), name=f"{name}-identities"),
        api_path(
            f"{me_prefix}/identities/link", apis.IdentityRedeemApi.as_view(**auth), name=f"{name}-identity-redeem"
        ),
        api_path(
            f"{me_prefix}/identities/{id_param('identity_id')}",
            apis.IdentityDetailApi.as_view(**auth),
            name=f"{name}-identity",
        ),
        api_path(f"{me_prefix}/identities/{slug}", apis.IdentityLinkApi.as_view(**auth), name=f"{name}-identity-link"),
    ]
