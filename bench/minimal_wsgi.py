"""The minimal project's WSGI application (bench/minimal_settings.py), served by the same gunicorn settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.minimal_settings")
application = get_wsgi_application()
