from admins import apis, services
from admins.authentication import AdminAuthentication
from common.realms import ADMIN
from common.urls import api_path
from tokens.urls import realm_urlpatterns

USER = r"admin/users/(?P<user_id>[0-9]+)"

urlpatterns = [
    *realm_urlpatterns(
        realm=ADMIN,
        authentication=AdminAuthentication,
        auth_prefix="admin/auth",
        me_prefix="admin/me",
        open_registration=False,
        me_methods=("get", "put", "patch"),
    ),
    api_path("admin/users", apis.UserListApi.as_view()),
    api_path(USER, apis.UserDetailApi.as_view()),
    api_path(f"{USER}/activate", apis.UserActionApi.as_view(operation=services.activate, message="User activated")),
    api_path(f"{USER}/block", apis.UserActionApi.as_view(operation=services.block, message="User blocked")),
    api_path(f"{USER}/unlock", apis.UserActionApi.as_view(operation=services.unlock, message="User unlocked")),
    api_path(f"{USER}/restore", apis.UserActionApi.as_view(operation=services.restore, message="User restored")),
]
