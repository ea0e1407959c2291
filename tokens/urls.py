"""The credential routes of one realm: the core (login, refresh, logout, reauthentication, password
change, personal access tokens, sessions) and each way of signing in's own routes (tokens/mfa,
tokens/passkeys, tokens/oidc, tokens/code), and what other services call. config/urls.py mounts them."""

from django.urls import URLPattern, re_path
from rest_framework.authentication import BaseAuthentication

from common.realms import Realm
from common.urls import api_path, id_param
from tokens import apis, jwks
from tokens.code import urls as code_urls
from tokens.mfa import urls as mfa_urls
from tokens.oidc import urls as oidc_urls
from tokens.passkeys import urls as passkey_urls


def build_urlpatterns(
    *, realm: Realm, authentication: list[type[BaseAuthentication]], auth_prefix: str, me_prefix: str
) -> list[URLPattern]:
    auth = {"realm": realm, "authentication_classes": authentication}
    public = {"realm": realm}
    name = realm.name
    feature = {"auth_prefix": auth_prefix, "me_prefix": me_prefix, "name": name, "auth": auth, "public": public}
    return [
        api_path(f"{auth_prefix}/login", apis.LoginApi.as_view(**public), name=f"{name}-login"),
        api_path(f"{auth_prefix}/refresh", apis.RefreshApi.as_view(**public), name=f"{name}-refresh"),
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
        api_path(f"{me_prefix}/sessions", apis.SessionListApi.as_view(**auth), name=f"{name}-sessions"),
        api_path(f"{me_prefix}/export", apis.ExportApi.as_view(**auth), name=f"{name}-export"),
        api_path(
            f"{me_prefix}/sessions/{id_param('session_id')}",
            apis.SessionDetailApi.as_view(**auth),
            name=f"{name}-session",
        ),
        *mfa_urls.build_urlpatterns(**feature),
        *passkey_urls.build_urlpatterns(**feature),
        *oidc_urls.build_urlpatterns(**feature),
        *code_urls.build_urlpatterns(**feature),
    ]


def service_urlpatterns() -> list[URLPattern]:
    """What other services call: the JWK Set and token introspection (both realms' tokens)."""
    return [
        re_path(r"^\.well-known/jwks\.json$", jwks.jwks, name="jwks"),
        api_path("auth/introspect", apis.IntrospectApi.as_view(realm=None), name="introspect"),
    ]
