"""Sync routes: start a sync (202), read and cancel an operation, a connection's sync states and logs.

Scopes: starting and cancelling need ``sync:write``, reads ``sync:read`` (``*`` allows both). A second
start while one is Pending or InProgress is a 409 whose details name the running operation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.domain.sync import SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import Checkpoint, SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

if TYPE_CHECKING:
    from trackbridge.runtime.sync.service import SyncService

READ, WRITE = "sync:read", "sync:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
if TYPE_CHECKING:
    Service = Annotated[SyncService, Depends(container.sync_service)]
else:
    # Powertools calls a dependency and never reads its type; importing the service here would load the sync
    # engine and every tracker adapter (markdown-it included) into the API's cold start.
    Service = Annotated[Any, Depends(container.sync_service)]
ConnectionId = Annotated[str, Path(description="a connection id, e.g. conn_abcdefghijklmnopqrst")]
OperationId = Annotated[str, Path(description="a sync operation id, e.g. op_abcdefghijklmnopqrst")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the last page")
]


class SyncStateView(BaseModel):
    """A SyncState as the API shows it: the cursor's bookkeeping stays inside."""

    entity: str
    status: str
    high_water: datetime | None
    phase: str | None
    last_operation_id: str | None
    last_success_at: datetime | None
    last_error: str | None
    updated_at: datetime

    @classmethod
    def of(cls, state: SyncState) -> SyncStateView:
        checkpoint = Checkpoint.from_json(state.cursor)
        return cls(
            entity=state.entity,
            status=state.status,
            high_water=state.high_water,
            phase=checkpoint.phase if checkpoint else None,
            last_operation_id=state.last_operation_id,
            last_success_at=state.last_success_at,
            last_error=state.last_error,
            updated_at=state.updated_at,
        )


class SyncStates(BaseModel):
    items: list[SyncStateView]
    next_cursor: str | None = None


def _principal_label(caller: Principal) -> str:
    return f"api_key:{caller.key_id}" if caller.key_id else "api"


@router.post(
    "/v1/connections/<connection_id>/syncs",
    status_code=202,
    summary="Start a sync (full or incremental); 409 while another runs",
    description="Queues a sync of the connection and answers 202 with its operation; follow it with "
    "`GET /v1/sync-operations/{operation_id}`. `full` reads everything and marks what the tracker no longer "
    "has as deleted; `incremental` reads what changed since the last sync; `deletions` only checks for "
    "deleted issues. Omitted fields (or no body) take the connection's settings. A 409 while another sync "
    "of the connection is Pending or InProgress names it in `details`.",
    operation_id="startSync",
    tags=["sync"],
    openapi_extensions=requires(WRITE),
)
def start_sync(
    connection_id: ConnectionId,
    caller: Caller,
    service: Service,
    body: Annotated[SyncRequest | None, Body()] = None,
) -> Response[SyncOperation]:
    caller.require(WRITE)
    op = service.start(
        caller.tenant, connection_id, body or SyncRequest(), triggered_by=_principal_label(caller)
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=op)


@router.get(
    "/v1/sync-operations/<operation_id>",
    summary="Read a sync operation",
    description="Its status (Pending, InProgress, Completed, Failed, Cancelled), progress and results so "
    "far.",
    operation_id="getSyncOperation",
    tags=["sync"],
    openapi_extensions=requires(READ),
)
def get_operation(operation_id: OperationId, caller: Caller, service: Service) -> SyncOperation:
    caller.require(READ)
    return service.get(caller.tenant, operation_id)


@router.post(
    "/v1/sync-operations/<operation_id>/cancel",
    summary="Cancel a sync at its next page boundary (what was written stays)",
    description="Marks the operation Cancelled at once; its worker stops before its next page. Cancelling a "
    "cancelled operation answers it again; one that already completed or failed is a 409 "
    "`NOT_CANCELLABLE`.",
    operation_id="cancelSyncOperation",
    tags=["sync"],
    openapi_extensions=requires(WRITE),
)
def cancel_operation(operation_id: OperationId, caller: Caller, service: Service) -> SyncOperation:
    caller.require(WRITE)
    return service.cancel(caller.tenant, operation_id)


@router.get(
    "/v1/connections/<connection_id>/syncs",
    summary="A connection's sync operations, newest first",
    description="Every sync of the connection (manual and scheduled), a page at a time.",
    operation_id="listSyncOperations",
    tags=["sync"],
    openapi_extensions=requires(READ),
)
def list_operations(
    connection_id: ConnectionId,
    caller: Caller,
    service: Service,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[SyncOperation]:
    caller.require(READ)
    return service.operations_of(caller.tenant, connection_id, limit=limit, cursor=cursor)


@router.get(
    "/v1/connections/<connection_id>/sync-states",
    summary="Cursor and status per entity",
    description="Per entity (issues, comments, ...): its status, the high-water mark the next incremental "
    "sync starts from, the phase of a sync in progress, and the last success or error.",
    operation_id="listSyncStates",
    tags=["sync"],
    openapi_extensions=requires(READ),
)
def sync_states(connection_id: ConnectionId, caller: Caller, service: Service) -> SyncStates:
    caller.require(READ)
    return SyncStates(items=[SyncStateView.of(s) for s in service.states_of(caller.tenant, connection_id)])


@router.get(
    "/v1/connections/<connection_id>/sync-logs",
    summary="Sync log entries, newest first",
    description="What the connection's syncs did, step by step (`sync.queued`, `sync.page`, ...), kept "
    "for 30 days.",
    operation_id="listSyncLogs",
    tags=["sync"],
    openapi_extensions=requires(READ),
)
def sync_logs(
    connection_id: ConnectionId,
    caller: Caller,
    service: Service,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[SyncLogEntry]:
    caller.require(READ)
    return service.logs_of(caller.tenant, connection_id, limit=limit, cursor=cursor)


__all__ = ["router"]
