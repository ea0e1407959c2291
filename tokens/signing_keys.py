"""Signing keys for asymmetric ALGORITHMs (ES256, RS256, EdDSA), kept in the database so every
process and machine signs and verifies with the same keys (docs/api.md §19).

- The newest usable key signs; every usable key verifies and is published in the JWK Set.
  `rotate` adds a key (it signs from then on); `retire` stops a key verifying and being published.
- The private half is encrypted at rest with a Fernet key derived from SECRET_KEY (as the TOTP
  secrets are), so a database dump alone signs nothing.
- Each process keeps the keys in memory and reloads them at most every
  SIGNING_KEYS_RELOAD_SECONDS (30; one query), or at once for a `kid` it does not know yet (at
  most once a second): a rotation or a retirement reaches every process within that time, with
  no query per request.
"""

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from common import crypto
from common.crypto import b64url_encode
from common.exceptions import ServiceUnavailable
from tokens.models import SigningKey

logger = logging.getLogger(__name__)

ALGORITHMS = ("ES256", "RS256", "EdDSA")
UNKNOWN_KID_RELOAD_SECONDS = 1.0
ROTATE_HINT = "run `python manage.py signing_keys rotate` to make a new signing key"


def is_asymmetric() -> bool:
    return settings.ALGORITHM in ALGORITHMS


PURPOSE = "tokens.signing_keys"  # of the key derived from SECRET_KEY that encrypts private halves


def _decrypt(stored: str) -> Any:
    return serialization.load_pem_private_key(crypto.decrypt(stored, purpose=PURPOSE), password=None)


# --- Making keys ------------------------------------------------------------------------------


def _generate(algorithm: str) -> Any:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def _public_jwk(algorithm: str, public_key: Any) -> dict[str, Any]:
    """The public parameters as a JWK (RFC 7517), with an RFC 7638 thumbprint as its `kid`."""
    jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(public_key))
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    kid = b64url_encode(hashlib.sha256(canonical.encode()).digest())
    return {**{name: jwk[name] for name in required}, "kid": kid, "alg": algorithm, "use": "sig"}


def create(algorithm: str | None = None) -> SigningKey:
    """A new key pair of the configured algorithm; it signs from now on."""
    algorithm = algorithm or settings.ALGORITHM
    private_key = _generate(algorithm)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = _public_jwk(algorithm, private_key.public_key())
    key = SigningKey.objects.create(
        kid=jwk["kid"], algorithm=algorithm, private_key=crypto.encrypt(pem, purpose=PURPOSE), public_jwk=jwk
    )
    store.invalidate()
    return key


def retire(kid: str) -> bool:
    """Stop a key verifying and being published; False when no usable key has this kid."""
    retired = SigningKey.objects.filter(kid=kid, retired_at__isnull=True).update(retired_at=timezone.now())
    store.invalidate()
    return bool(retired)


# --- The in-process store -------------------------------------------------------------------


@dataclass
class Entry:
    kid: str
    algorithm: str
    jwk: dict[str, Any]
    encrypted: str
    public: Any = None  # the prepared verifying key
    private: Any = None  # the prepared signing key, decrypted when first needed


@dataclass
class Store:
    keys: dict[str, Entry] = field(default_factory=dict)  # usable keys, newest first
    loaded_at: float = 0.0
    unknown_kid_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invalidate(self) -> None:
        self.loaded_at = 0.0

    def _load(self) -> None:
        rows = SigningKey.objects.usable(settings.ALGORITHM).values_list(
            "kid", "algorithm", "public_jwk", "private_key"
        )
        algorithm = jwt.get_algorithm_by_name(settings.ALGORITHM)
        previous, keys = self.keys, {}
        for kid, alg, jwk, encrypted in rows:
            entry = previous.get(kid) or Entry(kid, alg, jwk, encrypted, public=algorithm.from_jwk(json.dumps(jwk)))
            keys[kid] = entry
        self.keys, self.loaded_at = keys, time.monotonic()

    def _fresh(self) -> dict[str, Entry]:
        if time.monotonic() - self.loaded_at > settings.SIGNING_KEYS_RELOAD_SECONDS:
            with self.lock:
                if time.monotonic() - self.loaded_at > settings.SIGNING_KEYS_RELOAD_SECONDS:
                    self._load()
        return self.keys

    def verifying(self, kid: object) -> Entry | None:
        """The usable key with this kid; a kid made by another process is looked up (at most once a second)."""
        if not isinstance(kid, str):
            return None
        entry = self._fresh().get(kid)
        now = time.monotonic()
        if entry is None and now - self.unknown_kid_at > UNKNOWN_KID_RELOAD_SECONDS:
            self.unknown_kid_at = now
            with self.lock:
                self._load()
            entry = self.keys.get(kid)
        return entry

    def signing(self) -> Entry:
        """The newest usable key, made when there is none; 503 when it cannot be decrypted."""
        keys = self._fresh()
        if not keys:
            with transaction.atomic():
                create()
            with self.lock:
                self._load()
            keys = self.keys
        entry = next(iter(keys.values()))
        if entry.private is None:
            try:
                entry.private = _decrypt(entry.encrypted)
            except crypto.Unreadable as exc:
                logger.error("Signing key %s cannot be decrypted with this SECRET_KEY: %s", entry.kid, ROTATE_HINT)
                raise ServiceUnavailable("Tokens cannot be signed: the signing key is unreadable") from exc
        return entry

    def published(self) -> list[dict[str, Any]]:
        return [entry.jwk for entry in self._fresh().values()]


store = Store()


def jwks() -> dict[str, list[dict[str, Any]]]:
    """The JWK Set of docs/api.md §19: every key tokens may still be signed with ({"keys": []} on HS256)."""
    return {"keys": store.published() if is_asymmetric() else []}


def startup_check() -> None:
    """Say in one line, at startup, when the stored signing key cannot be decrypted (SECRET_KEY
    changed); the service keeps running and verifying, and signing answers 503 until rotated."""
    if not is_asymmetric():
        return
    try:
        current = SigningKey.objects.usable(settings.ALGORITHM).first()
    except DatabaseError:
        return  # the database is down: requests answer 503 and this is checked when they sign
    if current is None:
        return
    try:
        _decrypt(current.private_key)
    except crypto.Unreadable:
        logger.error("Signing key %s cannot be decrypted with this SECRET_KEY (was it changed?): %s", current.kid,
                     ROTATE_HINT)  # fmt: skip
