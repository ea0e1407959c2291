"""Credential endpoints both realms share: login, refresh, logout, reauthentication, password
change, personal access tokens, sessions, introspection. Each way of signing in beyond the
password has its own package (mfa, passkeys, oidc) with its endpoints.

Each realm mounts them with `as_view(realm=..., authentication_classes=...)` (tokens.urls).
"""

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import lockout
from common import ratelimit
from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.pagination import paginate
from common.permissions import LOGIN_SESSION, LOGIN_SESSION_BEFORE_MFA, RecentSignIn
from common.schema import PAGE_PARAMETERS, api_doc, error_envelope
from tokens import export, introspection, login, pats, sessions
from tokens.serializers import (
    CreatePersonalAccessTokenSerializer,
    IntrospectionAnswerSerializer,
    IntrospectionRequestSerializer,
    LoginSerializer,
    LogoutAllSerializer,
    LogoutSerializer,
    MfaChallengeSerializer,
    NewPersonalAccessTokenSerializer,
    PasswordChangeSerializer,
    PersonalAccessTokenSerializer,
    ReauthenticateSerializer,
    RefreshSerializer,
    SessionSerializer,
    TokenPairSerializer,
)

LOGIN_RESULT = PolymorphicProxySerializer(
    component_name="LoginResult",
    serializers=[TokenPairSerializer, MfaChallengeSerializer],
    resource_type_field_name=None,
)


def login_answer(result: dict) -> Response:
    """A login's answer: the token pair, or the MFA challenge to finish at .../auth/mfa/verify."""
    message = "Multi-factor authentication required" if "mfa_token" in result else "Login successful"
    return ok(result, message, secret=True)


class LoginApi(PublicApi):
    name = "Log in"
    form_serializers = {"POST": LoginSerializer}

    @api_doc(
        summary="Log in (OAuth2 password form or JSON)",
        description="A token pair; or, for an account with MFA on, an MFA challenge to finish at .../auth/mfa/verify.",
        request=LoginSerializer,
        responses={200: LOGIN_RESULT},
        errors=(400, 401, 403, 415, 423, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        ratelimit.consume(request, "login", self.realm)
        data = self.validated(LoginSerializer)
        result = login.password_login(
            realm=self.realm,
            identifier=data["username"],
            password=data["password"],
            request=request,
        )
        return login_answer(result)


class ReauthenticateApi(RealmApi):
    name = "Reauthenticate"
    form_serializers = {"POST": ReauthenticateSerializer}
    permission_classes = LOGIN_SESSION_BEFORE_MFA

    @api_doc(
        summary="Prove this session again (password, or a TOTP or recovery code): a token pair, auth_time now",
        request=ReauthenticateSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415, 423, 429),
    )
    def post(self, request: Request) -> Response:
        ratelimit.consume(request, "login", self.realm)
        data = self.validated(ReauthenticateSerializer)
        pair = login.reauthenticate(account=request.user, session_id=request.auth.session_id, **data)
        return ok(pair, "Reauthenticated", secret=True)


class RefreshApi(PublicApi):
    name = "Refresh the session"
    form_serializers = {"POST": RefreshSerializer}

    @api_doc(
        summary="Rotate a refresh token for a new pair",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 415),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(RefreshSerializer)
        pair = sessions.refresh(realm=self.realm, raw_refresh=data["refresh_token"])
        return ok(pair, "Token refreshed", secret=True)


class LogoutApi(RealmApi):
    name = "Log out"
    permission_classes = LOGIN_SESSION_BEFORE_MFA

    @api_doc(summary="Log out this session", request=LogoutSerializer, responses={200: None}, errors=(400, 401, 403))
    def post(self, request: Request) -> Response:
        data = self.validated(LogoutSerializer)
        sessions.logout(
            account=request.user,
            session_id=request.auth.session_id,
            raw_refresh=data.get("refresh_token"),
        )
        return ok(None, "Logged out")


class LogoutAllApi(RealmApi):
    name = "Log out everywhere"
    form_serializers = {"POST": LogoutAllSerializer}
    permission_classes = LOGIN_SESSION_BEFORE_MFA

    @api_doc(
        summary="Log out every session (but this one with keep_current); personal access tokens stay",
        request=LogoutAllSerializer,
        responses={200: None},
        errors=(400, 401, 403),
    )
    def post(self, request: Request) -> Response:
        data = self.validated(LogoutAllSerializer)
        keep = request.auth.session_id if data["keep_current"] else None
        sessions.logout_everywhere(account=request.user, keep_session_id=keep)
        return ok(None, "Logged out everywhere")


class PasswordApi(RealmApi):
    name = "Change your password"
    form_serializers = {"POST": PasswordChangeSerializer}
    permission_classes = LOGIN_SESSION

    @api_doc(
        summary="Change the password (ends every other session)",
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415, 423),
    )
    def post(self, request: Request) -> Response:
        data = self.validated(PasswordChangeSerializer, context={"account": request.user})
        lockout.check_current_password(request.user, data["current_password"])
        pair = sessions.change_password(account=request.user, new_password=data["new_password"], request=request)
        return ok(pair, "Password changed", secret=True)


class TokenListApi(RealmApi):
    name = "Your personal access tokens"
    form_serializers = {"POST": CreatePersonalAccessTokenSerializer}
    permission_classes = [*LOGIN_SESSION, RecentSignIn.only("POST")]

    @api_doc(
        summary="List personal access tokens",
        responses={200: (PersonalAccessTokenSerializer, True)},
        errors=(400, 401, 403),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        page = paginate(pats.list_pats(request.user), request.query_params, PersonalAccessTokenSerializer)
        return ok(page, "Tokens retrieved")

    @api_doc(
        summary="Create a personal access token (the secret is shown once)",
        request=CreatePersonalAccessTokenSerializer,
        responses={201: NewPersonalAccessTokenSerializer},
        errors=(400, 401, 403, 415),
    )
    def post(self, request: Request) -> Response:
        data = self.validated(CreatePersonalAccessTokenSerializer)
        token, secret = pats.create_pat(account=request.user, **data)
        token.token = secret
        return ok(NewPersonalAccessTokenSerializer(token).data, "Token created", 201, secret=True)


class TokenDetailApi(RealmApi):
    name = "Personal access token"
    permission_classes = LOGIN_SESSION

    @api_doc(summary="Revoke a personal access token", responses={200: None}, errors=(401, 403, 404))
    def delete(self, request: Request, token_id: str) -> Response:
        pats.revoke_pat(account=request.user, token_id=int(token_id))
        return ok(None, "Token revoked")


class SessionListApi(RealmApi):
    name = "Your sessions"
    permission_classes = LOGIN_SESSION

    @api_doc(
        summary="Live sessions of this account, newest first",
        responses={200: (SessionSerializer, True)},
        errors=(400, 401, 403),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        context = {"current_session_id": request.auth.session_id}
        page = paginate(sessions.live_sessions(request.user), request.query_params, SessionSerializer, context=context)
        return ok(page, "Sessions retrieved")


class SessionDetailApi(RealmApi):
    name = "Session"
    permission_classes = LOGIN_SESSION

    @api_doc(summary="End one session (its access and refresh tokens)", responses={200: None}, errors=(401, 403, 404))
    def delete(self, request: Request, session_id: str) -> Response:
        sessions.revoke_session(account=request.user, session_id=int(session_id))
        return ok(None, "Session revoked")


class IntrospectApi(PublicApi):
    """RFC 7662 token introspection for resource servers, authenticated with one of INTROSPECTION_TOKENS."""

    name = "Token introspection"
    form_serializers = {"POST": IntrospectionRequestSerializer}

    @extend_schema(
        summary="Introspect a token (RFC 7662): active, with its facts, only if this service accepts it now",
        description="Not enveloped. The caller sends `Authorization: Bearer <one of INTROSPECTION_TOKENS>`; "
        '404 when none is configured. Anything not accepted right now is exactly `{"active": false}`.',
        request={"application/json": IntrospectionRequestSerializer},
        responses={
            200: OpenApiResponse(IntrospectionAnswerSerializer, description="Not enveloped (RFC 7662)"),
            401: OpenApiResponse(error_envelope(), description="NOT_AUTHENTICATED"),
            404: OpenApiResponse(error_envelope(), description="NOT_FOUND: introspection is not configured"),
        },
        auth=[{"IntrospectionBearer": []}],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        introspection.check_caller(request.headers.get("Authorization", ""))
        data = self.validated(IntrospectionRequestSerializer)
        return Response(introspection.introspect(data["token"]), headers={"Cache-Control": "no-store"})


class ExportApi(RealmApi):
    name = "Your data"
    permission_classes = [*LOGIN_SESSION, RecentSignIn]

    @api_doc(summary="Everything held about this account (no secrets); needs a recent sign-in",
             responses={200: None}, errors=(401, 403))  # fmt: skip
    def get(self, request: Request) -> Response:
        context = self.context(current_session_id=getattr(request.auth, "session_id", None))
        return ok(export.export(request.user, context=context), "Your data")
