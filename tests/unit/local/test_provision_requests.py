"""The pure request builders: what the CDK agreement test and provisioning both rely on."""

from __future__ import annotations

import json

from infra.definition import QUEUES, TABLE
from infra.local.provision import queue_requests, table_request


def test_table_request_is_on_demand_encrypted_with_all_projections() -> None:
    request = table_request("dev")

    assert request["TableName"] == TABLE.name("dev")
    assert request["BillingMode"] == "PAY_PER_REQUEST"
    assert request["SSESpecification"] == {"Enabled": True}
    names = [d["AttributeName"] for d in request["AttributeDefinitions"]]
    assert len(names) == len(set(names)) == 2 + 2 * len(TABLE.indexes)
    assert {d["AttributeType"] for d in request["AttributeDefinitions"]} == {"S"}
    assert [i["IndexName"] for i in request["GlobalSecondaryIndexes"]] == [i.name for i in TABLE.indexes]
    assert {i["Projection"]["ProjectionType"] for i in request["GlobalSecondaryIndexes"]} == {"ALL"}


def test_queue_requests_put_each_dlq_before_its_queue() -> None:
    requests = queue_requests("dev", region="eu-west-1")

    assert [r["QueueName"] for r in requests] == [
        name for spec in QUEUES for name in (spec.dlq_name("dev"), spec.name("dev"))
    ]
    for spec, (dlq, queue) in zip(QUEUES, zip(requests[::2], requests[1::2], strict=True), strict=True):
        redrive = json.loads(queue["Attributes"]["RedrivePolicy"])
        assert redrive == {
            "deadLetterTargetArn": f"arn:aws:sqs:eu-west-1:123456789012:{spec.dlq_name('dev')}",
            "maxReceiveCount": spec.max_receive_count,
        }
        assert queue["Attributes"]["VisibilityTimeout"] == str(spec.visibility_timeout_s)
        assert all(isinstance(v, str) for r in (dlq, queue) for v in r["Attributes"].values())
        assert ("FifoQueue" in queue["Attributes"]) is spec.fifo
        assert ("FifoQueue" in dlq["Attributes"]) is spec.fifo
        assert "RedrivePolicy" not in dlq["Attributes"]
