"""``POST /v1/events``: validate an event, keep its receipt, and queue it for the auto-issue consumer.

The body is either a CloudWatch "Alarm State Change" EventBridge event as AWS sends it, or the application
event of DESIGN section 9 (:class:`~.events.EventIn`). Anything else is a 422 naming what is wrong; nothing
reaches the queue then. The receipt (``EventRepository``, with a TTL) is written before the message is sent,
so ``GET /v1/events/{id}`` knows every accepted event; the consumer moves it on to ``processed``/``ignored``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from trackbridge.domain.automation import Event
from trackbridge.domain.errors import DependencyFailure, ValidationFailed
from trackbridge.domain.times import utcnow
from trackbridge.runtime.automation.events import (
    ALARM_DETAIL_TYPE,
    ALARM_SOURCE,
    EventIn,
    QueuedEvent,
    alarm_event,
    new_event_id,
)
from trackbridge.runtime.observability import logger


class EventReceipts(Protocol):
    def record(self, tenant: str, event: Event) -> Event: ...

    def get(self, tenant: str, event_id: str) -> Event: ...


class JobQueue(Protocol):
    def send(self, body: Mapping[str, Any], *, delay_s: int) -> None: ...


def _errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [
        {"path": ".".join([prefix, *(str(p) for p in e["loc"])]), "message": e["msg"]} for e in exc.errors()
    ][:20]


def parse_api_event(body: Mapping[str, Any], *, event_id: str, received_at: datetime) -> Event:
    """The event a ``POST /v1/events`` body describes; :class:`ValidationFailed` (422) otherwise."""
    try:
        if body.get("detail-type") == ALARM_DETAIL_TYPE and body.get("source") == ALARM_SOURCE:
            detail = body.get("detail")
            if not isinstance(detail, dict):
                raise ValidationFailed(
                    "an alarm event needs its detail",
                    details={"errors": [{"path": "body.detail", "message": "an object is required"}]},
                )
            return alarm_event(detail, event_id=event_id, source=ALARM_SOURCE, received_at=received_at)
        parsed = EventIn.model_validate(dict(body))
    except ValidationError as exc:
        raise ValidationFailed("the event is not valid", details={"errors": _errors(exc, "body")}) from None
    if parsed.tenant is not None:
        raise ValidationFailed(
            "the tenant of an API event is the API key's",
            details={"errors": [{"path": "body.tenant", "message": "not allowed here"}]},
        )
    return parsed.to_event(event_id=event_id, received_at=received_at)


class EventIntake:
    def __init__(
        self,
        receipts: EventReceipts,
        queue: JobQueue,
        *,
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], str] = new_event_id,
    ) -> None:
        self.receipts = receipts
        self.queue = queue
        self.clock = clock
        self.new_id = new_id

    def accept(self, tenant: str, event: Event) -> Event:
        """Record ``event``'s receipt and queue it."""
        self.receipts.record(tenant, event)
        message = QueuedEvent(tenant=tenant, event=event).model_dump(mode="json")
        try:
            self.queue.send(message, delay_s=0)
        except Exception as exc:
            logger.error("events.enqueue_failed", extra={"tenant": tenant, "event_id": event.id})
            raise DependencyFailure(
                "the event could not be queued; send it again",
                details={"event_id": event.id},
                guidance="retry the request: nothing was queued",
            ) from exc
        logger.info(
            "events.queued",
            extra={
                "tenant": tenant,
                "event_id": event.id,
                "type": event.type,
                "bytes": len(json.dumps(message)),
            },
        )
        return event

    def get(self, tenant: str, event_id: str) -> Event:
        return self.receipts.get(tenant, event_id)


__all__ = ["EventIntake", "parse_api_event"]
