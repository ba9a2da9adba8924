"""A connection's sync schedule in EventBridge Scheduler: one schedule per connection, kept in step.

The schedule targets the sync queue directly (no Lambda in between): at each fire Scheduler puts
``{"kind": "scheduled", "tenant", "connection_id"}`` on the queue and the sync function starts an
incremental sync, or records a skip when one is already running.

What Scheduler holds is always *derived* from DynamoDB: the connection's expression and time zone, the
ladder's effective expression (``domain.backoff``) and ``State=DISABLED`` while paused. :meth:`put` reads
the ladder record itself when it is given a ``records`` store, so a ``PATCH /v1/connections/{id}`` that
changes the expression cannot undo a pause or a rung; the schedule admin calls :meth:`apply` with the
record it is about to store (``runtime.schedule_admin`` says in which order, and why).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.domain.backoff import DEFAULT_POLICY, LadderPolicy, LadderRecord, effective_expression
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import DependencyFailure
from trackbridge.domain.schedules import RateExpression, parse_schedule_expression
from trackbridge.domain.sync_plan import ScheduledMessage
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger


def schedule_name(connection_id: str) -> str:
    # Connection ids are random and unique across tenants; the name stays within Scheduler's 64 characters.
    return f"sync-{connection_id}"


class LadderRecords(Protocol):
    def find(self, tenant: str, connection_id: str) -> LadderRecord: ...


class ConnectionSchedules:
    def __init__(
        self,
        client: Any,
        *,
        group: str,
        queue_arn: str,
        role_arn: str,
        records: LadderRecords | None = None,
        policy: LadderPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.group = group
        self.queue_arn = queue_arn
        self.role_arn = role_arn
        self.records = records
        self.policy = policy
        self.clock = clock

    @property
    def configured(self) -> bool:
        return bool(self.group and self.queue_arn and self.role_arn)

    def put(self, tenant: str, connection: Connection) -> None:
        """Create or replace the connection's schedule; remove it when the connection has none.

        Best effort: the connection is already stored, and the schedule admin (or its maintenance) can put
        it again, so a failure is logged rather than raised.
        """
        if connection.schedule is None:
            self.delete(connection.id)
            return
        if not self.configured:
            logger.warning("sync.schedule_not_configured", extra={"connection_id": connection.id})
            return
        record = self.records.find(tenant, connection.id) if self.records is not None else LadderRecord()
        try:
            self.apply(tenant, connection, record)
        except DependencyFailure:
            return

    def apply(self, tenant: str, connection: Connection, record: LadderRecord) -> None:
        """Make Scheduler run what ``connection`` and ``record`` say: the effective expression, DISABLED
        while paused. DependencyFailure (503) when Scheduler refuses or cannot be reached."""
        if connection.schedule is None or not self.configured:
            self.delete(connection.id)
            return
        now = self.clock()
        expression = effective_expression(
            connection.schedule.expression,
            record,
            now=now,
            policy=record.effective_policy(self.policy),
        )
        request: dict[str, Any] = {
            "Name": schedule_name(connection.id),
            "GroupName": self.group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": connection.schedule.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "DISABLED" if record.paused else "ENABLED",
            "Description": f"trackbridge sync of {connection.id}",
            "Target": {
                "Arn": self.queue_arn,
                "RoleArn": self.role_arn,
                "Input": ScheduledMessage(tenant=tenant, connection_id=connection.id).model_dump_json(),
            },
        }
        rate = parse_schedule_expression(expression) if expression else None
        if isinstance(rate, RateExpression):
            # A rate schedule's first run is one period after it is set, not at once: creating a connection
            # or moving along the ladder never starts a sync by itself (``.../schedule/trigger`` does).
            request["StartDate"] = now + rate.period
        try:
            try:
                self.client.create_schedule(**request)
            except ClientError as exc:
                if _code(exc) != "ConflictException":
                    raise
                self.client.update_schedule(**request)
        except (ClientError, BotoCoreError) as exc:
            logger.error(
                "sync.schedule_put_failed",
                extra={"connection_id": connection.id, "error": type(exc).__name__},
            )
            raise DependencyFailure(
                "EventBridge Scheduler did not accept the schedule; retry",
                details={"connection_id": connection.id},
            ) from exc
        logger.info(
            "sync.schedule_put",
            extra={"connection_id": connection.id, "state": request["State"], "expression": expression},
        )

    def describe(self, connection_id: str) -> dict[str, Any] | None:
        """The schedule as Scheduler holds it (``GetSchedule``), or None when there is none."""
        if not self.group:
            return None
        try:
            found: dict[str, Any] = self.client.get_schedule(
                Name=schedule_name(connection_id), GroupName=self.group
            )
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise DependencyFailure("EventBridge Scheduler could not be read; retry") from exc
        except BotoCoreError as exc:
            raise DependencyFailure("EventBridge Scheduler could not be reached; retry") from exc
        return found

    def delete(self, connection_id: str) -> None:
        if not self.group:
            return
        try:
            self.client.delete_schedule(Name=schedule_name(connection_id), GroupName=self.group)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                logger.error(
                    "sync.schedule_delete_failed",
                    extra={"connection_id": connection_id, "error": type(exc).__name__},
                )
        except BotoCoreError as exc:
            logger.error(
                "sync.schedule_delete_failed",
                extra={"connection_id": connection_id, "error": type(exc).__name__},
            )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


__all__ = ["ConnectionSchedules", "LadderRecords", "schedule_name"]
