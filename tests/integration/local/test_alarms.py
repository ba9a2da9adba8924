"""The alarm bridge: `set_alarm_state` on moto becomes an "Alarm State Change" on the auto-issue queue."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from infra.local.alarms import AlarmBridge
from infra.local.provision import LocalResources, provision

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local-alarms")]

FIXTURES = "fixtures/aws/eventbridge.cloudwatch_alarm_state_change"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def resources(moto_endpoint: str) -> LocalResources:
    # A region of its own: moto's default bus is per region, so these alarm events reach only this stage's
    # rule, never the auto-issue queue of the `local` stage other tests use in us-east-1.
    return provision(endpoint_url=moto_endpoint, stage="alarmtest", region=REGION)


@pytest.fixture
def prefix() -> str:
    return f"alarmtest-{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def bridge(resources: LocalResources, prefix: str) -> AlarmBridge:
    drain(resources)
    return AlarmBridge(
        cloudwatch=resources.client("cloudwatch"), events=resources.client("events"), alarm_name_prefix=prefix
    )


def put_alarm(resources: LocalResources, name: str, **extra: Any) -> str:
    cloudwatch = resources.client("cloudwatch")
    metric = (
        {}
        if "Metrics" in extra
        else {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/EC2",
            "Statistic": "Average",
            "Period": 300,
            "Dimensions": [{"Name": "InstanceId", "Value": "i-12345678901234567"}],
        }
    )
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmDescription="Goes into alarm when server CPU utilization is too high!",
        **metric,
        **extra,
    )
    return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])


def set_state(resources: LocalResources, name: str, value: str, reason: str = "test") -> None:
    resources.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue=value, StateReason=reason, StateReasonData=json.dumps({"version": "1.0"})
    )


def drain(resources: LocalResources, wait_s: int = 0) -> list[dict[str, Any]]:
    sqs = resources.client("sqs")
    url = resources.queue_urls["auto_issue"]
    events: list[dict[str, Any]] = []
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return events


def test_state_change_reaches_the_auto_issue_queue_in_the_aws_shape(
    resources: LocalResources, bridge: AlarmBridge, prefix: str, shared_dir: Path
) -> None:
    fixture = json.loads((shared_dir / f"{FIXTURES}.single_metric.ALARM.json").read_text())
    name = prefix + "ServerCpuTooHigh"
    arn = put_alarm(resources, name)
    bridge.baseline()

    set_state(resources, name, "ALARM", "Threshold Crossed")
    entries = bridge.poll_once()
    events = drain(resources, wait_s=1)

    assert len(entries) == 1
    assert len(events) == 1
    event = events[0]
    assert set(fixture) <= set(event)
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [arn]
    assert event["account"] == "123456789012"
    assert event["region"] == REGION
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    detail = event["detail"]
    assert set(detail) == set(fixture["detail"])
    assert detail["alarmName"] == name
    assert set(detail["state"]) == set(fixture["detail"]["state"])
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["reason"] == "Threshold Crossed"
    assert json.loads(detail["state"]["reasonData"]) == {"version": "1.0"}
    assert detail["state"]["timestamp"].endswith("+0000")
    assert detail["previousState"]["value"] == "OK"
    assert detail["configuration"]["description"] == fixture["detail"]["configuration"]["description"]
    metric = detail["configuration"]["metrics"][0]
    assert metric["metricStat"] == fixture["detail"]["configuration"]["metrics"][0]["metricStat"]
    assert metric["returnData"] is True


def test_unchanged_and_baselined_states_are_not_announced(
    resources: LocalResources, bridge: AlarmBridge, prefix: str
) -> None:
    name = prefix + "AlreadyFiring"
    put_alarm(resources, name)
    set_state(resources, name, "ALARM")
    bridge.baseline()

    set_state(resources, name, "ALARM", "still bad")
    same = bridge.poll_once()
    set_state(resources, name, "OK", "recovered")
    recovered = bridge.poll_once()

    assert same == []
    assert [json.loads(e["Detail"])["state"]["value"] for e in recovered] == ["OK"]
    assert [e["detail"]["previousState"]["value"] for e in drain(resources, wait_s=1)] == ["ALARM"]


def test_alarms_created_later_are_announced_from_insufficient_data(
    resources: LocalResources, bridge: AlarmBridge, prefix: str, shared_dir: Path
) -> None:
    fixture = json.loads((shared_dir / f"{FIXTURES}.metric_math.ALARM.json").read_text())
    bridge.baseline()
    quiet = prefix + "JustCreated"
    name = prefix + "TotalNetworkTrafficTooHigh"
    put_alarm(resources, quiet)
    put_alarm(
        resources,
        name,
        Metrics=[
            {
                "Id": "e1",
                "Expression": "SUM(METRICS())",
                "Label": "Total Network Traffic",
                "ReturnData": True,
            },
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/EC2",
                        "MetricName": "NetworkIn",
                        "Dimensions": [{"Name": "InstanceId", "Value": "i-12345678901234567"}],
                    },
                    "Period": 300,
                    "Stat": "Maximum",
                },
                "ReturnData": False,
            },
        ],
    )
    set_state(resources, name, "ALARM")

    entries = bridge.poll_once()

    assert len(entries) == 1
    detail = json.loads(entries[0]["Detail"])
    assert detail["alarmName"] == name
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    expected = fixture["detail"]["configuration"]["metrics"]
    assert detail["configuration"]["metrics"] == expected[:2]


def test_bridge_thread_delivers_and_stops(
    resources: LocalResources, bridge: AlarmBridge, prefix: str
) -> None:
    name = prefix + "Threaded"
    put_alarm(resources, name)
    threaded = AlarmBridge(
        cloudwatch=resources.client("cloudwatch"),
        events=resources.client("events"),
        alarm_name_prefix=prefix,
        interval_s=0.05,
    ).start()
    try:
        set_state(resources, name, "ALARM")
        deadline = time.monotonic() + 120
        events: list[dict[str, Any]] = []
        while not events and time.monotonic() < deadline:
            events = drain(resources, wait_s=1)
    finally:
        threaded.stop()

    assert [e["detail"]["alarmName"] for e in events] == [name]
    assert not any(t.name == "local-alarm-bridge" for t in threading.enumerate())
