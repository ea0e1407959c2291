"""Clients generated from the live /schema work on the first try: a Python client made by
openapi-python-client and a TypeScript one made by openapi-typescript + openapi-fetch each run
register -> login -> me -> update -> create a token -> list tokens -> list sessions -> refresh ->
logout against real gunicorn, in both realms (the flows are in config/tests/clients/)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib import request as urlrequest

import pytest

from common.tests.factories import PASSWORD, AdminFactory
from common.tests.utils import gunicorn

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]

CLIENTS = Path(__file__).parent / "clients"


def run(command: list[str], cwd: Path, **env: str) -> str:
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_a_generated_python_client_runs_the_first_flow_in_both_realms(tmp_path):
    admin = AdminFactory()
    generator = Path(sys.executable).with_name("openapi-python-client")
    with gunicorn() as url:
        with urlrequest.urlopen(f"{url}/schema", timeout=30) as response:
            schema = json.loads(response.read())
        (tmp_path / "schema.json").write_text(json.dumps(schema))
        run(
            [str(generator), "generate", "--path", "schema.json", "--meta", "none", "--output-path", "client"], tmp_path
        )
        flow = str(CLIENTS / "python_flow.py")
        assert run([sys.executable, flow, url, "user"], tmp_path, PYTHONPATH=str(tmp_path)).strip() == "user: ok"
        out = run([sys.executable, flow, url, "admin", admin.username, PASSWORD], tmp_path, PYTHONPATH=str(tmp_path))
        assert out.strip() == "admin: ok"


def test_a_generated_typescript_client_runs_the_first_flow_in_both_realms(tmp_path):
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are not installed")
    for name in ("package.json", "package-lock.json", "tsconfig.json", "flow.ts"):
        shutil.copy(CLIENTS / "typescript" / name, tmp_path / name)
    run(["npm", "ci", "--no-audit", "--no-fund"], tmp_path)
    admin = AdminFactory()
    with gunicorn() as url:
        run(["npx", "openapi-typescript", f"{url}/schema", "-o", "schema.d.ts"], tmp_path)
        run(["npx", "tsc", "-p", "."], tmp_path)  # the flow type-checks against the generated types
        assert run(["node", "build/flow.js", url, "user"], tmp_path).strip() == "user: ok"
        assert run(["node", "build/flow.js", url, "admin", admin.username, PASSWORD], tmp_path).strip() == "admin: ok"
