"""django-oauth-toolkit's request validator, held to §28: client secrets checked as digests, the
grant types a client was registered for, codes redeemed once (a replay ends what the code
issued), refresh tokens only with offline_access, ID tokens signed with the §19 signing keys,
and nothing for a person who is blocked or deleted."""

import hmac
import json
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc8628.grant_types import DeviceCodeGrant

from tokens import signing_keys
from tokens.provider import services
from tokens.provider.models import ClientPolicy, ProviderDeviceGrant, ProviderGrant, ProviderIDToken

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def _usable(user: Any) -> bool:
    return user is not None and user.is_active and user.deleted_at is None


def _client_grant_types(client: Any) -> list[str]:
    policy = ClientPolicy.objects.filter(application=client).values_list("grant_types", flat=True).first()
    return policy or []


class Validator(OAuth2Validator):
    oidc_claim_scope = {
        "sub": "openid", "name": "profile", "preferred_username": "profile", "picture": "profile",
        "updated_at": "profile", "email": "email", "email_verified": "email", "phone_number": "phone",
    }  # fmt: skip

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        return bool(provided_secret) and hmac.compare_digest(services.secret_digest(provided_secret), stored_secret)

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        return grant_type in _client_grant_types(request.client)

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs) -> bool:
        return response_type == "code" and "authorization_code" in _client_grant_types(client)

    # --- Authorization codes: once, by a person still allowed in --------------------------------

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = ProviderGrant.objects.select_related("user").filter(code=code, application=client).first()
        if grant is None:
            return False
        claimed = ProviderGrant.objects.filter(pk=grant.pk, redeemed_at__isnull=True).update(redeemed_at=timezone.now())
        if not claimed:  # a replay: what the code issued ends (RFC 6749 §4.1.2)
            services.end_tokens(grant.user_id, client.pk, since=grant.created)
            return False
        if grant.is_expired() or not _usable(grant.user):
            return False
        request.scopes = grant.scope.split()
        request.user = grant.user
        request.auth_time, request.amr = grant.auth_time, grant.amr
        if grant.nonce:
            request.nonce = grant.nonce
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """The code was claimed in validate_code, in one conditional update (two exchanges at once: one wins)."""

    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        grant.auth_time, grant.amr = request.auth_time, request.amr
        grant.save(update_fields=["auth_time", "amr"])
        return grant

    # --- Device codes ------------------------------------------------------------------------------

    def validate_device_code(self, client_id, code, request, *args, **kwargs) -> str | None:
        device = ProviderDeviceGrant.objects.select_related("user").filter(device_code=code).first()
        if device is None or device.client_id != client_id:
            return None
        now = timezone.now()
        if device.expires <= now or device.status == device.EXPIRED:
            return DeviceCodeGrant.DEVICE_CODE_EXPIRED
        if device.status == device.DENIED:
            return DeviceCodeGrant.DEVICE_CODE_DENIED
        if device.status == device.AUTHORIZATION_PENDING:
            too_soon = device.polled_at and now - device.polled_at < timedelta(seconds=device.interval)
            ProviderDeviceGrant.objects.filter(pk=device.pk).update(polled_at=now)
            return DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN if too_soon else DeviceCodeGrant.DEVICE_CODE_PENDING
        if not _usable(device.user) or not ProviderDeviceGrant.objects.filter(pk=device.pk).delete()[0]:
            return None  # approved once, exchanged once
        request.user, request.scopes = device.user, device.scope.split()
        request.auth_time, request.amr = device.auth_time, device.amr
        return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED

    # --- Tokens ------------------------------------------------------------------------------------

    def save_bearer_token(self, token, request, *args, **kwargs):
        if "offline_access" not in (request.scopes or []):
            token.pop("refresh_token", None)  # refresh tokens only with offline_access (§28)
        super().save_bearer_token(token, request, *args, **kwargs)
        services.touch(request.user.pk, request.client.pk)

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        refresh.auth_time, refresh.amr = getattr(request, "auth_time", None), getattr(request, "amr", [])
        refresh.save(update_fields=["auth_time", "amr"])
        return refresh

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        proof = request.refresh_token_instance
        request.auth_time, request.amr = proof.auth_time, proof.amr
        return _usable(request.user)

    def validate_bearer_token(self, token, scopes, request) -> bool:
        return super().validate_bearer_token(token, scopes, request) and _usable(request.user)

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs) -> dict[str, Any] | None:
        access = self._load_access_token(token)
        if access is None or access.is_expired() or not _usable(access.user) or access.application != request.client:
            return None
        return {
            "scope": access.scope, "client_id": access.application.client_id, "token_type": "Bearer",
            "sub": str(access.user_id), "exp": int(access.expires.timestamp()), "iss": self._issuer(request),
            "username": access.user.username,
        }  # fmt: skip

    # --- ID tokens: the §19 keys ------------------------------------------------------------------

    def _issuer(self, request) -> str:
        return settings.OIDC_ISSUER

    def get_oidc_issuer_endpoint(self, request) -> str:
        return settings.OIDC_ISSUER

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs) -> bool:
        return redirect_uri in request.client.redirect_uris.split()  # exact: no extra query, no prefix

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs) -> bool:
        grant = ProviderGrant.objects.filter(code=code, application=client).values_list("redirect_uri", flat=True)
        return redirect_uri is not None and list(grant) == [redirect_uri]

    def get_additional_claims(self, request) -> dict[str, Any]:
        user = request.user
        return {
            "name": user.name,
            "preferred_username": user.username,
            "picture": services.avatar_url(user),
            "updated_at": int(user.updated_at.timestamp()),
            "email": user.email,
            "email_verified": user.email_verified,
            "phone_number": user.phone,
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expires = super().get_id_token_dictionary(token, token_handler, request)
        auth_time = getattr(request, "auth_time", None)
        if auth_time is not None:
            claims["auth_time"] = int(auth_time.timestamp())
        claims["amr"] = list(getattr(request, "amr", None) or [])
        claims["azp"] = request.client.client_id
        return claims, expires

    def finalize_id_token(self, id_token, token, token_handler, request) -> str:
        claims, expires = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        key = signing_keys.store.signing()
        payload = json.loads(json.dumps(id_token, default=str))
        signed = jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"})
        request.id_token = request.access_token = self._save_id_token(id_token["jti"], request, expires)
        return signed

    def _load_id_token(self, token: str) -> ProviderIDToken | None:
        claims = services.verified_id_token(token)
        return ProviderIDToken.objects.filter(jti=claims["jti"]).first() if claims else None
