"""Sync use cases behind the API and the schedule: start, read, cancel, and the states and logs views.

Starting takes the connection's lock and records the operation (409 while another is Pending or
InProgress; ``storage.sync``), then sends the ``start`` message; if the message cannot be sent the
operation is finished as Failed at once, so a lost message can never hold the lock. Cancelling is a
version-conditioned status change: the worker notices at its next checkpoint (the next page boundary)
and stops.

A scheduled run is an incremental sync that also checks for deleted issues (``check_deletions``) when the
connection's last check is older than ``TB_DELETION_CHECK_INTERVAL_S``: an incremental listing never shows a
deleted issue, so without it the store would keep them until the next full sync.

:meth:`SyncService.finished` is where a result becomes final for the rest of trackbridge: the sync handler
calls it once an operation completed or failed, and it hands the operation to ``results`` (the back-off
ladder, ``runtime.schedule_admin.ScheduleLadder``) with what the tracker said about its rate limit
(``pacing``). The ladder is advice about *future* runs: a failure to record is logged, never raised.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from trackbridge.domain.connections import SUPPORTED_ENTITIES, Connection, Entity
from trackbridge.domain.errors import Conflict, DependencyFailure, NotFound, ValidationFailed
from trackbridge.domain.ids import IdPrefix, is_id, new_id
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.sync import SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import StartMessage, SyncRequest
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger
from trackbridge.runtime.sync.checkpoint import CHECKED_ENTITIES, deletion_check_due
from trackbridge.runtime.sync.plans import syncable_entities
from trackbridge.runtime.sync.ports import Clock, ConnectionStore, LogStore, OperationStore, StateStore
from trackbridge.runtime.sync.queue import SyncQueue


class SyncResults(Protocol):
    """Where final results go (``runtime.schedule_admin.ScheduleLadder``)."""

    def record(self, tenant: str, op: SyncOperation, *, near_limit_until: datetime | None = None) -> Any: ...


class Pacing(Protocol):
    """What the trackers said about their limits (``runtime.sync.pacing.RateLimitWatch``)."""

    def near_limit_until(self, connection_id: str, now: datetime) -> datetime | None: ...


# How long a Pending operation's lock is held before its first slice extends it.
START_LEASE = timedelta(minutes=15)
_CANCEL_ATTEMPTS = 5


class SyncService:
    def __init__(
        self,
        *,
        operations: OperationStore,
        states: StateStore,
        logs: LogStore,
        connections: ConnectionStore,
        queue: SyncQueue,
        clock: Clock = utcnow,
        results: SyncResults | None = None,
        pacing: Pacing | None = None,
    ) -> None:
        self.results = results
        self.pacing = pacing
        self.operations = operations
        self.states = states
        self.logs = logs
        self.connections = connections
        self.queue = queue
        self.clock = clock

    def connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def start(
        self,
        tenant: str,
        connection_id: str,
        request: SyncRequest,
        *,
        triggered_by: str,
        enqueue: bool = True,
        check_deletions: bool = False,
        operation_id: str | None = None,
    ) -> SyncOperation:
        """``operation_id``: an id the caller chose beforehand (a tracked-users backfill names its
        operation on the connection before starting it); a fresh one otherwise."""
        connection = self.connection(tenant, connection_id)
        entities = _entities(connection, request.entities)
        if request.mode == "deletions":
            entities = _checked_entities(entities, requested=request.entities is not None)
        now = self.clock()
        op = SyncOperation(
            id=operation_id or new_id(IdPrefix.OPERATION),
            connection_id=connection.id,
            mode=request.mode,
            entities=entities,
            include_closed=connection.include_closed
            if request.include_closed is None
            else request.include_closed,
            created_at=now,
            triggered_by=triggered_by,
            check_deletions=check_deletions and request.mode == "incremental",
        )
        self.operations.start(tenant, op, owner="api", lease_until=now + START_LEASE, now=now)
        self.logs.append(
            tenant,
            [
                SyncLogEntry(
                    operation_id=op.id,
                    connection_id=connection.id,
                    seq=0,
                    at=now,
                    event="sync.queued",
                    data={
                        "mode": op.mode,
                        "entities": list(entities),
                        "triggered_by": triggered_by,
                        "check_deletions": op.check_deletions,
                    },
                )
            ],
        )
        if enqueue:
            try:
                self.queue.send(StartMessage(tenant=tenant, operation_id=op.id))
            except Exception as exc:
                # Without its message the operation would hold the lock until the lease runs out.
                failed = op.model_copy(
                    update={
                        "status": "Failed",
                        "finished_at": self.clock(),
                        "version": op.version + 1,
                        "results": op.results.model_copy(
                            update={
                                "errors": [{"code": "DEPENDENCY_FAILURE", "message": "could not enqueue"}]
                            }
                        ),
                    }
                )
                self.operations.finish(tenant, failed, expected_version=op.version)
                logger.exception("sync.enqueue_failed", extra={"operation_id": op.id})
                raise DependencyFailure("the sync queue did not accept the operation; retry") from exc
        logger.info(
            "sync.started",
            extra={"tenant": tenant, "operation_id": op.id, "mode": op.mode, "triggered_by": triggered_by},
        )
        return op

    def deletion_check_due(self, tenant: str, connection_id: str, interval: timedelta) -> bool:
        """Whether a scheduled run now should end with a deletion check (the last one, or the last full
        sync's sweep, started ``interval`` or longer ago, or there was none)."""
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        state = self.states.find(tenant, connection_id, "issues")
        return deletion_check_due(state.deletions_checked_at if state else None, self.clock(), interval)

    def start_scheduled(
        self, tenant: str, connection_id: str, *, deletion_check_interval: timedelta
    ) -> SyncOperation:
        """The operation a schedule fires: incremental, with a deletion check when one is due. Not
        enqueued: the schedule's own invocation runs its first slice."""
        check = self.deletion_check_due(tenant, connection_id, deletion_check_interval)
        return self.start(
            tenant,
            connection_id,
            SyncRequest(mode="incremental"),
            triggered_by="schedule",
            enqueue=False,
            check_deletions=check,
        )

    def skipped(self, tenant: str, connection_id: str, running: str | None, reason: str) -> None:
        """Record that a scheduled run found a sync already running: a log line, not an error."""
        if running is None:
            return
        now = self.clock()
        self.logs.append(
            tenant,
            [
                SyncLogEntry(
                    operation_id=running,
                    connection_id=connection_id,
                    seq=int(now.timestamp() * 1000) % 1_000_000_000,
                    at=now,
                    level="info",
                    event="sync.schedule_skipped",
                    message=reason,
                )
            ],
        )

    def finished(self, tenant: str, operation_id: str) -> None:
        """Hand a final operation's result to ``results`` (the back-off ladder); never raises."""
        if self.results is None:
            return
        try:
            op = self.operations.get(tenant, operation_id)
            if op.is_active:
                return
            near = self.pacing.near_limit_until(op.connection_id, self.clock()) if self.pacing else None
            self.results.record(tenant, op, near_limit_until=near)
        except Exception:
            logger.exception("sync.result_not_recorded", extra={"operation_id": operation_id})

    def get(self, tenant: str, operation_id: str) -> SyncOperation:
        if not is_id(IdPrefix.OPERATION, operation_id):
            raise NotFound(f"no sync operation {operation_id!r}", details={"id": operation_id})
        return self.operations.get(tenant, operation_id)

    def cancel(self, tenant: str, operation_id: str) -> SyncOperation:
        for _ in range(_CANCEL_ATTEMPTS):
            op = self.get(tenant, operation_id)
            if op.status == "Cancelled":
                return op
            if not op.is_active:
                raise Conflict(
                    f"sync operation {operation_id!r} already ended ({op.status})",
                    code="NOT_CANCELLABLE",
                    details={"status": op.status},
                )
            cancelled = op.model_copy(
                update={
                    "status": "Cancelled",
                    "finished_at": self.clock(),
                    "progress": op.progress.model_copy(update={"stage": "cancelled", "resume_at": None}),
                    "version": op.version + 1,
                }
            )
            try:
                self.operations.finish(tenant, cancelled, expected_version=op.version)
            except Conflict as exc:
                if exc.code == "VERSION_CONFLICT":
                    continue  # the worker checkpointed meanwhile: read again and retry
                raise
            logger.info("sync.cancel_requested", extra={"tenant": tenant, "operation_id": operation_id})
            return cancelled
        raise Conflict(
            "the operation kept changing while it was being cancelled; retry",
            code="VERSION_CONFLICT",
            details={"operation_id": operation_id},
        )

    def states_of(self, tenant: str, connection_id: str) -> list[SyncState]:
        self.connection(tenant, connection_id)
        return self.states.list_for_connection(tenant, connection_id)

    def logs_of(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[SyncLogEntry]:
        self.connection(tenant, connection_id)
        return self.logs.list_for_connection(tenant, connection_id, limit=limit, cursor=cursor)

    def operations_of(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[SyncOperation]:
        self.connection(tenant, connection_id)
        return self.operations.list_for_connection(tenant, connection_id, limit=limit, cursor=cursor)


def _checked_entities(entities: list[Entity], *, requested: bool) -> list[Entity]:
    """A ``deletions`` operation checks issues (their comments are tombstoned with them) and nothing else:
    the connection's other entities are left out, other entities asked for by name are a 422."""
    checked = [e for e in entities if e in CHECKED_ENTITIES]
    other = [e for e in entities if e not in CHECKED_ENTITIES]
    if not checked or (requested and other):
        raise ValidationFailed(
            "a deletion check covers issues only (their comments are tombstoned with them)",
            details={"entities": other or list(entities), "checked": sorted(CHECKED_ENTITIES)},
        )
    return checked


def _entities(connection: Connection, requested: list[Entity] | None) -> list[Entity]:
    supported = SUPPORTED_ENTITIES.get(connection.provider, ())
    syncable = syncable_entities(connection.provider)
    if requested is None:
        # The connection's own list may name entities of a later issue: sync what can be synced now.
        entities = [e for e in connection.entities if e in syncable]
        if not entities:
            raise ValidationFailed(
                "none of this connection's entities can be synced yet",
                details={"entities": list(connection.entities), "available": sorted(syncable)},
            )
        return entities
    entities = list(dict.fromkeys(requested))
    unknown = [e for e in entities if e not in supported]
    if unknown:
        raise ValidationFailed(
            f"{connection.provider} cannot sync {', '.join(unknown)}",
            details={"entities": unknown, "supported": list(supported)},
        )
    later = [e for e in entities if e not in syncable]
    if later:
        raise ValidationFailed(
            f"syncing {', '.join(later)} is not available yet; issues and comments are",
            details={"entities": later, "available": sorted(syncable)},
        )
    return entities


__all__ = ["START_LEASE", "Pacing", "SyncResults", "SyncService"]
