"""sync entry point (SQS sync queue, batch size 1): decorators, one call, return."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.runtime.observability import logger, metrics, tracer
from trackbridge.runtime.sync.handler import process_record

processor = BatchProcessor(event_type=EventType.SQS)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=process_record, processor=processor, context=context
    )
