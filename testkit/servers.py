"""Start a real gunicorn server on loopback against the current database (tests, benchmarks)."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO
from urllib import request as urlrequest
from urllib.error import HTTPError

from django.conf import settings
from django.db import connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def run_gunicorn(
    *, workers: int, settings_module: str, wsgi: str = "config.wsgi", port: int | None = None, **env: str
) -> Iterator[str]:
    """Run `gunicorn config.wsgi` (or `wsgi`) on `port` (else a free one) sharing this process's
    database; yield its URL."""
    port = port or free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "UPLOAD_DIR": str(settings.MEDIA_ROOT),
        "DJANGO_SETTINGS_MODULE": settings_module,
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", wsgi, "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    # The server's log goes to a file: a pipe nobody reads would fill up and stall the workers.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "-t", "60"], cwd=settings.BASE_DIR, env=child_env, stdout=subprocess.DEVNULL, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(url: str, process: subprocess.Popen, log: IO[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited: {log.read().decode()[-2000:]}")
        try:
            with urlrequest.urlopen(f"{url}/health", timeout=2):
                return
        except HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start in time")
