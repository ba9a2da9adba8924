"""Sync operations, the one-active-operation lock, per-entity sync state and sync logs.

* operation ``T#{t}`` / ``OP#{id}``; GSI1 ``T#{t}#CONN#{c}#OPS`` / ``{created_at}#{id}`` lists a
  connection's operations newest first; ``GET /v1/sync-operations/{op}`` needs only the tenant and the id.
* lock ``T#{t}#CONN#{c}`` / ``LOCK#SYNC``: written with ``attribute_not_exists`` before a new operation, so
  a second start while one is Pending/InProgress fails (409) however the calls interleave; deleted after
  the operation's final status is stored. A lock whose operation is final (or missing, past its lease) is
  stale and taken over by the next start. ``lease_until`` lets a redelivered slice (and maintenance)
  recognise a lock whose worker died.
* state ``T#{t}#CONN#{c}`` / ``STATE#{entity}``, optimistic locking on ``version``.
* log ``T#{t}#OPLOG#{op}`` / ``LOG#{at}#{seq}``; GSI1 ``T#{t}#CONN#{c}#LOGS`` / ``{at}#{op}#{seq}``; expires
  via TTL after ``log_retention``.
* synced items (issues, comments) written by the sync engine carry ``sync_mark`` (``{operation}/{c|u|d}``,
  see ``domain.sync_plan.write_mark``); :func:`stored_sync_versions` reads it with the version, so an
  operation recognises what it wrote itself. Writes from elsewhere (webhooks, the API) leave it out.
* an operation's ``results.by_entity`` was added later: items written before read back without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from trackbridge.domain.sync import FINAL_STATUSES, Progress, Results, SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import StoredVersion
from trackbridge.domain.times import from_iso, to_iso, utcnow
from trackbridge.storage.keys import (
    GSI1,
    GSI1_PK,
    GSI1_SK,
    PK,
    SK,
    STATE_PREFIX,
    SYNC_LOCK_SK,
    TTL_ATTRIBUTE,
    connection_pk,
    operation_gsi1sk,
    operation_sk,
    operations_of_connection_gsi1pk,
    sync_log_gsi1sk,
    sync_log_pk,
    sync_log_sk,
    sync_logs_of_connection_gsi1pk,
    sync_state_sk,
    tenant_pk,
)
from trackbridge.storage.mapping import datetime_or_none, iso_or_none
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

DEFAULT_LOG_RETENTION = timedelta(days=30)
# The attribute of a synced item naming the sync operation that wrote it last, and how.
SYNC_MARK = "sync_mark"


def stored_sync_versions(
    table: Table, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredVersion]:
    """Update time, hash, tombstone and sync mark of stored items, one batch read per 100 keys."""
    found = table.batch_get(keys, attributes=("updated_at", "content_hash", "deleted_at", SYNC_MARK))
    return {
        key: StoredVersion(
            updated_at=str(item.get("updated_at") or ""),
            content_hash=str(item.get("content_hash") or ""),
            deleted=bool(item.get("deleted_at")),
            mark=str(item[SYNC_MARK]) if item.get(SYNC_MARK) else None,
        )
        for key, item in found.items()
    }


def _running(operation_id: str) -> Conflict:
    return Conflict(
        "a sync is already running for this connection",
        code="SYNC_RUNNING",
        details={"operation_id": operation_id or None},
        guidance="wait for it to finish or cancel it",
    )


class SyncOperationRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def item(tenant: str, op: SyncOperation) -> Item:
        created = to_iso(op.created_at)
        return {
            PK: tenant_pk(tenant),
            SK: operation_sk(op.id),
            GSI1_PK: operations_of_connection_gsi1pk(tenant, op.connection_id),
            GSI1_SK: operation_gsi1sk(created, op.id),
            "entity": "sync_operation",
            "id": op.id,
            "connection_id": op.connection_id,
            "mode": op.mode,
            "entities": list(op.entities),
            "include_closed": op.include_closed,
            "status": op.status,
            "progress": op.progress.model_dump(mode="json"),
            "results": op.results.model_dump(mode="json"),
            "requests": op.requests,
            "created_at": created,
            "started_at": iso_or_none(op.started_at),
            "finished_at": iso_or_none(op.finished_at),
            "triggered_by": op.triggered_by,
            "check_deletions": op.check_deletions,
            "slice_no": op.slice_no,
            "version": op.version,
        }

    @staticmethod
    def model(item: Item) -> SyncOperation:
        return SyncOperation(
            id=item["id"],
            connection_id=item["connection_id"],
            mode=item["mode"],
            entities=item["entities"],
            include_closed=item["include_closed"],
            status=item["status"],
            progress=Progress(**item["progress"]),
            results=Results(**item["results"]),
            requests=item["requests"],
            created_at=from_iso(item["created_at"]),
            started_at=datetime_or_none(item.get("started_at")),
            finished_at=datetime_or_none(item.get("finished_at")),
            triggered_by=item["triggered_by"],
            check_deletions=item.get("check_deletions", False),
            slice_no=item["slice_no"],
            version=item["version"],
        )

    def start(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        owner: str,
        lease_until: datetime,
        now: datetime | None = None,
    ) -> SyncOperation:
        """Take the connection's sync lock, then record the new operation (409 while another one holds it).

        Two conditional writes, not a transaction (which costs twice the write units, and copies the whole
        table on moto): the lock goes first, so two starts cannot both pass it. A lock left behind by a
        start or a finish that died between its two writes is stale: its operation is final, or missing
        after the lock's lease ran out; the next start takes such a lock over, on the condition that it
        still names that operation.
        """
        lock = {
            PK: connection_pk(tenant, op.connection_id),
            SK: SYNC_LOCK_SK,
            "entity": "sync_lock",
            "operation_id": op.id,
            "owner": owner,
            "lease_until": to_iso(lease_until),
            "created_at": to_iso(op.created_at),
        }
        try:
            self.table.put(lock, condition="attribute_not_exists(#pk)", names={"#pk": PK})
        except ConditionFailed as exc:
            held = str((exc.old_item or {}).get("operation_id") or "")
            if not self._stale(tenant, exc.old_item, now or utcnow()):
                raise _running(held) from exc
            try:
                self.table.put(
                    lock, condition="#op = :held", names={"#op": "operation_id"}, values={":held": held}
                )
            except ConditionFailed as again:
                raise _running(str((again.old_item or {}).get("operation_id") or "")) from again
        try:
            self.table.put(self.item(tenant, op), condition="attribute_not_exists(#pk)", names={"#pk": PK})
        except Exception:
            self._release(tenant, op)
            raise
        return op

    def _stale(self, tenant: str, lock: Item | None, now: datetime) -> bool:
        """Whether ``lock`` is left over: its operation is final, or missing once the lease has run out."""
        if lock is None:
            return True
        holder = self.table.get(tenant_pk(tenant), operation_sk(str(lock.get("operation_id") or "")))
        if holder is None:
            return str(lock.get("lease_until") or "") < to_iso(now)
        return str(holder.get("status")) in FINAL_STATUSES

    def _release(self, tenant: str, op: SyncOperation) -> None:
        """Delete the connection's lock if it is still ``op``'s."""
        with contextlib.suppress(ConditionFailed):
            self.table.delete(
                connection_pk(tenant, op.connection_id),
                SYNC_LOCK_SK,
                condition="#op = :id",
                names={"#op": "operation_id"},
                values={":id": op.id},
            )

    def get(self, tenant: str, operation_id: str) -> SyncOperation:
        item = self.table.get(tenant_pk(tenant), operation_sk(operation_id))
        if item is None:
            raise NotFound(f"no sync operation {operation_id!r}", details={"id": operation_id})
        return self.model(item)

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[SyncOperation]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=operations_of_connection_gsi1pk(tenant, connection_id),
            index=GSI1,
            forward=False,
            limit=limit,
            cursor=cursor,
        )

    def _versioned_put(self, tenant: str, op: SyncOperation, expected_version: int) -> TransactItem:
        return self.table.put_op(
            self.item(tenant, op),
            condition="attribute_exists(#pk) AND #v = :expected",
            names={"#pk": PK, "#v": "version"},
            values={":expected": expected_version},
        )

    def _lost(self, exc: ConditionFailed, op: SyncOperation, expected_version: int) -> Exception:
        if exc.old_item is None:
            return NotFound(f"no sync operation {op.id!r}", details={"id": op.id})
        return Conflict(
            f"sync operation {op.id!r} was changed meanwhile",
            code="VERSION_CONFLICT",
            details={"expected_version": expected_version, "version": exc.old_item.get("version")},
        )

    def save(self, tenant: str, op: SyncOperation, *, expected_version: int) -> SyncOperation:
        """Store progress or a status change if nobody else changed the operation since it was read."""
        try:
            self.table.write(self._versioned_put(tenant, op, expected_version))
        except ConditionFailed as exc:
            raise self._lost(exc, op, expected_version) from exc
        return op

    def finish(self, tenant: str, op: SyncOperation, *, expected_version: int) -> SyncOperation:
        """Store a final status, then release the lock if it is still this operation's.

        Two writes rather than one transaction (see :meth:`start`): a finish that dies between them leaves
        a lock whose operation is final, which the next start takes over.
        """
        if op.is_active:
            raise ValueError("finish() takes an operation in a final status")
        self.save(tenant, op, expected_version=expected_version)
        self._release(tenant, op)
        return op

    def active_operation_id(self, tenant: str, connection_id: str) -> str | None:
        item = self.table.get(connection_pk(tenant, connection_id), SYNC_LOCK_SK)
        return str(item["operation_id"]) if item else None

    def extend_lease(self, tenant: str, connection_id: str, operation_id: str, lease_until: datetime) -> bool:
        """Push the lock's lease out; False when the lock is no longer this operation's."""
        try:
            self.table.update(
                connection_pk(tenant, connection_id),
                SYNC_LOCK_SK,
                update="SET #lease = :lease",
                condition="#op = :id",
                names={"#lease": "lease_until", "#op": "operation_id"},
                values={":lease": to_iso(lease_until), ":id": operation_id},
            )
        except ConditionFailed:
            return False
        return True

    def claim_slice(self, tenant: str, operation_id: str, slice_no: int) -> bool:
        """Accept continuation ``slice_no`` once (``n -> n + 1``); False for a duplicate delivery."""
        try:
            self.table.update(
                tenant_pk(tenant),
                operation_sk(operation_id),
                update="SET #n = :next",
                condition="#n = :n",
                names={"#n": "slice_no"},
                values={":n": slice_no, ":next": slice_no + 1},
            )
        except ConditionFailed:
            return False
        return True

    def take_over_slice(
        self,
        tenant: str,
        op: SyncOperation,
        slice_no: int,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Let a redelivered message of slice ``slice_no`` resume an operation whose worker died.

        Its first delivery claimed the slice (``slice_no`` is past ``n``) and then crashed, so a plain
        claim refuses the redelivery. If the lock's lease has run out (nobody works on the operation and no
        parked slice is pending: parking extends the lease to the resume time), the redelivery takes the
        lock over and moves ``slice_no`` on once more, both or neither, so any older message is refused from
        then on. A duplicate while a worker holds a live lease is refused (False).
        """
        try:
            self.table.transact(
                [
                    self.table.update_op(
                        tenant_pk(tenant),
                        operation_sk(op.id),
                        update="SET #n = #n + :one",
                        condition="#n > :n",
                        names={"#n": "slice_no"},
                        values={":n": slice_no, ":one": 1},
                    ),
                    self.table.update_op(
                        connection_pk(tenant, op.connection_id),
                        SYNC_LOCK_SK,
                        update="SET #lease = :lease, #owner = :owner",
                        condition="#op = :id AND #lease < :now",
                        names={"#lease": "lease_until", "#owner": "owner", "#op": "operation_id"},
                        values={
                            ":lease": to_iso(lease_until),
                            ":owner": owner,
                            ":id": op.id,
                            ":now": to_iso(now),
                        },
                    ),
                ]
            )
        except ConditionFailed:
            return False
        return True

    def checkpoint(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        expected_version: int,
        state: SyncState,
        expected_state_version: int | None,
    ) -> None:
        """Store an operation's progress, then an entity's sync state (fetch -> write -> checkpoint).

        Two conditional single-item writes rather than one transaction: a checkpoint is written per page,
        and transactions cost twice the write units on AWS (and copy the whole table on moto). The
        operation goes first, so a cancel (a newer operation version) stops the worker before its cursor
        moves; a crash between the two replays one page, whose items are then counted as unchanged.
        """
        self.save(tenant, op, expected_version=expected_version)
        SyncStateRepository(self.table).save(tenant, state, expected_version=expected_state_version)

    def lock_item(self, tenant: str, connection_id: str) -> Item | None:
        """The connection's sync lock as stored (operation id, owner, lease), or None."""
        return self.table.get(connection_pk(tenant, connection_id), SYNC_LOCK_SK)


class SyncStateRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def item(tenant: str, state: SyncState) -> Item:
        return {
            PK: connection_pk(tenant, state.connection_id),
            SK: sync_state_sk(state.entity),
            "entity": "sync_state",
            "connection_id": state.connection_id,
            "sync_entity": state.entity,
            "high_water": iso_or_none(state.high_water),
            "cursor": state.cursor,
            "status": state.status,
            "last_operation_id": state.last_operation_id,
            "last_success_at": iso_or_none(state.last_success_at),
            "last_error": state.last_error,
            "deletions_checked_at": iso_or_none(state.deletions_checked_at),
            "updated_at": to_iso(state.updated_at),
            "version": state.version,
        }

    @staticmethod
    def model(item: Item) -> SyncState:
        return SyncState(
            connection_id=item["connection_id"],
            entity=item["sync_entity"],
            high_water=datetime_or_none(item.get("high_water")),
            cursor=item.get("cursor"),
            status=item["status"],
            last_operation_id=item.get("last_operation_id"),
            last_success_at=datetime_or_none(item.get("last_success_at")),
            last_error=item.get("last_error"),
            deletions_checked_at=datetime_or_none(item.get("deletions_checked_at")),
            updated_at=from_iso(item["updated_at"]),
            version=item["version"],
        )

    def find(self, tenant: str, connection_id: str, entity: str) -> SyncState | None:
        item = self.table.get(connection_pk(tenant, connection_id), sync_state_sk(entity))
        return self.model(item) if item else None

    def save(self, tenant: str, state: SyncState, *, expected_version: int | None) -> SyncState:
        """Create (``expected_version=None``) or replace the state if its version is still as expected."""
        if expected_version is None:
            condition, names, values = "attribute_not_exists(#pk)", {"#pk": PK}, None
        else:
            condition = "attribute_exists(#pk) AND #v = :expected"
            names, values = {"#pk": PK, "#v": "version"}, {":expected": expected_version}
        try:
            self.table.put(self.item(tenant, state), condition=condition, names=names, values=values)
        except ConditionFailed as exc:
            raise Conflict(
                f"sync state of {state.entity} changed meanwhile",
                code="VERSION_CONFLICT",
                details={"expected_version": expected_version},
            ) from exc
        return state

    def list_for_connection(self, tenant: str, connection_id: str) -> list[SyncState]:
        """Every entity's state (a handful per connection, so one page is all)."""
        page = query_page(
            self.table,
            tenant,
            self.model,
            partition=connection_pk(tenant, connection_id),
            sk_prefix=STATE_PREFIX,
            limit=MAX_PAGE_SIZE,
            cursor=None,
        )
        return page.items


class SyncLogRepository:
    def __init__(self, table: Table, *, retention: timedelta = DEFAULT_LOG_RETENTION) -> None:
        self.table = table
        self.retention = retention

    def item(self, tenant: str, entry: SyncLogEntry) -> Item:
        at = to_iso(entry.at)
        return {
            PK: sync_log_pk(tenant, entry.operation_id),
            SK: sync_log_sk(at, entry.seq),
            GSI1_PK: sync_logs_of_connection_gsi1pk(tenant, entry.connection_id),
            GSI1_SK: sync_log_gsi1sk(at, entry.operation_id, entry.seq),
            TTL_ATTRIBUTE: int((entry.at + self.retention).timestamp()),
            "entity": "sync_log",
            "operation_id": entry.operation_id,
            "connection_id": entry.connection_id,
            "seq": entry.seq,
            "at": at,
            "level": entry.level,
            "event": entry.event,
            "message": entry.message,
            "data": entry.data,
        }

    @staticmethod
    def model(item: Item) -> SyncLogEntry:
        return SyncLogEntry(
            operation_id=item["operation_id"],
            connection_id=item["connection_id"],
            seq=item["seq"],
            at=from_iso(item["at"]),
            level=item["level"],
            event=item["event"],
            message=item["message"],
            data=item.get("data") or {},
        )

    def append(self, tenant: str, entries: Iterable[SyncLogEntry]) -> None:
        self.table.batch_put(self.item(tenant, entry) for entry in entries)

    def list_for_operation(
        self, tenant: str, operation_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[SyncLogEntry]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=sync_log_pk(tenant, operation_id),
            limit=limit,
            cursor=cursor,
        )

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[SyncLogEntry]:
        """A connection's log across operations, newest first."""
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=sync_logs_of_connection_gsi1pk(tenant, connection_id),
            index=GSI1,
            forward=False,
            limit=limit,
            cursor=cursor,
        )


__all__ = [
    "DEFAULT_LOG_RETENTION",
    "SYNC_MARK",
    "SyncLogRepository",
    "SyncOperationRepository",
    "SyncStateRepository",
    "stored_sync_versions",
]
