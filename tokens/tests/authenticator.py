"""A software WebAuthn authenticator for the tests: a P-256 key, CBOR attestation objects and
signed assertions, built by hand as a platform authenticator builds them."""

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Authenticator:
    origin: str = "http://testserver"
    rp_id: str = "testserver"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes = b""

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def auth_data(self, flags: int, attested: bool = False) -> bytes:
        data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        return data

    def client_data(self, kind: str, options: dict, origin: str | None = None) -> bytes:
        body = {"type": kind, "challenge": options["publicKey"]["challenge"], "origin": origin or self.origin,
                "crossOrigin": False}  # fmt: skip
        return json.dumps(body).encode()

    def create(self, options: dict, *, flags: int = UP | UV | AT, origin: str | None = None) -> dict:
        """navigator.credentials.create's answer (attestation "none")."""
        self.user_handle = unb64url(options["publicKey"]["user"]["id"])
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": self.auth_data(flags, attested=True)})
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(self.client_data("webauthn.create", options, origin)),
                         "attestationObject": b64url(attestation), "transports": ["internal"]},
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
        }  # fmt: skip

    def get(self, options: dict, *, flags: int = UP | UV, origin: str | None = None, count_up: bool = True) -> dict:
        """navigator.credentials.get's answer, signed with the credential's key."""
        if count_up:
            self.sign_count += 1
        auth_data = self.auth_data(flags)
        client_data = self.client_data("webauthn.get", options, origin)
        signature = self.sign(auth_data + hashlib.sha256(client_data).digest())
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": b64url(self.user_handle)},
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
        }  # fmt: skip


@dataclass
class RsaAuthenticator(Authenticator):
    """An RS256 authenticator (as Windows Hello is); `modulus_bits` alone fakes a public key of
    that size (nothing is signed at registration with attestation "none")."""

    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    modulus_bits: int | None = None

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        n = numbers.n if self.modulus_bits is None else (1 << (self.modulus_bits - 1)) | 1
        return cbor2.dumps({1: 3, 3: -257, -1: n.to_bytes((n.bit_length() + 7) // 8, "big"),
                            -2: numbers.e.to_bytes(3, "big")})  # fmt: skip

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
