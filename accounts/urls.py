from accounts.authentication import UserAuthentication
from common.realms import USER
from tokens.urls import realm_urlpatterns

urlpatterns = realm_urlpatterns(
    realm=USER,
    authentication=UserAuthentication,
    auth_prefix="auth",
    me_prefix="users/me",
    open_registration=True,
    me_methods=("get", "put", "patch", "delete"),
)
