"""The sync engine: runs slices of an operation, checkpoints per page, continues, parks, stops on cancel.

One call of :meth:`SyncEngine.run_slice` is one sync Lambda invocation's work for one queue message:

1. accept the message once: ``claim_slice`` (``slice_no = n -> n + 1``); a redelivery after its worker
   died takes the lock over once the lease ran out (``take_over_slice``); anything else is a duplicate
   and does nothing;
2. for each entity, page by page while the remaining time exceeds the safety margin: fetch -> write ->
   checkpoint (operation progress, then the entity's SyncState, each a conditional write) -> extend the
   lease;
3. out of time: enqueue ``continue`` for the next slice; rate limited: park (a NEW delayed message, the
   handler succeeds, so the receive count never moves toward the DLQ); retryable tracker failure: the same
   with a short back-off, a bounded number of times; a person must act (auth, permissions): Failed; a
   trackbridge error raised mid-step (``ValidationFailed``, ``UnsupportedCapability``...): Failed too, never
   an escape to an SQS retry (a ``DependencyFailure`` or ``RateLimited`` gets the bounded retries first);
4. all entities done: Completed, then the lock released (``SyncOperationRepository.finish``).

Cancel is a version-conditioned status change by the API: this engine's next checkpoint then fails its
version check, it re-reads the operation, sees Cancelled and stops, keeping everything written so far.
Within a page (a GitLab full page asks up to 100 issues' notes, a sweep page up to 100 issues), every
tracker request after the page's first one checks the operation first (at most once a
``cancel_check_interval_s``, a consistent read each), so a cancel stops the page at its next check; the
requests the page made are added to the cancelled operation's ``requests`` all the same.

A full pass sends no conditional requests: a 304 carries no items, so the pass would see none of the
page's items and the sweep after it would ask for every one of them by a direct GET.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import (
    Conflict,
    DependencyFailure,
    NotFound,
    RateLimited,
    TrackbridgeError,
)
from trackbridge.domain.sync import FINAL_STATUSES, Results, SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import Checkpoint, ContinueMessage, park_delay_s
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import RateLimitedError, TrackerError
from trackbridge.runtime.observability import logger
from trackbridge.runtime.sync.checkpoint import (
    MAX_ERRORS_KEPT,
    STAGE_WAITING_RATE_LIMIT,
    STAGE_WAITING_RETRY,
    add_counts,
    after_transient_failure,
    checkpoint_for,
    conditional_requests,
    progress_after,
    state_after,
    state_covered,
    state_failed,
    state_retrying,
    with_etags,
)
from trackbridge.runtime.sync.plans import syncers_for
from trackbridge.runtime.sync.ports import (
    Clock,
    ConnectionStore,
    CredentialSource,
    LogStore,
    Monotonic,
    OperationStore,
    RemainingTime,
    StateStore,
    StoredComments,
    StoredIssues,
    SyncedItemStore,
)
from trackbridge.runtime.sync.queue import SyncQueue
from trackbridge.runtime.sync.syncers import EntitySyncer, StepResult, SyncRun
from trackbridge.runtime.sync.writer import ItemWriter, TableItems
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.table import Table

AdapterFactory = Callable[[Connection, Mapping[str, Any]], TrackerAdapter]
# Seq numbers of log entries: slice_no * this + n, unique across the slices of an operation.
_LOG_SEQ_STRIDE = 100_000
# A slice writes its log entries once this many wait (one BatchWriteItem), not only at its end: a long
# slice's memory stays flat and its log readable while it runs.
_LOG_FLUSH_AT = 25


@dataclass(frozen=True)
class EngineConfig:
    # Stop taking new pages when less than this remains of the invocation (a page, its writes and the
    # checkpoint take a few seconds at worst; the rest of the margin is for the continuation message).
    safety_margin_ms: int = 60_000
    # How long the lock stays ours without a checkpoint; a dead worker's successor waits this long.
    lease_s: int = 300
    # Retryable tracker failures (outages the adapter's own retries did not outlast) per entity, in a row.
    max_transient_retries: int = 5
    transient_backoff_s: int = 30
    # When a rate limit names no reset time.
    default_park_s: int = 60
    writer_workers: int = 8
    # Within a page, how often a tracker request re-reads the operation to see a cancel (one consistent
    # read each): every request would add a DynamoDB read per GitLab issue of a full pass; 0 = every one.
    cancel_check_interval_s: float = 1.0


@dataclass
class _Slice:
    """Mutable bookkeeping of one slice: the operation as last stored, logs to flush, request counts."""

    tenant: str
    op: SyncOperation
    log: list[SyncLogEntry]
    log_seq: int
    requests_counted: int = 0
    pages: int = 0
    # Until when the lock is ours, as last extended by this slice.
    lease_until: datetime | None = None


class OperationCancelled(Exception):
    """Raised before a tracker request of a page whose operation was cancelled meanwhile (never sent)."""


class SliceOutcome:
    DUPLICATE = "duplicate"
    FINAL = "final"
    MISSING = "missing"
    REPARKED = "reparked"
    PARKED = "parked"
    CONTINUED = "continued"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SyncEngine:
    def __init__(
        self,
        *,
        operations: OperationStore,
        states: StateStore,
        logs: LogStore,
        connections: ConnectionStore,
        secrets: CredentialSource,
        queue: SyncQueue,
        adapter_factory: AdapterFactory,
        table: Table | None = None,
        issues: StoredIssues | None = None,
        comments: StoredComments | None = None,
        items: SyncedItemStore | None = None,
        clock: Clock = utcnow,
        monotonic: Monotonic = time.monotonic,
        config: EngineConfig | None = None,
        fault_hook: Callable[[str], None] | None = None,
    ) -> None:
        """Repositories come in through the ports of :mod:`~trackbridge.runtime.sync.ports`; ``table``
        stands for the DynamoDB ones of the synced items (``issues``, ``comments``, ``items``) not given."""
        if table is not None:
            issues = issues if issues is not None else IssueRepository(table)
            comments = comments if comments is not None else CommentRepository(table)
            items = items if items is not None else TableItems(table)
        if issues is None or comments is None or items is None:
            raise ValueError("SyncEngine needs a table or all of issues, comments and items")
        self.table = table
        self.issues: StoredIssues = issues
        self.comments: StoredComments = comments
        self.items: SyncedItemStore = items
        self.operations = operations
        self.states = states
        self.logs = logs
        self.connections = connections
        self.secrets = secrets
        self.queue = queue
        self.adapter_factory = adapter_factory
        self.clock = clock
        self.monotonic = monotonic
        self.config = config or EngineConfig()
        # Test seam: called with a point name ("after_write") so tests can inject a crash there.
        self.fault_hook = fault_hook
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    # ---- entry -----------------------------------------------------------------------------------
    def run_slice(
        self,
        tenant: str,
        operation_id: str,
        slice_no: int,
        context: RemainingTime,
        *,
        resume_at: datetime | None = None,
    ) -> str:
        now = self.clock()
        if resume_at is not None and resume_at - now > timedelta(seconds=1):
            # A link of a parking chain arrived before the reset: send the next link, do nothing else.
            self.queue.send(
                ContinueMessage(
                    tenant=tenant, operation_id=operation_id, slice_no=slice_no, resume_at=resume_at
                ),
                delay_s=park_delay_s(now, resume_at),
            )
            return SliceOutcome.REPARKED
        try:
            op = self.operations.get(tenant, operation_id)
        except NotFound:
            logger.warning("sync.operation_missing", extra={"tenant": tenant, "operation_id": operation_id})
            return SliceOutcome.MISSING
        if op.status in FINAL_STATUSES:
            return SliceOutcome.FINAL
        lease_until = now + timedelta(seconds=self.config.lease_s)
        if self.operations.claim_slice(tenant, operation_id, slice_no):
            pass
        elif self.operations.take_over_slice(
            tenant, op, slice_no, owner=self.owner, now=now, lease_until=lease_until
        ):
            logger.warning("sync.took_over", extra={"operation_id": operation_id, "slice_no": slice_no})
        else:
            logger.info("sync.duplicate_slice", extra={"operation_id": operation_id, "slice_no": slice_no})
            return SliceOutcome.DUPLICATE
        # The claim moved slice_no; re-read so the version and counts are exactly what is stored.
        op = self.operations.get(tenant, operation_id)
        if op.status in FINAL_STATUSES:
            return SliceOutcome.FINAL
        run = _Slice(tenant=tenant, op=op, log=[], log_seq=op.slice_no * _LOG_SEQ_STRIDE)
        self.operations.extend_lease(tenant, op.connection_id, op.id, lease_until)
        run.lease_until = lease_until
        if op.status == "Pending" or op.progress.resume_at is not None:
            started = op.started_at or now
            update: dict[str, Any] = {"resume_at": None, "stage": "starting"}
            if op.status == "Pending":
                update.update(total=self._estimate_total(run.tenant, op), estimated=True)
            progress = op.progress.model_copy(update=update)
            if not self._save(run, status="InProgress", started_at=started, progress=progress):
                return SliceOutcome.CANCELLED
        try:
            return self._work(run, context)
        finally:
            self._flush_log(run)

    # ---- the slice -------------------------------------------------------------------------------
    def _work(self, run: _Slice, context: RemainingTime) -> str:
        op = run.op
        try:
            connection = self.connections.get(run.tenant, op.connection_id)
        except NotFound:
            return self._fail(run, {"code": "NOT_FOUND", "message": "the connection was deleted"})
        credentials = self.secrets.credentials(run.tenant, connection.id)
        if credentials is None:
            return self._fail(
                run,
                {
                    "code": "AUTH_INVALID",
                    "message": "the connection has no stored credentials",
                    "guidance": "set credentials with PATCH /v1/connections/{id}",
                },
            )
        try:
            adapter = self.adapter_factory(connection, credentials)
        except TrackbridgeError as exc:
            # A connection the adapter cannot work with (bad URL, credentials of the wrong shape).
            return self._fail(run, {"code": exc.code, "message": exc.message, "guidance": exc.guidance})
        writer = ItemWriter(self.items, run.tenant, operation_id=op.id, workers=self.config.writer_workers)
        guard = _CancelGuard(self, run, adapter, clock=self.monotonic)
        hooks = getattr(getattr(adapter, "client", None), "event_hooks", None)
        if hooks is not None:
            hooks["request"].append(guard)
        try:
            return self._entities(run, context, connection, adapter, writer, guard)
        finally:
            if hooks is not None:
                hooks["request"].remove(guard)
            writer.close()
            adapter.close()

    def _entities(
        self,
        run: _Slice,
        context: RemainingTime,
        connection: Connection,
        adapter: TrackerAdapter,
        writer: ItemWriter,
        guard: _CancelGuard,
    ) -> str:
        op = run.op
        sync_run = SyncRun(
            tenant=run.tenant,
            connection_id=connection.id,
            adapter=adapter,
            writer=writer,
            issues=self.issues,
            comments=self.comments,
            include_closed=op.include_closed,
            entities=list(op.entities),
            # The adapter's declared overlap: the one value GET /v1/providers shows (DESIGN section 10).
            overlap=adapter.incremental_overlap,
            now=self.clock,
            table=self.table,
        )
        covered: list[str] = []
        # Which syncer syncs which entity follows from what the adapter declares, not from its name.
        for entity, syncer in syncers_for(adapter.capabilities, op.entities):
            if syncer is None:
                covered.append(entity)
                continue
            state = self.states.find(run.tenant, connection.id, entity)
            cp = checkpoint_for(
                state,
                operation_id=op.id,
                mode=op.mode,
                entity=entity,
                signpost=op.started_at or self.clock(),
                overlap=sync_run.overlap,
                check_deletions=op.check_deletions,
            )
            with syncer.session(sync_run):
                outcome = self._passes(run, context, sync_run, syncer, guard, entity, cp, state)
            if outcome is not None:
                return outcome
        return self._complete(run, connection, covered)

    def _passes(
        self,
        run: _Slice,
        context: RemainingTime,
        sync_run: SyncRun,
        syncer: EntitySyncer,
        guard: _CancelGuard,
        entity: str,
        cp: Checkpoint,
        state: SyncState | None,
    ) -> str | None:
        """One entity's steps until its checkpoint says ``done`` (None) or the slice ends (its outcome)."""
        adapter = sync_run.adapter
        etags = _cache_from(cp)
        while cp.phase != "done":
            # At least one page per slice, so even a tiny budget always makes progress.
            if run.pages and context.get_remaining_time_in_millis() < self.config.safety_margin_ms:
                return self._continue(run)
            run.pages += 1
            adapter.etag_cache = etags if conditional_requests(cp) else None
            before = adapter.stats.requests
            guard.step_started(before)
            try:
                result = syncer.step(sync_run, cp, state.high_water if state else None)
            except OperationCancelled:
                # The request that found the cancel was counted by the adapter but never sent.
                self._record_cancelled_requests(run, adapter.stats.requests - before - 1)
                return SliceOutcome.CANCELLED
            except RateLimitedError as exc:
                self._count_requests(run, adapter, before)
                return self._park(run, exc, entity)
            except TrackerError as exc:
                self._count_requests(run, adapter, before)
                if exc.retryable and cp.retries < self.config.max_transient_retries:
                    return self._retry_later(run, exc, entity, cp, state)
                return self._fail(run, {**_error(exc), "entity": entity}, entity=entity, state=state)
            except TrackbridgeError as exc:
                # A domain error raised mid-step (an adapter's ValidationFailed or UnsupportedCapability,
                # a store that kept failing): never an escape to an SQS retry that leaves the operation
                # InProgress. A dependency outage gets the transient failures' bounded retries; any other
                # such error cannot go away by asking again, so the operation fails.
                self._count_requests(run, adapter, before)
                if _retryable(exc) and cp.retries < self.config.max_transient_retries:
                    return self._retry_later(run, exc, entity, cp, state)
                return self._fail(run, {**_error(exc), "entity": entity}, entity=entity, state=state)
            if self.fault_hook is not None:
                self.fault_hook("after_write")
            result.checkpoint = with_etags(result.checkpoint, _etags_of(etags))
            state = self._checkpoint(
                run, sync_run.connection_id, entity, state, result, adapter, before, cp.phase
            )
            if state is None:
                return SliceOutcome.CANCELLED
            cp = result.checkpoint
        return None

    # ---- checkpoints -----------------------------------------------------------------------------
    def _checkpoint(
        self,
        run: _Slice,
        connection_id: str,
        entity: str,
        state: SyncState | None,
        result: StepResult,
        adapter: TrackerAdapter,
        requests_before: int,
        ran: str,
    ) -> SyncState | None:
        """Store progress and the entity's state together; None when the operation was cancelled."""
        now = self.clock()
        cp = result.checkpoint
        new_state = state_after(
            cp, state, connection_id=connection_id, entity=entity, high_water=result.high_water, now=now
        )
        requests = adapter.stats.requests - requests_before
        op = run.op
        results = add_counts(op.results, result.counts.by_entity, result.counts.errors)
        updated = op.model_copy(
            update={
                "results": results,
                "progress": progress_after(op.progress, results, entity, cp),
                "requests": op.requests + requests,
                "version": op.version + 1,
            }
        )
        self._log(
            run,
            "sync.page",
            data={
                "entity": entity,
                # The pass this page belonged to (the checkpoint may already name the next one).
                "phase": ran,
                "fetched": result.fetched,
                "not_modified": result.not_modified,
                "requests": requests,
                **result.counts.as_dict(),
            },
        )
        try:
            self.operations.checkpoint(
                run.tenant,
                updated,
                expected_version=op.version,
                state=new_state,
                expected_state_version=state.version if state else None,
            )
        except Conflict:
            if self._cancelled(run):
                self._record_cancelled_requests(run, requests)
                return None
            raise
        run.op = updated
        lease = timedelta(seconds=self.config.lease_s)
        # Extended once a third of the lease is spent, not after every page (one write less per page): a
        # live worker always holds two thirds of it, while a dead one's successor still waits one lease.
        if run.lease_until is None or run.lease_until - now < lease * 2 / 3:
            self.operations.extend_lease(run.tenant, op.connection_id, op.id, now + lease)
            run.lease_until = now + lease
        return new_state

    def _estimate_total(self, tenant: str, op: SyncOperation) -> int | None:
        """What a full sync's ``processed`` should reach: the last completed full sync's count of the same
        entities (the trackers do not say). None for other modes, and when no such sync counted them."""
        if op.mode != "full":
            return None
        try:
            recent = self.operations.list_for_connection(tenant, op.connection_id, limit=_ESTIMATE_LOOKBACK)
        except TrackbridgeError:
            return None
        for previous in recent.items:
            if previous.id == op.id or previous.mode != "full" or previous.status != "Completed":
                continue
            counted = previous.results.by_entity
            if not all(entity in counted for entity in op.entities):
                return None
            return sum(counted[entity].processed for entity in op.entities) or None
        return None

    def _cancelled(self, run: _Slice) -> bool:
        current = self.operations.get(run.tenant, run.op.id)
        if current.status == "Cancelled":
            logger.info("sync.cancelled_seen", extra={"operation_id": run.op.id})
            run.op = current
            return True
        return False

    def _record_cancelled_requests(self, run: _Slice, requests: int) -> None:
        """Add the tracker requests this slice made but did not store yet to the cancelled operation."""
        requests += run.requests_counted
        run.requests_counted = 0
        for _ in range(_CANCEL_COUNT_ATTEMPTS):
            if requests <= 0:
                return
            op = run.op
            updated = op.model_copy(update={"requests": op.requests + requests, "version": op.version + 1})
            try:
                self.operations.save(run.tenant, updated, expected_version=op.version)
            except Conflict:
                run.op = self.operations.get(run.tenant, op.id)
                continue
            run.op = updated
            return
        logger.warning(
            "sync.cancelled_requests_lost", extra={"operation_id": run.op.id, "requests": requests}
        )

    def cancel_requested(self, run: _Slice) -> bool:
        """Whether the operation was cancelled since this slice last stored it (one consistent read)."""
        try:
            current = self.operations.get(run.tenant, run.op.id)
        except NotFound:
            return False
        if current.status != "Cancelled":
            return False
        logger.info("sync.cancelled_seen", extra={"operation_id": run.op.id})
        run.op = current
        return True

    def _save(self, run: _Slice, **changes: Any) -> bool:
        """Store changes to the operation; False when it was cancelled meanwhile."""
        op = run.op
        updated = op.model_copy(update={**changes, "version": op.version + 1})
        try:
            self.operations.save(run.tenant, updated, expected_version=op.version)
        except Conflict:
            if self._cancelled(run):
                return False
            raise
        run.op = updated
        return True

    def _count_requests(self, run: _Slice, adapter: TrackerAdapter, before: int) -> None:
        run.requests_counted += adapter.stats.requests - before

    # ---- endings of a slice ----------------------------------------------------------------------
    def _continue(self, run: _Slice) -> str:
        self._log(run, "sync.continued", data={"slice_no": run.op.slice_no})
        self._flush_log(run)
        self.queue.send(ContinueMessage(tenant=run.tenant, operation_id=run.op.id, slice_no=run.op.slice_no))
        return SliceOutcome.CONTINUED

    def _park(self, run: _Slice, exc: RateLimitedError, entity: str) -> str:
        now = self.clock()
        resume_at = exc.reset_at
        if resume_at is None or resume_at <= now:
            wait = exc.retry_after_s if exc.retry_after_s is not None else self.config.default_park_s
            resume_at = now + timedelta(seconds=max(1.0, wait))
        return self._park_until(
            run, resume_at, STAGE_WAITING_RATE_LIMIT, entity, "sync.parked", _error(exc), level="warning"
        )

    def _retry_later(
        self,
        run: _Slice,
        exc: TrackerError | TrackbridgeError,
        entity: str,
        cp: Checkpoint,
        state: SyncState | None,
    ) -> str:
        now = self.clock()
        backoff = self.config.transient_backoff_s * (2 ** min(cp.retries, 4))
        retry_after = getattr(exc, "retry_after_s", None)
        resume_at = now + timedelta(seconds=max(1, int(retry_after or backoff)))
        # Count the failure in the checkpoint so the retries stay bounded across slices.
        retrying = state_retrying(
            after_transient_failure(cp), state, connection_id=run.op.connection_id, entity=entity, now=now
        )
        self.states.save(run.tenant, retrying, expected_version=state.version if state else None)
        return self._park_until(
            run, resume_at, STAGE_WAITING_RETRY, entity, "sync.retry_later", _error(exc), level="warning"
        )

    def _park_until(
        self,
        run: _Slice,
        resume_at: datetime,
        stage: str,
        entity: str,
        event: str,
        error: dict[str, Any],
        *,
        level: str,
    ) -> str:
        now = self.clock()
        progress = run.op.progress.model_copy(update={"stage": stage, "resume_at": resume_at})
        if not self._save(run, progress=progress, requests=run.op.requests + run.requests_counted):
            self._record_cancelled_requests(run, 0)
            return SliceOutcome.CANCELLED
        run.requests_counted = 0
        # The lock stays ours while parked: no redelivery may take it over before the slice resumes.
        self.operations.extend_lease(
            run.tenant,
            run.op.connection_id,
            run.op.id,
            resume_at + timedelta(seconds=self.config.lease_s),
        )
        self._log(
            run, event, level=level, data={"entity": entity, "resume_at": resume_at.isoformat(), **error}
        )
        self._flush_log(run)
        self.queue.send(
            ContinueMessage(
                tenant=run.tenant, operation_id=run.op.id, slice_no=run.op.slice_no, resume_at=resume_at
            ),
            delay_s=park_delay_s(now, resume_at),
        )
        return SliceOutcome.PARKED

    def _complete(self, run: _Slice, connection: Connection, covered: list[str]) -> str:
        now = self.clock()
        for entity in covered:
            # Comments that came with their issues: their state follows the issues' state.
            issues = self.states.find(run.tenant, connection.id, "issues")
            existing = self.states.find(run.tenant, connection.id, entity)
            state = state_covered(
                issues, existing, connection_id=connection.id, entity=entity, operation_id=run.op.id, now=now
            )
            self.states.save(run.tenant, state, expected_version=existing.version if existing else None)
        op = run.op
        progress = op.progress.model_copy(
            update={
                "stage": "completed",
                "total": op.progress.processed,
                "estimated": False,
                "resume_at": None,
            }
        )
        finished = op.model_copy(
            update={
                "status": "Completed",
                "progress": progress,
                "finished_at": now,
                "requests": op.requests + run.requests_counted,
                "version": op.version + 1,
            }
        )
        try:
            self.operations.finish(run.tenant, finished, expected_version=op.version)
        except Conflict:
            if self._cancelled(run):
                self._record_cancelled_requests(run, 0)
                return SliceOutcome.CANCELLED
            raise
        run.op = finished
        self._log(
            run,
            "sync.completed",
            data={
                "requests": finished.requests,
                **finished.results.counters(),
                "by_entity": _by_entity_dict(finished.results),
            },
        )
        logger.info(
            "sync.completed",
            extra={
                "operation_id": op.id,
                "requests": finished.requests,
                "results": finished.results.counters(),
                "by_entity": _by_entity_dict(finished.results),
            },
        )
        return SliceOutcome.COMPLETED

    def _fail(
        self,
        run: _Slice,
        error: dict[str, Any],
        *,
        entity: str | None = None,
        state: SyncState | None = None,
    ) -> str:
        now = self.clock()
        op = run.op
        errors = [*op.results.errors, error][-MAX_ERRORS_KEPT:]
        results = op.results.model_copy(update={"errors": errors})
        failed = op.model_copy(
            update={
                "status": "Failed",
                "results": results,
                "progress": op.progress.model_copy(update={"stage": "failed", "resume_at": None}),
                "finished_at": now,
                "requests": op.requests + run.requests_counted,
                "version": op.version + 1,
            }
        )
        if state is not None and entity is not None:
            self.states.save(
                run.tenant,
                state_failed(state, str(error.get("message", "")), now=now),
                expected_version=state.version,
            )
        try:
            self.operations.finish(run.tenant, failed, expected_version=op.version)
        except Conflict:
            if self._cancelled(run):
                self._record_cancelled_requests(run, 0)
                return SliceOutcome.CANCELLED
            raise
        run.op = failed
        self._log(run, "sync.failed", level="error", data=error)
        logger.error("sync.failed", extra={"operation_id": op.id, "code": error.get("code")})
        return SliceOutcome.FAILED

    # ---- logs ------------------------------------------------------------------------------------
    def _log(
        self, run: _Slice, event: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        run.log_seq += 1
        run.log.append(
            SyncLogEntry(
                operation_id=run.op.id,
                connection_id=run.op.connection_id,
                seq=run.log_seq,
                at=self.clock(),
                level=level,
                event=event,
                data=data or {},
            )
        )
        if len(run.log) >= _LOG_FLUSH_AT:
            self._flush_log(run)

    def _flush_log(self, run: _Slice) -> None:
        if run.log:
            entries, run.log = run.log, []
            try:
                self.logs.append(run.tenant, entries)
            except Exception:
                # Logs are for people; losing a batch must not undo or repeat sync work.
                logger.exception("sync.log_write_failed", extra={"operation_id": run.op.id})


class _CancelGuard:
    """An httpx request hook on the adapter's client: every request of a page after its first checks that
    the operation was not cancelled (the first follows a checkpoint, which just checked)."""

    def __init__(
        self,
        engine: SyncEngine,
        run: _Slice,
        adapter: TrackerAdapter,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.run, self.adapter = engine, run, adapter
        self.first: int | None = None
        self.checked = 0
        self.clock = clock
        self.last_check: float | None = None

    def step_started(self, requests_before: int) -> None:
        self.first = requests_before + 1

    def __call__(self, request: Any) -> None:
        counted = self.adapter.stats.requests
        # A redirect's next hop is part of a request already counted (and checked): never stopped there,
        # so the request that finds the cancel is always one the adapter counted and did not send.
        if self.first is None or counted <= self.first or counted == self.checked:
            return
        now, interval = self.clock(), self.engine.config.cancel_check_interval_s
        if interval > 0 and self.last_check is not None and now - self.last_check < interval:
            return
        self.checked, self.last_check = counted, now
        if self.engine.cancel_requested(self.run):
            raise OperationCancelled(self.run.op.id)


# Conditional writes tried when adding a cancelled page's requests to the operation.
_CANCEL_COUNT_ATTEMPTS = 5


def _cache_from(cp: Checkpoint) -> Any:
    from trackbridge.providers.etags import ETagCache

    return ETagCache.from_dict(cp.etags, max_entries=ETAG_ENTRIES)


# Enough for the first pages of every listing an idle poll asks for, small enough for one state item.
ETAG_ENTRIES = 40


def _etags_of(cache: Any) -> dict[str, Any]:
    to_dict = getattr(cache, "to_dict", None)
    return dict(to_dict()) if to_dict is not None else {}


def _error(exc: TrackerError | TrackbridgeError) -> dict[str, Any]:
    retryable = exc.retryable if isinstance(exc, TrackerError) else _retryable(exc)
    return {
        "code": str(exc.code),
        "message": exc.message,
        "guidance": exc.guidance,
        "status": exc.status,
        "retryable": retryable,
    }


def _retryable(exc: TrackbridgeError) -> bool:
    """Whether a domain error raised mid-step may go away by asking again later: an outage of a dependency
    (DynamoDB kept throttling, a network failure on the way to it) or a rate limit; nothing else."""
    return isinstance(exc, (DependencyFailure, RateLimited))


def _by_entity_dict(results: Results) -> dict[str, dict[str, int]]:
    return {entity: counts.model_dump() for entity, counts in results.by_entity.items()}


# Operations looked at (newest first) for the last completed full sync whose count estimates a total.
_ESTIMATE_LOOKBACK = 20


__all__ = [
    "AdapterFactory",
    "CredentialSource",
    "EngineConfig",
    "RemainingTime",
    "SliceOutcome",
    "SyncEngine",
]
