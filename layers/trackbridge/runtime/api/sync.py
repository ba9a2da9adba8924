"""Sync routes: start a sync (202), read and cancel an operation, a connection's sync states and logs, and
the tenant-wide views of states (``GET /v1/sync-states``) and logs (``GET /v1/sync-logs``).

The tenant-wide reads take the repositories themselves (not the sync service, whose import loads the sync
engine and every tracker adapter into the API's cold start).

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

from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import NotFound, ValidationFailed
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.domain.sync import SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import Checkpoint, SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository

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
    """A SyncState as the API shows it: the cursor's bookkeeping stays inside; its signpost (the start of
    the sync in progress, past which the high-water mark never moves) and phase are shown."""

    connection_id: str
    entity: str
    status: str
    high_water: datetime | None
    signpost: datetime | None = None
    phase: str | None
    last_operation_id: str | None
    last_success_at: datetime | None
    last_error: str | None
    deletions_checked_at: datetime | None = None
    updated_at: datetime

    @classmethod
    def of(cls, state: SyncState) -> SyncStateView:
        checkpoint = Checkpoint.from_json(state.cursor)
        return cls(
            connection_id=state.connection_id,
            entity=state.entity,
            status=state.status,
            high_water=state.high_water,
            signpost=checkpoint.signpost if checkpoint else None,
            deletions_checked_at=state.deletions_checked_at,
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


# Connections per page of the tenant-wide states (each is one query of a handful of states).
MAX_STATE_CONNECTIONS = 25
Connections = Annotated[ConnectionRepository, Depends(container.connection_repository)]
States = Annotated[SyncStateRepository, Depends(container.sync_state_repository)]
Operations = Annotated[SyncOperationRepository, Depends(container.sync_operation_repository)]
Logs = Annotated[SyncLogRepository, Depends(container.sync_log_repository)]


def _connection_of(tenant: str, connection_id: str, connections: ConnectionRepository) -> Connection:
    if not is_id(IdPrefix.CONNECTION, connection_id):
        raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
    return connections.get(tenant, connection_id)


@router.get(
    "/v1/sync-states",
    summary="Every sync cursor of the tenant, per connection and entity",
    description="The sync state of each entity of each of the tenant's connections (as "
    "`GET /v1/connections/{id}/sync-states` shows one connection's), with the signpost of a sync in "
    "progress. Paged by connection: `limit` connections a page (at most 25), their states together; "
    "`connection` narrows the answer to one connection (404 when the tenant has none such).",
    operation_id="listTenantSyncStates",
    tags=["sync"],
    openapi_extensions=requires(READ),
)
def tenant_sync_states(
    caller: Caller,
    connections: Connections,
    states: States,
    connection: Annotated[str | None, Query(max_length=64, description="a connection id")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_STATE_CONNECTIONS, description="connections per page")
    ] = MAX_STATE_CONNECTIONS,
    cursor: Cursor = None,
) -> SyncStates:
    caller.require(READ)
    if connection is not None:
        page = Page[Connection](items=[_connection_of(caller.tenant, connection, connections)])
    else:
        page = connections.list(caller.tenant, limit=limit, cursor=cursor)
    found = [s for c in page.items for s in states.list_for_connection(caller.tenant, c.id)]
    return SyncStates(items=[SyncStateView.of(s) for s in found], next_cursor=page.next_cursor)


@router.get(
    "/v1/sync-logs",
    summary="Sync log entries of a connection (newest first) or of one operation (in order)",
    description="`operation`: that sync's log, oldest entry first; `connection`: the connection's log "
    "across its syncs, newest first. One of them is required (a 422 otherwise: logs are kept per "
    "operation and per connection, not per tenant); both together must name the operation's own "
    "connection. An unknown id, or another tenant's, is a 404. Entries are kept for 30 days.",
    operation_id="listTenantSyncLogs",
    tags=["sync"],
    openapi_extensions=requires(READ),
)
def tenant_sync_logs(
    caller: Caller,
    connections: Connections,
    operations: Operations,
    logs: Logs,
    connection: Annotated[str | None, Query(max_length=64, description="a connection id")] = None,
    operation: Annotated[str | None, Query(max_length=64, description="a sync operation id")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[SyncLogEntry]:
    caller.require(READ)
    if operation is not None:
        op = operations.get(caller.tenant, operation)  # 404 for an unknown or foreign operation
        if connection is not None and op.connection_id != connection:
            raise NotFound(
                f"no operation {operation!r} of connection {connection!r}", details={"id": operation}
            )
        return logs.list_for_operation(caller.tenant, operation, limit=limit, cursor=cursor)
    if connection is None:
        raise ValidationFailed(
            "give connection or operation", details={"parameters": ["connection", "operation"]}
        )
    _connection_of(caller.tenant, connection, connections)
    return logs.list_for_connection(caller.tenant, connection, limit=limit, cursor=cursor)


__all__ = ["router"]
