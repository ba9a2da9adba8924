"""auto-issue entry point (SQS): decorators, one call, return.

Each record is an alarm state change, an SNS alarm notification, a custom-bus event or a ``POST /v1/events``
job (``runtime.automation.events``), turned into tracker issues by ``runtime.automation.service``. Partial
batch responses: a failed record (unreadable, tracker refused, claim busy) returns to the queue alone, and
after ``maxReceiveCount`` receives lands in the DLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.runtime import container, handler_metrics
from trackbridge.runtime.automation import consumer
from trackbridge.runtime.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    with container.failure_notes().noting("auto_issue", record):
        outcome = consumer.handle_record(
            record,
            service=container.auto_issue_service(),
            default_tenant=consumer.alarm_tenant(),
            receipts=container.event_repository(),
            requeue=container.auto_issue_queue(),
        )
    outcomes = [str(r.outcome) for r in outcome.rules]
    handler_metrics.auto_issue(record, outcomes, counters=container.metric_counters())
    return ",".join(f"{r.rule}:{r.outcome}" for r in outcome.rules) or "no-rule"


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with handler_metrics.flushing(container.metric_counters()):
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )
