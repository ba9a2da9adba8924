"""``/v1/connections/{id}/schedule``: show, set, pause, resume and trigger a connection's sync schedule.

Scopes: reading needs ``connections:read``; setting, pausing and resuming ``connections:write``; triggering a
sync ``sync:write`` (as ``POST .../syncs`` does). A bad expression or time zone is a 422 naming why; another
tenant's connection is a 404. The use cases are ``runtime.schedule_admin.ScheduleAdmin``'s, built on the
first request (it loads the storage layer, which is not the cold start's job).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from trackbridge.domain.backoff import LadderPolicy, ScheduleState
from trackbridge.domain.connections import Schedule
from trackbridge.domain.credentials import printable
from trackbridge.domain.sync import SyncOperation
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

if TYPE_CHECKING:
    from trackbridge.runtime.schedule_admin import ScheduleAdmin

READ, WRITE, SYNC = "connections:read", "connections:write", "sync:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
if TYPE_CHECKING:
    Admin = Annotated[ScheduleAdmin, Depends(container.schedule_admin)]
else:
    Admin = Annotated[Any, Depends(container.schedule_admin)]
ConnectionId = Annotated[str, Path(description="a connection id, e.g. conn_abcdefghijklmnopqrst")]


class ScheduleUpdate(Schedule):
    """Body of ``PUT .../schedule``: the expression (rate or cron, checked as Scheduler would), its time
    zone, and optionally the connection's own back-off ladder (``null``: the default one)."""

    ladder: LadderPolicy | None = None


class PauseRequest(BaseModel):
    """Optional body of ``POST .../schedule/pause``: why, for whoever reads the schedule later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable)] | None = None


_STATE = (
    'Answers `{"expression", "timezone", "paused", "paused_reason", "effective_expression", "ladder_step", '
    '"consecutive_failures", "last_code", "slowed_until", "ladder"}`: `effective_expression` is what '
    "EventBridge Scheduler runs now (a slower rung of the back-off ladder after repeated failures, or while "
    "the tracker's quota is nearly spent)."
)


@router.get(
    "/v1/connections/<connection_id>/schedule",
    summary="Show a connection's schedule and back-off ladder state",
    description=_STATE,
    operation_id="getSchedule",
    tags=["schedules"],
    openapi_extensions=requires(READ),
)
def get_schedule(connection_id: ConnectionId, caller: Caller, admin: Admin) -> ScheduleState:
    caller.require(READ)
    return admin.state(caller.tenant, connection_id)


@router.put(
    "/v1/connections/<connection_id>/schedule",
    summary="Set a connection's schedule (rate or cron, with a time zone)",
    description="Replaces the expression and time zone (and the ladder, when given); a pause and the "
    "ladder's rung stay. An expression Scheduler would refuse, or an unknown time zone, is a 422 naming "
    "why. " + _STATE,
    operation_id="setSchedule",
    tags=["schedules"],
    openapi_extensions=requires(WRITE),
)
def set_schedule(
    connection_id: ConnectionId, body: Annotated[ScheduleUpdate, Body()], caller: Caller, admin: Admin
) -> ScheduleState:
    caller.require(WRITE)
    schedule = Schedule(expression=body.expression, timezone=body.timezone)
    if "ladder" in body.model_fields_set:
        return admin.update(caller.tenant, connection_id, schedule, caller.actor, ladder=body.ladder)
    return admin.update(caller.tenant, connection_id, schedule, caller.actor)


@router.post(
    "/v1/connections/<connection_id>/schedule/pause",
    summary="Pause a connection's schedule",
    description="Scheduler stops firing it (`State=DISABLED`) until it is resumed; a manual trigger still "
    "works. " + _STATE,
    operation_id="pauseSchedule",
    tags=["schedules"],
    openapi_extensions=requires(WRITE),
)
def pause_schedule(
    connection_id: ConnectionId,
    caller: Caller,
    admin: Admin,
    body: Annotated[PauseRequest | None, Body()] = None,
) -> ScheduleState:
    caller.require(WRITE)
    reason = body.reason if body is not None else None
    return admin.pause(caller.tenant, connection_id, caller.actor, reason=reason)


@router.post(
    "/v1/connections/<connection_id>/schedule/resume",
    summary="Resume a paused schedule",
    description="Lifts a pause, whether an admin or the back-off ladder set it (after the credentials or "
    "permissions were fixed). " + _STATE,
    operation_id="resumeSchedule",
    tags=["schedules"],
    openapi_extensions=requires(WRITE),
)
def resume_schedule(connection_id: ConnectionId, caller: Caller, admin: Admin) -> ScheduleState:
    caller.require(WRITE)
    return admin.resume(caller.tenant, connection_id, caller.actor)


@router.post(
    "/v1/connections/<connection_id>/schedule/trigger",
    status_code=202,
    summary="Run an incremental sync now; 409 while one runs",
    description="Queues an incremental sync at once, even while the schedule is paused or on a slower "
    "rung, and answers 202 with its operation. A 409 while another sync of the connection is Pending or "
    "InProgress names it in `details`.",
    operation_id="triggerSchedule",
    tags=["schedules"],
    openapi_extensions=requires(SYNC),
)
def trigger_schedule(connection_id: ConnectionId, caller: Caller, admin: Admin) -> Response[SyncOperation]:
    caller.require(SYNC)
    op = admin.trigger(caller.tenant, connection_id, caller.actor)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=op)


__all__ = ["PauseRequest", "ScheduleUpdate", "router"]
