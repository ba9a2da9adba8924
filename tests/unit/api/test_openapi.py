"""The generated OpenAPI document and the public paths, checked against the infrastructure definition."""

from __future__ import annotations

import json

from infra.definition import ROUTES
from trackbridge.runtime.api.app import PUBLIC_PATHS, app
from trackbridge.runtime.api.errors import allowed_methods


def document() -> dict:  # type: ignore[type-arg]
    return json.loads(app.get_openapi_json_schema())


def test_public_paths_are_exactly_the_unauthorized_api_routes_we_serve() -> None:
    unauthorized = {route.path for route in ROUTES if route.function == "api" and not route.authorized}
    assert unauthorized >= PUBLIC_PATHS
    # A public route of the infrastructure that this resolver serves must not be guarded here either
    served = {path for path in unauthorized if allowed_methods(app, path)}
    assert served == PUBLIC_PATHS


def test_security_is_bearer_everywhere_but_health() -> None:
    doc = document()
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/v1/health"]["get"]["security"] == [{}]
    assert "security" not in doc["paths"]["/v1/connections"]["post"]


def test_credentials_are_write_only_secrets_in_the_schema() -> None:
    doc = document()
    text = json.dumps(doc)
    schemas = doc["components"]["schemas"]
    token = schemas["TokenCredentials"]["properties"]["token"]
    assert token.get("writeOnly") is True
    assert token.get("format") == "password"
    # No response model can carry a credential
    connection = schemas["Connection"]["properties"]
    assert "credentials" not in connection
    assert "webhook_secret" not in connection
    assert "has_credentials" in connection
    assert '"openapi": "3.1' in text or doc["openapi"].startswith("3.1")


def test_create_answers_201_and_delete_204() -> None:
    paths = document()["paths"]
    assert "201" in paths["/v1/connections"]["post"]["responses"]
    assert "204" in paths["/v1/connections/{connection_id}"]["delete"]["responses"]


def test_every_operation_documents_the_errors_it_can_answer() -> None:
    from trackbridge.runtime.api.app import openapi_document

    # Given: the document the API serves
    doc = openapi_document()
    error_ref = {"$ref": "#/components/schemas/Error"}

    # Then: each operation lists the shared error answers, each in the API's error shape
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            name = f"{method.upper()} {path}"
            assert {"400", "413", "422", "429", "503"} <= set(responses), name
            if path not in PUBLIC_PATHS:
                assert {"401", "403"} <= set(responses), name
            if "{" in path:
                assert "404" in responses, name
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert "$ref" in schema, (name, status)
                    assert "HTTPValidationError" not in schema["$ref"], (name, status)
            assert responses["401" if path not in PUBLIC_PATHS else "422"]["content"]["application/json"][
                "schema"
            ] == error_ref or path.startswith("/v1/oauth/"), name
    assert doc["paths"]["/v1/health"]["get"]["responses"].keys().isdisjoint({"401", "403"})
    assert {"502", "504"} <= set(doc["paths"]["/v1/connections/{connection_id}/issues"]["post"]["responses"])
    assert "409" in doc["paths"]["/v1/connections/{connection_id}/syncs"]["post"]["responses"]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]


def test_a_route_s_own_error_description_wins_over_the_table() -> None:
    from trackbridge.runtime.api.openapi import document_errors

    schema = {"paths": {"/v1/x/{id}": {"get": {"responses": {"404": {"description": "mine"}}}}}}

    documented = document_errors(schema, public_paths=())

    assert documented["paths"]["/v1/x/{id}"]["get"]["responses"]["404"]["description"] == "mine"
    assert "401" in documented["paths"]["/v1/x/{id}"]["get"]["responses"]
    assert "Error" not in schema.get("components", {}).get("schemas", {})  # the input is left alone
