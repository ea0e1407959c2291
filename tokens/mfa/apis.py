"""MFA endpoints: the login's second step, this account's TOTP and recovery codes."""

from rest_framework.request import Request
from rest_framework.response import Response

from accounts import lockout
from common import ratelimit
from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.exceptions import Conflict
from common.permissions import LOGIN_SESSION_BEFORE_MFA, RecentSignIn
from common.schema import api_doc
from tokens import login
from tokens.mfa import services as mfa
from tokens.mfa.serializers import (
    CurrentPasswordSerializer,
    MfaCodeSerializer,
    MfaStatusSerializer,
    MfaVerifySerializer,
    RecoveryCodesSerializer,
    TotpEnrolmentSerializer,
)
from tokens.serializers import TokenPairSerializer


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
