"""Reading the auto-issue queue's bodies: every CloudWatch alarm shape, SNS-wrapped alarms, custom-bus and
API events, and what is refused (with the reason the DLQ keeps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trackbridge.runtime.automation.events import (
    QueuedEvent,
    SettleCheck,
    UnreadableEvent,
    read_message,
)
from trackbridge.runtime.automation.intake import parse_api_event

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ALARM_SHAPES = {
    "single_metric": "ServerCpuTooHigh",
    "composite": "ServiceAggregatedAlarm",
    "metric_math": "TotalNetworkTrafficTooHigh",
    "anomaly_detection": "EC2 CPU Utilization Anomaly",
}


def fixture(shared_dir: Path, name: str) -> Any:
    return json.loads((shared_dir / "fixtures" / "aws" / name).read_text())


@pytest.mark.parametrize(("shape", "name"), sorted(ALARM_SHAPES.items()))
def test_every_alarm_shape_becomes_a_cloudwatch_alarm_event(shared_dir: Path, shape: str, name: str) -> None:
    raw = fixture(shared_dir, f"eventbridge.cloudwatch_alarm_state_change.{shape}.ALARM.json")
    job = read_message(json.dumps(raw), default_tenant="acme", now=NOW)
    assert isinstance(job, QueuedEvent)
    assert job.tenant == "acme"
    event = job.event
    assert (event.type, event.source, event.severity, event.resolved) == (
        "cloudwatch.alarm",
        "aws.cloudwatch",
        "high",
        False,
    )
    assert event.data == raw["detail"]  # templates see the EventBridge detail as it came
    assert event.id == raw["id"]
    assert event.subject is not None
    assert event.subject.kind == "alarm"
    assert event.subject.name == name
    assert event.occurred_at < NOW


def test_an_alarm_back_to_ok_is_a_recovery_and_missing_data_neither(shared_dir: Path) -> None:
    raw = fixture(shared_dir, "eventbridge.cloudwatch_alarm_state_change.single_metric.ALARM.json")
    raw["detail"]["state"]["value"] = "OK"
    ok = read_message(json.dumps(raw), default_tenant="t")
    assert isinstance(ok, QueuedEvent)
    assert ok.event.resolved
    assert ok.event.severity == "info"
    raw["detail"]["state"]["value"] = "INSUFFICIENT_DATA"
    missing = read_message(json.dumps(raw), default_tenant="t")
    assert isinstance(missing, QueuedEvent)
    assert not missing.event.resolved


@pytest.mark.parametrize(
    "name",
    [
        "sns.cloudwatch_alarm.single_metric.aws-lambda-go.json",
        "sns.cloudwatch_alarm.multiple_metrics.aws-lambda-go.json",
    ],
)
def test_an_sns_wrapped_alarm_is_mapped_onto_the_detail_shape(shared_dir: Path, name: str) -> None:
    notification = fixture(shared_dir, name)["Records"][0]["Sns"]
    job = read_message(json.dumps(notification), default_tenant="acme")
    assert isinstance(job, QueuedEvent)
    data = job.event.data
    message = json.loads(notification["Message"])
    assert data["alarmName"] == message["AlarmName"]
    assert data["state"]["value"] == message["NewStateValue"] == "ALARM"
    assert data["previousState"]["value"] == message["OldStateValue"]
    assert data["configuration"]["threshold"] == message["Trigger"]["Threshold"]
    assert data["sns"] == notification["Message"]
    assert job.event.source == "aws.sns"
    assert job.event.type == "cloudwatch.alarm"


def test_a_custom_bus_event_carries_its_tenant() -> None:
    body = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "schema.drift",
        "source": "schema-watch",
        "time": "2026-12-06T10:00:00Z",
        "detail": {"type": "schema.drift", "source": "schema-watch", "tenant": "acme", "data": {"drift": {}}},
    }
    job = read_message(json.dumps(body), default_tenant="default")
    assert isinstance(job, QueuedEvent)
    assert job.tenant == "acme"
    assert job.event.type == "schema.drift"


def test_our_own_envelopes_round_trip() -> None:
    event = parse_api_event({"type": "a.b", "source": "s"}, event_id="evt_1", received_at=NOW)
    queued = read_message(
        json.dumps(QueuedEvent(tenant="t", event=event).model_dump(mode="json")), default_tenant="x"
    )
    assert isinstance(queued, QueuedEvent)
    assert queued.event == event
    check = SettleCheck(tenant="t", rule="r", fingerprint="f" * 32, resolved_at=NOW, event=event)
    settle = read_message(json.dumps(check.model_dump(mode="json")), default_tenant="x")
    assert settle == check


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"hello": "world"}), "not an alarm"),
        (json.dumps({"Type": "Notification", "Message": "{}"}), "does not validate"),
        (json.dumps({"Type": "Notification", "Message": "no"}), "not JSON"),
        (
            json.dumps(
                {"detail-type": "x", "source": "y", "id": "1", "detail": {"type": "nodots", "source": "s"}}
            ),
            "does not validate",
        ),
        (json.dumps({"kind": "trackbridge.event", "tenant": "t"}), "does not validate"),
    ],
)
def test_an_unreadable_body_says_why(body: str, reason: str) -> None:
    with pytest.raises(UnreadableEvent) as caught:
        read_message(body, default_tenant="t")
    assert reason in caught.value.reason


def test_event_data_over_the_limit_is_refused() -> None:
    with pytest.raises(UnreadableEvent):
        read_message(
            json.dumps(
                {
                    "kind": "x",
                    "detail-type": "a.b",
                    "source": "s",
                    "id": "1",
                    "detail": {"type": "a.b", "source": "s", "data": {"x": "y" * 300_000}},
                }
            ),
            default_tenant="t",
        )
