"""WSGI entry point: `gunicorn config.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Say at startup, in one line, when the stored signing keys cannot be decrypted (SECRET_KEY changed).
from tokens.signing_keys import startup_check  # noqa: E402 - Django is set up by the line above

startup_check()
