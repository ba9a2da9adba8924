"""sync entry point (SQS sync queue, batch size 1): decorators, one call, return.

Around the call: why a record failed is noted for the DLQ listing (``runtime.dlq``), and what the slice
came to is counted (``runtime.handler_metrics``: EMF and the tenant's daily counters, flushed once).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.runtime import container, handler_metrics
from trackbridge.runtime.observability import logger, metrics, tracer
from trackbridge.runtime.settings import get_settings
from trackbridge.runtime.sync.handler import process_record

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: Any, lambda_context: Any) -> str:
    """Powertools record handler: one message, with the composition root's engine and service."""
    with container.failure_notes().noting("sync", record), handler_metrics.timed("SyncSliceDuration"):
        outcome = process_record(
            record,
            lambda_context,
            engine=container.sync_engine(),
            service=container.sync_service(),
            deletion_check_interval=timedelta(seconds=get_settings().deletion_check_interval_s),
        )
    handler_metrics.sync_slice(
        record, outcome, operations=container.sync_service(), counters=container.metric_counters()
    )
    return outcome


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with handler_metrics.flushing(container.metric_counters()):
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )
