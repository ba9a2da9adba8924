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
