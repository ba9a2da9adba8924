"""The API's answers to bad input, through ``functions.api.handler``, with no AWS behind it.

Every request here fails (or is served) before a repository is touched; where a route would reach a service,
the service is replaced with a fake through ``app.dependency_overrides`` (Powertools' own seam for tests).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, captured_logs, header, rest_event
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.health import Check, HealthReport


class BrokenService:
    """A service whose every call fails the way a bug would, with internals in the message."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom: /var/task/secret-internal-path line 42")

        return fail


class FixedHealth:
    def __init__(self, healthy: bool) -> None:
        self.healthy = healthy

    def check(self) -> HealthReport:
        ok = Check(status="ok", latency_ms=1.0)
        bad = Check(status="error", latency_ms=2.0, error="ResourceNotFoundException")
        return HealthReport(
            status="ok" if self.healthy else "degraded",
            checks={"dynamodb": ok, "sqs": ok if self.healthy else bad, "secretsmanager": ok},
            version="test",
        )


@pytest.fixture(autouse=True)
def no_aws() -> Iterator[None]:
    # Any route that reaches a real service would build AWS clients: these tests must not.
    app.dependency_overrides[container.connection_service] = BrokenService
    app.dependency_overrides[container.audit_repository] = BrokenService
    yield
    app.dependency_overrides.clear()


@pytest.fixture
def call(shared_dir: Path) -> Any:
    def _call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return handler(rest_event(shared_dir, method, path, **kwargs), FakeLambdaContext())

    return _call


VALID = {
    "name": "web",
    "provider": "github",
    "base_url": "https://api.github.com",
    "scope": {"repo": "acme/web"},
    "credentials": {"token": "fake-token-SENTINEL"},
}


def test_body_that_is_not_json_is_a_400(call: Any) -> None:
    response = call("POST", "/v1/connections", body='{"name": "web",')
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "INVALID_JSON"


def test_json_nested_past_the_recursion_limit_is_a_400(call: Any) -> None:
    response = call("POST", "/v1/connections", body='{"a":' * 5000 + "1" + "}" * 5000)
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "INVALID_JSON"


@pytest.mark.parametrize("raw", ["!!not base64!!", base64.b64encode(b'{"name": "\xff\xfe"}').decode()])
def test_base64_bodies_that_do_not_decode_are_a_400(shared_dir: Path, raw: str) -> None:
    event = rest_event(shared_dir, "POST", "/v1/connections", body=raw)
    event["isBase64Encoded"] = True
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "INVALID_BODY"


def test_schema_violation_is_a_422_with_field_paths(call: Any) -> None:
    response = call("POST", "/v1/connections", body={**VALID, "scope": {"repo": "no-slash"}, "name": ""})
    assert response["statusCode"] == 422
    error = body_of(response)["error"]
    assert error["code"] == "VALIDATION_FAILED"
    paths = {e["path"] for e in error["details"]["errors"]}
    assert {"body.scope.repo", "body.name"} <= paths
    assert "fake-token-SENTINEL" not in response["body"]


def test_unknown_provider_names_the_supported_ones(call: Any) -> None:
    response = call("POST", "/v1/connections", body={**VALID, "provider": "trello"})
    assert response["statusCode"] == 422
    message = body_of(response)["error"]["message"]
    for provider in ("github", "gitlab", "jira"):
        assert provider in message


@pytest.mark.parametrize("body", ["[]", '"text"', "null", "42"])
def test_json_that_is_not_an_object_is_a_422(call: Any, body: str) -> None:
    response = call("POST", "/v1/connections", body=body)
    assert response["statusCode"] == 422


def test_query_violations_are_a_422(call: Any) -> None:
    response = call("GET", "/v1/connections", query={"limit": "1000"})
    assert response["statusCode"] == 422
    assert body_of(response)["error"]["details"]["errors"][0]["path"] == "query.limit"


def test_unsupported_content_type_is_a_415(call: Any) -> None:
    response = call("POST", "/v1/connections", body="name=web", headers={"Content-Type": "text/plain"})
    assert response["statusCode"] == 415
    assert body_of(response)["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_unknown_route_is_a_404_in_our_shape(call: Any) -> None:
    response = call("GET", "/v1/nothing-here")
    assert response["statusCode"] == 404
    assert body_of(response) == {
        "error": {"code": "NOT_FOUND", "message": "no such route", "details": {"path": "/v1/nothing-here"}}
    }


def test_wrong_method_is_a_405_with_allow(call: Any) -> None:
    response = call("PUT", "/v1/connections/conn_abcdefghijklmnopqrst")
    assert response["statusCode"] == 405
    assert body_of(response)["error"]["details"]["allowed"] == ["DELETE", "GET", "PATCH"]
    assert header(response, "Allow") == "DELETE, GET, PATCH"


@pytest.mark.parametrize(
    ("method", "path"), [("TRACE", "/v1/health"), ("POST", "/v1/docs"), ("TRACE", "/v1/keys")]
)
def test_a_method_no_route_declares_is_a_405_with_allow(call: Any, method: str, path: str) -> None:
    response = call(method, path)
    assert response["statusCode"] == 405
    assert body_of(response)["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert header(response, "Allow") == "GET"


def test_body_over_the_limit_is_a_413_before_parsing(call: Any) -> None:
    # Not even JSON: proves the size check runs before any parsing
    response = call("POST", "/v1/connections", body="x" * (1_048_576 + 1))
    assert response["statusCode"] == 413
    assert body_of(response)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_base64_bodies_are_measured_decoded(shared_dir: Path) -> None:
    event = rest_event(
        shared_dir, "POST", "/v1/connections", body=base64.b64encode(b"{" * 1_048_577).decode()
    )
    event["isBase64Encoded"] = True
    assert handler(event, FakeLambdaContext())["statusCode"] == 413


def test_tenant_route_without_authorizer_tenant_is_a_401(call: Any) -> None:
    for method, path in [("GET", "/v1/connections"), ("POST", "/v1/connections"), ("GET", "/v1/audit")]:
        response = call(method, path, tenant=None, body=VALID if method == "POST" else None)
        assert response["statusCode"] == 401, path
        assert body_of(response)["error"]["code"] == "UNAUTHORIZED"


def test_a_malformed_authorizer_tenant_is_a_401(call: Any) -> None:
    response = call("GET", "/v1/connections", authorizer={"tenant": "T#other", "key_id": "k", "scopes": "*"})
    assert response["statusCode"] == 401


def test_missing_scope_is_a_403(call: Any) -> None:
    response = call("POST", "/v1/connections", body=VALID, scopes="connections:read")
    assert response["statusCode"] == 403
    assert body_of(response)["error"]["details"] == {"required_scope": "connections:write"}


def test_unexpected_error_is_a_500_without_internals(call: Any) -> None:
    with captured_logs() as logs:
        response = call("GET", "/v1/connections", request_id="corr-777")
    assert response["statusCode"] == 500
    assert body_of(response) == {
        "error": {"code": "INTERNAL", "message": "internal error", "details": {"correlation_id": "corr-777"}}
    }
    assert "boom" not in response["body"]
    # The log has what the answer leaves out, under the same correlation id
    logged = [json.loads(line) for line in logs.lines if "api.unhandled_error" in line]
    assert len(logged) == 1
    assert logged[0]["correlation_id"] == "corr-777"
    assert "boom" in logged[0]["exception"]


@pytest.mark.parametrize(("healthy", "status"), [(True, 200), (False, 503)])
def test_health_reports_each_dependency(call: Any, healthy: bool, status: int) -> None:
    app.dependency_overrides[container.health_checker] = lambda: FixedHealth(healthy)
    response = call("GET", "/v1/health", tenant=None)
    assert response["statusCode"] == status
    body = body_of(response)
    assert body["status"] == ("ok" if healthy else "degraded")
    assert set(body["checks"]) == {"dynamodb", "sqs", "secretsmanager"}
    assert body["checks"]["dynamodb"]["latency_ms"] == 1.0


def test_openapi_and_docs_are_public(call: Any) -> None:
    schema = call("GET", "/v1/openapi.json", tenant=None)
    assert schema["statusCode"] == 200
    document = json.loads(schema["body"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"/v1/connections", "/v1/connections/{connection_id}", "/v1/health", "/v1/audit"} <= set(
        document["paths"]
    )
    docs = call("GET", "/v1/docs", tenant=None)
    assert docs["statusCode"] == 200
    assert "swagger" in docs["body"].lower()
