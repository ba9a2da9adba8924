"""Queues: FIFO where defined, SSE and TLS on all, DLQ redrive, consumers wired, DLQ alarms to the topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.function import spec_for
from infra.definition import QUEUES, QueueSpec, alerts_topic_name
from tests.infra.cfn import get_att, one, ref, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"


def _queue(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    return one(template, "AWS::SQS::Queue", QueueName=name)


@pytest.mark.parametrize("spec", QUEUES, ids=lambda spec: spec.key)
def test_queue_and_dlq_attributes_follow_the_definition(
    dev_template: dict[str, Any], spec: QueueSpec
) -> None:
    dlq_id, dlq = _queue(dev_template, spec.dlq_name(STAGE))
    _, queue = _queue(dev_template, spec.name(STAGE))
    props = queue["Properties"]

    assert props["VisibilityTimeout"] == spec.visibility_timeout_s
    assert props["MessageRetentionPeriod"] == spec.retention_s
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": get_att(dlq_id),
        "maxReceiveCount": spec.max_receive_count,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] == spec.dlq_retention_s
    for resource in (queue, dlq):
        assert resource["Properties"]["SqsManagedSseEnabled"] is True
        # SQS rejects FifoQueue=false, so a standard queue must not carry the property at all.
        assert resource["Properties"].get("FifoQueue") is (True if spec.fifo else None)
    if spec.fifo:
        assert props["ContentBasedDeduplication"] is spec.content_based_deduplication


def test_every_queue_refuses_plain_http(dev_template: dict[str, Any]) -> None:
    queue_ids = set(resources(dev_template, "AWS::SQS::Queue"))
    guarded = set()
    for policy in resources(dev_template, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded.add(statement["Resource"]["Fn::GetAtt"][0])

    assert len(queue_ids) == 2 * len(QUEUES)
    assert guarded == queue_ids


@pytest.mark.parametrize("spec", QUEUES, ids=lambda spec: spec.key)
def test_consumer_reads_its_queue_with_partial_batch_failures(
    dev_template: dict[str, Any], spec: QueueSpec
) -> None:
    queue_id, _ = _queue(dev_template, spec.name(STAGE))
    consumer = spec_for(spec.consumer)
    function_id, _ = one(dev_template, "AWS::Lambda::Function", FunctionName=consumer.name(STAGE))
    _, mapping = one(dev_template, "AWS::Lambda::EventSourceMapping", EventSourceArn=get_att(queue_id))
    props = mapping["Properties"]

    assert props["FunctionName"] == ref(function_id)
    assert props["BatchSize"] == spec.batch_size
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The poller never outruns the function's reserved concurrency (throttled batches would count receives).
    assert props["ScalingConfig"] == {"MaximumConcurrency": consumer.reserved_concurrency}
    # A message must stay invisible for longer than its consumer may run.
    assert spec.visibility_timeout_s >= consumer.timeout_s


def test_sync_queue_takes_one_message_per_invocation(dev_template: dict[str, Any]) -> None:
    queue_id, _ = _queue(dev_template, next(spec for spec in QUEUES if spec.key == "sync").name(STAGE))
    _, mapping = one(dev_template, "AWS::Lambda::EventSourceMapping", EventSourceArn=get_att(queue_id))

    assert mapping["Properties"]["BatchSize"] == 1


@pytest.mark.parametrize("spec", QUEUES, ids=lambda spec: spec.key)
def test_dlq_depth_alarm_notifies_the_alerts_topic(dev_template: dict[str, Any], spec: QueueSpec) -> None:
    dlq_id, _ = _queue(dev_template, spec.dlq_name(STAGE))
    topic_id, _ = one(dev_template, "AWS::SNS::Topic", TopicName=alerts_topic_name(STAGE))
    alarms = [
        alarm["Properties"]
        for alarm in resources(dev_template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": get_att(dlq_id, "QueueName")}]
    ]

    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [ref(topic_id)]
    assert alarm["OKActions"] == [ref(topic_id)]


def test_alerts_topic_is_encrypted_with_a_key_cloudwatch_can_use(dev_template: dict[str, Any]) -> None:
    _, topic = one(dev_template, "AWS::SNS::Topic", TopicName=alerts_topic_name(STAGE))
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = dev_template["Resources"][key_id]
    cloudwatch = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    topic_policy = next(iter(resources(dev_template, "AWS::SNS::TopicPolicy").values()))

    assert key["Properties"]["EnableKeyRotation"] is True
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "aws:SecureTransport" in json.dumps(topic_policy["Properties"]["PolicyDocument"])
