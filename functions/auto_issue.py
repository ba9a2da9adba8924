"""auto-issue entry point (SQS). Its processing arrives in a later issue; see ``functions/_pending.py``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions._pending import keep_all

logger = Logger(service="trackbridge")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return keep_all(event, logger, "auto_issue")
