from accounts.urls import realm_urlpatterns
from admins import apis, services
from admins.authentication import AUTHENTICATION
from common.realms import ADMIN
from common.urls import api_path, id_param

USER = f"admin/users/{id_param('user_id')}"


def action(name: str, operation, message: str):
    return api_path(f"{USER}/{name}", apis.UserActionApi.as_view(operation=operation, message=message))


urlpatterns = [
    *realm_urlpatterns(
        realm=ADMIN,
        authentication=AUTHENTICATION,
        auth_prefix="admin/auth",
        me_prefix="admin/me",
        open_registration=False,
        me_methods=("get", "put", "patch"),
    ),
    api_path("admin/users", apis.UserListApi.as_view()),
    api_path("admin/audit", apis.AuditApi.as_view()),
    api_path(USER, apis.UserDetailApi.as_view()),
    action("activate", services.activate, "User activated"),
    action("block", services.block, "User blocked"),
    action("unlock", services.unlock, "User unlocked"),
    action("restore", services.restore, "User restored"),
    api_path(f"{USER}/sessions", apis.UserSessionsApi.as_view()),
    api_path(f"{USER}/mfa", apis.UserMfaApi.as_view()),
    api_path(f"{USER}/tokens", apis.UserTokensApi.as_view()),
    api_path(f"{USER}/tokens/{id_param('token_id')}", apis.UserTokenDetailApi.as_view()),
]
