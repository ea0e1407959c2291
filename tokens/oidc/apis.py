"""Identity-provider endpoints (docs/api.md §20): the sign-in flows and this account's linked identities."""

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from common import ratelimit
from common.apis import PublicApi, RealmApi
from common.envelope import ok
from common.exceptions import NotFound
from common.permissions import LOGIN_SESSION, RecentSignIn
from common.schema import api_doc, error_envelope
from tokens.apis import LOGIN_RESULT, login_answer
from tokens.oidc import flow, identities, providers
from tokens.oidc.serializers import (
    AuthorizeUrlSerializer,
    IdentitySerializer,
    OidcCallbackSerializer,
    OidcExchangeSerializer,
    OidcProviderSerializer,
    OidcTokenSerializer,
    RedirectUriSerializer,
)

REDIRECT = {302: OpenApiResponse(description="A redirect (Location); no body.")}


def redirect(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


class OidcProvidersApi(PublicApi):
    name = "Identity providers"

    @api_doc(summary="The identity providers this realm offers", responses={200: [OidcProviderSerializer]}, auth=[])
    def get(self, request: Request) -> Response:
        return ok(providers.public_list(self.realm), "Identity providers retrieved")


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
        return redirect(flow.authorize(request, self.realm, provider, params.validated_data["redirect_uri"]))


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
        return redirect(flow.callback(request, self.realm, provider, params.validated_data))


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
        result = flow.exchange(request, self.realm, self.validated(OidcExchangeSerializer)["code"])
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
        providers.get(self.realm, provider)  # 404 before spending the budget
        ratelimit.consume(request, "login", self.realm)
        data = self.validated(OidcTokenSerializer)
        result = flow.native_sign_in(request, self.realm, provider, data["id_token"], data["nonce"] or None)
        return login_answer(result)


class IdentityListApi(RealmApi):
    name = "Your identities"
    permission_classes = LOGIN_SESSION

    @api_doc(summary="This account's linked identities, newest first", responses={200: [IdentitySerializer]},
             errors=(401, 403))  # fmt: skip
    def get(self, request: Request) -> Response:
        return ok(
            [IdentitySerializer.represent(i) for i in identities.of_account(request.user)], "Identities retrieved"
        )


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
        url = flow.authorize(request, self.realm, provider, data["redirect_uri"], link=request.user)
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
        identity = flow.redeem_link(request.user, self.validated(OidcExchangeSerializer)["code"])
        return ok(IdentitySerializer.represent(identity), "Identity linked", status=201)


class IdentityDetailApi(RealmApi):
    name = "Identity"
    permission_classes = [*LOGIN_SESSION, RecentSignIn.only("DELETE")]

    @api_doc(summary="Unlink an identity (409 if it is the last way to sign in)", responses={200: None},
             errors=(401, 403, 404, 409))  # fmt: skip
    def delete(self, request: Request, identity_id: str) -> Response:
        identities.unlink(request.user, int(identity_id))
        return ok(None, "Identity unlinked")

    @extend_schema(exclude=True)
    def post(self, request: Request, identity_id: str) -> Response:
        """A provider's slug begins with a letter: a number names no provider (see IdentityLinkApi.delete)."""
        raise NotFound("Unknown identity provider")
