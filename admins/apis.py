"""User management by admins (API.md §7)."""

from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from admins import services
from admins.authentication import AdminAuthentication
from admins.serializers import ORDERINGS, ManagedUserUpdateSerializer, UserListParams
from common.apis import RealmApi
from common.envelope import ok
from common.pagination import paginate
from common.realms import ADMIN
from common.schema import PAGE_PARAMETERS, api_doc
from common.serializers import ManagedAccountSerializer
from tokens.authentication import IsAuthenticated


class AdminApi(RealmApi):
    realm = ADMIN
    authentication_classes = [AdminAuthentication]
    permission_classes = [IsAuthenticated]

    def managed(self, user: User, message: str) -> Response:
        return ok(ManagedAccountSerializer(user, context=self.context()).data, message)


LIST_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter("search", str, description="Substring of username, email, name or phone (case-insensitive)."),
    OpenApiParameter("is_active", str, enum=["true", "false"]),
    OpenApiParameter("deleted", str, enum=["exclude", "include", "only"], description="Default: exclude."),
    OpenApiParameter("ordering", str, enum=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)], description="Default: id."),
]


class UserListApi(AdminApi):
    @api_doc(
        summary="List users",
        operation_id="admin_users_list",
        responses={200: (ManagedAccountSerializer, True)},
        errors=(400, 401),
        parameters=LIST_PARAMETERS,
        tags=["admin users"],
    )
    def get(self, request: Request) -> Response:
        params = UserListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        users = User.objects.listing(**params.validated_data)
        page = paginate(
            users,
            request.query_params,
            lambda items: ManagedAccountSerializer(items, many=True, context=self.context()).data,
        )
        return ok(page, "Users retrieved")


class UserDetailApi(AdminApi):
    @api_doc(
        summary="A user (soft-deleted ones too)",
        responses={200: ManagedAccountSerializer},
        errors=(401, 404),
        tags=["admin users"],
    )
    def get(self, request: Request, user_id: str) -> Response:
        return self.managed(services.get_user(int(user_id)), "User retrieved")

    @api_doc(
        summary="Update a user (partial for PUT and PATCH); a new password ends the user's sessions",
        request=ManagedUserUpdateSerializer,
        responses={200: ManagedAccountSerializer},
        errors=(400, 401, 404, 409, 415),
        tags=["admin users"],
    )
    def put(self, request: Request, user_id: str) -> Response:
        user = services.get_user(int(user_id))
        serializer = ManagedUserUpdateSerializer(data=request.data, partial=True, context={"user": user})
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k != "avatar"}
        return self.managed(services.update_user(user=user, data=data), "User updated")

    patch = put

    @api_doc(summary="Soft-delete a user", responses={200: None}, errors=(401, 404), tags=["admin users"])
    def delete(self, request: Request, user_id: str) -> Response:
        services.delete(services.get_user(int(user_id)))
        return ok(None, "User deleted")


class UserActionApi(AdminApi):
    """PATCH /admin/users/{id}/<action>."""

    operation: Callable[[User], User] | None = None  # set by as_view(operation=...)
    message = ""

    @api_doc(
        summary="Activate, block, unlock or restore a user",
        request=None,
        responses={200: ManagedAccountSerializer},
        errors=(401, 404),
        tags=["admin users"],
    )
    def patch(self, request: Request, user_id: str) -> Response:
        user = services.get_user(int(user_id))
        self.operation(user)
        return self.managed(user, self.message)
