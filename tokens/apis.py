"""Credential endpoints both realms share: login, MFA, refresh, logout, password change,
personal access tokens, sessions.

Each realm mounts them with `as_view(realm=..., authentication_classes=...)` (tokens.urls).
"""

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import lockout
from common import ratelimit
from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.exceptions import Conflict, NotFound
from common.pagination import paginate
from common.permissions import LOGIN_SESSION, LOGIN_SESSION_BEFORE_MFA, RecentSignIn
from common.schema import PAGE_PARAMETERS, api_doc, error_envelope
from tokens import introspection, login, mfa, oidc, passkeys, pats, sessions
from tokens.serializers import (
    AuthorizeUrlSerializer,
    CreatePersonalAccessTokenSerializer,
    CurrentPasswordSerializer,
    IdentitySerializer,
    IntrospectionAnswerSerializer,
    IntrospectionRequestSerializer,
    LoginSerializer,
    LogoutAllSerializer,
    LogoutSerializer,
    MfaChallengeSerializer,
    MfaCodeSerializer,
    MfaStatusSerializer,
    MfaVerifySerializer,
    NewPersonalAccessTokenSerializer,
    OidcCallbackSerializer,
    OidcExchangeSerializer,
    OidcProviderSerializer,
    OidcTokenSerializer,
    PasskeyLoginSerializer,
    PasskeyOptionsSerializer,
    PasskeyRegisterSerializer,
    PasskeyRenameSerializer,
    PasskeySerializer,
    PasswordChangeSerializer,
    PersonalAccessTokenSerializer,
    ReauthenticateSerializer,
    RecoveryCodesSerializer,
    RedirectUriSerializer,
    RefreshSerializer,
    SessionSerializer,
    TokenPairSerializer,
    TotpEnrolmentSerializer,
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
        result = login.login(
            realm=self.realm,
            identifier=data["username"],
            password=data["password"],
            request=request,
        )
        return login_answer(result)


class MfaVerifyApi(PublicApi):
    name = "Log in: authentication code"
    form_serializers = {"POST": MfaVerifySerializer}

    @api_doc(
        summary="Finish a login with MFA: a TOTP code or a recovery code for the mfa_token",
        request=MfaVerifySerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 415, 423, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        ratelimit.consume(request, "login", self.realm)
        data = self.validated(MfaVerifySerializer)
        pair = login.verify_mfa(realm=self.realm, request=request, **data)
        return ok(pair, "Login successful", secret=True)


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


class MfaStatusApi(RealmApi):
    name = "Multi-factor authentication"
    permission_classes = LOGIN_SESSION_BEFORE_MFA

    @api_doc(summary="Multi-factor authentication status", responses={200: MfaStatusSerializer}, errors=(401, 403))
    def get(self, request: Request) -> Response:
        return ok(mfa.status(request.user), "MFA status")


class MfaTotpApi(RealmApi):
    name = "Authenticator app"
    permission_classes = [*LOGIN_SESSION_BEFORE_MFA, RecentSignIn]

    @api_doc(
        summary="Start TOTP enrolment: a secret, its otpauth URL and QR code (409 if MFA is on)",
        request=None,
        responses={200: TotpEnrolmentSerializer},
        errors=(401, 403, 409),
    )
    def post(self, request: Request) -> Response:
        return ok(mfa.start_totp(request.user), "Scan the code, then confirm with a code from the app", secret=True)

    @api_doc(
        summary="Turn MFA off (needs the current password); recovery codes are gone",
        request=CurrentPasswordSerializer,
        responses={200: None},
        errors=(400, 401, 403, 409, 423),
    )
    def delete(self, request: Request) -> Response:
        data = self.validated(CurrentPasswordSerializer)
        lockout.check_current_password(request.user, data["current_password"])
        if not request.user.mfa_enabled:
            raise Conflict("Multi-factor authentication is not enabled")
        mfa.disable(request.user)
        return ok(None, "Multi-factor authentication disabled")


class MfaConfirmApi(RealmApi):
    name = "Confirm the authenticator app"
    form_serializers = {"POST": MfaCodeSerializer}
    permission_classes = [*LOGIN_SESSION_BEFORE_MFA, RecentSignIn]

    @api_doc(
        summary="Confirm TOTP enrolment with a code: MFA is on; 10 recovery codes, shown once",
        request=MfaCodeSerializer,
        responses={200: RecoveryCodesSerializer},
        errors=(400, 401, 403, 409),
    )
    def post(self, request: Request) -> Response:
        data = self.validated(MfaCodeSerializer)
        codes = mfa.confirm_totp(request.user, data["code"])
        return ok({"recovery_codes": codes}, "Multi-factor authentication enabled", secret=True)


class RecoveryCodesApi(RealmApi):
    name = "Recovery codes"
    form_serializers = {"POST": CurrentPasswordSerializer}
    permission_classes = [*LOGIN_SESSION_BEFORE_MFA, RecentSignIn]

    @api_doc(
        summary="New recovery codes (needs the current password); the old ones stop working",
        request=CurrentPasswordSerializer,
        responses={200: RecoveryCodesSerializer},
        errors=(400, 401, 403, 409, 423),
    )
    def post(self, request: Request) -> Response:
        data = self.validated(CurrentPasswordSerializer)
        lockout.check_current_password(request.user, data["current_password"])
        codes = mfa.regenerate_recovery_codes(request.user)
        return ok({"recovery_codes": codes}, "Recovery codes regenerated", secret=True)


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


class PasskeyOptionsApi(RealmApi):
    name = "Passkey registration options"
    permission_classes = [*LOGIN_SESSION_BEFORE_MFA, RecentSignIn]  # an admin without MFA may enrol one

    @api_doc(
        summary="Options for navigator.credentials.create: a new passkey for this account",
        request=None,
        responses={200: PasskeyOptionsSerializer},
        errors=(401, 403),
    )
    def post(self, request: Request) -> Response:
        return ok(passkeys.registration_options(request.user, request), "Create the passkey, then send it back")


class PasskeyListApi(RealmApi):
    name = "Your passkeys"
    passkey_page = True  # the browsable API offers "Add a passkey" here (tokens/static/tokens/passkeys.js)
    form_serializers = {"POST": PasskeyRegisterSerializer}
    permission_classes = [*LOGIN_SESSION_BEFORE_MFA, RecentSignIn.only("POST")]

    @api_doc(summary="This account's passkeys, newest first", responses={200: [PasskeySerializer]}, errors=(401, 403))
    def get(self, request: Request) -> Response:
        items = [PasskeySerializer.represent(p) for p in passkeys.of_account(request.user)]
        return ok(items, "Passkeys retrieved")

    @api_doc(
        summary="Register a passkey from navigator.credentials.create's response",
        request=PasskeyRegisterSerializer,
        responses={201: PasskeySerializer},
        errors=(400, 401, 403, 409, 415),
    )
    def post(self, request: Request) -> Response:
        data = self.validated(PasskeyRegisterSerializer)
        passkey = passkeys.register(account=request.user, name=data["name"], credential=data["credential"],
                                    request=request)  # fmt: skip
        return ok(PasskeySerializer.represent(passkey), "Passkey added", 201)


class PasskeyDetailApi(RealmApi):
    name = "Passkey"
    form_serializers = {"PATCH": PasskeyRenameSerializer}
    permission_classes = [*LOGIN_SESSION_BEFORE_MFA, RecentSignIn.only("DELETE")]

    @api_doc(summary="A passkey", responses={200: PasskeySerializer}, errors=(401, 403, 404))
    def get(self, request: Request, passkey_id: str) -> Response:
        return ok(PasskeySerializer.represent(passkeys.get(request.user, int(passkey_id))), "Passkey retrieved")

    @api_doc(summary="Rename a passkey", request=PasskeyRenameSerializer, responses={200: PasskeySerializer},
             errors=(400, 401, 403, 404))  # fmt: skip
    def patch(self, request: Request, passkey_id: str) -> Response:
        data = self.validated(PasskeyRenameSerializer)
        passkey = passkeys.rename(request.user, int(passkey_id), data["name"])
        return ok(PasskeySerializer.represent(passkey), "Passkey renamed")

    @api_doc(summary="Remove a passkey (409 if it is the last way to sign in)", responses={200: None},
             errors=(401, 403, 404, 409))  # fmt: skip
    def delete(self, request: Request, passkey_id: str) -> Response:
        passkeys.remove(request.user, int(passkey_id))
        return ok(None, "Passkey removed")


class PasskeyLoginOptionsApi(PublicApi):
    name = "Passkey sign-in options"

    @api_doc(
        summary="Options for navigator.credentials.get: sign in with any passkey of this realm",
        request=None,
        responses={200: PasskeyOptionsSerializer},
        errors=(),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return ok(passkeys.authentication_options(self.realm, request), "Use a passkey, then send its answer")


class PasskeyLoginApi(PublicApi):
    name = "Sign in with a passkey"
    form_serializers = {"POST": PasskeyLoginSerializer}

    @api_doc(
        summary="Sign in with navigator.credentials.get's response: a token pair (no second factor needed)",
        request=PasskeyLoginSerializer,
        responses={200: TokenPairSerializer},
        errors=(400, 401, 403, 415, 423, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        ratelimit.consume(request, "login", self.realm)  # passkey attempts share the login budget
        data = self.validated(PasskeyLoginSerializer)
        pair = passkeys.login(realm=self.realm, credential=data["credential"], request=request)
        return ok(pair, "Login successful", secret=True)


# --- Identity providers (docs/api.md §20) -----------------------------------------------------------

REDIRECT = {302: OpenApiResponse(description="A redirect (Location); no body.")}


def redirect(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


class OidcProvidersApi(PublicApi):
    name = "Identity providers"

    @api_doc(summary="The identity providers this realm offers", responses={200: [OidcProviderSerializer]}, auth=[])
    def get(self, request: Request) -> Response:
        return ok(oidc.public_list(self.realm), "Identity providers retrieved")


class OidcAuthorizeApi(PublicApi):
    name = "Sign in with an identity provider"

    @extend_schema(
        summary="Start signing in at the provider: 302 to its authorization endpoint (state, nonce, PKCE S256)",
        parameters=[OpenApiParameter("redirect_uri", str, required=True,
                                     description="Where the callback sends the browser back (OIDC_REDIRECT_ORIGINS)")],
        responses={**REDIRECT, **{s: OpenApiResponse(error_envelope()) for s in (400, 404, 503)}},
        auth=[], tags=["auth"],
    )  # fmt: skip
    def get(self, request: Request, provider: str) -> HttpResponseRedirect:
        params = RedirectUriSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return redirect(oidc.authorize(request, self.realm, provider, params.validated_data["redirect_uri"]))


class OidcCallbackApi(PublicApi):
    name = "Identity provider callback"

    @extend_schema(
        summary="The provider sends the browser here: 302 to redirect_uri with a one-time `code`, or `error`",
        description="`?code=` is traded at .../auth/oidc/exchange (a linking flow's at .../me/identities/link); "
        "a refusal with `?error=<ERROR_CODE>`. A missing, used, expired or foreign `state` is 400.",
        parameters=[OpenApiParameter("state", str), OpenApiParameter("code", str), OpenApiParameter("error", str)],
        responses={**REDIRECT, **{s: OpenApiResponse(error_envelope()) for s in (400, 404)}},
        auth=[], tags=["auth"],
    )  # fmt: skip
    def get(self, request: Request, provider: str) -> HttpResponseRedirect:
        return self.answer(request, provider, request.query_params)

    @extend_schema(
        summary="The provider posts the browser here (response_mode form_post, as Apple does): as the GET",
        request={"application/x-www-form-urlencoded": OidcCallbackSerializer},
        responses={**REDIRECT, **{s: OpenApiResponse(error_envelope()) for s in (400, 404, 415)}},
        auth=[], tags=["auth"],
    )  # fmt: skip
    def post(self, request: Request, provider: str) -> HttpResponseRedirect:
        return self.answer(request, provider, request.data)

    def answer(self, request: Request, provider: str, data) -> HttpResponseRedirect:
        params = OidcCallbackSerializer(data=data)
        params.is_valid(raise_exception=True)
        return redirect(oidc.callback(request, self.realm, provider, params.validated_data))


class OidcExchangeApi(PublicApi):
    name = "Sign in with an identity provider: exchange the code"
    form_serializers = {"POST": OidcExchangeSerializer}

    @api_doc(
        summary="Trade the callback's one-time code for a token pair (or an MFA challenge)",
        request=OidcExchangeSerializer,
        responses={200: LOGIN_RESULT},
        errors=(400, 403, 415, 423),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        result = oidc.exchange(request, self.realm, self.validated(OidcExchangeSerializer)["code"])
        return login_answer(result)


class OidcTokenApi(PublicApi):
    name = "Sign in with an ID token"
    form_serializers = {"POST": OidcTokenSerializer}

    @api_doc(
        summary="Sign in with an ID token from a native SDK: a token pair (or an MFA challenge)",
        request=OidcTokenSerializer,
        responses={200: LOGIN_RESULT},
        errors=(400, 401, 403, 404, 409, 415, 423, 429, 503),
        auth=[],
    )
    def post(self, request: Request, provider: str) -> Response:
        oidc.provider(self.realm, provider)  # 404 before spending the budget
        ratelimit.consume(request, "login", self.realm)
        data = self.validated(OidcTokenSerializer)
        result = oidc.native_sign_in(request, self.realm, provider, data["id_token"], data["nonce"] or None)
        return login_answer(result)


class IdentityListApi(RealmApi):
    name = "Your identities"
    permission_classes = LOGIN_SESSION

    @api_doc(summary="This account's linked identities, newest first", responses={200: [IdentitySerializer]},
             errors=(401, 403))  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok([IdentitySerializer.represent(i) for i in oidc.of_account(request.user)], "Identities retrieved")


class IdentityLinkApi(RealmApi):
    name = "Link an identity provider"
    form_serializers = {"POST": RedirectUriSerializer}
    permission_classes = [*LOGIN_SESSION, RecentSignIn]

    @api_doc(
        summary="Link a provider: the URL to send the browser to (its callback links instead of signing in)",
        request=RedirectUriSerializer,
        responses={200: AuthorizeUrlSerializer},
        errors=(400, 401, 403, 404, 415, 503),
    )
    def post(self, request: Request, provider: str) -> Response:
        data = self.validated(RedirectUriSerializer)
        url = oidc.authorize(request, self.realm, provider, data["redirect_uri"], link=request.user)
        return ok({"authorize_url": url}, "Continue at the identity provider")

    @extend_schema(exclude=True)
    def delete(self, request: Request, provider: str) -> Response:
        """`identities/{id}` and `identities/{provider}` share a path: an id that is not a number names no identity."""
        raise NotFound("Identity not found")


class IdentityRedeemApi(RealmApi):
    name = "Link an identity provider: redeem the code"
    form_serializers = {"POST": OidcExchangeSerializer}
    permission_classes = [*LOGIN_SESSION, RecentSignIn]

    @api_doc(
        summary="Redeem a linking flow's one-time code (only the account that began the flow can)",
        request=OidcExchangeSerializer,
        responses={201: IdentitySerializer},
        errors=(400, 401, 403, 409, 415),
    )
    def post(self, request: Request) -> Response:
        identity = oidc.redeem_link(request.user, self.validated(OidcExchangeSerializer)["code"])
        return ok(IdentitySerializer.represent(identity), "Identity linked", status=201)


class IdentityDetailApi(RealmApi):
    name = "Identity"
    permission_classes = [*LOGIN_SESSION, RecentSignIn.only("DELETE")]

    @api_doc(summary="Unlink an identity (409 if it is the last way to sign in)", responses={200: None},
             errors=(401, 403, 404, 409))  # fmt: skip
    def delete(self, request: Request, identity_id: str) -> Response:
        oidc.unlink(request.user, int(identity_id))
        return ok(None, "Identity unlinked")

    @extend_schema(exclude=True)
    def post(self, request: Request, identity_id: str) -> Response:
        """A provider's slug begins with a letter: a number names no provider (see IdentityLinkApi.delete)."""
        raise NotFound("Unknown identity provider")
