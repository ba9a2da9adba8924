"""SQS event source mappings for the embedded stack: one polling thread per queue with a consumer.

Like Lambda's SQS poller: receive up to ``batch_size`` messages, hand them to the handler as one SQS event,
delete the ones that succeeded. With ReportBatchItemFailures (Powertools' partial batch response) only the
messages named in ``batchItemFailures`` stay; a handler exception, or a failure entry naming no message of
the batch, fails the whole batch. Failed messages come back after the visibility timeout and moto moves
them to the dead-letter queue once ``maxReceiveCount`` is exceeded (verified in server mode), so the poller
does not redrive anything itself.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.definition import QUEUES, QueueSpec
from infra.local.invoke import LocalFunctions
from infra.local.provision import LocalResources
from infra.local.worker import WorkerLifecycle, WorkerThread

logger = logging.getLogger(__name__)

RECEIVE_WAIT_S = 1  # long-poll wait: how quickly a poller notices stop()


@dataclass(frozen=True)
class PollResult:
    received: int
    deleted: int
    failed: int


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    attribute: dict[str, Any] = {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode("ascii") if isinstance(binary, bytes) else binary,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(b).decode("ascii") if isinstance(b, bytes) else b
            for b in value.get("BinaryListValues", [])
        ],
        "dataType": value.get("DataType"),
    }
    return {k: v for k, v in attribute.items() if v is not None}


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event for a message from ``receive_message``."""
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(result: Any, message_ids: set[str]) -> set[str] | None:
    """Message ids the handler reported as failed; None means the whole batch failed."""
    if not isinstance(result, Mapping) or not result.get("batchItemFailures"):
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    ids: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        # Lambda treats an empty or unknown identifier as a failure of the whole batch.
        if not identifier or identifier not in message_ids:
            return None
        ids.add(identifier)
    return ids


class QueuePoller(WorkerLifecycle):
    """Feeds one queue to one function, on its own thread, until ``stop()``."""

    def __init__(
        self,
        *,
        spec: QueueSpec,
        queue_url: str,
        queue_arn: str,
        region: str,
        sqs: Any,
        invoke: Callable[[dict[str, Any]], Any],
        visibility_timeout_s: int | None = None,
        wait_time_s: int = RECEIVE_WAIT_S,
    ) -> None:
        self.spec = spec
        self.queue_url, self.queue_arn, self.region = queue_url, queue_arn, region
        self._sqs = sqs
        self._invoke = invoke
        self._visibility_timeout_s = visibility_timeout_s
        self._wait_time_s = wait_time_s
        self._worker = WorkerThread(
            self.poll_once,
            name=f"local-poller-{spec.key}",
            # moto restarting or a transient error: keep the poller alive, as Lambda's would be.
            logger=logger,
            failure_event="poller.receive_failed",
            failure_extra={"queue": spec.key},
            failure_backoff_s=1.0,
            # A receive waits at most wait_time_s; a batch in a handler may take longer, so allow for it.
            join_timeout_s=wait_time_s + 30,
        )

    def poll_once(self) -> PollResult:
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.spec.batch_size,
            "WaitTimeSeconds": self._wait_time_s,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self._visibility_timeout_s is not None:
            request["VisibilityTimeout"] = self._visibility_timeout_s
        messages = self._sqs.receive_message(**request).get("Messages", [])
        if not messages:
            return PollResult(0, 0, 0)
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]}
        ids = {m["MessageId"] for m in messages}
        try:
            failed = failed_ids(self._invoke(event), ids)
        except Exception:
            logger.exception("poller.batch_failed", extra={"queue": self.spec.key, "size": len(messages)})
            failed = None
        if failed is None:
            return PollResult(len(messages), 0, len(messages))
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in response.get("Failed", []):
                logger.warning(
                    "poller.delete_failed", extra={"queue": self.spec.key, "code": failure.get("Code")}
                )
        return PollResult(len(messages), len(done), len(failed))


class QueuePollers:
    """The pollers of every queue in ``infra.definition.QUEUES`` that has a consumer."""

    def __init__(
        self,
        resources: LocalResources,
        functions: LocalFunctions,
        *,
        visibility_timeout_s: int | None = None,
        queues: tuple[QueueSpec, ...] = QUEUES,
    ) -> None:
        self.pollers: dict[str, QueuePoller] = {}
        for spec in queues:
            if not spec.consumer:
                continue
            self.pollers[spec.key] = QueuePoller(
                spec=spec,
                queue_url=resources.queue_urls[spec.key],
                queue_arn=resources.queue_arns[spec.key],
                region=resources.region,
                # boto3 clients are thread-safe, but one per poller keeps connection pools apart.
                sqs=resources.client("sqs"),
                invoke=functools.partial(functions.invoke, spec.consumer),
                visibility_timeout_s=visibility_timeout_s,
            )

    def start(self) -> QueuePollers:
        for poller in self.pollers.values():
            poller.start()
        return self

    def signal_stop(self) -> None:
        for poller in self.pollers.values():
            poller.signal_stop()

    def stop(self) -> None:
        # Signal every poller first so they wind down in parallel, then join each.
        self.signal_stop()
        for poller in self.pollers.values():
            poller.stop()


__all__ = ["PollResult", "QueuePoller", "QueuePollers", "failed_ids", "sqs_record"]
