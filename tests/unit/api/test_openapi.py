"""The generated OpenAPI document and the public paths, checked against the infrastructure definition."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema

from functions.api import handler
from infra.definition import ROUTES
from tests.unit.api.support import FakeLambdaContext, rest_event
from trackbridge.runtime.api.app import PUBLIC_PATHS, app
from trackbridge.runtime.api.errors import allowed_methods
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES


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


# ---- what the document says about each operation --------------------------------------------------------

OPERATION_ID = re.compile(r"[a-z][a-zA-Z0-9]{2,63}")
# Open to any valid key: what trackbridge supports is no tenant's secret.
NO_SCOPE = {"listProviders"}


def served() -> dict[str, Any]:
    from trackbridge.runtime.api.app import openapi_document

    return openapi_document()


def operations_of(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_every_operation_has_a_description_and_a_readable_unique_operation_id() -> None:
    # Given: the served document
    operations = operations_of(served())

    # Then: each operation is described and named for code generators, once
    ids = [op["operationId"] for _, _, op in operations]
    for path, method, op in operations:
        assert len(op.get("description", "")) >= 40, f"{method} {path}"
        assert op.get("summary"), f"{method} {path}"
        assert OPERATION_ID.fullmatch(op["operationId"]), op["operationId"]
    assert len(ids) == len(set(ids))
    assert {"listConnections", "createConnection", "createIssue", "bulkIssues", "startSync"} <= set(ids)


def test_every_tag_is_declared_with_a_description_and_used() -> None:
    doc = served()
    declared = {tag["name"]: tag.get("description") for tag in doc["tags"]}
    used = {tag for _, _, op in operations_of(doc) for tag in op["tags"]}
    assert used == set(declared)
    assert all(description and len(description) >= 30 for description in declared.values()), declared


def test_every_tenant_operation_declares_the_scope_it_needs() -> None:
    for path, _method, op in operations_of(served()):
        scope = op.get("x-required-scope")
        if path in PUBLIC_PATHS or op["operationId"] in NO_SCOPE:
            assert scope is None, op["operationId"]
            continue
        assert scope, op["operationId"]
        assert f"Requires the `{scope}` scope." in op["description"]
        assert scope in op["responses"]["403"]["description"]


def _media(op: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [("request", ct, c) for ct, c in ((op.get("requestBody") or {}).get("content") or {}).items()]
    for status, response in op["responses"].items():
        found += [(status, ct, c) for ct, c in (response.get("content") or {}).items()]
    return found


def _target(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The component a body's schema names (directly or as the non-null branch), else the inline schema."""
    refs = [schema.get("$ref"), *(branch.get("$ref") for branch in schema.get("anyOf", ()))]
    ref = next((r for r in refs if r), None)
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, doc["components"]["schemas"][name]


def test_every_body_an_operation_takes_or_answers_has_a_valid_example() -> None:
    # Given: the served document, and a validator that resolves its component references
    doc = served()

    def validate(instance: Any, schema: dict[str, Any]) -> None:
        jsonschema.Draft202012Validator(
            {**schema, "components": doc["components"]}, format_checker=jsonschema.FormatChecker()
        ).validate(instance)

    # Then: every request and response body has an example, valid against the schema it illustrates
    checked = set()
    for path, method, op in operations_of(doc):
        for where, content_type, content in _media(op):
            name, schema = _target(doc, content["schema"])
            examples = [e for e in schema.get("examples") or [content.get("example")] if e is not None]
            assert examples, (method, path, where, content_type)
            for example in examples:
                validate(example, {"$ref": f"#/components/schemas/{name}"} if name else schema)
            checked.add(name or f"{op['operationId']} {where}")
    assert {"Error", "BulkRequest", "BulkResult", "Page_IssueView_", "ConnectionCreate"} <= checked


# The models behind the examples: an example must also pass the model's own validators (an id's alphabet,
# a ref's shape, "exactly one of"), which the JSON schema cannot say.
def _models() -> dict[str, type[Any]]:
    from trackbridge.domain.api_keys import ApiKeyView
    from trackbridge.domain.audit import AuditEntry
    from trackbridge.domain.connections import (
        Connection,
        ConnectionCreate,
        ConnectionPatch,
        ConnectionView,
        WebhookView,
    )
    from trackbridge.domain.issues import Comment, Sprint, User, Worklog
    from trackbridge.domain.sync import SyncLogEntry, SyncOperation
    from trackbridge.domain.sync_plan import SyncRequest
    from trackbridge.runtime.api import action_models, oauth, sync, views, webhooks
    from trackbridge.runtime.api import actions as action_routes
    from trackbridge.runtime.health import HealthReport
    from trackbridge.runtime.issues import IssueDetail, IssueView

    models: list[type[Any]] = [
        ApiKeyView,
        AuditEntry,
        Connection,
        ConnectionCreate,
        ConnectionPatch,
        ConnectionView,
        WebhookView,
        Comment,
        Worklog,
        User,
        Sprint,
        SyncLogEntry,
        SyncOperation,
        SyncRequest,
        HealthReport,
        IssueView,
        IssueDetail,
        action_models.AttachmentView,
        action_models.BulkCreate,
        action_models.BulkRequest,
        action_models.BulkResult,
        action_models.BulkUpdate,
        action_models.CommentCreate,
        action_models.IssueCreate,
        action_models.IssuePatch,
        action_models.TransitionRequest,
        action_routes.Transitions,
        sync.SyncStates,
        views.ConnectionTestReport,
        views.ProviderList,
        webhooks.RotatedWebhookSecret,
        *(getattr(oauth, name) for name in ("OAuthConnectionRef", "AuthorizationStarted", "OAuthRevoked")),
        *(getattr(oauth, name) for name in ("OAuthCallbackResult", "OAuthErrorBody")),
        *_schedule_models(),
        *_operations_models(),
    ]
    return {model.__name__: model for model in models}


def _operations_models() -> list[type[Any]]:
    from trackbridge.runtime.api.dlq import RedriveRequest
    from trackbridge.runtime.api.repositories import RepositoryActivity
    from trackbridge.runtime.connection_health import TenantHealth
    from trackbridge.runtime.dlq import DeadLetterList, DeadLetterMove
    from trackbridge.storage.metrics import MetricsSummary

    return [TenantHealth, MetricsSummary, DeadLetterList, DeadLetterMove, RedriveRequest, RepositoryActivity]


def _schedule_models() -> list[type[Any]]:
    from trackbridge.domain.backoff import ScheduleState
    from trackbridge.runtime.api.schedules import PauseRequest, ScheduleUpdate

    return [ScheduleState, ScheduleUpdate, PauseRequest]


NO_MODEL = {"Error", "ErrorDetail", "Body_attachFile"}  # written by hand in openapi.py / a multipart form


def test_every_example_passes_the_model_it_shows() -> None:
    models = _models()
    assert set(SCHEMA_EXAMPLES) == set(models) | NO_MODEL
    for name, model in models.items():
        model.model_validate(SCHEMA_EXAMPLES[name])
    for item in SCHEMA_EXAMPLES["BulkRequest"]["items"]:
        models["BulkCreate" if item["op"] == "create" else "BulkUpdate"].model_validate(item)


def test_bulk_items_are_typed_creates_or_updates() -> None:
    schemas = served()["components"]["schemas"]
    items = schemas["BulkRequest"]["properties"]["items"]["items"]
    assert items["discriminator"]["propertyName"] == "op"
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in items["oneOf"]} == {"BulkCreate", "BulkUpdate"}
    assert schemas["BulkCreate"]["properties"]["op"]["const"] == "create"
    assert "key" in schemas["BulkUpdate"]["required"]
    error = schemas["BulkItemResult"]["properties"]["error"]["anyOf"][0]
    assert error == {"$ref": "#/components/schemas/ErrorDetail"}


def test_a_204_has_no_body() -> None:
    paths = served()["paths"]
    for path, method in (("/v1/connections/{connection_id}", "delete"), ("/v1/keys/{key_id}", "delete")):
        assert "content" not in paths[path][method]["responses"]["204"]


def test_issue_keys_document_their_url_form() -> None:
    op = served()["paths"]["/v1/connections/{connection_id}/issues/{key}"]["patch"]
    key = next(p for p in op["parameters"] if p["name"] == "key")
    assert "%23" in key["description"]
    assert "12 or #12" in key["description"]


# ---- servers: where "Try it out" sends requests -----------------------------------------------------------


def _docs_page_spec(shared_dir: Path, *, path: str, stage: str, full_path: str) -> dict[str, Any]:
    """The document the Swagger UI page of this request embeds (its ``spec`` option)."""
    event = rest_event(shared_dir, "GET", path, tenant=None)
    event["requestContext"].update(stage=stage, path=full_path)
    page = handler(event, FakeLambdaContext())
    assert page["statusCode"] == 200
    body = page["body"]
    start = body.index("spec: ") + len("spec: ")
    spec, _ = json.JSONDecoder().raw_decode(body[start:].replace("<\\/", "</"))
    served_event = rest_event(shared_dir, "GET", "/v1/openapi.json", tenant=None)
    served_event["requestContext"].update(stage=stage, path=full_path.replace("/v1/docs", "/v1/openapi.json"))
    assert json.loads(handler(served_event, FakeLambdaContext())["body"])["servers"] == spec["servers"]
    return dict(spec)


def _try_it_out(page_url: str, server: str, path: str) -> str:
    """The URL Swagger UI requests: the server resolved against the page, then the operation's path."""
    return urljoin(page_url, server).rstrip("/") + path


def test_try_it_out_reaches_the_route_behind_the_local_gateway(shared_dir: Path) -> None:
    # Given: the docs page as the embedded stack serves it (stage "v1", no stage in the URL)
    spec = _docs_page_spec(shared_dir, path="/v1/docs", stage="v1", full_path="/v1/docs")

    # When: "Try it out" on GET /v1/health
    url = _try_it_out("http://127.0.0.1:8000/v1/docs", spec["servers"][0]["url"], "/v1/health")

    # Then: the request lands on the route, not on /v1/v1/health
    assert url == "http://127.0.0.1:8000/v1/health"
    assert "/v1/health" in spec["paths"]
    assert "x-required-scope" in spec["paths"]["/v1/connections"]["get"]  # the served document, complete


def test_try_it_out_keeps_the_stage_on_an_execute_api_host(shared_dir: Path) -> None:
    # Given: the docs page reached at https://<id>.execute-api.<region>.amazonaws.com/dev/v1/docs
    spec = _docs_page_spec(shared_dir, path="/v1/docs", stage="dev", full_path="/dev/v1/docs")
    host = "https://a1b2c3.execute-api.eu-west-1.amazonaws.com"

    # When: "Try it out" on GET /v1/connections
    url = _try_it_out(f"{host}/dev/v1/docs", spec["servers"][0]["url"], "/v1/connections")

    # Then: the stage stays in the URL, so API Gateway hands the function path /v1/connections
    assert url == f"{host}/dev/v1/connections"


def test_a_server_prefix_that_is_not_a_path_is_not_reflected() -> None:
    from trackbridge.runtime.api.app import server_url

    event = {"path": "/v1/docs", "requestContext": {"path": '/x"><script>/v1/docs'}}
    assert server_url(event) == "/"
    assert server_url({"path": "/v1/docs", "requestContext": {"path": "/prod/v1/docs"}}) == "/prod"
