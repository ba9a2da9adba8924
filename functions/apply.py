"""apply entry point (SQS inbound FIFO queue): decorators, one call, return.

Each record is one verified webhook delivery (``runtime.webhooks.messages.InboundDelivery``), applied by
``runtime.webhooks.apply``. Partial batch responses, FIFO-aware: a record that fails stops the later records
of its own message group (one issue of one connection) only, so they stay in order behind it and are
retried with it, while the other issues of the batch are applied (``skip_group_on_error=True``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.runtime import container, handler_metrics
from trackbridge.runtime.observability import logger, metrics, tracer
from trackbridge.runtime.webhooks.apply import apply_record

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# A batch whose every record failed is answered like any other (each record named in batchItemFailures)
# rather than raised: the outcome for SQS is the same, but the invocation is not counted as a Lambda error
# (one unreadable message is not an outage of the function). The FIFO processor takes no such argument.
processor.raise_on_entire_batch_failure = False


def record_handler(record: SQSRecord) -> str:
    with container.failure_notes().noting("inbound", record):
        status = apply_record(record, applier=container.webhook_applier())
    handler_metrics.applied(record, status, counters=container.metric_counters())
    return status


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with handler_metrics.flushing(container.metric_counters()):
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )
