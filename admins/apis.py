"""User management by admins (API.md §7)."""

from collections.abc import Callable

from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from admins import services
from admins.authentication import AdminAuthentication
from admins.serializers import ManagedUserUpdateSerializer, UserListParams
from common.apis import RealmApi
from common.envelope import ok
from common.pagination import paginate
from common.realms import ADMIN
from common.serializers import ManagedAccountSerializer
from tokens.authentication import IsAuthenticated


class AdminApi(RealmApi):
    realm = ADMIN
    authentication_classes = [AdminAuthentication]
    permission_classes = [IsAuthenticated]

    def managed(self, user: User, message: str) -> Response:
        return ok(ManagedAccountSerializer(user, context=self.context()).data, message)


class UserListApi(AdminApi):
    def get(self, request: Request) -> Response:
        params = UserListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        users = User.objects.all()
        if filters["deleted"] == "exclude":
            users = users.alive()
        elif filters["deleted"] == "only":
            users = users.deleted()
        if "is_active" in filters:
            users = users.filter(is_active=filters["is_active"] == "true")
        if filters.get("search"):
            users = users.search(filters["search"])
        users = users.order_by(filters["ordering"], "id" if not filters["ordering"].startswith("-") else "-id")
        page = paginate(
            users,
            request.query_params,
            lambda items: ManagedAccountSerializer(items, many=True, context=self.context()).data,
        )
        return ok(page, "Users retrieved")


class UserDetailApi(AdminApi):
    def get(self, request: Request, user_id: str) -> Response:
        return self.managed(services.get_user(int(user_id)), "User retrieved")

    def put(self, request: Request, user_id: str) -> Response:
        user = services.get_user(int(user_id))
        serializer = ManagedUserUpdateSerializer(data=request.data, partial=True, context={"user": user})
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k != "avatar"}
        return self.managed(services.update_user(user=user, data=data), "User updated")

    patch = put

    def delete(self, request: Request, user_id: str) -> Response:
        services.delete(services.get_user(int(user_id)))
        return ok(None, "User deleted")


class UserActionApi(AdminApi):
    """PATCH /admin/users/{id}/<action>."""

    operation: Callable[[User], User] | None = None  # set by as_view(operation=...)
    message = ""

    def patch(self, request: Request, user_id: str) -> Response:
        user = services.get_user(int(user_id))
        self.operation(user)
        return self.managed(user, self.message)
