"""Operators' tools seen in a real headless Chromium: the admin site, Swagger UI, the browsable API.

Screenshots land in test-artifacts/ (gitignored).
"""

import itertools
import os
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts.models import User
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import gunicorn
from testkit.servers import free_port
from testkit.smtp import smtp_server, text_of
from tokens.sessions import open_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def server() -> str:
    """A real gunicorn server on the test database."""
    with gunicorn(workers=2) as url:
        yield url


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # tests around it are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()
            # ORM calls made while Playwright's loop runs get their own connections; close them.
            connections.close_all()


def admin_site_login(browser, server: str, admin):
    """A new page, logged into the Django admin site as `admin`."""
    page = browser.new_page()
    page.goto(f"{server}/django-admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/django-admin/")
    return page


def test_admin_site_login_and_block_a_user(browser, server):
    admin = AdminFactory()
    user = UserFactory(username="blockme")
    page = admin_site_login(browser, server, admin)
    page.goto(f"{server}/django-admin/accounts/user/?q=blockme")
    page.check(f"input[name=_selected_action][value='{user.pk}']")
    page.select_option("select[name=action]", "action_block")
    page.click("button[name=index]")
    page.wait_for_selector("text=1 account(s) blocked.")
    page.screenshot(path=str(ARTIFACTS / "admin-site-block.png"), full_page=True)
    user.refresh_from_db()
    assert user.is_active is False


def test_a_view_only_staff_member_gets_no_actions_menu(browser, server):
    from django.contrib.auth.models import Permission

    staff = AdminFactory(is_superuser=False)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "view_admin"]))
    UserFactory(username="lookonly")
    page = admin_site_login(browser, server, staff)
    page.goto(f"{server}/django-admin/accounts/user/?q=lookonly")
    page.wait_for_selector("text=lookonly")
    assert page.locator("select[name=action]").count() == 0
    assert page.locator("input[name=_selected_action]").count() == 0
    page.goto(f"{server}/django-admin/admins/admin/")
    assert page.locator("select[name=action]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "admin-site-view-only.png"), full_page=True)


def test_swagger_ui_authorizes_and_calls_users_me(browser, server):
    user = UserFactory(username="swaggeruser")
    token = open_session(user, None)["access_token"]
    page = browser.new_page()
    page.goto(f"{server}/docs")
    page.wait_for_selector("button.authorize")
    page.click("button.authorize")
    dialog = page.locator(".dialog-ux")
    section = dialog.locator(".auth-container", has_text="UserBearer")
    section.locator("input").fill(token)
    section.locator("button.authorize").click()
    dialog.locator("button.btn-done").first.click()
    page.locator("#operations-tag-users").click()  # tags start folded (config/settings.py)
    operation = page.locator("#operations-users-user_me_retrieve")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    body = operation.locator(".live-responses-table tr.response .response-col_description pre").first.inner_text()
    assert '"username": "swaggeruser"' in body and '"success": true' in body
    page.screenshot(path=str(ARTIFACTS / "swagger-users-me.png"), full_page=True)


def test_browsable_api_renders_users_me(browser, server):
    user = UserFactory(username="htmluser")
    token = open_session(user, None)["access_token"]
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
    page = context.new_page()
    response = page.goto(f"{server}/users/me")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    content = page.inner_text("body")
    assert '"success": true' in content and '"username": "htmluser"' in content
    assert page.title() == f"Your profile \u2013 {settings.PRODUCT_NAME}"
    assert page.locator(".navbar-brand").inner_text().strip() == settings.PRODUCT_NAME
    assert "Django REST framework" not in page.content() and page.locator("h1").first.inner_text() == "Your profile"
    page.screenshot(path=str(ARTIFACTS / "browsable-users-me.png"), full_page=True)
    context.close()
    assert User.objects.filter(username="htmluser").exists()
    assert os.path.exists(ARTIFACTS / "browsable-users-me.png")


def enrolled_admin():

    import pyotp

    from tokens.mfa import services as mfa

    admin = AdminFactory()
    totp = pyotp.TOTP(mfa.start_totp(admin)["secret"])
    mfa.confirm_totp(admin, totp.now())
    return admin, lambda: totp.at(time.time() + 30)  # the next step's code: unused, within the drift allowed


def test_admin_site_asks_admins_with_mfa_for_a_code(browser, server):
    admin, code = enrolled_admin()
    page = browser.new_page()
    page.goto(f"{server}/django-admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("text=Enter the code from your authenticator app")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_code", "000000")
    page.click("input[type=submit]")
    page.wait_for_selector("text=This authentication code is not valid.")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_code", code())
    page.screenshot(path=str(ARTIFACTS / "admin-site-mfa-login.png"), full_page=True)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/django-admin/")
    admin.refresh_from_db()
    assert admin.failed_login_attempts == 0 and admin.last_login_at is not None


def test_a_user_signs_in_to_the_browsable_api_updates_the_profile_and_uploads_an_avatar(browser, server, tmp_path):
    from accounts.tests.images import image_bytes

    user = UserFactory(username="browseruser")
    page = browser.new_page()
    page.goto(f"{server}/api-auth/login/?next=/users/me")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#submit-id-submit")
    page.wait_for_url(f"{server}/users/me")
    assert page.locator("text=Signed in as").first.is_visible()
    picture = tmp_path / "me.png"
    picture.write_bytes(image_bytes("PNG", (300, 200)))
    form = page.locator("form[data-method=PUT][enctype='multipart/form-data']")
    form.locator("input[name=name]").fill("Browser Person")
    form.locator("input[name=avatar]").set_input_files(str(picture))
    form.locator("button", has_text="PUT").click()
    page.wait_for_selector("text=Profile updated")
    page.screenshot(path=str(ARTIFACTS / "browsable-api-profile.png"), full_page=True)
    user.refresh_from_db()
    assert user.name == "Browser Person" and user.avatar.name.startswith("avatars/")


def test_an_operator_in_the_admin_site_blocks_a_user_in_the_browsable_api(browser, server):
    admin = AdminFactory()
    user = UserFactory(username="tobeblocked")
    page = admin_site_login(browser, server, admin)
    page.goto(f"{server}/admin/users/{user.pk}")
    assert page.locator("text=Signed in as").first.is_visible()
    page.click("a[name=raw-tab][href='#put-generic-content-form']")
    page.select_option("#id__content_type", "application/json")
    page.fill("#id__content", '{"is_active": false}')
    page.click("#put-generic-content-form button[data-method=PATCH]")
    page.wait_for_selector("text=User updated")
    page.screenshot(path=str(ARTIFACTS / "browsable-api-admin-block.png"), full_page=True)
    user.refresh_from_db()
    assert user.is_active is False


def test_the_admin_dashboard_renders_its_chart(browser, server):
    from common import audit

    admin = AdminFactory()
    for _ in range(3):
        audit.record("login.succeeded", account=admin)
    page = admin_site_login(browser, server, admin)
    chart = page.locator("svg.signin-chart")
    assert chart.is_visible() and chart.locator("rect").count() == 60
    # The counts are a table: headers side by side on one line each, not wrapped letter by letter.
    headers = page.locator("#dashboard table.counts th")
    boxes = [headers.nth(i).bounding_box() for i in range(headers.count())]
    assert [headers.nth(i).inner_text() for i in range(headers.count())] == [
        "Users", "Active", "Locked", "Deleted", "New this week",
    ]  # fmt: skip
    line = boxes[0]["height"]
    assert all(box["height"] == line for box in boxes) and line < 40
    assert all(left["x"] + left["width"] <= right["x"] + 1 for left, right in itertools.pairwise(boxes))
    sections = page.locator("#content-main .app-list caption, #content-main .module caption").all_inner_texts()
    assert {"ACCOUNTS", "SIGN-IN AND SESSIONS", "AUDIT AND MAIL"} <= {text.strip().upper() for text in sections}
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)


@pytest.fixture
def passkey_server():
    """Browsers accept no IP address as a relying party id: the server is visited as localhost."""
    with gunicorn(workers=2, WEBAUTHN_RP_ID="localhost") as url:
        yield url.replace("127.0.0.1", "localhost")


def with_virtual_authenticator(browser):
    """A page whose browser has a platform authenticator (resident keys, user verification)."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})  # fmt: skip
    return context, page


def test_a_person_adds_a_passkey_signs_out_and_signs_in_with_it(browser, passkey_server):
    UserFactory(username="passkeyuser")
    context, page = with_virtual_authenticator(browser)
    page.goto(f"{passkey_server}/api-auth/login/?next=/users/me/passkeys")
    page.fill("input[name=username]", "passkeyuser")
    page.fill("input[name=password]", PASSWORD)
    page.click("#submit-id-submit")
    page.wait_for_url(f"{passkey_server}/users/me/passkeys")
    page.fill("#passkey-name", "Laptop")
    page.click("#passkey-add")
    page.wait_for_selector("text=Laptop")
    page.screenshot(path=str(ARTIFACTS / "passkey-added.png"), full_page=True)
    page.click("#logout-button")
    page.wait_for_url(f"{passkey_server}/api-auth/login/")
    page.click("#passkey-sign-in")
    page.wait_for_url(f"{passkey_server}/users/me")
    assert '"username": "passkeyuser"' in page.inner_text("body")
    from tokens.models import Passkey

    laptop = Passkey.objects.get(name="Laptop")
    page.goto(f"{passkey_server}/users/me/passkeys/{laptop.pk}")  # removed with the browsable API's DELETE
    page.click("button[data-target='#deleteModal']")
    page.click("#deleteModal button.btn-danger")
    page.wait_for_selector("text=Passkey removed")
    assert not Passkey.objects.exists()
    context.close()


def test_an_admin_signs_into_the_admin_site_with_a_passkey(browser, passkey_server):
    admin = AdminFactory(username="passkeyadmin")
    context, page = with_virtual_authenticator(browser)
    page.goto(f"{passkey_server}/django-admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{passkey_server}/django-admin/")
    page.goto(f"{passkey_server}/admin/me/passkeys")
    page.fill("#passkey-name", "Office key")
    page.click("#passkey-add")
    page.wait_for_selector("text=Office key")
    page.goto(f"{passkey_server}/django-admin/")
    page.click("#logout-form button[type=submit]")
    page.wait_for_url(f"{passkey_server}/django-admin/logout/")
    page.goto(f"{passkey_server}/django-admin/login/")
    page.click("#passkey-sign-in")
    page.wait_for_url(f"{passkey_server}/django-admin/")
    assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME")
    page.screenshot(path=str(ARTIFACTS / "admin-site-passkey.png"), full_page=True)
    context.close()


def test_a_person_clicks_an_identity_provider_and_lands_signed_in(browser, tmp_path):
    """The browsable API's login page, a real OpenID provider's login form, and back signed in;
    then the admin site's login page does the same for an operator."""
    import json

    from tokens.tests.oidc_server import free_port, running_provider

    port = free_port()
    web = {"client_id": "browser-app", "client_secret": "browser-app-secret-0123456789"}
    callbacks = [f"http://127.0.0.1:{port}{p}/oidc/idp/callback" for p in ("/auth", "/admin/auth")]
    with running_provider(tmp_path, [{**web, "redirect_uris": callbacks}]) as idp:
        idp.person("walker", email="walker@idp.example", email_verified=True, name="Wanda Walker")
        AdminFactory(username="chief", email="chief@example.com", email_verified=True)
        idp.person("chief", email="chief@example.com", email_verified=True)
        providers = {"idp": {**web, "issuer": idp.issuer, "name": "Company IdP", "realms": ["user", "admin"]}}
        with gunicorn(workers=2, port=port, OIDC_PROVIDERS=json.dumps(providers)) as server:
            for start, login, landing in (("/api-auth/login/", "walker", "/users/me"),
                                          ("/django-admin/login/", "chief", "/django-admin/")):  # fmt: skip
                page = browser.new_page()
                page.goto(f"{server}{start}")
                page.click("text=Sign in with Company IdP")
                page.wait_for_selector("input[name=login]")  # the provider's own login form
                page.fill("input[name=login]", login)
                page.fill("input[name=password]", "anything")
                page.click("button[type=submit]")
                page.wait_for_url(f"{server}{landing}")
                page.screenshot(path=str(ARTIFACTS / f"oidc-{login}.png"), full_page=True)
                if login == "walker":
                    assert '"username": "walker"' in page.inner_text("body")
                else:
                    assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME")
                page.close()
    assert User.objects.get(username="walker").email == "walker@idp.example"


@pytest.fixture
def mail_server():
    """A gunicorn server whose mail goes to a real SMTP capture on loopback: (url, inbox)."""
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        with gunicorn(workers=2, EMAIL_URL=f"smtp://127.0.0.1:{port}") as url:
            yield url, inbox
    finally:
        controller.stop()


def test_a_person_signs_in_to_the_browsable_api_with_a_mailed_code(browser, mail_server):
    import re

    server, inbox = mail_server
    UserFactory(username="codeperson", email="code.person@example.com")
    page = browser.new_page()
    page.goto(f"{server}/api-auth/login/?next=/users/me")
    page.click("#code-sign-in")
    page.fill("#id_email", "code.person@example.com")
    page.click("#code-request")
    page.wait_for_selector("#code-notice")
    [message] = inbox.wait_for(1)  # made and sent after the response, through SMTP
    [code] = re.findall(r"(?<!\d)\d{6}(?!\d)", text_of(message))
    page.fill("#id_code", code)
    page.click("#code-submit")
    page.wait_for_url(f"{server}/users/me")
    assert "codeperson" in page.content()
    page.screenshot(path=str(ARTIFACTS / "code-login.png"), full_page=True)


def test_an_operator_invites_an_admin_from_the_admin_site_who_accepts_through_the_api(browser, mail_server):
    import json
    import re
    from urllib import request as urlrequest

    from admins.models import Admin, Role

    server, inbox = mail_server
    Role.objects.create(name="Helpers")
    admin = AdminFactory(username="inviter")
    page = admin_site_login(browser, server, admin)
    page.goto(f"{server}/django-admin/admins/admin/")
    page.click("#invite-link")
    page.fill("input[name=email]", "helper@example.com")
    page.fill("input[name=name]", "Helper")
    page.check("label:has-text('Helpers') input")
    page.click("#invite-submit")
    page.wait_for_selector("text=Invitation sent to helper@example.com.")
    page.screenshot(path=str(ARTIFACTS / "admin-site-invite.png"), full_page=True)
    [message] = inbox.wait_for(1)
    assert message["To"] == "helper@example.com"
    body = text_of(message)
    [token] = re.findall(r"/admin/accept-invitation\?token=([\w.:-]+)", body)
    payload = json.dumps({"token": token, "username": "helper", "password": "a-helpful-passphrase"}).encode()
    req = urlrequest.Request(f"{server}/admin/auth/invitations/accept", data=payload, method="POST",
                             headers={"Content-Type": "application/json"})  # fmt: skip
    with urlrequest.urlopen(req, timeout=30) as response:
        assert response.status == 201 and "access_token" in json.loads(response.read())["data"]
    helper = Admin.objects.get(username="helper")
    assert helper.email_verified and list(helper.groups.values_list("name", flat=True)) == ["Helpers"]
