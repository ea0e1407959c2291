"""Mail through a real SMTP server on loopback (aiosmtpd): delivery after the response, nothing lost
while the server is down, and `send_pending_email` sending each mail once, even with two runners."""

import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from common.models import OutboxEmail
from common.tests.factories import UserFactory
from common.tests.utils import gunicorn, http
from testkit.servers import database_url, free_port
from testkit.smtp import smtp_server

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]


def forgot(url: str, email: str) -> int:
    body = json.dumps({"email": email}).encode()
    return http("POST", f"{url}/auth/password/forgot", body, {"Content-Type": "application/json"})[0]


def test_a_reset_link_goes_out_through_smtp_after_the_response():
    user = UserFactory()
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        with gunicorn(EMAIL_URL=f"smtp://127.0.0.1:{port}") as url:
            assert forgot(url, user.email) == 200
            [message] = inbox.wait_for(1)
    finally:
        controller.stop()
    assert message["To"] == user.email and "Reset your" in message["Subject"]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()}
    assert "reset-password?token=" in parts["text/plain"] and "reset-password?token=" in parts["text/html"]
    assert OutboxEmail.objects.get().status == OutboxEmail.SENT


def test_a_forged_host_port_never_reaches_the_link():
    """The attacker's `Host: 127.0.0.1:31337`: the link keeps the port gunicorn listens on."""
    user = UserFactory()
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        with gunicorn(EMAIL_URL=f"smtp://127.0.0.1:{port}") as url:
            body = json.dumps({"email": user.email}).encode()
            headers = {"Content-Type": "application/json", "Host": "127.0.0.1:31337"}
            assert http("POST", f"{url}/auth/password/forgot", body, headers)[0] == 200
            [message] = inbox.wait_for(1)
    finally:
        controller.stop()
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "31337" not in text and f"{url}/reset-password?token=" in text


def test_with_smtp_down_the_request_succeeds_and_the_command_delivers_later_exactly_once(settings):
    user = UserFactory()
    port = free_port()  # nothing listens here yet
    with gunicorn(EMAIL_URL=f"smtp://127.0.0.1:{port}", EMAIL_TIMEOUT="2") as url:
        assert forgot(url, user.email) == 200
        deadline = time.monotonic() + 10
        while OutboxEmail.objects.filter(attempts=1).count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    email = OutboxEmail.objects.get()
    assert email.status == OutboxEmail.PENDING and email.attempts == 1 and email.last_error
    controller, inbox = smtp_server(port)
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        call_command("send_pending_email", stdout=open(os.devnull, "w"))  # noqa: SIM115
        call_command("send_pending_email", stdout=open(os.devnull, "w"))  # noqa: SIM115
        assert len(inbox.wait_for(1)) == 1
        time.sleep(0.3)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
    email.refresh_from_db()
    assert email.status == OutboxEmail.SENT and email.attempts == 2 and email.body_text == ""


def test_failures_back_off_and_give_up_at_the_cap(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    settings.EMAIL_MAX_ATTEMPTS = 3
    email = OutboxEmail.objects.create(to="x@example.com", subject="s", body_text="b")
    call_command("send_pending_email", stdout=open(os.devnull, "w"))  # noqa: SIM115
    email.refresh_from_db()
    assert email.attempts == 1 and email.status == OutboxEmail.PENDING  # first failure: due again at once
    call_command("send_pending_email", stdout=open(os.devnull, "w"))  # noqa: SIM115
    email.refresh_from_db()
    assert email.attempts == 2 and email.next_attempt_at > email.created_at  # later failures back off
    call_command("send_pending_email", stdout=open(os.devnull, "w"))  # noqa: SIM115
    email.refresh_from_db()
    assert email.attempts == 2  # not due yet
    OutboxEmail.objects.update(next_attempt_at=email.created_at)
    call_command("send_pending_email", stdout=open(os.devnull, "w"))  # noqa: SIM115
    email.refresh_from_db()
    assert email.attempts == 3 and email.status == OutboxEmail.FAILED


def test_two_runners_at_once_send_each_mail_once(postgres_only):
    for i in range(60):
        OutboxEmail.objects.create(to=f"r{i}@example.com", subject=f"mail {i}", body_text="b")
    port = free_port()
    controller, inbox = smtp_server(port)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.tests.settings",
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
    }
    try:
        runners = [
            subprocess.Popen([sys.executable, "manage.py", "send_pending_email"], cwd=django_settings.BASE_DIR, env=env)
            for _ in range(2)
        ]
        assert [runner.wait(timeout=60) for runner in runners] == [0, 0]
        inbox.wait_for(60)
        time.sleep(0.3)
    finally:
        controller.stop()
    subjects = [message["Subject"] for message in inbox.messages]
    assert sorted(subjects) == sorted(f"mail {i}" for i in range(60))
    assert OutboxEmail.objects.filter(status=OutboxEmail.SENT).count() == 60
