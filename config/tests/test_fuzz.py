"""The service fuzzed by its own OpenAPI document (schemathesis) on a real gunicorn server:
no 5xx, and every response as documented. `make fuzz` runs it (FUZZ_EXAMPLES per operation)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.tests.factories import AdminFactory, UserFactory
from common.tests.utils import gunicorn
from tokens.sessions import open_session

pytestmark = [pytest.mark.fuzz, pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# What ends the fuzzing session itself runs last, on its own token.
SESSION_ENDING = r"^/(auth|admin/auth)/logout(-all)?$|^/users/me$"
# Webhook endpoints are not fuzzed: a generated URL could name a public host, and the service
# would then send it events. Their bad input is tested in admins/tests/test_webhooks.py.
NOT_FUZZED = r"^/admin/webhooks"
LIMITS_LIFTED = {
    "RATE_LIMIT_ATTEMPTS": "100000",
    "REGISTER_RATE": "100000/m",
    "EMAIL_RATE": "100000/m",
    "AVATAR_RATE": "100000/m",
}


def schemathesis(url: str, token: str, *selection: str, report: Path) -> subprocess.CompletedProcess:
    examples = os.environ.get("FUZZ_EXAMPLES", "100")
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/schema",
        "-H", f"Authorization: Bearer {token}", "-n", examples, "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing", "--no-color", "--seed", os.environ.get("FUZZ_SEED", "1"),
        "--request-timeout", "30", "--report", "junit", "--report-junit-path", str(report), *selection,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=1800)


@pytest.mark.parametrize("realm", ["user", "admin"])
def test_every_operation_answers_as_documented_and_never_5xx(realm, tmp_path):
    account = (UserFactory if realm == "user" else AdminFactory)(username=f"fuzz-{realm}")
    paths = r"^/(auth|users)" if realm == "user" else r"^/admin"
    with gunicorn(workers=2, **LIMITS_LIFTED) as url:
        runs = [
            schemathesis(
                url, open_session(account, None)["access_token"], "--include-path-regex", paths,
                "--exclude-path-regex", f"{SESSION_ENDING}|{NOT_FUZZED}", report=tmp_path / "main.xml",
            ),
            schemathesis(
                url, open_session(account, None)["access_token"], "--include-path-regex", SESSION_ENDING,
                report=tmp_path / "ending.xml",
            ),
            schemathesis(url, "none", "--include-path-regex", r"^/(health|schema|docs)$", report=tmp_path / "svc.xml"),
        ]  # fmt: skip
    failed = [run for run in runs if run.returncode != 0]
    assert not failed, "\n\n".join(run.stdout[-6000:] + run.stderr[-2000:] for run in failed)
    assert all("generated" in run.stdout for run in runs)
