"""Passkey endpoints: this account's passkeys (register, list, rename, remove) and passkey login."""

from rest_framework.request import Request
from rest_framework.response import Response

from common import ratelimit
from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.permissions import LOGIN_SESSION_BEFORE_MFA, RecentSignIn
from common.schema import api_doc
from tokens.passkeys import services as passkeys
from tokens.passkeys.serializers import (
    PasskeyLoginSerializer,
    PasskeyOptionsSerializer,
    PasskeyRegisterSerializer,
    PasskeyRenameSerializer,
    PasskeySerializer,
)
from tokens.serializers import TokenPairSerializer


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
        pair = passkeys.passkey_login(realm=self.realm, credential=data["credential"], request=request)
        return ok(pair, "Login successful", secret=True)
