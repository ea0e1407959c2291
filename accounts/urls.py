"""Every endpoint of one realm's own accounts (credentials included), and the user realm's routes."""

from django.urls import URLPattern, re_path
from rest_framework.authentication import BaseAuthentication

from accounts import apis
from accounts.authentication import AUTHENTICATION
from common.realms import USER, Realm
from common.urls import api_path
from tokens import browser_views
from tokens.urls import credential_urlpatterns


def realm_urlpatterns(
    *,
    realm: Realm,
    authentication: list[type[BaseAuthentication]],
    auth_prefix: str,
    me_prefix: str,
    open_registration: bool,
    me_methods: tuple[str, ...],
) -> list[URLPattern]:
    auth = {"realm": realm, "authentication_classes": authentication}
    if open_registration:
        register = apis.OpenRegisterApi.as_view(realm=realm)
    else:  # an account made by a token outlives it: a login session only, never a PAT
        register = apis.RegisterApi.as_view(**auth, session_only=True)
    return [  # the hottest path first: URLs are resolved in order
        api_path(me_prefix, apis.MeApi.as_view(**auth, http_method_names=[*me_methods, "head", "options"])),
        api_path(f"{auth_prefix}/register", register),
        *credential_urlpatterns(
            realm=realm, authentication=authentication, auth_prefix=auth_prefix, me_prefix=me_prefix
        ),
        api_path(f"{me_prefix}/avatar", apis.MeAvatarApi.as_view(**auth)),
        api_path(f"{me_prefix}/security-events", apis.SecurityEventsApi.as_view(**auth)),
        api_path(f"{auth_prefix}/email/verify", apis.VerifyEmailApi.as_view(realm=realm)),
        api_path(f"{auth_prefix}/email/verify/resend", apis.ResendVerificationApi.as_view(**auth)),
    ]


urlpatterns = [
    *realm_urlpatterns(
        realm=USER,
        authentication=AUTHENTICATION,
        auth_prefix="auth",
        me_prefix="users/me",
        open_registration=True,
        me_methods=("get", "put", "patch", "delete"),
    ),
    re_path(r"^api-auth/login/?$", browser_views.login, name="api-login"),
    re_path(r"^api-auth/logout/?$", browser_views.logout, name="api-logout"),
]
