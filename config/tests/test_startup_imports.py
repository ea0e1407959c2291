"""The workers' memory budget (docs/benchmarks.md): libraries only some requests need are not
loaded by a worker at start (py_webauthn with pyOpenSSL, authlib)."""

import subprocess
import sys

from django.conf import settings

CHECK = """
import sys, django
django.setup()
from config.wsgi import application
from django.urls import get_resolver
get_resolver().url_patterns
print(sorted({m.split(".")[0] for m in sys.modules} & {"webauthn", "OpenSSL", "authlib"}))
"""


def test_a_worker_starts_without_the_passkey_and_identity_provider_libraries():
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "startup-imports-test-secret-key-0123456789",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=settings.BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=60, check=True)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "[]"
