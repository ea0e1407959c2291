"""One error shape: every validation error's `details` is `{"field": ["message", ...]}`, never nested."""

import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from common.tests.factories import PASSWORD, AdminFactory, UserFactory
from common.tests.utils import assert_error, bearer

BAD = {"string": {"not": "a string"}, "integer": "not-a-number", "boolean": "maybe", "array": "not-a-list"}


def write_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if not content:
                continue
            ref = next(iter(content.values()))["schema"]["$ref"].rsplit("/", 1)[1]
            yield path, method, components[ref].get("properties", {})


def bad_body(properties: dict) -> dict:
    return {name: BAD.get(spec.get("type", "string"), {"not": "valid"}) for name, spec in properties.items()}


def is_flat(details: dict) -> bool:
    return all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for k, v in details.items() if k != "request_id"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method", "properties"), list(write_operations()), ids=lambda v: str(v)[:40])
def test_every_write_endpoint_answers_bad_values_with_flat_details(path, method, properties):
    user, admin = UserFactory(), AdminFactory()
    client = Client()
    realm_login = "/admin/auth/login" if path.startswith("/admin") else "/auth/login"
    account = admin if path.startswith("/admin") else user
    login = client.post(
        realm_login, {"username": account.username, "password": PASSWORD}, content_type="application/json"
    )
    token = login.json()["data"]["access_token"]
    url = re.sub(r"\{[^}]+\}", str(user.pk), path.replace("{provider}", "unknown-provider"))
    response = getattr(client, method)(url, bad_body(properties), content_type="application/json", **bearer(token))
    body = response.json()
    # Every one of these bodies is invalid: the answer is a 400 (or a refusal before validation,
    # such as 403 for a token that may not reach, 404 for no such object), never a 500.
    assert response.status_code in (400, 401, 403, 404, 409), body  # 401: a passkey answer that does not verify
    if response.status_code == 400:
        assert body["error"]["code"] == "VALIDATION_ERROR" and is_flat(body["error"]["details"]), body


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short", "password123", "correct-horse-user"])
def test_a_rejected_new_password_is_a_flat_list(api_client, realm_case, password):
    account = realm_case.make(username="correct-horse-user")
    access = realm_case.login_pair(api_client, account)["access_token"]
    body = {"current_password": PASSWORD, "new_password": password}
    details = assert_error(
        api_client.post(realm_case.password, body, format="json", **bearer(access)), 400, "VALIDATION_ERROR"
    )
    assert list(details) == ["new_password"] and is_flat(details) and details["new_password"]
