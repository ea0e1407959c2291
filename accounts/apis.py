"""Account endpoints both realms share: registration, the profile, the avatar, email
verification, forgotten passwords, the account's security events.

Each realm mounts them with `as_view(realm=..., authentication_classes=...)` (accounts.urls).
"""

import hashlib
from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import lockout, passwords, services
from accounts.serializers import (
    AccountSerializer,
    ForgotPasswordSerializer,
    OneTimeTokenSerializer,
    ProfileUpdateSerializer,
    RegisterSerializer,
    ResetPasswordSerializer,
)
from common import product, ratelimit
from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.exceptions import ValidationFailed
from common.models import AuditEvent
from common.pagination import paginate
from common.permissions import (
    LOGIN_SESSION,
    AdminMfaEnrolled,
    NotAPersonalAccessToken,
    RecentSignIn,
    SignedIn,
    TokenCanWrite,
    require_login_session,
    requiring,
)
from common.realms import Realm
from common.schema import PAGE_PARAMETERS, api_doc
from common.serializers import AuditEventSerializer


def limit_avatar_uploads(request: Request, realm: Realm, account_id: int | None) -> None:
    """Decoding an image costs real CPU and memory: uploads are budgeted per IP and per account."""
    if "avatar" not in request.FILES:
        return
    ratelimit.consume(request, "avatar", realm)
    if account_id is not None:
        ratelimit.consume(request, "avatar", realm, key=f"account:{account_id}")


def limit_mail(request: Request, realm: Realm, *, scope: str, address: str) -> None:
    """Mail a client can cause: EMAIL_RATE per IP and per address, each purpose on its own budget."""
    ratelimit.consume(request, "email", realm, scope=scope)
    address_key = hashlib.sha256(address.lower().encode()).hexdigest()
    ratelimit.consume(request, "email", realm, scope=scope, key=f"address:{address_key}")


class RegisterApi(RealmApi):
    account_serializer: type[AccountSerializer] = AccountSerializer  # the admin realm's shows its grants
    name = "Register an account"
    closes_with_registration = False
    form_serializers = {"POST": RegisterSerializer}

    @api_doc(
        summary="Register an account",
        request={"multipart/form-data": RegisterSerializer},
        responses={201: AccountSerializer},
        errors=(400, 401, 403, 409, 413, 415, 429),
        description="Open for users; admin registration needs an admin bearer token (not a personal access "
        "token). Documented as multipart/form-data since it may carry a file (the avatar); JSON and "
        "x-www-form-urlencoded bodies work too, without a file.",
    )
    def post(self, request: Request) -> Response:
        if self.closes_with_registration:
            product.refuse_if_registration_closed()
        ratelimit.consume(request, "register", self.realm)
        limit_avatar_uploads(request, self.realm, None)
        data = self.validated(RegisterSerializer, context={"model": self.realm.model})
        account = services.register(realm=self.realm, data=data, request=request)
        shown = self.account_serializer.represent(account, self.context())
        return ok(shown, f"{self.realm.title} registered successfully", 201)


class AdminRegisterApi(RegisterApi):
    """Admin registration is never open: an admin with a login session (an account made by a
    token would outlive it)."""

    permission_classes = requiring("admins.add_admin", base=LOGIN_SESSION)


class OpenRegisterApi(RegisterApi):
    """Self-registration: refused while the `registration_open` setting is false (§25)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    closes_with_registration = True


class MeApi(RealmApi):
    account_serializer: type[AccountSerializer] = AccountSerializer  # the admin realm's shows its grants
    name = "Your profile"
    form_serializers = {"PUT": ProfileUpdateSerializer, "PATCH": ProfileUpdateSerializer}
    permission_classes = [
        SignedIn, AdminMfaEnrolled.except_for("GET"), NotAPersonalAccessToken.only("DELETE"),
        RecentSignIn.only("DELETE"), TokenCanWrite,
    ]  # fmt: skip

    def form_instance(self) -> Any:
        return self.request.user

    @api_doc(summary="The authenticated account", responses={200: AccountSerializer}, errors=(401,))
    def get(self, request: Request) -> Response:
        return ok(self.account_serializer.represent(request.user, self.context()), "Profile retrieved")

    @api_doc(
        summary="Update the profile (partial for PUT and PATCH)",
        request={"multipart/form-data": ProfileUpdateSerializer},
        responses={200: AccountSerializer},
        errors=(400, 401, 403, 409, 413, 415, 423, 429),
        description="A new `email` needs a login session (not a personal access token) and `current_password`; "
        "it stays `pending_email` until the link mailed to it is followed. Documented as multipart/form-data "
        "since it may carry a file (the avatar); JSON and x-www-form-urlencoded bodies work too, without a file.",
    )
    def put(self, request: Request) -> Response:
        # PUT is a partial update too (docs/api.md §6): unspecified fields keep their value.
        limit_avatar_uploads(request, self.realm, request.user.pk)
        data = self.validated(ProfileUpdateSerializer, partial=True)
        account = request.user
        if data.get("email", account.email) != account.email:
            # A stolen token must not move the account to another mailbox (docs/api.md §11).
            require_login_session(request)
            if not data.get("current_password"):
                raise ValidationFailed(details={"current_password": ["Required to change the email address."]})
            lockout.check_current_password(account, data["current_password"])
        account = services.update_profile(account=account, data=data, request=request, email_pending=True)
        return ok(self.account_serializer.represent(account, self.context()), "Profile updated")

    patch = put

    @api_doc(summary="Delete the account (soft delete)", responses={200: None}, errors=(401, 403))
    def delete(self, request: Request) -> Response:
        services.soft_delete(request.user)
        return ok(None, "Account deleted")


class MeAvatarApi(RealmApi):
    account_serializer: type[AccountSerializer] = AccountSerializer  # the admin realm's shows its grants
    name = "Your avatar"

    @api_doc(summary="Remove the avatar", responses={200: AccountSerializer}, errors=(401, 403))
    def delete(self, request: Request) -> Response:
        account = services.remove_avatar(request.user)
        return ok(self.account_serializer.represent(account, self.context()), "Avatar deleted")


class VerifyEmailApi(PublicApi):
    name = "Verify your email address"
    form_serializers = {"POST": OneTimeTokenSerializer}

    @api_doc(
        summary="Verify the email address with a verification link's token",
        request=OneTimeTokenSerializer,
        responses={200: AccountSerializer},
        errors=(400, 415),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(OneTimeTokenSerializer)
        account = services.verify_email(realm=self.realm, token=data["token"])
        return ok(AccountSerializer.represent(account, self.context()), "Email address verified")


class ResendVerificationApi(RealmApi):
    name = "Resend the verification link"
    permission_classes = [SignedIn, TokenCanWrite]  # an admin without MFA may still verify its address

    @api_doc(
        summary="Mail a new verification link to the account's address",
        request=None,
        responses={200: None},
        errors=(401, 403, 409, 429),
    )
    def post(self, request: Request) -> Response:
        limit_mail(request, self.realm, scope="verify", address=request.user.pending_email or request.user.email)
        services.resend_verification(request.user, request)
        return ok(None, "Verification email sent")


class ForgotPasswordApi(PublicApi):
    name = "Forgotten password"
    form_serializers = {"POST": ForgotPasswordSerializer}

    @api_doc(
        summary="Mail a password reset link (same answer whether or not the address has an account)",
        request=ForgotPasswordSerializer,
        responses={200: None},
        errors=(400, 415, 429),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        email = self.validated(ForgotPasswordSerializer)["email"]
        limit_mail(request, self.realm, scope="forgot", address=email)
        passwords.forgot_password(realm=self.realm, email=email, request=request)
        return ok(None, "If an account has this address, a reset link is on its way")


class ResetPasswordApi(PublicApi):
    name = "Reset your password"
    form_serializers = {"POST": ResetPasswordSerializer}

    @api_doc(
        summary="Set a new password with a reset link's token (ends every session)",
        request=ResetPasswordSerializer,
        responses={200: None},
        errors=(400, 415),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ResetPasswordSerializer)
        passwords.reset_password(realm=self.realm, **data)
        return ok(None, "Password has been reset")


class SecurityEventsApi(RealmApi):
    name = "Your security events"

    @api_doc(
        summary="Security events about this account, newest first",
        responses={200: (AuditEventSerializer, True)},
        errors=(400, 401, 403),
        parameters=PAGE_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        events = AuditEvent.objects.about(self.realm.name, request.user.pk).newest_first()
        page = paginate(events, request.query_params, AuditEventSerializer)
        return ok(page, "Security events retrieved")
