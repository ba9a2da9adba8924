"""The Linear adapter's pure parts: webhook signatures and parsing, rate-limit headers, GraphQL errors,
and the documents it sends, checked against Linear's published SDL (shared/specs/linear.schema.graphql)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from infra.local.trackers.linear._schema import SCHEMA as SANDBOX_SCHEMA
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.errors import AuthenticationError, NotFoundError, RateLimitedError
from trackbridge.providers.linear import DOCUMENTS, LinearAdapter, LinearRateLimits
from trackbridge.providers.registry import create_adapter
from trackbridge.providers.types import DeliveryKind, TrackerConfig, WebhookAction, WebhookEntity
from trackbridge.providers.webhooks import WebhookPayloadError

CONNECTION = "conn_linearlinearlinearli"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
ISSUE_ID = "2b1d1a8e-9f6e-4c1e-8f3a-0c9d6b7a5e41"


def _secret() -> str:
    return "-".join(["test", "hook", "secret"])  # assembled at run time: obviously not a real one


@pytest.fixture
def adapter() -> Iterator[LinearAdapter]:
    config = TrackerConfig("https://api.linear.app", {"team": "ENG"}, CONNECTION)
    built = create_adapter("linear", config, {"token": "-".join(["fake", "key"])}, clock=lambda: NOW)
    assert isinstance(built, LinearAdapter)
    yield built
    built.close()


def _issue_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ISSUE_ID,
        "identifier": "ENG-7",
        "number": 7,
        "title": "Checkout times out",
        "description": "Seen on staging.",
        "priority": 2,
        "priorityLabel": "High",
        "url": "https://linear.app/acme/issue/ENG-7",
        "createdAt": "2026-03-01T10:00:00.000Z",
        "updatedAt": "2026-03-04T05:06:07.123Z",
        "state": {"id": "s1", "name": "In Progress", "type": "started", "color": "#f2c94c"},
        "stateId": "s1",
        "labels": [{"id": "l1", "name": "bug", "color": "#eb5757"}],
        "labelIds": ["l1"],
        "teamId": "t1",
    }
    data.update(changes)
    return data


def _delivery(
    kind: str, action: str, data: dict[str, Any], *, sent_ms: int | None = None
) -> tuple[dict, bytes]:
    body = {
        "action": action,
        "type": kind,
        "data": data,
        "createdAt": "2026-03-04T05:06:07.200Z",
        "organizationId": "o1",
        "webhookId": "w1",
        "webhookTimestamp": sent_ms if sent_ms is not None else int(time.time() * 1000),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = hmac.new(_secret().encode(), raw, hashlib.sha256).hexdigest()
    headers = {"Linear-Signature": signature, "Linear-Delivery": "d-1", "Linear-Event": kind}
    return headers, raw


# ---- webhook signatures ------------------------------------------------------------------------------
def test_a_signed_fresh_delivery_passes_and_any_change_fails() -> None:
    headers, raw = _delivery("Issue", "update", _issue_data())
    assert LinearAdapter.verify_webhook(headers, raw, ["old", _secret()])
    assert not LinearAdapter.verify_webhook(headers, raw, ["old"])
    assert not LinearAdapter.verify_webhook(headers, raw + b" ", [_secret()])
    assert not LinearAdapter.verify_webhook({**headers, "Linear-Signature": "0" * 64}, raw, [_secret()])
    assert not LinearAdapter.verify_webhook({}, raw, [_secret()])
    assert not LinearAdapter.verify_webhook(headers, raw, [])


def test_a_replayed_delivery_is_refused_after_a_minute() -> None:
    sent = int(time.time() * 1000)
    headers, raw = _delivery("Issue", "update", _issue_data(), sent_ms=sent)
    assert LinearAdapter.verify_webhook(headers, raw, [_secret()], now=sent / 1000 + 59)
    assert not LinearAdapter.verify_webhook(headers, raw, [_secret()], now=sent / 1000 + 61)
    assert not LinearAdapter.verify_webhook(headers, raw, [_secret()], now=sent / 1000 - 61)


# ---- webhook parsing ---------------------------------------------------------------------------------
def test_an_issue_delivery_carries_the_record_a_read_gives(adapter: LinearAdapter) -> None:
    headers, raw = _delivery("Issue", "update", _issue_data())
    delivery = adapter.parse_webhook(headers, raw)
    assert (delivery.kind, delivery.delivery_id, delivery.event) == (
        DeliveryKind.CHANGES,
        "d-1",
        "Issue.update",
    )
    (change,) = delivery.changes
    assert change.entity is WebhookEntity.ISSUE
    assert change.issue is not None
    read = {**_issue_data(), "labels": {"nodes": [{"id": "l1", "name": "bug"}]}, "assignee": None}
    assert change.issue == adapter.normalize_issue(read)
    assert change.issue.key == "ENG-7"
    assert change.issue.status_category == "in_progress"
    assert change.issue.priority == "High"


def test_removes_comments_and_foreign_deliveries(adapter: LinearAdapter) -> None:
    _, raw = _delivery("Issue", "remove", _issue_data())
    (removed,) = adapter.parse_webhook({}, raw).changes
    assert removed.action is WebhookAction.DELETE
    assert removed.issue is None

    comment = {
        "id": "c1",
        "body": "seen again",
        "createdAt": "2026-03-04T05:06:07.000Z",
        "updatedAt": "2026-03-04T05:06:07.000Z",
        "issueId": ISSUE_ID,
        "issue": {"id": ISSUE_ID, "identifier": "ENG-7", "title": "x"},
        "userId": "u1",
    }
    _, raw = _delivery("Comment", "create", comment)
    (change,) = adapter.parse_webhook({}, raw).changes
    assert change.entity is WebhookEntity.COMMENT
    assert change.comment is not None
    assert change.comment.author == "u1"
    assert change.issue_ref == f"{CONNECTION}.{ISSUE_ID}"

    _, raw = _delivery("Issue", "update", _issue_data(identifier="OPS-3"))
    assert adapter.parse_webhook({}, raw).kind is DeliveryKind.IGNORED
    _, raw = _delivery("Project", "update", {"id": "p1"})
    assert adapter.parse_webhook({}, raw).kind is DeliveryKind.IGNORED


def test_a_bad_body_is_a_payload_error(adapter: LinearAdapter) -> None:
    for raw in (b"not json", b"[]", json.dumps({"type": "Issue", "action": "update"}).encode()):
        with pytest.raises(WebhookPayloadError):
            adapter.parse_webhook({}, raw)


# ---- rate limits and errors ---------------------------------------------------------------------------
def test_the_tighter_bucket_is_reported_with_its_reset_in_ms() -> None:
    reset_ms = int((NOW + timedelta(minutes=30)).timestamp() * 1000)
    headers = httpx.Headers(
        {
            "X-RateLimit-Requests-Limit": "5000",
            "X-RateLimit-Requests-Remaining": "4000",
            "X-RateLimit-Requests-Reset": str(reset_ms),
            "X-RateLimit-Complexity-Limit": "250000",
            "X-RateLimit-Complexity-Remaining": "1000",
            "X-RateLimit-Complexity-Reset": str(reset_ms // 1000),  # seconds are read too
            "X-Complexity": "640",
        }
    )
    info = LinearRateLimits().read(headers, NOW)
    assert (info.resource, info.limit, info.remaining, info.used) == ("complexity", 250000, 1000, 640)
    assert info.reset_at == NOW + timedelta(minutes=30)
    assert info.near_limit


def _answer(adapter: LinearAdapter, body: dict[str, Any], status: int = 200) -> Any:
    response = httpx.Response(
        status, json=body, request=httpx.Request("POST", "https://api.linear.app/graphql")
    )
    transport = httpx.MockTransport(lambda request: response)
    adapter.client = httpx.Client(transport=transport)
    return adapter.graphql("query Viewer { viewer { id } }", {})


def _error(code: str, message: str = "boom") -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, "statusCode": 400}}], "data": None}


def test_graphql_errors_are_classified_on_a_400_and_on_a_200(adapter: LinearAdapter) -> None:
    with pytest.raises(RateLimitedError):
        _answer(adapter, _error("RATELIMITED"), 400)
    with pytest.raises(AuthenticationError):
        _answer(adapter, _error("AUTHENTICATION_ERROR"), 400)
    with pytest.raises(NotFoundError) as caught:
        _answer(adapter, {**_error("INPUT_ERROR", "Entity not found: Issue"), "data": {"issue": None}}, 200)
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert _answer(adapter, {"data": {"viewer": {"id": "u1"}}}) == {"viewer": {"id": "u1"}}


# ---- the documents against Linear's published schema ------------------------------------------------------
@pytest.fixture(scope="module")
def linear_schema(shared_dir: Path) -> GraphQLSchema:
    return build_schema((shared_dir / "specs" / "linear.schema.graphql").read_text())


def test_every_document_the_adapter_sends_is_valid_against_linears_schema(
    linear_schema: GraphQLSchema,
) -> None:
    problems = {
        name: [e.message for e in validate(linear_schema, parse(doc))] for name, doc in DOCUMENTS.items()
    }
    assert problems == {name: [] for name in DOCUMENTS}


def test_the_sandbox_serves_linears_own_types(linear_schema: GraphQLSchema) -> None:
    # Every type, field and argument the sandbox declares is Linear's, with Linear's type.
    differences = []
    for name, served in SANDBOX_SCHEMA.type_map.items():
        if name.startswith("__") or not hasattr(served, "fields"):
            continue
        real = linear_schema.type_map.get(name)
        if real is None or not hasattr(real, "fields"):
            differences.append(name)
            continue
        for field_name, field in served.fields.items():
            twin = real.fields.get(field_name)
            if twin is None or str(twin.type) != str(field.type):
                differences.append(f"{name}.{field_name}")
                continue
            for arg, value in getattr(field, "args", {}).items():
                if arg not in twin.args or str(twin.args[arg].type) != str(value.type):
                    differences.append(f"{name}.{field_name}({arg})")
    assert differences == []
    for name, document in DOCUMENTS.items():
        assert validate(SANDBOX_SCHEMA, parse(document)) == [], name
