"""The endpoints both realms share. Each realm mounts them with `as_view(realm=..., authentication_classes=...)`."""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from common import ratelimit
from common import services as accounts
from common.apis import RealmApi
from common.envelope import ok
from common.pagination import paginate
from common.schema import PAGE_PARAMETERS, api_doc
from common.serializers import (
    AccountFieldsSerializer,
    AccountSerializer,
    LoginSerializer,
    LogoutSerializer,
    PasswordChangeSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
)
from tokens import services
from tokens.authentication import IsAuthenticated, IsJWTSession
from tokens.serializers import (
    CreatePersonalAccessTokenSerializer,
    NewPersonalAccessTokenSerializer,
    PersonalAccessTokenSerializer,
)


class RegisterApi(RealmApi):
    @api_doc(
        summary="Register an account",
        request=RegisterSerializer,
        responses={201: AccountSerializer},
        errors=(400, 401, 409, 413, 415, 429),
        description="Open for users; admin registration needs an admin bearer token. Avatar only in multipart.",
    )
    def post(self, request: Request) -> Response:
        ratelimit.enforce(request, group=self.realm.register_rate_group, rate=settings.REGISTER_RATE)
        serializer = RegisterSerializer(data=request.data, context={"model": self.realm.model})
        serializer.is_valid(raise_exception=True)
        account = accounts.register(realm=self.realm, data=serializer.validated_data)
        return ok(
            AccountSerializer(account, context=self.context()).data, f"{self.realm.title} registered successfully", 201
        )


class LoginApi(RealmApi):
    @api_doc(
        summary="Log in (OAuth2 password form or JSON)",
        request=LoginSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415, 423, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        rate = (settings.RATE_LIMIT_ATTEMPTS, settings.RATE_LIMIT_WINDOW_MINUTES * 60)
        ratelimit.enforce(request, group=self.realm.login_rate_group, rate=rate)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.login(
            realm=self.realm,
            identifier=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            request=request,
        )
        return ok(pair, "Login successful")


class RefreshApi(RealmApi):
    @api_doc(
        summary="Rotate a refresh token for a new pair",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 415),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.refresh(realm=self.realm, raw_refresh=serializer.validated_data["refresh_token"])
        return ok(pair, "Token refreshed")


class LogoutApi(RealmApi):
    permission_classes = [IsJWTSession]

    @api_doc(summary="Log out this session", request=LogoutSerializer, responses={200: None}, errors=(400, 401, 403))
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.logout(
            account=request.user,
            session_id=request.auth.session_id,
            raw_refresh=serializer.validated_data.get("refresh_token"),
        )
        return ok(None, "Logged out")


class MeApi(RealmApi):
    permission_classes = [IsAuthenticated]

    @api_doc(summary="The authenticated account", responses={200: AccountSerializer}, errors=(401,))
    def get(self, request: Request) -> Response:
        return ok(AccountSerializer(request.user, context=self.context()).data, "Profile retrieved")

    @api_doc(
        summary="Update the profile (partial for PUT and PATCH)",
        request=AccountFieldsSerializer,
        responses={200: AccountSerializer},
        errors=(400, 401, 409, 413, 415),
    )
    def put(self, request: Request) -> Response:
        # PUT is a partial update too (API.md §6): unspecified fields keep their value.
        serializer = AccountFieldsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        account = accounts.update_profile(account=request.user, data=serializer.validated_data)
        return ok(AccountSerializer(account, context=self.context()).data, "Profile updated")

    patch = put

    @api_doc(summary="Delete the account (soft delete)", responses={200: None}, errors=(401,))
    def delete(self, request: Request) -> Response:
        services.soft_delete(request.user)
        return ok(None, "Account deleted")


class MeAvatarApi(RealmApi):
    permission_classes = [IsAuthenticated]

    @api_doc(summary="Remove the avatar", responses={200: AccountSerializer}, errors=(401,))
    def delete(self, request: Request) -> Response:
        account = accounts.remove_avatar(request.user)
        return ok(AccountSerializer(account, context=self.context()).data, "Avatar deleted")


class PasswordApi(RealmApi):
    permission_classes = [IsJWTSession]

    @api_doc(
        summary="Change the password (ends every other session)",
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415),
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data, context={"account": request.user})
        serializer.is_valid(raise_exception=True)
        pair = services.change_password(
            account=request.user, new_password=serializer.validated_data["new_password"], request=request
        )
        return ok(pair, "Password changed")


class TokenListApi(RealmApi):
    permission_classes = [IsJWTSession]

    @api_doc(
        summary="List personal access tokens",
        responses={200: (PersonalAccessTokenSerializer, True)},
        errors=(400, 401, 403),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        page = paginate(
            services.list_pats(request.user),
            request.query_params,
            lambda items: PersonalAccessTokenSerializer(items, many=True).data,
        )
        return ok(page, "Tokens retrieved")

    @api_doc(
        summary="Create a personal access token (the secret is shown once)",
        request=CreatePersonalAccessTokenSerializer,
        responses={201: NewPersonalAccessTokenSerializer},
        errors=(400, 401, 403, 415),
    )
    def post(self, request: Request) -> Response:
        serializer = CreatePersonalAccessTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, secret = services.create_pat(account=request.user, **serializer.validated_data)
        token.token = secret
        return ok(NewPersonalAccessTokenSerializer(token).data, "Token created", 201)


class TokenDetailApi(RealmApi):
    permission_classes = [IsJWTSession]

    @api_doc(summary="Revoke a personal access token", responses={200: None}, errors=(401, 403, 404))
    def delete(self, request: Request, token_id: str) -> Response:
        services.revoke_pat(account=request.user, token_id=int(token_id))
        return ok(None, "Token revoked")
