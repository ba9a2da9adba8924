"""Provisioning against moto's real server creates every resource of the definition, idempotently."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from infra.definition import (
    ALARM_STATE_CHANGE_PATTERN,
    APP_EVENT_PATTERN,
    ENV,
    QUEUES,
    TABLE,
    alerts_topic_name,
    event_bus_name,
    schedule_group_name,
    scheduler_role_name,
)
from infra.local.provision import LocalResources, provision

pytestmark = pytest.mark.integration


def test_table_has_keys_indexes_and_ttl(local_resources: LocalResources) -> None:
    dynamodb = local_resources.client("dynamodb")

    table = dynamodb.describe_table(TableName=local_resources.table_name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=local_resources.table_name)["TimeToLiveDescription"]

    assert local_resources.table_name == TABLE.name("local")
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {spec.name for spec in TABLE.indexes}
    for spec in TABLE.indexes:
        assert indexes[spec.name]["Projection"]["ProjectionType"] == "ALL"
        keys = {k["AttributeName"]: k["KeyType"] for k in indexes[spec.name]["KeySchema"]}
        assert keys == {spec.partition_key: "HASH", spec.sort_key: "RANGE"}
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TABLE.ttl_attribute}
    backups = dynamodb.describe_continuous_backups(TableName=local_resources.table_name)
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_queues_have_definition_attributes_and_redrive(local_resources: LocalResources) -> None:
    sqs = local_resources.client("sqs")

    for spec in QUEUES:
        attrs = sqs.get_queue_attributes(QueueUrl=local_resources.queue_url(spec.key), AttributeNames=["All"])
        dlq_attrs = sqs.get_queue_attributes(
            QueueUrl=local_resources.dlq_url(spec.key), AttributeNames=["All"]
        )
        attributes, dlq = attrs["Attributes"], dlq_attrs["Attributes"]

        assert attributes["QueueArn"].endswith(":" + spec.name("local"))
        assert local_resources.queue_arns[spec.key] == attributes["QueueArn"]
        assert attributes["VisibilityTimeout"] == str(spec.visibility_timeout_s)
        assert attributes["MessageRetentionPeriod"] == str(spec.retention_s)
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq["QueueArn"],
            "maxReceiveCount": spec.max_receive_count,
        }
        assert dlq["MessageRetentionPeriod"] == str(spec.dlq_retention_s)
        assert (attributes.get("FifoQueue") == "true") is spec.fifo
        assert (dlq.get("FifoQueue") == "true") is spec.fifo


def test_bus_rules_topic_group_and_role_exist(local_resources: LocalResources) -> None:
    events = local_resources.client("events")
    auto_issue_arn = local_resources.queue_arns["auto_issue"]

    alarm_rule = events.describe_rule(Name=local_resources.rule_names["alarm_state_change"])
    app_rule = events.describe_rule(
        Name=local_resources.rule_names["app_events"], EventBusName=local_resources.event_bus_name
    )
    alarm_targets = events.list_targets_by_rule(Rule=alarm_rule["Name"])["Targets"]
    app_targets = events.list_targets_by_rule(Rule=app_rule["Name"], EventBusName=app_rule["EventBusName"])[
        "Targets"
    ]

    assert local_resources.event_bus_name == event_bus_name("local")
    assert events.describe_event_bus(Name=event_bus_name("local"))["Arn"] == local_resources.event_bus_arn
    assert alarm_rule["EventBusName"] == "default"
    assert json.loads(alarm_rule["EventPattern"]) == ALARM_STATE_CHANGE_PATTERN
    assert json.loads(app_rule["EventPattern"]) == APP_EVENT_PATTERN
    assert [t["Arn"] for t in alarm_targets] == [auto_issue_arn]
    assert [t["Arn"] for t in app_targets] == [auto_issue_arn]
    topics = [t["TopicArn"] for t in local_resources.client("sns").list_topics()["Topics"]]
    assert local_resources.alerts_topic_arn in topics
    assert local_resources.alerts_topic_arn.endswith(":" + alerts_topic_name("local"))
    group = local_resources.client("scheduler").get_schedule_group(Name=schedule_group_name("local"))
    assert group["State"] == "ACTIVE"
    role = local_resources.client("iam").get_role(RoleName=scheduler_role_name("local"))["Role"]
    assert role["Arn"] == local_resources.scheduler_role_arn


def test_provision_twice_reuses_everything(local_resources: LocalResources, moto_endpoint: str) -> None:
    sqs = local_resources.client("sqs")
    queues_before = sorted(sqs.list_queues(QueueNamePrefix="trackbridge-local")["QueueUrls"])

    again = provision(endpoint_url=moto_endpoint)

    assert again == local_resources
    assert sorted(sqs.list_queues(QueueNamePrefix="trackbridge-local")["QueueUrls"]) == queues_before
    rules = local_resources.client("events").list_rules(NamePrefix="trackbridge-local-")["Rules"]
    assert [r["Name"] for r in rules] == [local_resources.rule_names["alarm_state_change"]]


def test_environment_names_every_env_variable(local_resources: LocalResources, moto_endpoint: str) -> None:
    env = local_resources.environment()

    declared = {
        getattr(ENV, f.name) for f in dataclasses.fields(ENV) if isinstance(getattr(ENV, f.name), str)
    } | set(ENV.extra)

    assert declared <= set(env)
    assert all(env[name] for name in declared)
    assert env["TB_SECRETS_PREFIX"] == "trackbridge/local/"
    assert env["AWS_ENDPOINT_URL"] == moto_endpoint
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["TB_SYNC_QUEUE_ARN"] == local_resources.queue_arns["sync"]


def test_rules_deliver_whole_events_to_the_auto_issue_queue(moto_endpoint: str, shared_dir: Path) -> None:
    fixture = json.loads((shared_dir / "fixtures/aws/eventbridge.scheduled_event.json").read_text())
    # Own stage and region: the events must not reach the queues of the `local` stage other tests read.
    resources = provision(endpoint_url=moto_endpoint, stage="routetest", region="eu-central-1")
    events = resources.client("events")

    events.put_events(
        Entries=[
            {
                "EventBusName": resources.event_bus_name,
                "Source": "acme.ci",
                "DetailType": "TestFailed",
                "Detail": json.dumps({"test": "t1"}),
            },
            # On the default bus and not an alarm: no rule of ours matches it.
            {"Source": "acme.ci", "DetailType": "TestFailed", "Detail": "{}"},
        ]
    )
    messages = resources.client("sqs").receive_message(
        QueueUrl=resources.queue_url("auto_issue"), MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]

    assert len(messages) == 1
    delivered = json.loads(messages[0]["Body"])
    assert set(fixture) == set(delivered)
    assert delivered["detail"] == {"test": "t1"}
    assert delivered["detail-type"] == "TestFailed"
    assert delivered["account"] == "123456789012"
    assert delivered["region"] == "eu-central-1"
