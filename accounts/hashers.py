"""Password hashes, bounded: the hashers verify only hashes whose cost stays within the bounds
below, so no stored hash (an imported one included) can make a login cost seconds.

Hashes moved from the FastAPI service (import_fastapi): its Argon2 hashes (passlib / argon2-cffi
PHC strings) are read by the Argon2 hasher as `argon2` + the PHC string. Its bcrypt hashes
(`$2a$`, `$2b$`, `$2y$`) are read here as `bcrypt$` + the raw string. Either is re-hashed with
the first hasher of PASSWORD_HASHERS at the first successful login (Django's check_password does
it, without ending any session). The import refuses a hash out of bounds (`within_bounds`).
"""

import argon2
import bcrypt
from django.contrib.auth.hashers import Argon2PasswordHasher, BCryptPasswordHasher

BCRYPT_MAX_BYTES = 72
# Django's Argon2 default is 100 MiB, 2 passes; passlib's and argon2-cffi's 64 MiB, 3 passes.
ARGON2_MAX_MEMORY_KIB = 102_400
ARGON2_MAX_WORK_KIB = 3 * ARGON2_MAX_MEMORY_KIB  # memory x passes
ARGON2_MAX_PARALLELISM = 8
BCRYPT_MAX_COST = 13  # passlib's default is 12; each step doubles the time


def within_bounds(encoded: str) -> bool:
    """True when a hash as Django stores it (`argon2$argon2id$...`, `bcrypt$$2b$...`) is well formed
    and its cost is within the bounds above."""
    algorithm, _, rest = encoded.partition("$")
    if algorithm == "argon2":
        try:
            params = argon2.extract_parameters("$" + rest)
        except (argon2.exceptions.InvalidHashError, ValueError):
            return False
        return (
            params.memory_cost <= ARGON2_MAX_MEMORY_KIB
            and params.memory_cost * params.time_cost <= ARGON2_MAX_WORK_KIB
            and params.parallelism <= ARGON2_MAX_PARALLELISM
        )
    if algorithm == "bcrypt":
        parts = rest.split("$")  # ["", "2b", "12", salt+hash]
        return (
            len(rest) == 60 and len(parts) == 4 and parts[1] in ("2a", "2b", "2y")
            and parts[2].isdigit() and 4 <= int(parts[2]) <= BCRYPT_MAX_COST
        )  # fmt: skip
    return False


class BoundedArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher, refusing (as a wrong password) a malformed hash or one whose cost is
    out of bounds instead of raising or spending seconds on it."""

    def verify(self, password: str, encoded: str) -> bool:
        if not within_bounds(encoded):
            return False
        return super().verify(password, encoded)

    def must_update(self, encoded: str) -> bool:
        return within_bounds(encoded) and super().must_update(encoded)


class LegacyBCryptPasswordHasher(BCryptPasswordHasher):
    """Verifies bcrypt hashes the way the old service made them: bcrypt before 5.0 (and passlib)
    silently used only the first 72 bytes of a password, where bcrypt 5 raises; so do we."""

    def verify(self, password: str, encoded: str) -> bool:
        if not within_bounds(encoded):
            return False
        try:
            return bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], encoded.split("$", 1)[1].encode("ascii"))
        except ValueError:  # a malformed hash
            return False

    def encode(self, password: str, salt: bytes) -> str:
        hashed = bcrypt.hashpw(password.encode()[:BCRYPT_MAX_BYTES], salt).decode("ascii")
        return f"{self.algorithm}${hashed}"
