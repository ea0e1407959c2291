"""Roles, permissions and operators through the API (docs/api.md §24); the rules are in admins.roles."""

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from admins import roles
from admins.apis import AdminApi
from admins.serializers import (
    AdminAccountSerializer,
    AdminChangeSerializer,
    AdminListParams,
    PermissionSerializer,
    RoleInputSerializer,
    RoleSerializer,
)
from common.envelope import ok
from common.pagination import paginate
from common.permissions import requiring
from common.schema import PAGE_PARAMETERS, api_doc

TAGS = ["admin roles"]


class PermissionListApi(AdminApi):
    name = "Permissions"
    permission_classes = requiring("auth.view_group")

    @api_doc(summary="Every permission a role may hold", responses={200: [PermissionSerializer]},
             errors=(401, 403), tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok(roles.permission_list(), "Permissions retrieved")


class RoleListApi(AdminApi):
    name = "Roles"
    permission_classes = requiring(GET="auth.view_group", POST="auth.add_group")
    form_serializers = {"POST": RoleInputSerializer}

    @api_doc(summary="Roles, by name", responses={200: (RoleSerializer, True)}, errors=(400, 401, 403),
             parameters=PAGE_PARAMETERS, tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok(paginate(roles.roles(), request.query_params, RoleSerializer), "Roles retrieved")

    @api_doc(summary="Create a role (only with permissions you hold)", request=RoleInputSerializer,
             responses={201: RoleSerializer}, errors=(400, 401, 403, 409, 415), tags=TAGS)  # fmt: skip
    def post(self, request: Request) -> Response:
        role = roles.create_role(actor=request.user, **self.validated(RoleInputSerializer))
        return ok(RoleSerializer.represent(role), "Role created", 201)


class RoleDetailApi(AdminApi):
    name = "Role"
    permission_classes = requiring(GET="auth.view_group", PUT="auth.change_group", PATCH="auth.change_group",
                                   DELETE="auth.delete_group")  # fmt: skip
    form_serializers = {"PUT": RoleInputSerializer, "PATCH": RoleInputSerializer}

    @api_doc(summary="A role", responses={200: RoleSerializer}, errors=(401, 403, 404), tags=TAGS)
    def get(self, request: Request, role_id: str) -> Response:
        return ok(RoleSerializer.represent(roles.get_role(int(role_id))), "Role retrieved")

    @api_doc(summary="Change a role (PUT: every field; PATCH: some)", request=RoleInputSerializer,
             responses={200: RoleSerializer}, errors=(400, 401, 403, 404, 409, 415), tags=TAGS)  # fmt: skip
    def put(self, request: Request, role_id: str) -> Response:
        role = roles.get_role(int(role_id))
        data = self.validated(RoleInputSerializer, partial=request.method == "PATCH")
        return ok(RoleSerializer.represent(roles.update_role(actor=request.user, role=role, data=data)), "Role updated")

    patch = put

    @api_doc(summary="Delete a role", responses={200: None}, errors=(401, 403, 404), tags=TAGS)
    def delete(self, request: Request, role_id: str) -> Response:
        roles.delete_role(actor=request.user, role=roles.get_role(int(role_id)))
        return ok(None, "Role deleted")


class AdminListApi(AdminApi):
    name = "Admins"
    permission_classes = requiring("admins.view_admin")

    @api_doc(
        summary="Admin accounts, with their roles and permissions",
        responses={200: (AdminAccountSerializer, True)},
        errors=(400, 401, 403),
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("search", str, description="Substring of username, email, name or phone."),
            OpenApiParameter("is_active", str, enum=["true", "false"]),
            OpenApiParameter("role", int, description="Only holders of this role."),
        ],
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = AdminListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = roles.admins(**params.validated_data)
        page = paginate(found, request.query_params, AdminAccountSerializer, context=self.context())
        return ok(page, "Admins retrieved")


class AdminDetailApi(AdminApi):
    name = "Admin"
    permission_classes = requiring(GET="admins.view_admin", PATCH="admins.change_admin")
    form_serializers = {"PATCH": AdminChangeSerializer}

    @api_doc(summary="An admin account", responses={200: AdminAccountSerializer}, errors=(401, 403, 404), tags=TAGS)
    def get(self, request: Request, admin_id: str) -> Response:
        admin = roles.get_admin(int(admin_id))
        return ok(AdminAccountSerializer.represent(admin, self.context()), "Admin retrieved")

    @api_doc(
        summary="Change an admin's roles, activity or superuser status",
        request=AdminChangeSerializer,
        responses={200: AdminAccountSerializer},
        errors=(400, 401, 403, 404, 409, 415),
        description="You grant only what you hold; only a superuser makes superusers or changes one; nobody "
        "changes their own; the last active superuser stays (409).",
        tags=TAGS,
    )
    def patch(self, request: Request, admin_id: str) -> Response:
        target = roles.get_admin(int(admin_id))
        data = self.validated(AdminChangeSerializer)
        admin = roles.change_admin(actor=request.user, target=target, data=data)
        return ok(AdminAccountSerializer.represent(admin, self.context()), "Admin updated")
