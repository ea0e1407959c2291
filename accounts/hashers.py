"""Password hashes moved from the FastAPI service (import_fastapi).

Its Argon2 hashes (passlib / argon2-cffi PHC strings) are read by Django's own Argon2 hasher as
`argon2` + the PHC string. Its bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) are read here as `bcrypt$`
+ the raw string. Either is re-hashed with the first hasher of PASSWORD_HASHERS at the first
successful login (Django's check_password does it, without ending any session).
"""

import bcrypt
from django.contrib.auth.hashers import BCryptPasswordHasher

BCRYPT_MAX_BYTES = 72


class LegacyBCryptPasswordHasher(BCryptPasswordHasher):
    """Verifies bcrypt hashes the way the old service made them: bcrypt before 5.0 (and passlib)
    silently used only the first 72 bytes of a password, where bcrypt 5 raises; so do we."""

    def verify(self, password: str, encoded: str) -> bool:
        algorithm, data = encoded.split("$", 1)
        if algorithm != self.algorithm:
            return False
        try:
            return bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], data.encode("ascii"))
        except ValueError:  # a malformed hash
            return False

    def encode(self, password: str, salt: bytes) -> str:
        hashed = bcrypt.hashpw(password.encode()[:BCRYPT_MAX_BYTES], salt).decode("ascii")
        return f"{self.algorithm}${hashed}"
