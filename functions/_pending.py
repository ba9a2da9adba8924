"""Shared body of the queue consumers whose behaviour lands in a later issue (apply, auto-issue).

They report every record as a batch item failure, so SQS keeps each message, retries it, and finally parks
it in the queue's DLQ (retained 14 days) for a redrive once the consumer exists.
Nothing is acknowledged and lost.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger


def keep_all(event: dict[str, Any], logger: Logger, name: str) -> dict[str, Any]:
    records = event.get("Records") or []
    logger.warning("consumer.deferred", extra={"consumer": name, "records": len(records)})
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if "messageId" in r]}
