"""Least privilege: what each function's role may do, and that nothing is granted on Resource '*'."""

from __future__ import annotations

from typing import Any

import pytest

from infra.constructs.function import spec_for
from infra.constructs.secrets import MANAGE_ACTIONS, READ_ACTIONS, TOKEN_ROTATION_ACTIONS
from infra.definition import FUNCTIONS, QUEUES, event_bus_name, scheduler_role_name
from tests.infra.cfn import actions_on, all_policy_statements, as_list, get_att, joined, one, role_statements

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"
SECRETS_ARN = "arn:{AWS::Partition}:secretsmanager:{AWS::Region}:{AWS::AccountId}:secret:trackbridge/dev/*"
OAUTH_TOKENS_ARN = SECRETS_ARN + "/oauth-??????"
SCHEDULES_ARN = "arn:{AWS::Partition}:scheduler:{AWS::Region}:{AWS::AccountId}:schedule/trackbridge-dev/*"
# Actions AWS offers no resource-level permissions for, so Resource "*" is the only way to grant them.
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

# Which queues each function may send to (key -> queue keys).
PRODUCERS = {
    # The API also redrives every DLQ back to its work queue (``runtime.dlq``).
    "api": {"sync", "auto_issue", "inbound"},
    "authorizer": set(),
    "webhook": {"inbound"},
    "apply": set(),
    "sync": {"sync"},
    "auto_issue": {"auto_issue"},
    "scheduler_maintenance": {"sync", "inbound"},
}
# The API publishes an operator's test alert (POST /v1/alert-channels/email/test).
PUBLISHERS = {"api", "apply", "sync", "auto_issue", "scheduler_maintenance"}
# The sync function moves a connection's schedule along the back-off ladder.
SCHEDULE_MANAGERS = {"api", "sync", "scheduler_maintenance"}
SECRET_READERS = {"webhook", "apply", "sync", "auto_issue", "scheduler_maintenance"}
# Functions that call trackers also store rotated Jira OAuth tokens (and only those).
TOKEN_ROTATORS = {"apply", "sync", "auto_issue", "scheduler_maintenance"}


def _role_id(template: dict[str, Any], key: str) -> str:
    _, function = one(template, "AWS::Lambda::Function", FunctionName=spec_for(key).name(STAGE))
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def _allowed(template: dict[str, Any], key: str) -> dict[str, list[str]]:
    return {
        action: [joined(resource) for resource in resources]
        for action, resources in actions_on(template, _role_id(template, key)).items()
    }


def _queue_arn(template: dict[str, Any], key: str) -> str:
    spec = next(spec for spec in QUEUES if spec.key == key)
    queue_id, _ = one(template, "AWS::SQS::Queue", QueueName=spec.name(STAGE))
    return joined(get_att(queue_id))


def _dlq_arn(template: dict[str, Any], key: str) -> str:
    spec = next(spec for spec in QUEUES if spec.key == key)
    queue_id, _ = one(template, "AWS::SQS::Queue", QueueName=spec.dlq_name(STAGE))
    return joined(get_att(queue_id))


def test_no_statement_grants_resource_star_except_where_aws_requires_it(dev_template: dict[str, Any]) -> None:
    offenders = [
        (lid, statement["Action"])
        for lid, statement in all_policy_statements(dev_template)
        if "*" in as_list(statement.get("Resource", []))
        and not set(as_list(statement["Action"])) <= NO_RESOURCE_LEVEL
    ]
    star_actions = {
        action
        for _, statement in all_policy_statements(dev_template)
        if "*" in as_list(statement.get("Resource", []))
        for action in as_list(statement["Action"])
    }

    assert offenders == []
    assert star_actions == NO_RESOURCE_LEVEL


def test_no_action_wildcards_are_granted(dev_template: dict[str, Any]) -> None:
    wildcards = [
        action
        for _, statement in all_policy_statements(dev_template)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if "*" in action
    ]

    assert wildcards == []


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_secrets_access_is_scoped_to_the_stage_prefix(dev_template: dict[str, Any], key: str) -> None:
    allowed = _allowed(dev_template, key)
    secret_actions = {action for action in allowed if action.startswith("secretsmanager:")}

    rotation = set(TOKEN_ROTATION_ACTIONS) if key in TOKEN_ROTATORS else set()
    if key == "api":
        assert secret_actions == set(MANAGE_ACTIONS)
    elif key in SECRET_READERS:
        assert secret_actions == set(READ_ACTIONS) | rotation
    else:
        assert secret_actions == set()
    for action in secret_actions:
        expected = [OAUTH_TOKENS_ARN] if key != "api" and action in rotation else [SECRETS_ARN]
        assert allowed[action] == expected


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_each_function_sends_only_to_the_queues_it_produces_into(
    dev_template: dict[str, Any], key: str
) -> None:
    allowed = _allowed(dev_template, key)

    assert set(allowed.get("sqs:SendMessage", [])) == {
        _queue_arn(dev_template, queue) for queue in PRODUCERS[key]
    }


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_only_consumers_receive_and_only_from_their_own_queue(dev_template: dict[str, Any], key: str) -> None:
    allowed = _allowed(dev_template, key)
    consumed = {_queue_arn(dev_template, spec.key) for spec in QUEUES if spec.consumer == key}
    # The API's DLQ tools read, hide again and discard dead letters, and nothing else.
    if key == "api":
        consumed |= {_dlq_arn(dev_template, spec.key) for spec in QUEUES}

    assert set(allowed.get("sqs:ReceiveMessage", [])) == consumed
    assert set(allowed.get("sqs:DeleteMessage", [])) == consumed


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_alert_publishing_and_schedule_management_go_to_the_right_functions(
    dev_template: dict[str, Any], key: str
) -> None:
    allowed = _allowed(dev_template, key)
    scheduler_role_id, _ = one(dev_template, "AWS::IAM::Role", RoleName=scheduler_role_name(STAGE))

    assert ("sns:Publish" in allowed) is (key in PUBLISHERS)
    if key in SCHEDULE_MANAGERS:
        for action in ("scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"):
            assert allowed[action] == [SCHEDULES_ARN]
        assert allowed["iam:PassRole"] == [joined(get_att(scheduler_role_id))]
        (pass_role,) = [
            s
            for s in role_statements(dev_template, _role_id(dev_template, key))
            if s["Action"] == "iam:PassRole"
        ]
        assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    else:
        assert not any(action.startswith("scheduler:") for action in allowed)
        assert "iam:PassRole" not in allowed


def test_only_the_api_puts_events_and_only_on_the_custom_bus(dev_template: dict[str, Any]) -> None:
    bus_id, _ = one(dev_template, "AWS::Events::EventBus", Name=event_bus_name(STAGE))
    putters = {spec.key for spec in FUNCTIONS if "events:PutEvents" in _allowed(dev_template, spec.key)}

    assert putters == {"api"}
    assert _allowed(dev_template, "api")["events:PutEvents"] == [joined(get_att(bus_id))]


def test_authorizer_can_read_keys_and_record_their_use_but_write_nothing_else(
    dev_template: dict[str, Any],
) -> None:
    dynamodb_actions = {
        action for action in _allowed(dev_template, "authorizer") if action.startswith("dynamodb:")
    }

    assert "dynamodb:GetItem" in dynamodb_actions
    assert "dynamodb:UpdateItem" in dynamodb_actions
    assert not dynamodb_actions & {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
