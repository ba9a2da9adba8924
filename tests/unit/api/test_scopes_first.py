"""The scope a route declares is checked before Powertools reads the request: a key without it gets a 403,
whatever its body, never a 422 that would describe a valid body to a caller who may not send one.

Every case is generated from the resolver's own operation table, so a new route is covered as it lands.
No AWS is behind these requests: they are refused (or fail validation) before any service is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, rest_event
from trackbridge.runtime import container
from trackbridge.runtime.api.app import operations
from trackbridge.runtime.api.operations import Operation

PATH_VALUES = {
    "connection_id": "conn_abcdefghijklmnopqrst",
    "operation_id": "op_abcdefghijklmnopqrst",
    "key_id": "abcdefghijklmnopqrst",
    "key": "12",
    "ref": "conn_abcdefghijklmnopqrst.12",
    "link_id": "link_abcdefghijklmnopqrst",
    "kind": "table",
    "database": "sales",
    "schema": "public",
    "name": "orders",
    "event_id": "evt_0123456789abcdef",
    "run_id": "run_abcdefghijklmnopqrst",
    "queue": "sync",
    "message_id": "7b1c2d3e-0000-4000-8000-000000000000",
}
SCOPED = sorted((op for op in operations() if op.scope), key=lambda op: op.operation_id)
SCOPES = {op.scope for op in SCOPED if op.scope}
WITH_BODY = [op for op in SCOPED if op.json_body or op.path.endswith("/attachments")]


class NoService:
    """Any service: these requests must never reach one."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused request reached a service ({name})")


@pytest.fixture(autouse=True)
def no_services() -> Iterator[None]:
    from trackbridge.runtime.api.app import app

    factories = [value for name, value in vars(container).items() if callable(value) and name != "reset"]
    for factory in factories:
        app.dependency_overrides[factory] = NoService
    yield
    app.dependency_overrides.clear()


def _path(op: Operation) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], op.path)


def _bad_request(shared_dir: Path, op: Operation, *, scopes: str) -> dict[str, Any]:
    """A request of ``op`` that fails validation: a body with an unknown field (every body model forbids
    them; an upload gets JSON instead of multipart), or a page size of zero."""
    query = {"limit": "0"} if op.paged else None
    body = {"no_such_field": True} if op.json_body or op.path.endswith("/attachments") else None
    event = rest_event(shared_dir, op.method, _path(op), body=body, query=query, scopes=scopes)
    return handler(event, FakeLambdaContext())


@pytest.mark.parametrize("op", WITH_BODY, ids=lambda op: op.operation_id)
def test_a_bad_body_without_the_scope_is_a_403(shared_dir: Path, op: Operation) -> None:
    # Given: a key holding every scope the API knows but the one this route needs
    others = ",".join(sorted(SCOPES - {op.scope}))

    # When: it sends a body the route would refuse
    refused = _bad_request(shared_dir, op, scopes=others)

    # Then: 403 naming the scope, before anything looked at the body
    assert refused["statusCode"] == 403, body_of(refused)
    assert body_of(refused)["error"]["details"] == {"required_scope": op.scope}
    # ...while a key with the scope learns what is wrong with it
    invalid = _bad_request(shared_dir, op, scopes=str(op.scope))
    assert invalid["statusCode"] in (415, 422), body_of(invalid)


@pytest.mark.parametrize("op", SCOPED, ids=lambda op: op.operation_id)
def test_every_scoped_operation_refuses_a_key_without_its_scope(shared_dir: Path, op: Operation) -> None:
    refused = _bad_request(shared_dir, op, scopes="")
    assert refused["statusCode"] == 403, body_of(refused)
    assert body_of(refused)["error"]["details"] == {"required_scope": op.scope}


def test_every_write_is_covered() -> None:
    writes = {op.operation_id for op in operations() if op.method in {"POST", "PUT", "PATCH", "DELETE"}}
    public_or_open = {"completeJiraOAuth"}
    assert writes - public_or_open <= {op.operation_id for op in SCOPED}
    assert {"createConnection", "createIssue", "bulkIssues", "attachFile", "startSync"} <= {
        op.operation_id for op in WITH_BODY
    }


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Powertools' lax mode would take the array's first element (null: "no body", a valid sync)
        ("/v1/connections/conn_abcdefghijklmnopqrst/syncs", "[null]", "body"),
        # ...and read 0 as false, "1" as true
        ("/v1/connections/conn_abcdefghijklmnopqrst/syncs", '{"include_closed": 0}', "body.include_closed"),
        ("/v1/connections", '{"name": "web", "include_closed": "1"}', "body.include_closed"),
    ],
)
def test_a_body_of_other_json_types_than_documented_is_a_422(
    shared_dir: Path, path: str, body: str, field: str
) -> None:
    response = handler(rest_event(shared_dir, "POST", path, body=body), FakeLambdaContext())
    assert response["statusCode"] == 422, body_of(response)
    assert field in {e["path"] for e in body_of(response)["error"]["details"]["errors"]}


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday"])
def test_updated_since_is_an_iso_8601_date_time_only(shared_dir: Path, value: str) -> None:
    event = rest_event(shared_dir, "GET", "/v1/issues", query={"updated_since": value})
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 422, body_of(response)
    assert body_of(response)["error"]["details"]["errors"][0]["path"] == "query.updated_since"
