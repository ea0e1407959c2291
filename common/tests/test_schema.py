"""/schema is a valid OpenAPI 3 document describing every endpoint, envelope and bearer scheme; /docs serves it."""

from pathlib import Path

import pytest
from openapi_spec_validator import validate

REALM_PATHS = [
    "{auth}/register",
    "{auth}/login",
    "{auth}/refresh",
    "{auth}/logout",
    "{auth}/logout-all",
    "{me}",
    "{me}/avatar",
    "{me}/password",
    "{me}/tokens",
    "{me}/tokens/{{token_id}}",
    "{me}/sessions",
    "{me}/sessions/{{session_id}}",
    "{auth}/password/forgot",
    "{auth}/password/reset",
    "{auth}/email/verify",
    "{auth}/email/verify/resend",
    "{auth}/mfa/verify",
    "{me}/mfa",
    "{me}/mfa/totp",
    "{me}/mfa/totp/confirm",
    "{me}/mfa/recovery-codes",
    "{me}/security-events",
    "{me}/passkeys/options",
    "{me}/passkeys",
    "{me}/passkeys/{{passkey_id}}",
    "{auth}/passkey/options",
    "{auth}/passkey/login",
    "{auth}/oidc/providers",
    "{auth}/oidc/exchange",
    "{auth}/oidc/{{provider}}/authorize",
    "{auth}/oidc/{{provider}}/callback",
    "{auth}/oidc/{{provider}}/token",
    "{me}/identities",
    "{me}/identities/{{identity_id}}",
    "{me}/identities/{{provider}}",
    "{me}/identities/link",
    "{auth}/reauthenticate",
    "{auth}/code/request",
    "{auth}/code/verify",
    "{auth}/invitations/inspect",
    "{auth}/invitations/accept",
    "{me}/export",
]
USER_ID = "/admin/users/{user_id}"
PATHS = {
    *(path.format(auth="/auth", me="/users/me") for path in REALM_PATHS),
    *(path.format(auth="/admin/auth", me="/admin/me") for path in REALM_PATHS),
    "/admin/users", USER_ID, *(f"{USER_ID}/{action}" for action in ("activate", "block", "unlock", "restore")),
    f"{USER_ID}/sessions", f"{USER_ID}/mfa", f"{USER_ID}/identities", f"{USER_ID}/erase",
    f"{USER_ID}/tokens", f"{USER_ID}/tokens/{{token_id}}",
    "/health", "/admin/audit", "/admin/permissions", "/admin/roles", "/admin/roles/{role_id}", "/admin/admins",
    "/admin/admins/{admin_id}", "/auth/introspect", "/admin/webhooks", "/admin/webhooks/{endpoint_id}",
    *(f"/admin/webhooks/{{endpoint_id}}/{tail}" for tail in ("rotate-secret", "test", "deliveries")),
    "/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry",
    "/settings/public", "/admin/settings", "/admin/settings/{key}", "/admin/statistics",
    "/admin/invitations", "/admin/invitations/{invitation_id}", "/admin/invitations/{invitation_id}/resend",
    "/admin/oauth/clients", "/admin/oauth/clients/{client_pk}", "/admin/oauth/clients/{client_pk}/rotate-secret",
    "/users/me/grants", "/users/me/grants/{client_id}",
}  # fmt: skip


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/schema")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_schema_validates_as_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_every_endpoint_is_documented(schema):
    assert set(schema["paths"]) == PATHS


def test_both_bearer_schemes_and_their_use(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["UserBearer"]["scheme"] == "bearer" and schemes["AdminBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/users/me"]["get"]["security"] == [{"UserBearer": []}, {"UserSession": []}]
    assert schema["paths"]["/admin/users"]["get"]["security"] == [{"AdminBearer": []}, {"AdminSession": []}]
    assert schema["paths"]["/auth/login"]["post"].get("security", []) in ([], [{}])


def test_request_bodies_are_json_and_multipart_only_where_a_file_is_sent(schema):
    with_files = {("/auth/register", "post"), ("/admin/auth/register", "post")}
    with_files |= {(path, method) for path in ("/users/me", "/admin/me") for method in ("put", "patch")}
    form_posts = {(f"{auth}/oidc/{{provider}}/callback", "post") for auth in ("/auth", "/admin/auth")}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = set(operation.get("requestBody", {}).get("content", {}))
            if content:
                expected = {"multipart/form-data"} if (path, method) in with_files else {"application/json"}
                if (path, method) in form_posts:  # a provider's response_mode=form_post
                    expected = {"application/x-www-form-urlencoded"}
                if (path, method) == ("/admin/settings/{key}", "put"):  # a value, or the logo's file
                    expected = {"application/json", "multipart/form-data"}
                assert content == expected, (path, method, content)
    register = schema["paths"]["/auth/register"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    ref = register["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][ref]["properties"]["avatar"]["format"] == "binary"


def test_responses_are_enveloped_with_documented_errors(schema):
    me = schema["paths"]["/users/me"]["get"]["responses"]
    ok_ref = me["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][ok_ref]["properties"]) == {"success", "message", "data"}
    error_ref = me["401"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][error_ref]["properties"]) == {"success", "message", "error"}
    login = schema["paths"]["/auth/login"]["post"]["responses"]
    assert {"200", "400", "401", "403", "423", "429", "500"} <= set(login)


@pytest.mark.django_db
def test_docs_serve_swagger_ui_without_a_cdn(client):
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html
    assert client.get("/docs/").status_code == 200


def test_operation_ids_are_unique_and_lists_are_named_as_lists(schema):
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    pages = {
        op["operationId"]
        for _, method, op in operations
        if method == "get"
        and "200" in op["responses"]  # the identity providers' redirects answer 302
        and any(
            kind in str(op["responses"]["200"]["content"]["application/json"]["schema"]) for kind in ("Page", "List")
        )
    }
    assert pages == {i for i in ids if i.endswith("_list")}
    assert {"user_tokens_list", "admin_audit_list", "admin_users_list", "user_sessions_list"} <= pages
    assert "users_me_tokens_retrieve" not in ids and "user_login" in ids


def url_names(patterns=None, namespace: str = ""):
    from django.urls import URLResolver, get_resolver

    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_names(pattern.url_patterns, inner)
        elif pattern.name:
            yield namespace + pattern.name


def test_operation_ids_and_url_names_are_those_committed(schema):
    """Moving code (the tokens layout, #34) must not rename an operation or a route: api_surface.txt was
    written before the move."""
    committed = [line for line in (Path(__file__).parent / "api_surface.txt").read_text().splitlines()
                 if line and not line.startswith("#")]  # fmt: skip
    operations = {f"{m.upper()} {path} {op['operationId']}" for path, ops in schema["paths"].items()
                  for m, op in ops.items()}  # fmt: skip
    assert operations | set(url_names()) == set(committed)
