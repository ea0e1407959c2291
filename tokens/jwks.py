"""The JWK Set: the public keys other services verify this service's tokens with (docs/api.md §19)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from tokens import signing_keys

MAX_AGE = 300  # seconds a JOSE client may keep the set (a rotation is published at once)


@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    """GET /.well-known/jwks.json: an RFC 7517 JWK Set, not enveloped, public parameters only."""
    response = JsonResponse(signing_keys.jwks(), content_type="application/jwk-set+json")
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response
