"""The auto-issue queue's record handler.

``functions/auto_issue.py`` is decorators plus :func:`handle_record`. A body that is no event
(:class:`~.events.UnreadableEvent`) is logged ``auto_issue.unreadable`` with its reason and fails the record:
SQS keeps it and, after ``maxReceiveCount`` receives, parks it in the DLQ where ``GET /v1/dlq/auto_issue``
shows it; nothing is acknowledged and lost. A tracker error or a busy claim fails the record too, and SQS
brings it back after the visibility timeout; the fingerprint claim makes the retry safe. A tracker's 429 parks
the job instead: a new message delayed by its ``Retry-After`` (at most 900 s), this one acknowledged.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from trackbridge.domain.automation import Event
from trackbridge.domain.errors import NotFound
from trackbridge.providers.errors import RateLimitedError
from trackbridge.runtime.automation.events import QueuedEvent, SettleCheck, UnreadableEvent, read_message
from trackbridge.runtime.automation.service import (
    MAX_SQS_DELAY_S,
    EventOutcome,
    RuleOutcome,
)
from trackbridge.runtime.observability import logger
from trackbridge.runtime.settings import AUTO_ISSUE_TENANT_ENV, get_settings

# The tenant of CloudWatch alarms and SNS notifications (they name none): one deployment, one tenant
# (``Settings.auto_issue_tenant``).
ALARM_TENANT_ENV = AUTO_ISSUE_TENANT_ENV
# A 429 without Retry-After or a reset time: park the job this long.
DEFAULT_PARK_S = 60


class SqsRequeue:
    """Puts a job back on the auto-issue queue with a delay (a recovery waiting for its settle time)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def send(self, body: Mapping[str, Any], *, delay_s: int) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body), DelaySeconds=delay_s)


def alarm_tenant() -> str:
    return get_settings().auto_issue_tenant


class Receipts(Protocol):
    def set_status(
        self, tenant: str, event_id: str, status: str, *, issue_ref: str | None = None
    ) -> None: ...


class AutoIssue(Protocol):
    """What the handler asks of :class:`~.service.AutoIssueService`."""

    def process(self, tenant: str, event: Event) -> EventOutcome: ...

    def settle(self, check: SettleCheck) -> EventOutcome: ...


class Requeue(Protocol):
    def send(self, body: Mapping[str, Any], *, delay_s: int) -> None: ...


def rate_limit_delay(exc: RateLimitedError) -> int:
    """Seconds to park a job the tracker rate-limited: its Retry-After or reset, within SQS's 1..900."""
    wait = exc.retry_after(datetime.now(UTC))
    return max(1, min(MAX_SQS_DELAY_S, int(wait) + 1 if wait is not None else DEFAULT_PARK_S))


def handle_record(
    record: SQSRecord,
    *,
    service: AutoIssue,
    default_tenant: str,
    receipts: Receipts | None = None,
    requeue: Requeue | None = None,
) -> EventOutcome:
    try:
        job = read_message(record.body, default_tenant=default_tenant)
    except UnreadableEvent as exc:
        logger.error(
            "auto_issue.unreadable",
            extra={"message_id": record.message_id, "reason": exc.reason, "details": exc.details},
        )
        raise
    try:
        if not isinstance(job, QueuedEvent):
            return service.settle(job)
        outcome = service.process(job.tenant, job.event)
    except RateLimitedError as exc:
        if requeue is None:
            raise
        # DESIGN 10's parking: a new delayed message, this one acknowledged, so a rate limit never counts
        # toward the DLQ. The claim was released (create) or the comment slot given back: the retry is safe.
        delay = rate_limit_delay(exc)
        requeue.send(job.model_dump(mode="json"), delay_s=delay)
        logger.warning(
            "auto_issue.rate_limited",
            extra={"message_id": record.message_id, "delay_s": delay, "code": exc.code},
        )
        event = job.event
        return EventOutcome(event.id, (RuleOutcome("*", "parked", reason="rate limited"),))
    duplicate = bool(outcome.rules) and all(r.reason == "duplicate delivery" for r in outcome.rules)
    if receipts is not None and job.event.id.startswith("evt_") and not duplicate:  # API events' receipts
        status = "processed" if any(r.outcome != "ignored" for r in outcome.rules) else "ignored"
        with contextlib.suppress(NotFound):  # the receipt expired: the work is done all the same
            receipts.set_status(job.tenant, job.event.id, status, issue_ref=outcome.issue_ref)
    return outcome


__all__ = ["ALARM_TENANT_ENV", "SqsRequeue", "alarm_tenant", "handle_record", "rate_limit_delay"]
