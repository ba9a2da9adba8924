"""A read-only key (every ``*:read`` scope the API knows) is refused with 403 on every write operation the
OpenAPI document lists, before any service runs, and can still call the reads.

The operations are walked from the served document itself, so a write added later is covered as it lands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, rest_event
from tests.unit.api.test_scopes_first import PATH_VALUES, NoService
from trackbridge.runtime import container
from trackbridge.runtime.api.app import openapi_document
from trackbridge.runtime.api.operations import REQUIRED_SCOPE

WRITES = {"post", "put", "patch", "delete"}
OPERATIONS = [
    (method, path, op)
    for path, item in openapi_document()["paths"].items()
    for method, op in item.items()
    if method in WRITES | {"get"}
]
# Every scope of the document that only reads, and nothing else: the most a read-only key can hold.
READ_ONLY = sorted({str(op.get(REQUIRED_SCOPE)) for _, _, op in OPERATIONS if op.get(REQUIRED_SCOPE)})
READ_ONLY = [scope for scope in READ_ONLY if scope.endswith(":read")]
# POSTs that change nothing the tenant owns, so a read scope is theirs by design: a dry run of a rule, a
# template preview, and a link refresh (it pulls the linked issues' status as a sync would). A new entry here
# is a decision to review, not a default.
READS_BY_POST = {"testRule", "previewTemplate", "refreshLink"}
PROTECTED_WRITES = [
    (method, path, op)
    for method, path, op in OPERATIONS
    if method in WRITES and op.get("security") != [{}] and op["operationId"] not in READS_BY_POST
]


@pytest.fixture(autouse=True)
def no_services() -> Iterator[None]:
    from trackbridge.runtime.api.app import app

    for name, factory in vars(container).items():
        if callable(factory) and name != "reset":
            app.dependency_overrides[factory] = NoService
    yield
    app.dependency_overrides.clear()


def _path(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def test_every_write_declares_a_scope_a_read_only_key_lacks() -> None:
    assert len(PROTECTED_WRITES) > 20
    for method, path, op in PROTECTED_WRITES:
        scope = op.get(REQUIRED_SCOPE)
        assert scope, (method, path)
        assert not str(scope).endswith(":read"), (method, path, scope)


@pytest.mark.parametrize(
    ("method", "path", "op"), PROTECTED_WRITES, ids=lambda v: v if isinstance(v, str) else v["operationId"]
)
def test_a_read_only_key_gets_403_on_every_write(shared_dir: Path, method: str, path: str, op: Any) -> None:
    event = rest_event(shared_dir, method.upper(), _path(path), body={}, scopes=",".join(READ_ONLY))
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 403, (method, path, body_of(response))
    assert body_of(response)["error"]["details"] == {"required_scope": op[REQUIRED_SCOPE]}


def test_the_reads_by_post_are_exactly_the_documented_ones() -> None:
    read_posts = {
        op["operationId"]
        for method, _, op in OPERATIONS
        if method in WRITES and str(op.get(REQUIRED_SCOPE, "")).endswith(":read")
    }
    assert read_posts == READS_BY_POST


def test_the_read_only_key_holds_the_read_scopes_of_the_operations_area() -> None:
    # The key is not empty-handed: it holds every read scope (connections, audit, metrics, ...)
    assert {"connections:read", "audit:read", "metrics:read"} <= set(READ_ONLY)
