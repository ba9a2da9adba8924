"""The sync queue consumer's logic: one message -> one slice (or one scheduled start).

``functions/sync.py`` is decorators plus :func:`process_record`. A body that is not a sync message is
logged and dropped (retrying it could never succeed); infrastructure failures propagate, so SQS redelivers
the message and, after ``maxReceiveCount`` tries, parks it in the DLQ. Rate limits never get here as
failures: the engine parks them with a new delayed message. A scheduled message starts an incremental sync
that ends with a deletion check when the last one is older than ``TB_DELETION_CHECK_INTERVAL_S``. A slice
that ends its operation (completed or failed) hands the result to ``SyncService.finished``: the one place
the back-off ladder learns of results, whatever started the sync.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from trackbridge.domain.errors import Conflict, NotFound, ValidationFailed
from trackbridge.domain.sync_plan import ScheduledMessage, parse_message
from trackbridge.runtime.observability import logger, metrics
from trackbridge.runtime.sync.engine import RemainingTime, SliceOutcome, SyncEngine
from trackbridge.runtime.sync.service import SyncService

DEFAULT_DELETION_CHECK_INTERVAL = timedelta(hours=1)


def handle_body(
    body: str,
    context: RemainingTime,
    *,
    engine: SyncEngine,
    service: SyncService,
    deletion_check_interval: timedelta = DEFAULT_DELETION_CHECK_INTERVAL,
) -> str:
    try:
        message = parse_message(body)
    except ValidationError as exc:
        logger.error("sync.bad_message", extra={"errors": exc.error_count()})
        return "dropped"
    if isinstance(message, ScheduledMessage):
        try:
            op = service.start_scheduled(
                message.tenant, message.connection_id, deletion_check_interval=deletion_check_interval
            )
        except (NotFound, ValidationFailed) as exc:
            # The connection is gone (or syncs nothing yet): retrying cannot help, and no operation exists.
            logger.warning(
                "sync.schedule_dropped",
                extra={"connection_id": message.connection_id, "code": exc.code, "reason": exc.message},
            )
            return "dropped"
        except Conflict as exc:
            details: Any = exc.details
            running = details.get("operation_id") if isinstance(details, dict) else None
            service.skipped(message.tenant, message.connection_id, running, "a sync was already running")
            logger.info("sync.schedule_skipped", extra={"connection_id": message.connection_id})
            return "skipped"
        # The schedule's own invocation runs the first slice: no extra queue hop.
        return _finished(service, message.tenant, op.id, engine.run_slice(message.tenant, op.id, 0, context))
    outcome = engine.run_slice(
        message.tenant, message.operation_id, message.slice_no, context, resume_at=message.resume_at
    )
    if outcome == SliceOutcome.DUPLICATE:
        logger.info("sync.duplicate_dropped", extra={"operation_id": message.operation_id})
    return _finished(service, message.tenant, message.operation_id, outcome)


# Slice outcomes that end an operation with a result the back-off ladder counts.
_FINAL_OUTCOMES = frozenset({SliceOutcome.COMPLETED, SliceOutcome.FAILED})


def _finished(service: SyncService, tenant: str, operation_id: str, outcome: str) -> str:
    # A service that records no results (a test's stand-in) is fine: the ladder is advice, not the sync.
    finished = getattr(service, "finished", None)
    if outcome in _FINAL_OUTCOMES and finished is not None:
        finished(tenant, operation_id)
    return outcome


def process_record(
    record: Any,
    lambda_context: Any,
    *,
    engine: SyncEngine,
    service: SyncService,
    deletion_check_interval: timedelta = DEFAULT_DELETION_CHECK_INTERVAL,
) -> str:
    """One SQS record through :func:`handle_body`, counted per outcome; ``functions/sync.py`` passes the
    composition root's engine and service."""
    body = record.body if hasattr(record, "body") else record["body"]
    outcome = handle_body(
        body,
        lambda_context,
        engine=engine,
        service=service,
        deletion_check_interval=deletion_check_interval,
    )
    # One count per outcome (SyncSliceContinued, SyncSliceParked...): what dashboards and alarms watch.
    metrics.add_metric(name=f"SyncSlice{outcome.title()}", unit=MetricUnit.Count, value=1)
    return outcome


__all__ = ["DEFAULT_DELETION_CHECK_INTERVAL", "handle_body", "process_record"]
