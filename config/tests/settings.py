"""Test settings: the production settings with a fast password hasher first.

Argon2 stays in the list (one test proves production uses it) and timing tests
switch back to it explicitly.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-hs256-0123456789")

from config.settings import *  # noqa: F403
from config.settings import ALLOWED_HOSTS, PASSWORD_HASHERS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
