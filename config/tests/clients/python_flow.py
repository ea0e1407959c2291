"""Run by config/tests/test_generated_clients.py with a client that openapi-python-client generated
from the live /schema (importable as `client`): the flow a client developer writes first, in one
realm. Usage: python python_flow.py BASE_URL REALM [ADMIN_USERNAME ADMIN_PASSWORD]."""

import importlib
import pkgutil
import sys

import client.api
from client import AuthenticatedClient, Client
from client.models import (
    CreatePersonalAccessTokenRequest,
    LoginRequest,
    LogoutRequest,
    PatchedProfileUpdateRequest,
    RefreshRequest,
    RegisterRequest,
)

OPERATIONS = {
    info.name.rsplit(".", 1)[1]: importlib.import_module(info.name)
    for info in pkgutil.walk_packages(client.api.__path__, "client.api.")
    if not info.ispkg
}


def call(operation: str, status: int, **kwargs):
    response = OPERATIONS[operation].sync_detailed(**kwargs)
    assert response.status_code == status, (operation, response.status_code, response.content)
    return response.parsed.data


def main(base_url: str, realm: str, *admin: str) -> None:
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    password = "a-long-client-passphrase"
    if realm == "user":
        registrar = anonymous
    else:  # admin registration is never open: an admin registers the next one
        pair = call("admin_login", 200, client=anonymous, body=LoginRequest(username=admin[0], password=admin[1]))
        registrar = AuthenticatedClient(base_url=base_url, token=pair.access_token)
    body = RegisterRequest(username=f"gen{realm}", name="Generated", email=f"gen{realm}@example.com", password=password)
    account = call(f"{realm}_register", 201, client=registrar, body=body)
    assert account.username == f"gen{realm}"

    pair = call(f"{realm}_login", 200, client=anonymous, body=LoginRequest(username=f"gen{realm}", password=password))
    signed_in = AuthenticatedClient(base_url=base_url, token=pair.access_token)
    assert call(f"{realm}_me_retrieve", 200, client=signed_in).email == f"gen{realm}@example.com"
    updated = call(
        f"{realm}_me_partial_update", 200, client=signed_in, body=PatchedProfileUpdateRequest(name="Renamed")
    )
    assert updated.name == "Renamed"

    token = call(f"{realm}_tokens_create", 201, client=signed_in, body=CreatePersonalAccessTokenRequest(name="ci"))
    assert token.token.startswith("pat_")
    assert [item.name for item in call(f"{realm}_tokens_list", 200, client=signed_in).items] == ["ci"]
    assert call(f"{realm}_sessions_list", 200, client=signed_in).total == 1

    new = call(f"{realm}_refresh", 200, client=anonymous, body=RefreshRequest(refresh_token=pair.refresh_token))
    assert new.access_token != pair.access_token
    renewed = AuthenticatedClient(base_url=base_url, token=new.access_token)
    call(f"{realm}_logout", 200, client=renewed, body=LogoutRequest(refresh_token=new.refresh_token))
    assert OPERATIONS[f"{realm}_me_retrieve"].sync_detailed(client=renewed).status_code == 401
    print(f"{realm}: ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
