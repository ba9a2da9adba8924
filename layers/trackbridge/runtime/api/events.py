"""Events: ``POST /v1/events`` (202, queued for auto-issue) and ``GET /v1/events/{id}`` (its receipt).

Scopes: ``events:write`` to send, ``events:read`` to read a receipt (``*`` allows both). The body is a
CloudWatch "Alarm State Change" EventBridge event as AWS sends it, or ``{"type", "source", "severity",
"subject", "data", "occurred_at", "resolved"}``; an invalid one is a 422 naming the field and nothing is
queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict

from trackbridge.domain.automation import Event
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

if TYPE_CHECKING:
    from trackbridge.runtime.automation.intake import EventIntake

    Intake = Annotated[EventIntake, Depends(container.event_intake)]
else:
    Intake = Annotated[Any, Depends(container.event_intake)]

READ, WRITE = "events:read", "events:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
EventId = Annotated[str, Path(max_length=128, description="an event id, e.g. evt_0f3c...")]
_APP_EVENT: Final = {
    "type": "schema.drift",
    "source": "schema-watch",
    "severity": "high",
    "subject": {"kind": "table", "database": "sales", "schema": "public", "name": "orders"},
    "data": {"drift": {"column": "total", "expected": "numeric(12,2)", "actual": "float8"}},
    "occurred_at": "2026-03-04T16:40:00Z",
}
EventBody = Annotated[
    dict[str, Any],
    Body(
        description="an application event, or a CloudWatch alarm state change as EventBridge sends it",
        examples=[_APP_EVENT],
    ),
]


class EventQueued(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"event_id": "evt_6f1c2b0e9a8d4c3b", "status": "queued"}]}
    )

    event_id: str
    status: Literal["queued"] = "queued"


@router.post(
    "/v1/events",
    status_code=202,
    summary="Send an event to auto-issue (queued)",
    description="Queues the event for the auto-issue rules and answers 202 with its id. The body is a "
    "CloudWatch alarm state change as EventBridge delivers it, or an application event `{type (dotted), "
    "source, severity, subject, data, occurred_at, resolved}`; an invalid one is a 422 and is not queued.",
    operation_id="sendEvent",
    tags=["events"],
    openapi_extensions=requires(WRITE),
)
def send_event(caller: Caller, intake: Intake, body: EventBody) -> Response[EventQueued]:
    caller.require(WRITE)
    from trackbridge.domain.times import utcnow
    from trackbridge.runtime.automation.events import new_event_id
    from trackbridge.runtime.automation.intake import parse_api_event

    # Validated before anything is called: an invalid event is a 422 however the intake is composed.
    event = parse_api_event(body, event_id=new_event_id(), received_at=utcnow())
    intake.accept(caller.tenant, event)
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=EventQueued(event_id=event.id)
    )


@router.get(
    "/v1/events/<event_id>",
    summary="An event's receipt: queued, processed or ignored, and the issue it led to",
    description="Receipts are kept for 30 days.",
    operation_id="getEvent",
    tags=["events"],
    openapi_extensions=requires(READ),
)
def get_event(event_id: EventId, caller: Caller, intake: Intake) -> Event:
    caller.require(READ)
    event: Event = intake.get(caller.tenant, event_id)
    return event


__all__ = ["READ", "WRITE", "EventQueued", "router"]
