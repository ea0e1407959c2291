"""The shared endpoints, mounted once per realm."""

from django.urls import URLPattern

from common.realms import Realm
from common.urls import api_path
from tokens import apis
from tokens.authentication import IsAuthenticated, RealmAuthentication


def realm_urlpatterns(
    *,
    realm: Realm,
    authentication: type[RealmAuthentication],
    auth_prefix: str,
    me_prefix: str,
    open_registration: bool,
    me_methods: tuple[str, ...],
) -> list[URLPattern]:
    auth = {"realm": realm, "authentication_classes": [authentication]}
    # Open endpoints read no credentials: a stale token in a client's default headers
    # must not turn a login or a refresh into a 401.
    anonymous = {"realm": realm, "authentication_classes": []}
    register = anonymous if open_registration else {**auth, "permission_classes": [IsAuthenticated]}
    me_methods_allowed = [*me_methods, "head", "options"]
    return [
        api_path(f"{auth_prefix}/register", apis.RegisterApi.as_view(**register)),
        api_path(f"{auth_prefix}/login", apis.LoginApi.as_view(**anonymous)),
        api_path(f"{auth_prefix}/refresh", apis.RefreshApi.as_view(**anonymous)),
        api_path(f"{auth_prefix}/logout", apis.LogoutApi.as_view(**auth)),
        api_path(me_prefix, apis.MeApi.as_view(**auth, http_method_names=me_methods_allowed)),
        api_path(f"{me_prefix}/avatar", apis.MeAvatarApi.as_view(**auth)),
        api_path(f"{me_prefix}/password", apis.PasswordApi.as_view(**auth)),
        api_path(f"{me_prefix}/tokens", apis.TokenListApi.as_view(**auth)),
        api_path(rf"{me_prefix}/tokens/(?P<token_id>[0-9]+)", apis.TokenDetailApi.as_view(**auth)),
    ]
