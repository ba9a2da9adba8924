"""Observability in the template: the dashboard, every alarm routed to the alerts topic (on ALARM and OK),
and the API function's permissions for the operator tools (DLQ redrive, health of the schedule group)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.function import spec_for
from infra.constructs.observability import MIN_SYNCS, WEBHOOK_4XX_THRESHOLD, WEBHOOK_RESOURCE, alarm_prefix
from infra.definition import FUNCTIONS, QUEUES, alerts_topic_name
from tests.infra.cfn import actions_on, get_att, joined, one, ref, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def test_every_alarm_notifies_the_alerts_topic_on_alarm_and_ok(dev_template: dict[str, Any]) -> None:
    topic_id, _ = one(dev_template, "AWS::SNS::Topic", TopicName=alerts_topic_name(STAGE))
    alarms = _alarms(dev_template)
    assert alarms
    for name, alarm in alarms.items():
        assert name.startswith(alarm_prefix(STAGE)), name
        assert alarm["AlarmActions"] == [ref(topic_id)], name
        assert alarm["OKActions"] == [ref(topic_id)], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_there_are_dlq_error_and_throttle_alarms_for_each_queue_and_function(
    dev_template: dict[str, Any],
) -> None:
    names = set(_alarms(dev_template))
    prefix = alarm_prefix(STAGE)
    for spec in QUEUES:
        assert f"{prefix}{spec.key.replace('_', '-')}-dlq-depth" in names
    for spec in FUNCTIONS:
        key = spec.key.replace("_", "-")
        assert {f"{prefix}{key}-errors", f"{prefix}{key}-throttles"} <= names


def test_the_dlq_alarms_watch_the_dead_letter_queues(dev_template: dict[str, Any]) -> None:
    alarms = _alarms(dev_template)
    for spec in QUEUES:
        dlq_id, _ = one(dev_template, "AWS::SQS::Queue", QueueName=spec.dlq_name(STAGE))
        alarm = alarms[f"{alarm_prefix(STAGE)}{spec.key.replace('_', '-')}-dlq-depth"]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": get_att(dlq_id, "QueueName")}]
        assert alarm["Threshold"] == 1


def test_the_sync_failure_rate_reads_the_emf_syncs_metric(dev_template: dict[str, Any]) -> None:
    alarm = _alarms(dev_template)[f"{alarm_prefix(STAGE)}sync-failure-rate"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    assert (
        f">= {MIN_SYNCS}" in metrics[next(i for i, m in metrics.items() if "Expression" in m)]["Expression"]
    )
    for status in ("Completed", "Failed"):
        stat = metrics[status.lower()]["MetricStat"]
        assert stat["Metric"]["Namespace"] == "trackbridge"
        assert stat["Metric"]["MetricName"] == "Syncs"
        assert {"Name": "status", "Value": status} in stat["Metric"]["Dimensions"]
        assert {"Name": "service", "Value": "trackbridge"} in stat["Metric"]["Dimensions"]


def test_the_webhook_4xx_alarm_reads_the_webhook_route_of_the_stage(dev_template: dict[str, Any]) -> None:
    alarm = _alarms(dev_template)[f"{alarm_prefix(STAGE)}webhook-4xx"]
    (query,) = alarm["Metrics"]  # a labelled metric is rendered as a one-metric query
    metric = query["MetricStat"]["Metric"]
    assert metric["Namespace"] == "AWS/ApiGateway"
    assert metric["MetricName"] == "4XXError"
    dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
    assert dimensions["Resource"] == WEBHOOK_RESOURCE
    assert dimensions["Method"] == "POST"
    assert alarm["Threshold"] == WEBHOOK_4XX_THRESHOLD


def test_the_dashboard_shows_alarms_syncs_and_webhooks(dev_template: dict[str, Any]) -> None:
    _, dashboard = one(dev_template, "AWS::CloudWatch::Dashboard", DashboardName=f"trackbridge-{STAGE}")
    body = joined(dashboard["Properties"]["DashboardBody"])
    for title in (
        "alarms",
        "syncs",
        "synced items by result",
        "tracker requests by provider",
        "webhook deliveries",
    ):
        assert json.dumps(title) in body, title


def test_the_api_function_may_redrive_every_dlq_and_read_the_schedule_group(
    dev_template: dict[str, Any],
) -> None:
    _, function = one(dev_template, "AWS::Lambda::Function", FunctionName=spec_for("api").name(STAGE))
    allowed = actions_on(dev_template, function["Properties"]["Role"]["Fn::GetAtt"][0])
    for spec in QUEUES:
        dlq_id, _ = one(dev_template, "AWS::SQS::Queue", QueueName=spec.dlq_name(STAGE))
        queue_id, _ = one(dev_template, "AWS::SQS::Queue", QueueName=spec.name(STAGE))
        for action in ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"):
            assert get_att(dlq_id) in allowed[action], (spec.key, action)
        assert get_att(queue_id) in allowed["sqs:SendMessage"], spec.key
    groups = [joined(r) for r in allowed["scheduler:GetScheduleGroup"]]
    assert groups == [
        f"arn:{{AWS::Partition}}:scheduler:{{AWS::Region}}:{{AWS::AccountId}}:schedule-group/trackbridge-{STAGE}"
    ]
