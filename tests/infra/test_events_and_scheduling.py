"""EventBridge rules and bus, the Scheduler group and role, and the maintenance schedule."""

from __future__ import annotations

from typing import Any

import pytest

from infra.constructs.function import spec_for
from infra.definition import (
    ALARM_STATE_CHANGE_PATTERN,
    APP_EVENT_PATTERN,
    MAINTENANCE_INTERVAL_MINUTES,
    QUEUES,
    alarm_rule_name,
    app_events_rule_name,
    event_bus_name,
    schedule_group_name,
    scheduler_role_name,
)
from tests.infra.cfn import actions_on, get_att, joined, one, ref

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"


def _queue_ids(template: dict[str, Any], key: str) -> tuple[str, str]:
    spec = next(spec for spec in QUEUES if spec.key == key)
    queue_id, _ = one(template, "AWS::SQS::Queue", QueueName=spec.name(STAGE))
    dlq_id, _ = one(template, "AWS::SQS::Queue", QueueName=spec.dlq_name(STAGE))
    return queue_id, dlq_id


def test_alarm_state_changes_on_the_default_bus_feed_the_auto_issue_queue(
    dev_template: dict[str, Any],
) -> None:
    _, rule = one(dev_template, "AWS::Events::Rule", Name=alarm_rule_name(STAGE))
    queue_id, dlq_id = _queue_ids(dev_template, "auto_issue")
    props = rule["Properties"]
    (target,) = props["Targets"]

    assert "EventBusName" not in props  # the default bus: only it receives CloudWatch's own events
    assert props["EventPattern"] == ALARM_STATE_CHANGE_PATTERN
    assert props["EventPattern"]["detail-type"] == ["CloudWatch Alarm State Change"]
    assert target["Arn"] == get_att(queue_id)
    assert target["DeadLetterConfig"] == {"Arn": get_att(dlq_id)}


def test_the_custom_bus_feeds_the_auto_issue_queue(dev_template: dict[str, Any]) -> None:
    bus_id, _ = one(dev_template, "AWS::Events::EventBus", Name=event_bus_name(STAGE))
    _, rule = one(dev_template, "AWS::Events::Rule", Name=app_events_rule_name(STAGE))
    queue_id, _ = _queue_ids(dev_template, "auto_issue")
    (target,) = rule["Properties"]["Targets"]

    assert rule["Properties"]["EventBusName"] == ref(bus_id)
    assert rule["Properties"]["EventPattern"] == APP_EVENT_PATTERN
    assert target["Arn"] == get_att(queue_id)


def test_maintenance_runs_on_a_fixed_rate(dev_template: dict[str, Any]) -> None:
    function_id, _ = one(
        dev_template, "AWS::Lambda::Function", FunctionName=spec_for("scheduler_maintenance").name(STAGE)
    )
    _, rule = one(
        dev_template, "AWS::Events::Rule", ScheduleExpression=f"rate({MAINTENANCE_INTERVAL_MINUTES} minutes)"
    )
    (target,) = rule["Properties"]["Targets"]
    _, permission = one(dev_template, "AWS::Lambda::Permission", FunctionName=get_att(function_id))

    assert target["Arn"] == get_att(function_id)
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"


def test_schedule_group_exists_under_its_definition_name(dev_template: dict[str, Any]) -> None:
    one(dev_template, "AWS::Scheduler::ScheduleGroup", Name=schedule_group_name(STAGE))


def test_scheduler_role_is_assumable_only_by_scheduler_for_this_account_and_group(
    dev_template: dict[str, Any],
) -> None:
    _, role = one(dev_template, "AWS::IAM::Role", RoleName=scheduler_role_name(STAGE))
    group_id, _ = one(dev_template, "AWS::Scheduler::ScheduleGroup", Name=schedule_group_name(STAGE))
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId"), "aws:SourceArn": get_att(group_id)}
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_scheduler_role_may_only_send_to_the_sync_queue(dev_template: dict[str, Any]) -> None:
    role_id, _ = one(dev_template, "AWS::IAM::Role", RoleName=scheduler_role_name(STAGE))
    sync_id, _ = _queue_ids(dev_template, "sync")
    allowed = actions_on(dev_template, role_id)

    assert allowed["sqs:SendMessage"] == [get_att(sync_id)]
    assert {resource for resources in allowed.values() for resource in map(joined, resources)} == {
        joined(get_att(sync_id))
    }
