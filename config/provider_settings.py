"""django-oauth-toolkit's settings for this service as an OpenID Provider (docs/api.md §28),
made from OIDC_ISSUER: the swapped token models, OAuth 2.1's rules (PKCE S256 for every client,
exact redirect URIs, rotating refresh tokens with reuse detection) and the scopes of §28."""

from collections.abc import Callable
from typing import Any

SCOPES = {
    "openid": "Sign you in",
    "profile": "Your name, username, picture and when your profile changed",
    "email": "Your email address and whether it is verified",
    "phone": "Your phone number",
    "offline_access": "Stay signed in when you are away (a refresh token)",
}
MODELS = {
    "GRANT": "ProviderGrant",
    "ACCESS_TOKEN": "ProviderAccessToken",
    "REFRESH_TOKEN": "ProviderRefreshToken",
    "ID_TOKEN": "ProviderIDToken",
    "DEVICE_GRANT": "ProviderDeviceGrant",
}


def provider_settings(issuer: str, algorithm: str, access_minutes: int, fail: Callable[[str], None]) -> dict[str, Any]:
    """The OAUTH2_PROVIDER_* settings (the models are swapped whether or not the provider is on, so
    the schema never depends on the configuration)."""
    if issuer and algorithm.startswith("HS"):
        fail("OIDC_ISSUER needs an asymmetric ALGORITHM (ES256, RS256 or EdDSA): relying parties verify ID tokens.")
    swapped = {f"OAUTH2_PROVIDER_{name}_MODEL": f"tokens.{model}" for name, model in MODELS.items()}
    return {
        **swapped,
        "OAUTH2_PROVIDER_APPLICATION_MODEL": "oauth2_provider.Application",
        "OAUTH2_PROVIDER": {
            "OIDC_ENABLED": True,
            "OIDC_ISS_ENDPOINT": issuer,
            "OIDC_USERINFO_ENDPOINT": f"{issuer}/oauth/userinfo",
            "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
            "OAUTH2_VALIDATOR_CLASS": "tokens.provider.validator.Validator",
            "OIDC_SERVER_CLASS": "tokens.provider.server.Server",
            "SCOPES": SCOPES,
            "DEFAULT_SCOPES": ["openid"],
            "PKCE_REQUIRED": True,
            "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
            "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
            "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
            "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
            "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
            "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
            "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
            "ACCESS_TOKEN_EXPIRE_SECONDS": access_minutes * 60,
            "ID_TOKEN_EXPIRE_SECONDS": access_minutes * 60,
            "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
            "ROTATE_REFRESH_TOKEN": True,
            "REFRESH_TOKEN_REUSE_PROTECTION": True,
            "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
            "ALLOW_URI_WILDCARDS": False,
            "REQUEST_APPROVAL_PROMPT": "auto",
            "OAUTH_DEVICE_VERIFICATION_URI": f"{issuer}/oauth/device",
            "DEVICE_FLOW_INTERVAL": 5,
            "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
            "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
        },
    }
