"""The embedded stack and the CDK stack agree: names, keys, GSIs and queue attributes, from one definition.

``infra/local/provision.py`` builds boto3 requests from ``infra.definition``; the CDK constructs build
CloudFormation from it. This compares the two outputs for the same stage, so a change that reaches only
one side fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.definition import (
    ALARM_STATE_CHANGE_PATTERN,
    APP_EVENT_PATTERN,
    QUEUES,
    TABLE,
    alerts_topic_name,
    event_bus_name,
    schedule_group_name,
    scheduler_role_name,
)
from infra.local.provision import alarm_rule_name, app_events_rule_name, queue_requests, table_request
from tests.infra.cfn import get_att, one, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"


def _table(template: dict[str, Any]) -> dict[str, Any]:
    _, table = one(template, "AWS::DynamoDB::Table", TableName=TABLE.name(STAGE))
    return dict(table["Properties"])


def test_table_keys_and_indexes_match(dev_template: dict[str, Any]) -> None:
    local = table_request(STAGE)
    cdk = _table(dev_template)

    assert cdk["TableName"] == local["TableName"]
    assert cdk["BillingMode"] == local["BillingMode"]
    assert cdk["KeySchema"] == local["KeySchema"]
    assert sorted(cdk["AttributeDefinitions"], key=str) == sorted(local["AttributeDefinitions"], key=str)
    assert cdk["GlobalSecondaryIndexes"] == local["GlobalSecondaryIndexes"]
    assert cdk["SSESpecification"]["SSEEnabled"] is local["SSESpecification"]["Enabled"]
    assert cdk["TimeToLiveSpecification"] == {"AttributeName": TABLE.ttl_attribute, "Enabled": True}
    assert cdk["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def _cfn_attributes(properties: dict[str, Any], dlq_names: dict[str, str]) -> dict[str, str]:
    """A CloudFormation queue's properties in ``create_queue`` attribute form, for comparison."""
    attributes: dict[str, str] = {}
    for name in ("VisibilityTimeout", "MessageRetentionPeriod", "FifoQueue", "ContentBasedDeduplication"):
        if name in properties:
            value = properties[name]
            attributes[name] = str(value).lower() if isinstance(value, bool) else str(value)
    if properties.get("SqsManagedSseEnabled"):
        attributes["SqsManagedSseEnabled"] = "true"
    if "RedrivePolicy" in properties:
        redrive = properties["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": dlq_names[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]],
                "maxReceiveCount": redrive["maxReceiveCount"],
            }
        )
    return attributes


def test_queue_names_and_attributes_match(dev_template: dict[str, Any]) -> None:
    queues = resources(dev_template, "AWS::SQS::Queue")
    names = {logical_id: queue["Properties"]["QueueName"] for logical_id, queue in queues.items()}
    by_name = {queue["Properties"]["QueueName"]: queue["Properties"] for queue in queues.values()}

    local = {request["QueueName"]: request["Attributes"] for request in queue_requests(STAGE)}

    assert set(by_name) == set(local)
    for name, attributes in local.items():
        expected = dict(attributes)
        if "RedrivePolicy" in expected:
            redrive = json.loads(expected["RedrivePolicy"])
            # Local ARNs name the DLQ by region and account; the template by logical id: compare names.
            redrive["deadLetterTargetArn"] = redrive["deadLetterTargetArn"].rsplit(":", 1)[1]
            expected["RedrivePolicy"] = json.dumps(redrive)
        assert _cfn_attributes(by_name[name], names) == expected, name


def test_bus_rules_topic_group_and_role_names_match(dev_template: dict[str, Any]) -> None:
    auto_issue = next(spec for spec in QUEUES if spec.key == "auto_issue")
    auto_issue_id, _ = one(dev_template, "AWS::SQS::Queue", QueueName=auto_issue.name(STAGE))

    one(dev_template, "AWS::Events::EventBus", Name=event_bus_name(STAGE))
    one(dev_template, "AWS::Scheduler::ScheduleGroup", Name=schedule_group_name(STAGE))
    one(dev_template, "AWS::SNS::Topic", TopicName=alerts_topic_name(STAGE))
    one(dev_template, "AWS::IAM::Role", RoleName=scheduler_role_name(STAGE))
    _, alarm_rule = one(dev_template, "AWS::Events::Rule", Name=alarm_rule_name(STAGE))
    _, app_rule = one(dev_template, "AWS::Events::Rule", Name=app_events_rule_name(STAGE))

    assert alarm_rule["Properties"]["EventPattern"] == ALARM_STATE_CHANGE_PATTERN
    assert "EventBusName" not in alarm_rule["Properties"]  # the default bus, as provisioned locally
    assert app_rule["Properties"]["EventPattern"] == APP_EVENT_PATTERN
    for rule in (alarm_rule, app_rule):
        assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [get_att(auto_issue_id)]


def test_binary_media_types_match(dev_template: dict[str, Any]) -> None:
    from infra.definition import BINARY_MEDIA_TYPES
    from infra.local.apigw import _encode_body

    _, rest_api = one(dev_template, "AWS::ApiGateway::RestApi")
    assert rest_api["Properties"]["BinaryMediaTypes"] == list(BINARY_MEDIA_TYPES)
    # The local gateway hands exactly these to the function base64 encoded, bytes intact, and JSON as text.
    for media_type in BINARY_MEDIA_TYPES:
        assert _encode_body(b"\x00\xff", f"{media_type}; boundary=x") == ("AP8=", True)
    assert _encode_body(b'{"a": 1}', "application/json") == ('{"a": 1}', False)


def test_oauth_state_key_and_function_environment_names_match(dev_template: dict[str, Any]) -> None:
    from infra.definition import ENV, oauth_state_key_secret_name
    from infra.local.provision import LocalResources
    from tests.infra.cfn import resources as of_type

    one(dev_template, "AWS::SecretsManager::Secret", Name=oauth_state_key_secret_name(STAGE))
    local = LocalResources(
        stage=STAGE,
        region="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        table_name=TABLE.name(STAGE),
        queue_urls=dict.fromkeys(("inbound", "sync", "auto_issue"), "u"),
        queue_arns=dict.fromkeys(("inbound", "sync", "auto_issue"), "a"),
        event_bus_name="b",
        event_bus_arn="b",
        schedule_group="g",
        scheduler_role_arn="r",
        alerts_topic_arn="t",
    ).environment()
    for function in of_type(dev_template, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if ENV.table not in variables:
            continue  # not one of ours (CDK's own helper functions)
        assert set(variables) <= set(local)
        for name in (ENV.oauth_state_key_secret, ENV.jira_oauth_app_secret, ENV.secrets_prefix):
            assert variables[name] == local[name]
