"""Schedule admin and the back-off ladder: what a person and the sync results do to a connection's schedule.

Two objects over the same state (the connection's expression, its ladder record in DynamoDB, its schedule
in EventBridge Scheduler):

* :class:`ScheduleLadder` records each final sync result (``SyncService.finished`` calls it) and applies
  the rules of :mod:`trackbridge.domain.backoff`; it tells operators through :class:`OperatorAlertsPort`.
* :class:`ScheduleAdmin` is the API's: show, set, pause, resume, trigger; every change audited
  (``schedule.update``, ``schedule.pause``, ``schedule.resume``, ``schedule.trigger``).

DynamoDB and Scheduler never disagree, by this order of effects: Scheduler is only ever set to what a
DynamoDB state says (``ConnectionSchedules.apply``), and the change goes to Scheduler *first*, then to
DynamoDB in one version-conditioned transaction with its audit entry. If Scheduler refuses, nothing is
written (503, retry). If the DynamoDB write loses a race or fails, Scheduler is set again from what
DynamoDB now holds (:meth:`ScheduleLadder.reconcile`) before the error goes up: whoever wrote DynamoDB
last also decided Scheduler last. The audit trail only ever holds changes that were stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

from trackbridge.domain.audit import Actor, diff, new_entry
from trackbridge.domain.backoff import (
    DEFAULT_POLICY,
    LadderDecision,
    LadderPolicy,
    LadderRecord,
    ScheduleState,
    classify_result,
    record_result,
)
from trackbridge.domain.connections import Connection, Schedule
from trackbridge.domain.errors import Conflict, DependencyFailure, NotFound, TrackbridgeError
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.schedules import ScheduleStateRepository
from trackbridge.storage.table import TransactItem


class Unset:
    """The type of :data:`UNSET`: a keyword left out, as opposed to given as None."""


UNSET: Final = Unset()
# Conditional writes tried when sync results and admin changes race on one connection.
_ATTEMPTS = 5


class OperatorAlertsPort(Protocol):
    """The part of ``runtime.alerts.service.OperatorAlerts`` the ladder calls (one alert per incident)."""

    def incident(
        self,
        tenant: str,
        connection: Connection,
        *,
        code: str,
        detail: str,
        operation_id: str | None,
        at: datetime,
    ) -> None: ...

    def recovered(self, tenant: str, connection: Connection, *, at: datetime) -> None: ...


class Schedules(Protocol):
    """``runtime.sync.schedules.ConnectionSchedules``, as far as the ladder goes."""

    def apply(self, tenant: str, connection: Connection, record: LadderRecord) -> None: ...

    def delete(self, connection_id: str) -> None: ...


class SyncStarter(Protocol):
    def start(
        self, tenant: str, connection_id: str, request: SyncRequest, *, triggered_by: str
    ) -> SyncOperation: ...


class ScheduleLadder:
    """Records sync results into the ladder and keeps Scheduler in step with it."""

    def __init__(
        self,
        connections: ConnectionRepository,
        records: ScheduleStateRepository,
        schedules: Schedules,
        *,
        alerts: OperatorAlertsPort | None = None,
        policy: LadderPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.connections = connections
        self.records = records
        self.schedules = schedules
        self.alerts = alerts
        self.policy = policy
        self.clock = clock

    def connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def view(self, connection: Connection, record: LadderRecord) -> ScheduleState:
        schedule = connection.schedule
        return ScheduleState.of(
            schedule.expression if schedule else None,
            schedule.timezone if schedule else "UTC",
            record,
            now=self.clock(),
            default=self.policy,
        )

    def state(self, tenant: str, connection_id: str) -> ScheduleState:
        connection = self.connection(tenant, connection_id)
        return self.view(connection, self.records.find(tenant, connection_id))

    def change(
        self,
        tenant: str,
        connection: Connection,
        before: LadderRecord,
        after: LadderRecord,
        *,
        also: tuple[TransactItem, ...] = (),
    ) -> LadderRecord:
        """Store ``after`` in place of ``before`` (Scheduler first, then DynamoDB; see the module)."""
        stored = after.model_copy(update={"version": before.version + 1})
        if self._scheduler_view(connection, before) != self._scheduler_view(connection, stored):
            self.schedules.apply(tenant, connection, stored)
        try:
            return self.records.put(tenant, connection.id, stored, expected_version=before.version, also=also)
        except TrackbridgeError:
            self.reconcile(tenant, connection.id)
            raise

    def reconcile(self, tenant: str, connection_id: str) -> None:
        """Set Scheduler from what DynamoDB holds now (after a lost race or a failed write)."""
        try:
            connection = self.connections.get(tenant, connection_id)
            self.schedules.apply(tenant, connection, self.records.find(tenant, connection_id))
        except NotFound:
            self.schedules.delete(connection_id)
        except TrackbridgeError:
            logger.exception("schedule.reconcile_failed", extra={"connection_id": connection_id})

    def record(
        self, tenant: str, op: SyncOperation, *, near_limit_until: datetime | None = None
    ) -> LadderDecision | None:
        """Record a final operation's result; None when its connection is gone."""
        code = _code_of(op)
        kind = classify_result(op.status, code)
        for _ in range(_ATTEMPTS):
            try:
                connection = self.connections.get(tenant, op.connection_id)
            except NotFound:
                return None
            before = self.records.find(tenant, op.connection_id)
            now = self.clock()
            decision = record_result(
                before,
                kind,
                code,
                now=now,
                operation_id=op.id,
                near_limit_until=near_limit_until,
                default=self.policy,
            )
            if decision.record == before:
                return decision
            try:
                stored = self.change(tenant, connection, before, decision.record)
            except Conflict:
                continue  # a concurrent result or admin change: read again and decide again
            self._tell(tenant, connection, decision, op, code, now)
            logger.info(
                "schedule.result_recorded",
                extra={
                    "connection_id": connection.id,
                    "operation_id": op.id,
                    "kind": kind,
                    "code": code,
                    "ladder_step": stored.ladder_step,
                    "paused": stored.paused,
                },
            )
            return LadderDecision(stored, decision.open_incident, decision.recovered)
        logger.warning("schedule.result_not_recorded", extra={"operation_id": op.id})
        return None

    def _tell(
        self,
        tenant: str,
        connection: Connection,
        decision: LadderDecision,
        op: SyncOperation,
        code: str | None,
        now: datetime,
    ) -> None:
        if self.alerts is None:
            return
        try:
            if decision.open_incident:
                self.alerts.incident(
                    tenant,
                    connection,
                    code=code or "UNKNOWN",
                    detail=_detail_of(op, decision.record),
                    operation_id=op.id,
                    at=now,
                )
            elif decision.recovered:
                self.alerts.recovered(tenant, connection, at=now)
        except Exception:
            # The ladder's state is stored; a failing alert service must not undo or repeat it.
            logger.exception("schedule.alert_failed", extra={"connection_id": connection.id})

    def _scheduler_view(self, connection: Connection, record: LadderRecord) -> tuple[Any, ...]:
        state = self.view(connection, record)
        return (state.effective_expression, state.paused)


class ScheduleAdmin:
    """The schedule routes' use cases (``runtime.api.schedules``)."""

    def __init__(
        self,
        ladder: ScheduleLadder,
        audit: AuditRepository,
        sync: SyncStarter,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ladder = ladder
        self.audit = audit
        self.sync = sync
        self.clock = clock

    def state(self, tenant: str, connection_id: str) -> ScheduleState:
        return self.ladder.state(tenant, connection_id)

    def state_of(self, tenant: str, connection: Connection) -> ScheduleState:
        """The schedule state of a connection already read (``GET /v1/connections/{id}`` shows it)."""
        return self.ladder.view(connection, self.ladder.records.find(tenant, connection.id))

    def update(
        self,
        tenant: str,
        connection_id: str,
        schedule: Schedule,
        actor: Actor,
        *,
        ladder: LadderPolicy | Unset | None = UNSET,
    ) -> ScheduleState:
        """Set the expression and time zone and, when given, the connection's ladder (None: the default);
        the rung and the pause stay as they are."""
        connection = self.ladder.connection(tenant, connection_id)
        before = self.ladder.records.find(tenant, connection_id)
        now = self.clock()
        after = before if isinstance(ladder, Unset) else before.model_copy(update={"policy": ladder})
        changed = connection.model_copy(
            update={"schedule": schedule, "updated_at": now, "version": connection.version + 1}
        )
        old_view, new_view = self.ladder.view(connection, before), self.ladder.view(changed, after)
        if old_view == new_view and connection.schedule == schedule:
            return old_view
        entry = new_entry(
            action="schedule.update",
            target=connection_id,
            actor=actor,
            at=now,
            changes=diff(_public(old_view), _public(new_view)),
        )
        stored = after.model_copy(update={"version": before.version + 1})
        self.ladder.schedules.apply(tenant, changed, stored)
        record_op = self.ladder.records.put_op(tenant, connection_id, stored, expected_version=before.version)
        try:
            # One transaction: the connection (its version checked), the ladder record, the audit entry.
            self.ladder.connections.replace(
                tenant,
                changed,
                expected_version=connection.version,
                also=(record_op, self.audit.put_op(tenant, entry)),
            )
        except TrackbridgeError:
            self.ladder.reconcile(tenant, connection_id)
            raise
        logger.info("schedule.updated", extra={"tenant": tenant, "connection_id": connection_id})
        return new_view

    def pause(
        self, tenant: str, connection_id: str, actor: Actor, *, reason: str | None = None
    ) -> ScheduleState:
        def paused(record: LadderRecord) -> LadderRecord:
            return record.model_copy(update={"paused_by": "admin", "paused_reason": reason or "admin"})

        return self._admin_change(tenant, connection_id, actor, "schedule.pause", paused)

    def resume(self, tenant: str, connection_id: str, actor: Actor) -> ScheduleState:
        def resumed(record: LadderRecord) -> LadderRecord:
            return record.model_copy(update={"paused_by": None, "paused_reason": None})

        return self._admin_change(tenant, connection_id, actor, "schedule.resume", resumed)

    def trigger(self, tenant: str, connection_id: str, actor: Actor) -> SyncOperation:
        """An incremental sync now, whatever the rung or pause (409 while one is running)."""
        self.ladder.connection(tenant, connection_id)
        op = self.sync.start(
            tenant, connection_id, SyncRequest(mode="incremental"), triggered_by=_triggered_by(actor)
        )
        entry = new_entry(
            action="schedule.trigger",
            target=connection_id,
            actor=actor,
            at=self.clock(),
            changes=diff(None, {"operation_id": op.id, "mode": op.mode}),
        )
        try:
            self.audit.append(tenant, entry)
        except DependencyFailure:
            # The sync is queued either way; the log line names it for the trail.
            logger.exception("schedule.trigger_audit_failed", extra={"operation_id": op.id})
        return op

    def _admin_change(
        self,
        tenant: str,
        connection_id: str,
        actor: Actor,
        action: str,
        change: Callable[[LadderRecord], LadderRecord],
    ) -> ScheduleState:
        for _ in range(_ATTEMPTS):
            connection = self.ladder.connection(tenant, connection_id)
            before = self.ladder.records.find(tenant, connection_id)
            after = change(before)
            old_view = self.ladder.view(connection, before)
            if after == before:
                return old_view  # already so: no write, no audit noise
            new_view = self.ladder.view(connection, after)
            entry = new_entry(
                action=action,
                target=connection_id,
                actor=actor,
                at=self.clock(),
                changes=diff(_public(old_view), _public(new_view)),
            )
            try:
                self.ladder.change(
                    tenant, connection, before, after, also=(self.audit.put_op(tenant, entry),)
                )
            except Conflict as exc:
                if exc.code == "VERSION_CONFLICT":
                    continue
                raise
            logger.info(action, extra={"tenant": tenant, "connection_id": connection_id})
            return new_view
        raise Conflict(
            "the schedule kept changing; retry",
            code="VERSION_CONFLICT",
            details={"connection_id": connection_id},
        )


def _public(state: ScheduleState) -> dict[str, Any]:
    return state.model_dump(mode="json")


def _triggered_by(actor: Actor) -> str:
    return f"schedule.trigger:{actor.id}"


def _code_of(op: SyncOperation) -> str | None:
    errors = op.results.errors
    if op.status != "Failed" or not errors:
        return None
    code = errors[-1].get("code") if isinstance(errors[-1], dict) else None
    return str(code) if code else None


def _detail_of(op: SyncOperation, record: LadderRecord) -> str:
    errors = op.results.errors
    message = errors[-1].get("message") if errors and isinstance(errors[-1], dict) else None
    if record.paused_by == "ladder":
        what = "the schedule is paused until someone acts"
    else:
        what = f"the schedule stepped down to rung {record.ladder_step}"
    return f"{message or 'the sync failed'} ({record.consecutive_failures} in a row; {what})"


__all__ = ["OperatorAlertsPort", "ScheduleAdmin", "ScheduleLadder"]
