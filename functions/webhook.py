"""Webhook entry point: ``POST /v1/webhooks/{provider}/{connection_id}``.

Verification, de-duplication and enqueueing land with webhook-driven sync; until then every delivery is
answered ``501`` in the API's error shape, so a tracker's delivery log shows a clear reason and the tracker
keeps (or retries) the delivery rather than trackbridge silently dropping it.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import error_body

logger = Logger(service="trackbridge")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    params = event.get("pathParameters") or {}
    logger.info("webhook.not_enabled", extra={"provider": params.get("provider")})
    body = error_body(
        ErrorCode.NOT_IMPLEMENTED,
        "webhook ingestion is not enabled in this version; deliveries are not accepted yet",
    )
    return {"statusCode": 501, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
