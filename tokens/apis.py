"""Credential endpoints both realms share: login, refresh, logout, password, tokens, sessions.

Each realm mounts them with `as_view(realm=..., authentication_classes=...)` (tokens.urls).
"""

from rest_framework.request import Request
from rest_framework.response import Response

from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.pagination import paginate
from common.schema import PAGE_PARAMETERS, api_doc
from tokens import services
from tokens.serializers import (
    CreatePersonalAccessTokenSerializer,
    ForgotPasswordSerializer,
    LoginSerializer,
    LogoutAllSerializer,
    LogoutSerializer,
    NewPersonalAccessTokenSerializer,
    PasswordChangeSerializer,
    PersonalAccessTokenSerializer,
    RefreshSerializer,
    ResetPasswordSerializer,
    SessionSerializer,
    TokenPairSerializer,
)


class LoginApi(PublicApi):
    @api_doc(
        summary="Log in (OAuth2 password form or JSON)",
        request=LoginSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415, 423, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        services.spend_login_attempt(request, self.realm)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.login(
            realm=self.realm,
            identifier=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            request=request,
        )
        return ok(pair, "Login successful", secret=True)


class RefreshApi(PublicApi):
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
        return ok(pair, "Token refreshed", secret=True)


class ForgotPasswordApi(PublicApi):
    @api_doc(
        summary="Mail a password reset link (same answer whether or not the address has an account)",
        request=ForgotPasswordSerializer,
        responses={200: None},
        errors=(400, 415, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = ForgotPasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"]
        services.spend_email_budget(request, self.realm, purpose="forgot", address=email)
        services.forgot_password(realm=self.realm, email=email, request=request)
        return ok(None, "If an account has this address, a reset link is on its way")


class ResetPasswordApi(PublicApi):
    @api_doc(
        summary="Set a new password with a reset link's token (ends every session)",
        request=ResetPasswordSerializer,
        responses={200: None},
        errors=(400, 415),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = ResetPasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.reset_password(realm=self.realm, **serializer.validated_data)
        return ok(None, "Password has been reset")


class LogoutApi(RealmApi):
    session_only = True

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


class LogoutAllApi(RealmApi):
    session_only = True

    @api_doc(
        summary="Log out every session (but this one with keep_current); personal access tokens stay",
        request=LogoutAllSerializer,
        responses={200: None},
        errors=(400, 401, 403),
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutAllSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        keep = request.auth.session_id if serializer.validated_data["keep_current"] else None
        services.logout_everywhere(account=request.user, keep_session_id=keep)
        return ok(None, "Logged out everywhere")


class PasswordApi(RealmApi):
    session_only = True

    @api_doc(
        summary="Change the password (ends every other session)",
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415, 423),
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data, context={"account": request.user})
        serializer.is_valid(raise_exception=True)
        services.check_current_password(request.user, serializer.validated_data["current_password"])
        pair = services.change_password(
            account=request.user, new_password=serializer.validated_data["new_password"], request=request
        )
        return ok(pair, "Password changed", secret=True)


class TokenListApi(RealmApi):
    session_only = True

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
        return ok(NewPersonalAccessTokenSerializer(token).data, "Token created", 201, secret=True)


class TokenDetailApi(RealmApi):
    session_only = True

    @api_doc(summary="Revoke a personal access token", responses={200: None}, errors=(401, 403, 404))
    def delete(self, request: Request, token_id: str) -> Response:
        services.revoke_pat(account=request.user, token_id=int(token_id))
        return ok(None, "Token revoked")


class SessionListApi(RealmApi):
    session_only = True

    @api_doc(
        summary="Live sessions of this account, newest first",
        responses={200: (SessionSerializer, True)},
        errors=(400, 401, 403),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        context = {"current_session_id": request.auth.session_id}
        page = paginate(
            services.live_sessions(request.user),
            request.query_params,
            lambda items: SessionSerializer(items, many=True, context=context).data,
        )
        return ok(page, "Sessions retrieved")


class SessionDetailApi(RealmApi):
    session_only = True

    @api_doc(summary="End one session (its access and refresh tokens)", responses={200: None}, errors=(401, 403, 404))
    def delete(self, request: Request, session_id: str) -> Response:
        services.revoke_session(account=request.user, session_id=int(session_id))
        return ok(None, "Session revoked")
