"""What an operator's e-mail would receive: an SQS queue subscribed to the alerts topic in moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trackbridge.runtime import aws
from trackbridge.runtime.settings import get_settings


@contextmanager
def subscribed_queue() -> Iterator[str]:
    """The URL of a fresh queue subscribed to the settings' alerts topic; both removed afterwards."""
    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName=f"alerts-seen-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=get_settings().alerts_topic_arn, Protocol="sqs", Endpoint=arn)
    try:
        yield url
    finally:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sqs.delete_queue(QueueUrl=url)


def published(queue_url: str, tenant: str, *, expected: int) -> list[dict[str, Any]]:
    """The SNS envelopes for ``tenant`` on the queue: polled until ``expected`` arrived, then once more to
    see that nothing else follows (bounded)."""
    found: list[dict[str, Any]] = []
    empty_polls = 0
    for _ in range(20):
        batch = aws.client("sqs").receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages = batch.get("Messages", [])
        for message in messages:
            envelope = json.loads(message["Body"])
            if envelope.get("MessageAttributes", {}).get("tenant", {}).get("Value") == tenant:
                found.append(envelope)
        empty_polls = 0 if messages else empty_polls + 1
        if len(found) >= expected and empty_polls >= 1:
            break
    return found
