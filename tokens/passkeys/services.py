"""Passkeys (docs/api.md §21): WebAuthn registration while signed in, and passwordless login,
with py_webauthn doing the verification.

Challenges live in the cache (Redis in production, the embedded cache otherwise), keyed by
the challenge itself: random, single use, 5 minutes, and a registration challenge names the
account that asked, so an API client without cookies works and any process can finish what
another began. The WebAuthn user handle is an HMAC of the account, never its database id.

py_webauthn (with pyOpenSSL, cbor2 and asn1: about 6 MB) is imported by the ceremonies that
use it, so a worker that serves no passkey does not carry it (the workers' memory budget,
docs/benchmarks.md).
"""

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils import timezone

from accounts import lockout
from accounts.models import AbstractAccount
from common import audit, mail
from common.crypto import b64url_decode, b64url_encode
from common.exceptions import Conflict, InvalidCredentials, NotFound, ValidationFailed
from common.realms import Realm, realm_of
from tokens import sessions
from tokens.login import check_allowed, record_login
from tokens.models import Passkey, owner_kwargs
from tokens.ways_in import refuse_last_way_in

CHALLENGE_SECONDS = 300
ALGORITHMS = (-7, -8, -257)  # COSE: ECDSA with SHA-256, EdDSA, RSASSA-PKCS1-v1_5 with SHA-256
MAX_CREDENTIAL_JSON = 16_384  # far above any real attestation; a CBOR bomb never reaches the parser
MIN_RSA_BITS, MAX_RSA_BITS = 2048, 4096


# --- The relying party ------------------------------------------------------------------------


def require_enabled() -> None:
    """Passkeys can be turned off (PASSKEYS_ENABLED=false): adding one and signing in with one
    answer 404; passkeys already registered can still be listed and removed."""
    if not settings.PASSKEYS_ENABLED:
        raise NotFound("Passkeys are not enabled")


def rp_id(request: HttpRequest) -> str:
    """WEBAUTHN_RP_ID, else the host of FRONTEND_URL, else the host the request came to."""
    if settings.WEBAUTHN_RP_ID:
        return settings.WEBAUTHN_RP_ID
    if settings.FRONTEND_URL:
        return urlsplit(settings.FRONTEND_URL).hostname or ""
    return split_domain_port(request.get_host())[0]


def origins(request: HttpRequest) -> list[str]:
    """WEBAUTHN_ORIGINS, else the origin of FRONTEND_URL and the service's own (as the browser named it)."""
    if settings.WEBAUTHN_ORIGINS:
        return list(settings.WEBAUTHN_ORIGINS)
    frontend = urlsplit(settings.FRONTEND_URL)
    found = [f"{frontend.scheme}://{frontend.netloc}"] if settings.FRONTEND_URL else []
    return [*found, mail.own_origin(request)]  # the port is the server's, not the Host header's


def user_handle(account: AbstractAccount) -> bytes:
    """An opaque, stable id for the authenticator (never the database id)."""
    material = f"passkey-user:{realm_of(account).name}:{account.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).digest()[:32]


def _algorithms() -> list:
    from webauthn.helpers.cose import COSEAlgorithmIdentifier

    return [COSEAlgorithmIdentifier(a) for a in ALGORITHMS]


# --- Challenges ---------------------------------------------------------------------------------


def _remember(challenge: bytes, **facts: Any) -> None:
    cache.set(f"passkey-challenge:{b64url_encode(challenge)}", facts, CHALLENGE_SECONDS)


def _redeem(credential: dict[str, Any]) -> tuple[bytes, dict[str, Any]] | None:
    """The challenge the response answers, and what it was made for; None if unknown, used or expired."""
    try:
        client_data = json.loads(b64url_decode(credential["response"]["clientDataJSON"]))
        challenge = b64url_decode(client_data["challenge"])
    except (KeyError, TypeError, ValueError):
        return None
    key = f"passkey-challenge:{b64url_encode(challenge)}"
    facts = cache.get(key)
    if facts is None or not cache.delete(key):  # single use: of two concurrent answers one deletes it
        return None
    return challenge, facts


def _credential(raw: Any) -> dict[str, Any]:
    """The credential JSON as a dict (sent as an object or a string), within a size bound."""
    if isinstance(raw, str):
        if len(raw) > MAX_CREDENTIAL_JSON:
            raise ValueError("too large")
        raw = json.loads(raw)
    if not isinstance(raw, dict) or len(json.dumps(raw)) > MAX_CREDENTIAL_JSON:
        raise ValueError("not a credential")
    return raw


# --- Registration -------------------------------------------------------------------------------


def _bounded_key(data: dict[str, Any]) -> bool:
    """Whether the new credential's public key is of a sane size: an RSA modulus of 2048 to 4096
    bits with a small exponent (a 64,000-bit key would make every sign-in slow, and a weak one
    is no protection). Checked before any signature is verified with it."""
    from webauthn.helpers import decode_credential_public_key, parse_attestation_object
    from webauthn.helpers.decode_credential_public_key import DecodedRSAPublicKey

    attested = parse_attestation_object(b64url_decode(data["response"]["attestationObject"]))
    found = attested.auth_data.attested_credential_data
    if found is None:
        return False
    key = decode_credential_public_key(found.credential_public_key)
    if isinstance(key, DecodedRSAPublicKey):
        bits, exponent = int.from_bytes(key.n, "big").bit_length(), int.from_bytes(key.e, "big")
        return MIN_RSA_BITS <= bits <= MAX_RSA_BITS and 3 <= exponent < 2**32
    return True


def registration_options(account: AbstractAccount, request: HttpRequest) -> dict[str, Any]:
    require_enabled()
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    existing = Passkey.objects.filter(**owner_kwargs(account)).values_list("credential_id", flat=True)
    options = generate_registration_options(
        rp_id=rp_id(request), rp_name=settings.WEBAUTHN_RP_NAME, user_id=user_handle(account),
        user_name=account.username, user_display_name=account.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=b64url_decode(c)) for c in existing],
        supported_pub_key_algs=_algorithms(), timeout=CHALLENGE_SECONDS * 1000,
    )  # fmt: skip
    _remember(options.challenge, purpose="register", realm=realm_of(account).name, account_id=account.pk)
    return {"publicKey": json.loads(options_to_json(options))}


def register(*, account: AbstractAccount, name: str, credential: Any, request: HttpRequest) -> Passkey:
    """A new passkey from an attestation response; 400 details.credential, 409 if it is already registered.

    The challenge is spent before any transaction opens: a refused answer must not give it back
    (the embedded cache lives in the database, where a rollback would restore it)."""
    require_enabled()
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import InvalidRegistrationResponse, WebAuthnException

    refused = ValidationFailed("Invalid passkey", details={"credential": ["This passkey response is not valid."]})
    try:
        data = _credential(credential)
    except (ValueError, TypeError) as exc:
        raise refused from exc
    redeemed = _redeem(data)
    if redeemed is None:
        raise refused
    challenge, facts = redeemed
    if facts != {"purpose": "register", "realm": realm_of(account).name, "account_id": account.pk}:
        raise refused
    try:
        if not _bounded_key(data):
            raise refused
        verified = verify_registration_response(
            credential=data, expected_challenge=challenge, expected_rp_id=rp_id(request),
            expected_origin=origins(request), require_user_verification=True, supported_pub_key_algs=_algorithms(),
        )  # fmt: skip
    except (InvalidRegistrationResponse, WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise refused from exc
    credential_id = b64url_encode(verified.credential_id)
    if Passkey.objects.filter(credential_id=credential_id).exists():
        raise Conflict("This passkey is already registered", details={"credential": ["Already registered."]})
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                **owner_kwargs(account), credential_id=credential_id, public_key=verified.credential_public_key,
                sign_count=verified.sign_count, name=name or "Passkey", backed_up=verified.credential_backed_up,
            )  # fmt: skip
            audit.record("passkey.added", account=account, passkey_id=passkey.pk, name=passkey.name)
            mail.security_notice(account, f"A passkey ({passkey.name}) was added")
    except IntegrityError as exc:  # a concurrent registration of the same credential
        raise Conflict("This passkey is already registered", details={"credential": ["Already registered."]}) from exc
    return passkey


def of_account(account: AbstractAccount):
    return Passkey.objects.filter(**owner_kwargs(account)).order_by("-created_at", "-id")


def get(account: AbstractAccount, passkey_id: int) -> Passkey:
    passkey = of_account(account).filter(pk=passkey_id).first()
    if passkey is None:
        raise NotFound("Passkey not found")
    return passkey


def rename(account: AbstractAccount, passkey_id: int, name: str) -> Passkey:
    passkey = get(account, passkey_id)
    passkey.name = name
    passkey.save(update_fields=["name"])
    return passkey


@transaction.atomic
def remove(account: AbstractAccount, passkey_id: int) -> None:
    """Remove a passkey, unless it is the account's last way to sign in (409)."""
    passkey = get(account, passkey_id)
    refuse_last_way_in(account, "passkey")
    delete(passkey)


def delete(passkey: Passkey) -> None:
    """Delete and record it (also an operator's removal on the admin site, for a lost device)."""
    audit.record("passkey.removed", account=passkey.owner, passkey_id=passkey.pk, name=passkey.name)
    mail.security_notice(passkey.owner, f"A passkey ({passkey.name}) was removed")
    passkey.delete()


# --- Login ----------------------------------------------------------------------------------------


def authentication_options(realm: Realm, request: HttpRequest) -> dict[str, Any]:
    require_enabled()
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    options = generate_authentication_options(
        rp_id=rp_id(request), allow_credentials=[], user_verification=UserVerificationRequirement.REQUIRED,
        timeout=CHALLENGE_SECONDS * 1000,
    )  # fmt: skip
    _remember(options.challenge, purpose="login", realm=realm.name)
    return {"publicKey": json.loads(options_to_json(options))}


def verify_login(*, realm: Realm, credential: Any, request: HttpRequest) -> AbstractAccount:
    """The account an assertion proves, with every rule of a password login but the password and
    the second factor; 401 INVALID_CREDENTIALS for anything that does not verify."""
    require_enabled()
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import InvalidAuthenticationResponse, WebAuthnException

    try:
        data = _credential(credential)
        raw_id = str(data.get("rawId") or data.get("id") or "")
    except (ValueError, TypeError) as exc:
        raise InvalidCredentials("Invalid passkey") from exc
    redeemed = _redeem(data)
    passkey = Passkey.objects.filter(credential_id=raw_id, **{f"{realm.name}__isnull": False}).first()
    if redeemed is None or redeemed[1] != {"purpose": "login", "realm": realm.name} or passkey is None:
        raise InvalidCredentials("Invalid passkey")
    account = passkey.owner_in(realm)
    if account.is_deleted:
        raise InvalidCredentials("Invalid passkey")
    lockout.refuse_if_locked(account)
    handle = data.get("response", {}).get("userHandle")
    try:
        if handle and b64url_decode(handle) != user_handle(account):
            raise InvalidCredentials("Invalid passkey")
        verified = verify_authentication_response(  # the signature first: the counter of a forgery means nothing
            credential=data, expected_challenge=redeemed[0], expected_rp_id=rp_id(request),
            expected_origin=origins(request), credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=0, require_user_verification=True,
        )  # fmt: skip
    except (InvalidAuthenticationResponse, WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise InvalidCredentials("Invalid passkey") from exc
    presented = verified.new_sign_count
    if (presented or passkey.sign_count) and presented <= passkey.sign_count:  # a genuine signature, an old counter
        audit.record("passkey.clone_suspected", account=account, passkey_id=passkey.pk,
                     stored=passkey.sign_count, presented=presented)  # fmt: skip
        raise InvalidCredentials("Invalid passkey")
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    check_allowed(account)  # the password login's remaining rules: active, verified address
    return account


def passkey_login(*, realm: Realm, credential: Any, request: HttpRequest) -> dict[str, Any]:
    """A passkey login: a token pair, no second factor (a user-verified passkey is already two)."""
    account = verify_login(realm=realm, credential=credential, request=request)
    with transaction.atomic():
        record_login(account, method="passkey")
        return sessions.open_session(account, request, method="passkey")
