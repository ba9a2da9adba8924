"""``POST /v1/events`` and ``GET /v1/events/{id}`` on moto through ``functions.api.handler``, and the queued
job consumed by ``functions.auto_issue.handler`` into a GitHub sandbox issue.

The routers are mounted on the API for this module (``mount_automation_routes``) until ``runtime/api/app.py``
includes them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.auto_issue import handler as auto_issue_handler
from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from tests.unit.api.support import FakeLambdaContext, captured_logs
from trackbridge.runtime import aws, container
from trackbridge.runtime.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("auto-issue-events")]

ALARM_FIXTURE = "eventbridge.cloudwatch_alarm_state_change.metric_math.ALARM.json"


def mount_automation_routes() -> None:
    """Include the events and rules routers once per process (``app.py`` will do it for good)."""
    from trackbridge.runtime.api import app as app_module
    from trackbridge.runtime.api import events, rules

    app = app_module.app
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    if not any(getattr(r, "openapi_path", "") == "/v1/events" for r in routes):
        app.include_router(events.router)
        app.include_router(rules.router)
    app_module.operations.cache_clear()


@pytest.fixture(scope="module")
def github(local_resources: Any) -> Iterator[SandboxTracker[Any]]:
    mount_automation_routes()
    sandbox = SANDBOXES["github"](seed="events", issues=1, comments_per_issue=0).start()
    try:
        with egress_allowed(*sandbox.urls()):
            container.reset()
            yield sandbox
    finally:
        sandbox.stop()
        container.reset()
        container.reset()


def queued_jobs(tenant: str) -> list[dict[str, Any]]:
    """This tenant's messages on the auto-issue queue, as SQS records (others' are put back at once)."""
    sqs = aws.client("sqs")
    url = get_settings().auto_issue_queue_url
    mine: list[dict[str, Any]] = []
    for _ in range(20):
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            body = json.loads(message["Body"])
            if body.get("tenant") == tenant:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                mine.append(sqs_record(message["Body"], message["MessageId"]))
            else:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    return mine


def sqs_record(body: str, message_id: str | None = None) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:auto-issue",
        "awsRegion": "us-east-1",
    }


def drift_event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "schema.drift",
        "source": "schema-watch",
        "severity": "high",
        "subject": {"kind": "table", "database": "sales", "schema": "public", "name": "orders"},
        "data": {"drift": {"severity": "high", "column": "total", "dsn": "postgres://app:hunter2@db/sales"}},
        "occurred_at": "2026-12-01T10:00:00Z",
    }
    body.update(changes)
    return body


def test_an_event_is_queued_consumed_and_becomes_one_issue(
    github: SandboxTracker[Any], api: ApiClient, tenant: str
) -> None:
    # Given a connection, a template and a rule for schema drift
    answer = api.call("POST", "/v1/connections", body=github.connection_request(name="gh events"))
    assert answer.status == 201, answer.body
    connection_id = answer.body["id"]
    template = {
        "name": "drift",
        "title": "Drift on {{ event.subject.name }}: {{ drift.column }}",
        "body": "Column `{{ drift.column }}` drifted ({{ drift.severity }}). DSN {{ drift.dsn }}",
    }
    assert api.call("POST", "/v1/templates", body=template).status == 201
    rule = {
        "name": "drift-high",
        "event_type": "schema.drift",
        "condition": "drift.severity == 'high'",
        "connection_id": connection_id,
        "template": "drift",
        "dedup": {"key": "{{ event.subject.name }}/{{ drift.column }}"},
    }
    assert api.call("POST", "/v1/rules", body=rule).status == 201, "rule refused"
    before = github.issue_counts()[0]

    # When the event is sent
    sent = api.call("POST", "/v1/events", body=drift_event())

    # Then it is accepted and queued with a receipt
    assert sent.status == 202, sent.body
    assert sent.body["status"] == "queued"
    assert sent.body["event_id"].startswith("evt_")
    receipt = api.call("GET", f"/v1/events/{sent.body['event_id']}")
    assert receipt.status == 200
    assert receipt.body["status"] == "queued"
    records = queued_jobs(tenant)
    assert len(records) == 1

    # And the consumer turns it into one issue, and a duplicate delivery into none
    result = auto_issue_handler({"Records": records * 2}, FakeLambdaContext(function_name="auto_issue"))
    assert result == {"batchItemFailures": []}
    assert github.issue_counts()[0] == before + 1
    done = api.call("GET", f"/v1/events/{sent.body['event_id']}")
    assert done.body["status"] == "processed"
    assert done.body["issue_ref"].startswith(connection_id)
    # The DSN's password never reached the tracker; the issue carries the rendered template
    stored = api.call("GET", f"/v1/issues/{done.body['issue_ref']}")
    assert stored.status == 200, stored.body
    assert stored.body["title"] == "Drift on orders: total"
    assert "hunter2" not in stored.body["body"]
    assert "(redacted)" in stored.body["body"]
    # And the issue is linked to the event's object as auto_created
    links = api.call("GET", "/v1/links", query={"object": "table:sales/public/orders"})
    assert links.status == 200, links.body
    assert [(link["issue_ref"], link["type"]) for link in links.body["items"]] == [
        (done.body["issue_ref"], "auto_created")
    ]


def test_a_cloudwatch_alarm_as_eventbridge_sends_it_is_accepted(
    github: SandboxTracker[Any], api: ApiClient, tenant: str, shared_dir: Path
) -> None:
    alarm = json.loads((shared_dir / "fixtures" / "aws" / ALARM_FIXTURE).read_text())
    sent = api.call("POST", "/v1/events", body=alarm)
    assert sent.status == 202, sent.body
    (record,) = queued_jobs(tenant)
    job = json.loads(record["body"])
    assert job["event"]["type"] == "cloudwatch.alarm"
    assert job["event"]["data"] == alarm["detail"]
    assert job["event"]["subject"] == {
        "kind": "alarm",
        "database": None,
        "schema": None,
        "name": "TotalNetworkTrafficTooHigh",
    }


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (drift_event(type="drift"), "body.type"),
        (drift_event(type="Schema Drift!"), "body.type"),
        ({k: v for k, v in drift_event().items() if k != "source"}, "body.source"),
        (drift_event(severity="apocalyptic"), "body.severity"),
        (drift_event(data=[1, 2]), "body.data"),
        # What DynamoDB cannot hold is refused here, not a 500 at the write
        (drift_event(data={"lag": 1e-200}), "body.data"),
        (drift_event(data={"nested": {"": 1}}), "body.data"),
        (drift_event(tenant="someone-else"), "body.tenant"),
        (drift_event(unexpected=1), "body.unexpected"),
        (
            {
                "detail-type": "CloudWatch Alarm State Change",
                "source": "aws.cloudwatch",
                "id": "x",
                "detail": {"alarmName": "a", "state": {"value": "MAYBE"}},
            },
            "body.state.value",
        ),
    ],
)
def test_an_invalid_event_is_a_422_and_queues_nothing(
    github: SandboxTracker[Any], api: ApiClient, tenant: str, body: dict[str, Any], path: str
) -> None:
    answer = api.call("POST", "/v1/events", body=body)
    assert answer.status == 422, answer.body
    paths = [e["path"] for e in answer.body["error"]["details"]["errors"]]
    assert any(p.startswith(path) for p in paths), paths
    assert queued_jobs(tenant) == []


def test_an_unreadable_message_fails_its_record_with_the_reason_logged(github: SandboxTracker[Any]) -> None:
    good = sqs_record(
        json.dumps(
            {
                "kind": "trackbridge.event",
                "tenant": "nobody-here",
                "event": {
                    "id": "evt_x",
                    "type": "a.b",
                    "source": "s",
                    "occurred_at": "2026-12-01T00:00:00Z",
                    "received_at": "2026-12-01T00:00:00Z",
                },
            }
        )
    )
    bad = sqs_record("{not json", "bad-1")
    with captured_logs() as logs:
        result = auto_issue_handler({"Records": [bad, good]}, FakeLambdaContext(function_name="auto_issue"))
    # The unreadable record goes back to the queue (and, after maxReceiveCount, to the DLQ); the other passes
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    lines = [json.loads(line) for line in logs.lines if "auto_issue.unreadable" in line]
    assert lines
    assert lines[0]["message"] == "auto_issue.unreadable"
    assert lines[0]["message_id"] == "bad-1"
    assert "not JSON" in lines[0]["reason"]
