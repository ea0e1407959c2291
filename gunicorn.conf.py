"""gunicorn settings read by `gunicorn config.wsgi` from the project root.

Requests gunicorn refuses itself (a request line over 2 KB, more than 50 headers or a
header over 8 KB) never reach Django, so they get gunicorn's own short plain 400/414 page,
not the JSON envelope.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 8190
timeout = 30
