"""Queue pollers against moto's server: batches, partial failures, whole-batch failures, redrive to the DLQ.

The tests provision their own stage, so their pollers never take messages from the ``local`` stage other
tests use on the same moto.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.definition import QUEUES, QueueSpec
from infra.local.invoke import LocalFunctions
from infra.local.pollers import QueuePoller, QueuePollers
from infra.local.provision import LocalResources, provision, queue_requests

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local-pollers")]

SPECS = {spec.key: spec for spec in QUEUES}


@pytest.fixture(scope="module")
def resources(moto_endpoint: str) -> LocalResources:
    return provision(endpoint_url=moto_endpoint, stage="pollertest")


@pytest.fixture
def sqs(resources: LocalResources) -> Any:
    return resources.client("sqs")


@dataclass(frozen=True)
class Queue:
    key: str
    url: str
    arn: str
    dlq_url: str


def fresh_queue(sqs: Any, key: str) -> Queue:
    """A new queue and DLQ with the definition's attributes, so no test sees another's messages."""
    spec = SPECS[key]
    unique = f"pt{uuid.uuid4().hex[:8]}"
    wanted = {spec.dlq_name("pollertest"), spec.name("pollertest")}
    urls = []
    for request in queue_requests("pollertest"):
        if request["QueueName"] not in wanted:
            continue
        attributes = {k: v.replace("pollertest", unique) for k, v in request["Attributes"].items()}
        name = request["QueueName"].replace("pollertest", unique)
        urls.append(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    dlq_url, url = urls
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(key, url, arn, dlq_url)


def poller(sqs: Any, queue: Queue, handler: Any, visibility: int | None = 5) -> QueuePoller:
    return QueuePoller(
        spec=SPECS[queue.key],
        queue_url=queue.url,
        queue_arn=queue.arn,
        region="us-east-1",
        sqs=sqs,
        invoke=handler,
        visibility_timeout_s=visibility,
        wait_time_s=0,
    )


def count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_batch_is_delivered_in_the_sqs_event_shape(sqs: Any, shared_dir: Path) -> None:
    fixture = json.loads((shared_dir / "fixtures/aws/sqs.event.powertools.json").read_text())
    queue = fresh_queue(sqs, "auto_issue")
    for n in range(3):
        sqs.send_message(
            QueueUrl=queue.url,
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "alarm"}},
        )
    events: list[dict[str, Any]] = []

    result = poller(sqs, queue, events.append).poll_once()

    assert (result.received, result.deleted, result.failed) == (3, 3, 0)
    records = events[0]["Records"]
    assert sorted(json.loads(r["body"])["n"] for r in records) == [0, 1, 2]
    for record in records:
        assert set(fixture["Records"][0]) <= set(record)
        assert set(fixture["Records"][0]["attributes"]) <= set(record["attributes"])
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queue.arn
        assert record["awsRegion"] == "us-east-1"
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert record["messageAttributes"]["kind"] == {
            "stringValue": "alarm",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    assert count(sqs, queue.url) == 0


def test_batches_hold_at_most_batch_size_messages(sqs: Any) -> None:
    queue = fresh_queue(sqs, "sync")  # the sync queue's batch size is 1
    for n in range(2):
        sqs.send_message(QueueUrl=queue.url, MessageBody=f"s{n}")
    events: list[dict[str, Any]] = []
    feeding = poller(sqs, queue, events.append)

    feeding.poll_once()
    feeding.poll_once()

    assert SPECS["sync"].batch_size == 1
    assert [len(e["Records"]) for e in events] == [1, 1]


def test_fifo_records_carry_group_and_dedup_ids(sqs: Any) -> None:
    queue = fresh_queue(sqs, "inbound")
    for n in range(2):
        sqs.send_message(
            QueueUrl=queue.url, MessageBody=f"m{n}", MessageGroupId="issue-1", MessageDeduplicationId=f"d{n}"
        )
    events: list[dict[str, Any]] = []

    poller(sqs, queue, events.append).poll_once()

    records = events[0]["Records"]
    assert [r["body"] for r in records] == ["m0", "m1"]
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"issue-1"}
    assert [r["attributes"]["MessageDeduplicationId"] for r in records] == ["d0", "d1"]
    assert all("SequenceNumber" in r["attributes"] for r in records)


def test_only_reported_failures_stay_on_the_queue(sqs: Any) -> None:
    queue = fresh_queue(sqs, "auto_issue")
    for body in ("ok-1", "bad", "ok-2"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        bad = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in bad]}

    result = poller(sqs, queue, handler, visibility=1).poll_once()
    time.sleep(1.5)  # past the 1 s visibility timeout
    again = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]

    assert (result.received, result.deleted, result.failed) == (3, 2, 1)
    assert [m["Body"] for m in again] == ["bad"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(RuntimeError("handler crashed"), id="exception"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}, id="unknown-id"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": ""}]}, id="empty-id"),
    ],
)
def test_whole_batch_fails_and_nothing_is_deleted(sqs: Any, outcome: Any) -> None:
    queue = fresh_queue(sqs, "auto_issue")
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)

    def handler(event: dict[str, Any]) -> Any:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = poller(sqs, queue, handler).poll_once()

    assert (result.received, result.deleted, result.failed) == (2, 0, 2)
    assert count(sqs, queue.url) == 2


def test_poison_message_lands_in_the_dlq_after_max_receive_count(sqs: Any) -> None:
    spec: QueueSpec = SPECS["auto_issue"]
    queue = fresh_queue(sqs, "auto_issue")
    sqs.send_message(QueueUrl=queue.url, MessageBody="poison")
    calls: list[str] = []

    def handler(event: dict[str, Any]) -> Any:
        calls.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
        raise ValueError("cannot process")

    # Visibility 0: a failed message is visible again at once, so the test need not wait.
    feeding = poller(sqs, queue, handler, visibility=0)
    for _ in range(spec.max_receive_count + 2):
        feeding.poll_once()
    dead = sqs.receive_message(QueueUrl=queue.dlq_url, AttributeNames=["All"])["Messages"]

    assert calls == [str(n) for n in range(1, spec.max_receive_count + 1)]
    assert [m["Body"] for m in dead] == ["poison"]
    assert count(sqs, queue.url) == 0


def test_poller_threads_deliver_until_stopped(resources: LocalResources, sqs: Any) -> None:
    seen: list[str] = []

    def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": []}

    functions = LocalFunctions({"apply": consume, "sync": consume, "auto_issue": consume}, stage="pollertest")
    pollers = QueuePollers(resources, functions).start()
    try:
        sqs.send_message(QueueUrl=resources.queue_urls["sync"], MessageBody="sync-1")
        sqs.send_message(QueueUrl=resources.queue_urls["auto_issue"], MessageBody="alarm-1")
        sqs.send_message(
            QueueUrl=resources.queue_urls["inbound"],
            MessageBody="change-1",
            MessageGroupId="g",
            MessageDeduplicationId="1",
        )
        deadline = time.monotonic() + 120
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pollers.stop()

    assert sorted(seen) == ["alarm-1", "change-1", "sync-1"]
    assert {p.spec.key for p in pollers.pollers.values()} == {"inbound", "sync", "auto_issue"}
    assert not any(t.name.startswith("local-poller-") for t in threading.enumerate())
