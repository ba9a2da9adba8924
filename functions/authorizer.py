"""Lambda entry point of the tenant API-key authorizer.

API Gateway turns an exception whose message is exactly ``Unauthorized`` into a 401; any other exception
is a 500 (so a DynamoDB outage is not reported to callers as a bad key).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.domain.errors import Unauthorized
from trackbridge.runtime import container
from trackbridge.runtime.authorizer import authorize
from trackbridge.runtime.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return authorize(event, container.api_key_service(), container.rate_limiter())
    except Unauthorized:
        raise Exception("Unauthorized") from None
