"""Scheduler-maintenance entry point, run every 15 minutes by an EventBridge rule.

Its jobs (stale sync locks, schedule reconciliation, Jira webhook renewal) arrive with the features they
maintain; today it records that it ran, which the local scheduler and the CDK rule both exercise.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="trackbridge")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info("maintenance.tick", extra={"time": event.get("time")})
    return {"ran": [], "time": event.get("time")}
