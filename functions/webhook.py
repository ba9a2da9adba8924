"""Webhook entry point: ``POST /v1/webhooks/{provider}/{connection_id}``: verify, de-duplicate, enqueue.

The work is ``trackbridge.runtime.webhooks.ingest``, composed by ``runtime.container.webhook_ingest``; this
module answers in API Gateway's proxy shape.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.runtime import container, handler_metrics
from trackbridge.runtime.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = container.webhook_ingest().answer_event(event)
    handler_metrics.webhook_answer(answer.status, answer.body)
    return answer.to_proxy()
