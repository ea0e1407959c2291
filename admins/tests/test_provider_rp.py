"""A real relying party against a real gunicorn (§28): authlib's OAuth client does the code flow
with PKCE and nonce, verifies the ID token with the published JWK Set, calls userinfo, refreshes
and logs out; the person's part goes through the real login and consent pages."""

import re
import secrets
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from admins import oauth_clients
from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import gunicorn
from testkit.servers import free_port

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]
REDIRECT = "http://127.0.0.1:9/callback"


def csrf(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def approve(browser: requests.Session, url: str, authorize_url: str, user) -> str:
    """Sign in on the login page, allow on the consent page; the redirect to the client."""
    path = authorize_url.removeprefix(url)
    login = browser.get(f"{url}/api-auth/login/", params={"next": path})
    body = {"username": user.username, "password": PASSWORD, "next": path, "csrfmiddlewaretoken": csrf(login.text)}
    back = browser.post(f"{url}/api-auth/login/", data=body, allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"] == path
    consent = browser.get(authorize_url, allow_redirects=False)
    assert consent.status_code == 200 and 'name="allow"' in consent.text
    answer = browser.post(authorize_url, data={"csrfmiddlewaretoken": csrf(consent.text), "allow": "Allow"},
                          headers={"Referer": authorize_url}, allow_redirects=False)  # fmt: skip
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def test_authlib_signs_a_person_in_refreshes_and_logs_out(settings):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings.OIDC_ISSUER = issuer
    client, secret = oauth_clients.create_client(actor=AdminFactory(), data={
        "name": "Forum", "client_type": "confidential", "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"]})  # fmt: skip
    user = UserFactory()
    with gunicorn(port=port, OIDC_ISSUER=issuer, ALGORITHM="ES256") as url:
        discovery = requests.get(f"{url}/.well-known/openid-configuration", timeout=10).json()
        keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())
        rp = OAuth2Session(client.client_id, secret, scope="openid profile email offline_access",
                           redirect_uri=REDIRECT, code_challenge_method="S256")  # fmt: skip
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        authorize_url, state = rp.create_authorization_url(discovery["authorization_endpoint"], nonce=nonce,
                                                           code_verifier=verifier)  # fmt: skip
        browser = requests.Session()
        callback = approve(browser, url, authorize_url, user)
        assert urlsplit(callback).query.find(f"state={state}") >= 0
        tokens = rp.fetch_token(discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        token = jwt.decode(tokens["id_token"], keys, algorithms=["ES256"])
        expected = {"iss": issuer, "aud": client.client_id, "nonce": nonce}
        jwt.JWTClaimsRegistry(**{name: {"essential": True, "value": v} for name, v in expected.items()}).validate(
            token.claims
        )
        claims = token.claims
        assert claims["sub"] == str(user.pk) and claims["email"] == user.email
        info = rp.get(discovery["userinfo_endpoint"]).json()
        assert info["sub"] == str(user.pk) and info["preferred_username"] == user.username
        renewed = rp.refresh_token(discovery["token_endpoint"])
        assert renewed["refresh_token"] != tokens["refresh_token"]
        assert jwt.decode(renewed["id_token"], keys, algorithms=["ES256"]).claims["sub"] == str(user.pk)
        query = urlencode({"id_token_hint": renewed["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9/bye",
                           "state": "bye"})  # fmt: skip
        out = browser.get(f"{discovery['end_session_endpoint']}?{query}", allow_redirects=False)
        assert out.status_code == 302 and out.headers["Location"] == "http://127.0.0.1:9/bye?state=bye"
        again = browser.get(authorize_url, allow_redirects=False)
        assert again.status_code == 302 and again.headers["Location"].startswith("/api-auth/login/")
