"""User management by admins (docs/api.md §7, §12)."""

from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import erasure
from accounts import services as account_services
from accounts.models import User
from accounts.serializers import ManagedAccountSerializer
from admins import services
from admins.serializers import ORDERINGS, ManagedUserUpdateSerializer, UserListParams
from common.apis import RealmApi
from common.envelope import ok
from common.models import AuditEvent
from common.pagination import paginate
from common.permissions import requiring
from common.realms import ADMIN, REALMS
from common.schema import PAGE_PARAMETERS, api_doc
from common.serializers import AuditEventSerializer, AuditFilterSerializer
from tokens import pats, sessions
from tokens.authentication import ADMIN_AUTHENTICATION
from tokens.oidc import identities
from tokens.oidc.serializers import IdentitySerializer
from tokens.serializers import PersonalAccessTokenSerializer, SessionSerializer


class AdminApi(RealmApi):
    realm = ADMIN
    authentication_classes = ADMIN_AUTHENTICATION

    def managed(self, user: User, message: str) -> Response:
        return ok(ManagedAccountSerializer.represent(user, self.context()), message)


LIST_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter("search", str, description="Substring of username, email, name or phone (case-insensitive)."),
    OpenApiParameter("is_active", str, enum=["true", "false"]),
    OpenApiParameter("deleted", str, enum=["exclude", "include", "only"], description="Default: exclude."),
    OpenApiParameter("ordering", str, enum=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)], description="Default: id."),
]
TAGS = ["admin users"]


class UserListApi(AdminApi):
    permission_classes = requiring("accounts.view_user")
    name = "Users"

    @api_doc(
        summary="List users",
        responses={200: (ManagedAccountSerializer, True)},
        errors=(400, 401, 403),
        parameters=LIST_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = UserListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        users = User.objects.listing(**params.validated_data)
        page = paginate(
            users,
            request.query_params,
            ManagedAccountSerializer,
            context=self.context(),
            selective=bool(params.validated_data.get("search")),
        )
        return ok(page, "Users retrieved")


class UserDetailApi(AdminApi):
    permission_classes = requiring(GET="accounts.view_user", PUT="accounts.change_user", PATCH="accounts.change_user",
                                   DELETE="accounts.delete_user")  # fmt: skip
    name = "User"
    form_serializers = {"PUT": ManagedUserUpdateSerializer, "PATCH": ManagedUserUpdateSerializer}

    def form_instance(self) -> User:
        return services.get_user(int(self.kwargs["user_id"]))

    @api_doc(
        summary="A user (soft-deleted ones too)",
        responses={200: ManagedAccountSerializer},
        errors=(401, 403, 404),
        tags=TAGS,
    )
    def get(self, request: Request, user_id: str) -> Response:
        return self.managed(services.get_user(int(user_id)), "User retrieved")

    @api_doc(
        summary="Update a user (partial for PUT and PATCH); a new password ends the user's sessions",
        request=ManagedUserUpdateSerializer,
        responses={200: ManagedAccountSerializer},
        errors=(400, 401, 403, 404, 409, 415),
        tags=TAGS,
    )
    def put(self, request: Request, user_id: str) -> Response:
        user = services.get_user(int(user_id))
        data = self.validated(ManagedUserUpdateSerializer, partial=True, context={"user": user})
        return self.managed(services.update_account(account=user, data=data, request=request), "User updated")

    patch = put

    @api_doc(summary="Soft-delete a user", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, user_id: str) -> Response:
        account_services.soft_delete(services.get_user(int(user_id)))
        return ok(None, "User deleted")


class UserActionApi(AdminApi):
    """PATCH /admin/users/{id}/<action>."""

    permission_classes = requiring("accounts.change_user")
    name = "User action"
    operation: Callable[[User], User] | None = None  # set by as_view(operation=...)
    message = ""

    @api_doc(
        summary="Activate, block, unlock or restore a user",
        request=None,
        responses={200: ManagedAccountSerializer},
        errors=(401, 403, 404),
        tags=TAGS,
    )
    def patch(self, request: Request, user_id: str) -> Response:
        user = services.get_user(int(user_id))
        self.operation(user)
        return self.managed(user, self.message)


class UserEraseApi(AdminApi):
    """POST /admin/users/{id}/erase (§27): at once, deleted first or not; never restorable."""

    permission_classes = requiring("accounts.delete_user")
    name = "Erase a user"

    @api_doc(summary="Erase a user: what identifies the person goes, the row and its events stay",
             request=None, responses={200: ManagedAccountSerializer}, errors=(401, 403, 404), tags=TAGS)  # fmt: skip
    def post(self, request: Request, user_id: str) -> Response:
        return self.managed(erasure.erase(services.get_user(int(user_id))), "User erased")


class UserSessionsApi(AdminApi):
    permission_classes = requiring(GET="accounts.view_user", DELETE="accounts.change_user")
    name = "User's sessions"

    @api_doc(
        summary="A user's live sessions, newest first",
        responses={200: (SessionSerializer, True)},
        errors=(400, 401, 403, 404),
        parameters=PAGE_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request: Request, user_id: str) -> Response:
        live = sessions.live_sessions(services.get_user(int(user_id)))
        page = paginate(live, request.query_params, SessionSerializer)
        return ok(page, "Sessions retrieved")

    @api_doc(summary="End all of a user's sessions", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, user_id: str) -> Response:
        sessions.logout_everywhere(account=services.get_user(int(user_id)))
        return ok(None, "Sessions ended")


class UserTokensApi(AdminApi):
    permission_classes = requiring("accounts.view_user")
    name = "User's personal access tokens"

    @api_doc(
        summary="A user's personal access tokens",
        responses={200: (PersonalAccessTokenSerializer, True)},
        errors=(400, 401, 403, 404),
        parameters=PAGE_PARAMETERS,
        tags=TAGS,
    )
    def get(self, request: Request, user_id: str) -> Response:
        tokens = pats.list_pats(services.get_user(int(user_id)))
        page = paginate(tokens, request.query_params, PersonalAccessTokenSerializer)
        return ok(page, "Tokens retrieved")


class UserTokenDetailApi(AdminApi):
    permission_classes = requiring("accounts.change_user")
    name = "User's personal access token"

    @api_doc(summary="Revoke a user's personal access token", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, user_id: str, token_id: str) -> Response:
        pats.revoke_pat(account=services.get_user(int(user_id)), token_id=int(token_id))
        return ok(None, "Token revoked")


class UserIdentitiesApi(AdminApi):
    permission_classes = requiring("accounts.view_user")
    name = "User's identities"

    @api_doc(summary="A user's linked identity-provider accounts, newest first",
             responses={200: [IdentitySerializer]}, errors=(401, 403, 404), tags=TAGS)  # fmt: skip
    def get(self, request: Request, user_id: str) -> Response:
        linked = identities.of_account(services.get_user(int(user_id)))
        return ok([IdentitySerializer.represent(i) for i in linked], "Identities retrieved")


class UserMfaApi(AdminApi):
    permission_classes = requiring("accounts.change_user")
    name = "User's multi-factor authentication"

    @api_doc(
        summary="Turn off a user's MFA (lost device): recovery codes gone, the user's sessions end",
        responses={200: ManagedAccountSerializer},
        errors=(401, 403, 404),
        tags=TAGS,
    )
    def delete(self, request: Request, user_id: str) -> Response:
        return self.managed(services.turn_off_mfa(services.get_user(int(user_id))), "MFA turned off")


AUDIT_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter("realm", str, enum=list(REALMS)),
    OpenApiParameter("account_id", int),
    OpenApiParameter("event", str, enum=list(AuditEvent.EVENTS)),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="ISO 8601; events at or after it."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="ISO 8601; events at or before it."),
]


class AuditApi(AdminApi):
    permission_classes = requiring("common.view_auditevent")
    name = "Audit trail"

    @api_doc(
        summary="The audit trail, newest first",
        responses={200: (AuditEventSerializer, True)},
        errors=(400, 401, 403),
        parameters=AUDIT_PARAMETERS,
        tags=["audit"],
    )
    def get(self, request: Request) -> Response:
        filters = AuditFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = AuditEvent.objects.matching(**filters.validated_data)
        page = paginate(events, request.query_params, AuditEventSerializer)
        return ok(page, "Audit events retrieved")
