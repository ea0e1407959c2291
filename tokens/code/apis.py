"""Sign-in-by-code endpoints (docs/api.md §26): ask for a code, sign in with it."""

from rest_framework.request import Request
from rest_framework.response import Response

from accounts.apis import limit_mail
from common import ratelimit
from common.apis import PublicApi
from common.envelope import ok
from common.schema import api_doc
from tokens.apis import LOGIN_RESULT, login_answer
from tokens.code import services as codes
from tokens.code.serializers import CodeRequestSerializer, CodeVerifySerializer


class CodeRequestApi(PublicApi):
    name = "Email me a sign-in code"
    form_serializers = {"POST": CodeRequestSerializer}

    @api_doc(summary="Mail a sign-in code (the same answer whether or not the address has an account)",
             request=CodeRequestSerializer, responses={202: None}, errors=(400, 404, 415, 429), auth=[])  # fmt: skip
    def post(self, request: Request) -> Response:
        codes.require_enabled(self.realm)
        email = self.validated(CodeRequestSerializer)["email"]
        limit_mail(request, self.realm, scope="code", address=email)
        codes.request_code(realm=self.realm, email=email)
        return ok(None, "If an account has this address, a code is on its way", 202)


class CodeVerifyApi(PublicApi):
    name = "Sign in with a code"
    form_serializers = {"POST": CodeVerifySerializer}

    @api_doc(summary="Sign in with the mailed code: a token pair, or the MFA challenge",
             request=CodeVerifySerializer, responses={200: LOGIN_RESULT}, errors=(400, 401, 403, 404, 415, 423, 429),
             auth=[])  # fmt: skip
    def post(self, request: Request) -> Response:
        codes.require_enabled(self.realm)
        ratelimit.consume(request, "login", self.realm)
        data = self.validated(CodeVerifySerializer)
        return login_answer(
            codes.verify_code(realm=self.realm, email=data["email"], code=data["code"], request=request)
        )
