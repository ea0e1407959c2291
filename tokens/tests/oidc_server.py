"""A real OpenID Connect provider on loopback for the tests: panva's oidc-provider 8.x
(tokens/tests/oidc_provider), a Node.js process, with its development login form.

The provider's signing key is made here and handed to it, so a test can also sign ID tokens
"as the provider" (expired, foreign issuer, wrong audience...) that the real process would not.
"""

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).parent / "oidc_provider"
KID = "test-key-1"


def installed() -> None:
    """npm ci once per checkout (the lock file pins oidc-provider); skip where Node.js is absent."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the OpenID provider tests need them")
    marker = HERE / "node_modules" / ".package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < (HERE / "package-lock.json").stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OidcProvider:
    issuer: str
    private_key: Any
    accounts_file: Path
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def person(self, login: str, **claims: Any) -> str:
        """Someone who can sign in at the provider with this login (its `sub`)."""
        self.accounts[login] = claims
        self.accounts_file.write_text(json.dumps(self.accounts))
        return login

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str = KID, algorithm: str = "RS256") -> str:
        """An ID token signed with the provider's key (or another), for the refusal tests."""
        return jwt.encode(claims, key or self.private_key, algorithm=algorithm, headers={"kid": kid})

    def claims(self, sub: str, aud: str, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "sub": sub, "aud": aud, "iat": now, "exp": now + 600, **extra}

    def log_in(self, authorize_url: str, login: str) -> str:
        """A person signs in at the provider's login form: the URL it sends the browser back to."""
        browser = requests.Session()
        url = authorize_url
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["Location"])
                if not url.startswith(self.issuer):
                    return url
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert form, response.text[:500]
            if not urljoin(url, form.group(1)).startswith(self.issuer):  # response_mode=form_post
                fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
                return f"{urljoin(url, form.group(1))}?{urlencode(fields)}"
            data = {"prompt": "login", "login": login, "password": "any"}
            if 'name="prompt" value="consent"' in response.text:
                data = {"prompt": "consent"}
            response = browser.post(urljoin(url, form.group(1)), data=data, allow_redirects=False, timeout=10)
            url = urljoin(url, response.headers["Location"])
            if not url.startswith(self.issuer):
                return url
        raise AssertionError("the provider never sent the browser back")

    def native_id_token(self, login: str, client_id: str, redirect_uri: str, nonce: str | None = None) -> str:
        """What a platform SDK gets: an ID token for `client_id` (a public client with PKCE)."""
        from authlib.integrations.requests_client import OAuth2Session

        client = OAuth2Session(client_id, None, scope="openid email profile", redirect_uri=redirect_uri,
                               code_challenge_method="S256", token_endpoint_auth_method="none")  # fmt: skip
        verifier = "v" * 64
        extra = {"nonce": nonce} if nonce else {}
        url, _ = client.create_authorization_url(f"{self.issuer}/auth", code_verifier=verifier, **extra)
        back = self.log_in(url, login)
        code = parse_qs(urlsplit(back).query)["code"][0]
        token = client.fetch_token(f"{self.issuer}/token", code=code, code_verifier=verifier)
        return token["id_token"]


@contextmanager
def running_provider(tmp_path: Path, clients: list[dict[str, Any]], id_token_ttl: int = 3600) -> Iterator[OidcProvider]:
    installed()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key))
    accounts_file = tmp_path / "accounts.json"
    accounts_file.write_text("{}")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PORT": str(port),
        "ISSUER": issuer,
        "CLIENTS": json.dumps(clients),
        "JWKS": json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}),
        "ACCOUNTS_FILE": str(accounts_file),
        "ID_TOKEN_TTL": str(id_token_ttl),
        "NODE_ENV": "test",
    }
    process = subprocess.Popen(["node", "provider.js"], cwd=HERE, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        said = []
        while not said or said[-1].strip() != "ready":  # the provider's development warnings come first
            said.append(process.stdout.readline())
            assert said[-1] or process.poll() is None, "".join(said)
        yield OidcProvider(issuer=issuer, private_key=private_key, accounts_file=accounts_file)
    finally:
        process.terminate()
        process.wait(timeout=10)
