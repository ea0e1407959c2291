"""gunicorn settings read by `gunicorn config.wsgi` from the project root.

Requests gunicorn refuses itself (a request line over 2 KB, more than 50 headers or a
header over 8 KB) never reach Django, so they get gunicorn's own short plain 400/414 page,
not the JSON envelope.

Metrics: every worker writes its Prometheus samples to PROMETHEUS_MULTIPROC_DIR (a fresh
temporary folder unless set), and /metrics adds them up, so counts are right whichever
worker answers.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 8190
timeout = 30

# Set before any worker imports prometheus_client (the app is loaded in the workers).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="accounts-metrics-"))


def on_starting(server) -> None:
    """Start from zero: samples of an earlier run would be added in."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
