"""The work queues of ``infra.definition.QUEUES``, each with its dead-letter queue.

Every queue uses SQS managed encryption (SSE-SQS). A customer managed key would need key-policy grants for
each AWS service that sends to the queue (EventBridge rules, EventBridge Scheduler), and the AWS managed
``aws/sqs`` key cannot give those grants at all; SSE-SQS encrypts at rest with no such coupling. Every queue
also refuses requests that do not use TLS.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.definition import QUEUES, QueueSpec


class WorkQueue(Construct):
    """A queue and its DLQ; a FIFO queue gets a FIFO DLQ, as SQS requires."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: QueueSpec, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        # SQS rejects FifoQueue=false, so standard queues leave the property out.
        fifo = True if spec.fifo else None
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=spec.dlq_name(stage),
            fifo=fifo,
            retention_period=Duration.seconds(spec.dlq_retention_s),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=spec.name(stage),
            fifo=fifo,
            content_based_deduplication=spec.content_based_deduplication if spec.fifo else None,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            retention_period=Duration.seconds(spec.retention_s),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=spec.max_receive_count, queue=self.dead_letter_queue
            ),
        )

    def grant_redrive(self, grantee: iam.IGrantable) -> None:
        """What the DLQ tools (``runtime.dlq``) need: read, hide, show again and delete the DLQ's messages,
        and send them back to the work queue (whose redrive policy names the DLQ)."""
        self.dead_letter_queue.grant_consume_messages(grantee)
        self.queue.grant_send_messages(grantee)


class Queues(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.by_key: dict[str, WorkQueue] = {
            spec.key: WorkQueue(self, _construct_id(spec.key), spec=spec, stage=stage) for spec in QUEUES
        }

    def __getitem__(self, key: str) -> WorkQueue:
        return self.by_key[key]

    @property
    def inbound(self) -> WorkQueue:
        return self.by_key["inbound"]

    @property
    def sync(self) -> WorkQueue:
        return self.by_key["sync"]

    @property
    def auto_issue(self) -> WorkQueue:
        return self.by_key["auto_issue"]


def _construct_id(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


__all__ = ["Queues", "WorkQueue"]
