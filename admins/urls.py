"""The admin realm's management routes: users (and their sessions, tokens, MFA), the audit trail,
roles and operators, webhooks, product settings and statistics (and the public settings)."""

from accounts import services as account_services
from admins import apis, invitation_apis, oauth_client_apis, product_apis, role_apis, services, webhook_apis
from common.realms import ADMIN as ADMIN_REALM
from common.realms import USER as USER_REALM
from common.urls import api_path, id_param

USER = f"admin/users/{id_param('user_id')}"
OAUTH_CLIENT = f"admin/oauth/clients/{id_param('client_pk')}"
WEBHOOK = f"admin/webhooks/{id_param('endpoint_id')}"
INVITATION = f"admin/invitations/{id_param('invitation_id')}"


def action(name: str, operation, message: str):
    view = apis.UserActionApi.as_view(operation=operation, message=message)
    return api_path(f"{USER}/{name}", view, name=f"admin-user-{name}")


urlpatterns = [
    api_path("settings/public", product_apis.PublicSettingsApi.as_view(), name="settings-public"),
    api_path("admin/settings", product_apis.SettingListApi.as_view(), name="admin-settings"),
    api_path("admin/settings/(?P<key>[^/]{1,100})", product_apis.SettingDetailApi.as_view(), name="admin-setting"),
    api_path("admin/statistics", product_apis.StatisticsApi.as_view(), name="admin-statistics"),
    api_path("admin/invitations", invitation_apis.InvitationListApi.as_view(), name="admin-invitations"),
    api_path(INVITATION, invitation_apis.InvitationDetailApi.as_view(), name="admin-invitation"),
    api_path(f"{INVITATION}/resend", invitation_apis.InvitationResendApi.as_view(), name="admin-invitation-resend"),
    *(
        api_path(f"{prefix}/invitations/{step}", view.as_view(realm=realm), name=f"{realm.name}-invitation-{step}")
        for prefix, realm in (("auth", USER_REALM), ("admin/auth", ADMIN_REALM))
        for step, view in (
            ("inspect", invitation_apis.InspectInvitationApi),
            ("accept", invitation_apis.AcceptInvitationApi),
        )
    ),
    api_path("admin/users", apis.UserListApi.as_view(), name="admin-users"),
    api_path("admin/audit", apis.AuditApi.as_view(), name="admin-audit"),
    api_path(USER, apis.UserDetailApi.as_view(), name="admin-user"),
    action("activate", services.activate, "User activated"),
    action("block", services.block, "User blocked"),
    action("unlock", services.unlock, "User unlocked"),
    action("restore", account_services.restore, "User restored"),
    api_path(f"{USER}/erase", apis.UserEraseApi.as_view(), name="admin-user-erase"),
    api_path(f"{USER}/sessions", apis.UserSessionsApi.as_view(), name="admin-user-sessions"),
    api_path(f"{USER}/identities", apis.UserIdentitiesApi.as_view(), name="admin-user-identities"),
    api_path(f"{USER}/mfa", apis.UserMfaApi.as_view(), name="admin-user-mfa"),
    api_path(f"{USER}/tokens", apis.UserTokensApi.as_view(), name="admin-user-tokens"),
    api_path(f"{USER}/tokens/{id_param('token_id')}", apis.UserTokenDetailApi.as_view(), name="admin-user-token"),
    api_path("admin/permissions", role_apis.PermissionListApi.as_view(), name="admin-permissions"),
    api_path("admin/roles", role_apis.RoleListApi.as_view(), name="admin-roles"),
    api_path(f"admin/roles/{id_param('role_id')}", role_apis.RoleDetailApi.as_view(), name="admin-role"),
    api_path("admin/admins", role_apis.AdminListApi.as_view(), name="admin-admins"),
    api_path(f"admin/admins/{id_param('admin_id')}", role_apis.AdminDetailApi.as_view(), name="admin-admin"),
    api_path("admin/webhooks", webhook_apis.WebhookListApi.as_view(), name="admin-webhooks"),
    api_path(WEBHOOK, webhook_apis.WebhookDetailApi.as_view(), name="admin-webhook"),
    api_path(f"{WEBHOOK}/rotate-secret", webhook_apis.WebhookRotateApi.as_view(), name="admin-webhook-rotate-secret"),
    api_path(f"{WEBHOOK}/test", webhook_apis.WebhookTestApi.as_view(), name="admin-webhook-test"),
    api_path(f"{WEBHOOK}/deliveries", webhook_apis.WebhookDeliveriesApi.as_view(), name="admin-webhook-deliveries"),
    api_path(
        f"{WEBHOOK}/deliveries/{id_param('delivery_id')}/retry",
        webhook_apis.WebhookRetryApi.as_view(),
        name="admin-webhook-delivery-retry",
    ),
    api_path("admin/oauth/clients", oauth_client_apis.ClientListApi.as_view(), name="admin-oauth-clients"),
    api_path(OAUTH_CLIENT, oauth_client_apis.ClientDetailApi.as_view(), name="admin-oauth-client"),
    api_path(
        f"{OAUTH_CLIENT}/rotate-secret", oauth_client_apis.ClientRotateApi.as_view(), name="admin-oauth-client-rotate"
    ),
]
