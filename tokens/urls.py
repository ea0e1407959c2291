"""The credential routes of one realm (login, MFA, refresh, logout, password change, personal
access tokens, sessions), and the browsable API's login pages. config/urls.py mounts them."""

from django.urls import URLPattern, re_path
from rest_framework.authentication import BaseAuthentication

from common.realms import USER, Realm
from common.urls import api_path, id_param
from tokens import apis, browser_views, views
from tokens.browser import DEFAULT_NEXT
from tokens.browser_oidc import OidcPages

oidc_start, oidc_complete = OidcPages(
    realm=USER, complete_url="api-oidc-complete", login_url="/api-auth/login/", default_next=DEFAULT_NEXT
).views()


def build_urlpatterns(
    *, realm: Realm, authentication: list[type[BaseAuthentication]], auth_prefix: str, me_prefix: str
) -> list[URLPattern]:
    auth = {"realm": realm, "authentication_classes": authentication}
    public = {"realm": realm}
    name = realm.name
    return [
        api_path(f"{auth_prefix}/login", apis.LoginApi.as_view(**public), name=f"{name}-login"),
        api_path(f"{auth_prefix}/refresh", apis.RefreshApi.as_view(**public), name=f"{name}-refresh"),
        api_path(f"{auth_prefix}/mfa/verify", apis.MfaVerifyApi.as_view(**public), name=f"{name}-mfa-verify"),
        api_path(f"{auth_prefix}/logout", apis.LogoutApi.as_view(**auth), name=f"{name}-logout"),
        api_path(
            f"{auth_prefix}/reauthenticate", apis.ReauthenticateApi.as_view(**auth), name=f"{name}-reauthenticate"
        ),
        api_path(f"{auth_prefix}/logout-all", apis.LogoutAllApi.as_view(**auth), name=f"{name}-logout-all"),
        api_path(f"{me_prefix}/password", apis.PasswordApi.as_view(**auth), name=f"{name}-password"),
        api_path(f"{me_prefix}/tokens", apis.TokenListApi.as_view(**auth), name=f"{name}-tokens"),
        api_path(
            f"{me_prefix}/tokens/{id_param('token_id')}", apis.TokenDetailApi.as_view(**auth), name=f"{name}-token"
        ),
        api_path(f"{me_prefix}/mfa", apis.MfaStatusApi.as_view(**auth), name=f"{name}-mfa"),
        api_path(f"{me_prefix}/mfa/totp", apis.MfaTotpApi.as_view(**auth), name=f"{name}-mfa-totp"),
        api_path(f"{me_prefix}/mfa/totp/confirm", apis.MfaConfirmApi.as_view(**auth), name=f"{name}-mfa-totp-confirm"),
        api_path(
            f"{me_prefix}/mfa/recovery-codes", apis.RecoveryCodesApi.as_view(**auth), name=f"{name}-mfa-recovery-codes"
        ),
        api_path(f"{me_prefix}/sessions", apis.SessionListApi.as_view(**auth), name=f"{name}-sessions"),
        api_path(
            f"{me_prefix}/passkeys/options", apis.PasskeyOptionsApi.as_view(**auth), name=f"{name}-passkey-options"
        ),
        api_path(f"{me_prefix}/passkeys", apis.PasskeyListApi.as_view(**auth), name=f"{name}-passkeys"),
        api_path(
            f"{me_prefix}/passkeys/{id_param('passkey_id')}",
            apis.PasskeyDetailApi.as_view(**auth),
            name=f"{name}-passkey",
        ),
        api_path(
            f"{auth_prefix}/passkey/options",
            apis.PasskeyLoginOptionsApi.as_view(**public),
            name=f"{name}-passkey-login-options",
        ),
        api_path(f"{auth_prefix}/passkey/login", apis.PasskeyLoginApi.as_view(**public), name=f"{name}-passkey-login"),
        *oidc_urlpatterns(auth_prefix, me_prefix, name, auth, public),
        api_path(
            f"{me_prefix}/sessions/{id_param('session_id')}",
            apis.SessionDetailApi.as_view(**auth),
            name=f"{name}-session",
        ),
    ]


def oidc_urlpatterns(auth_prefix: str, me_prefix: str, name: str, auth: dict, public: dict) -> list[URLPattern]:
    """Identity providers (docs/api.md §20): sign-in flows and the account's linked identities."""
    oidc, slug = f"{auth_prefix}/oidc", "(?P<provider>[a-z][a-z0-9_-]{0,63})"  # as config/settings.py checks
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


def browser_urlpatterns() -> list[URLPattern]:
    """The browsable API's own login and logout (browser sessions of the user realm)."""
    return [
        re_path(r"^api-auth/login/?$", browser_views.login, name="api-login"),
        re_path(r"^api-auth/logout/?$", browser_views.logout, name="api-logout"),
        re_path(r"^api-auth/passkey/?$", browser_views.passkey_login, name="api-passkey-login"),
        re_path(r"^api-auth/oidc/(?P<provider>[a-z][a-z0-9_-]{0,63})/?$", oidc_start, name="api-oidc-start"),
        re_path(r"^api-auth/oidc/?$", oidc_complete, name="api-oidc-complete"),
    ]


def service_urlpatterns() -> list[URLPattern]:
    """What other services call: the JWK Set and token introspection (both realms' tokens)."""
    return [
        re_path(r"^\.well-known/jwks\.json$", views.jwks, name="jwks"),
        api_path("auth/introspect", apis.IntrospectApi.as_view(realm=None), name="introspect"),
    ]
