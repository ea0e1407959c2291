"""The admin realm's management routes: users (and their sessions, tokens, MFA) and the audit trail."""

from accounts import services as account_services
from admins import apis, services
from common.urls import api_path, id_param

USER = f"admin/users/{id_param('user_id')}"


def action(name: str, operation, message: str):
    view = apis.UserActionApi.as_view(operation=operation, message=message)
    return api_path(f"{USER}/{name}", view, name=f"admin-user-{name}")


urlpatterns = [
    api_path("admin/users", apis.UserListApi.as_view(), name="admin-users"),
    api_path("admin/audit", apis.AuditApi.as_view(), name="admin-audit"),
    api_path(USER, apis.UserDetailApi.as_view(), name="admin-user"),
    action("activate", services.activate, "User activated"),
    action("block", services.block, "User blocked"),
    action("unlock", services.unlock, "User unlocked"),
    action("restore", account_services.restore, "User restored"),
    api_path(f"{USER}/sessions", apis.UserSessionsApi.as_view(), name="admin-user-sessions"),
    api_path(f"{USER}/mfa", apis.UserMfaApi.as_view(), name="admin-user-mfa"),
    api_path(f"{USER}/tokens", apis.UserTokensApi.as_view(), name="admin-user-tokens"),
    api_path(f"{USER}/tokens/{id_param('token_id')}", apis.UserTokenDetailApi.as_view(), name="admin-user-token"),
]
