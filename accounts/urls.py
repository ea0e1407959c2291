from accounts.authentication import UserAuthentication
from common.realms import USER
from common.urls import api_path
from tokens import apis
from tokens.urls import realm_urlpatterns

urlpatterns = [
    *realm_urlpatterns(
        realm=USER,
        authentication=UserAuthentication,
        auth_prefix="auth",
        me_prefix="users/me",
        open_registration=True,
        me_methods=("get", "put", "patch", "delete"),
    ),
    api_path("users/me/avatar", apis.MeAvatarApi.as_view(realm=USER, authentication_classes=[UserAuthentication])),
]
