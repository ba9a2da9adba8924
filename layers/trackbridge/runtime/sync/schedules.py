"""A connection's sync schedule in EventBridge Scheduler: one schedule per connection, kept in step.

The schedule targets the sync queue directly (no Lambda in between): at each fire Scheduler puts
``{"kind": "scheduled", "tenant", "connection_id"}`` on the queue and the sync function starts an
incremental sync, or records a skip when one is already running. Pausing, resuming and triggering are the
schedule admin's (a later issue); this module only creates, replaces and deletes.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.domain.connections import Connection
from trackbridge.domain.sync_plan import ScheduledMessage
from trackbridge.runtime.observability import logger


def schedule_name(connection_id: str) -> str:
    # Connection ids are random and unique across tenants; the name stays within Scheduler's 64 characters.
    return f"sync-{connection_id}"


class ConnectionSchedules:
    def __init__(self, client: Any, *, group: str, queue_arn: str, role_arn: str) -> None:
        self.client = client
        self.group = group
        self.queue_arn = queue_arn
        self.role_arn = role_arn

    @property
    def configured(self) -> bool:
        return bool(self.group and self.queue_arn and self.role_arn)

    def put(self, tenant: str, connection: Connection) -> None:
        """Create or replace the connection's schedule; remove it when the connection has none."""
        if connection.schedule is None:
            self.delete(connection.id)
            return
        if not self.configured:
            logger.warning("sync.schedule_not_configured", extra={"connection_id": connection.id})
            return
        request = {
            "Name": schedule_name(connection.id),
            "GroupName": self.group,
            "ScheduleExpression": connection.schedule.expression,
            "ScheduleExpressionTimezone": connection.schedule.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Description": f"trackbridge sync of {connection.id}",
            "Target": {
                "Arn": self.queue_arn,
                "RoleArn": self.role_arn,
                "Input": ScheduledMessage(tenant=tenant, connection_id=connection.id).model_dump_json(),
            },
        }
        try:
            try:
                self.client.create_schedule(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConflictException":
                    raise
                self.client.update_schedule(**request)
        except (ClientError, BotoCoreError) as exc:
            # The connection itself is stored; the schedule admin (and its maintenance) can put it again.
            logger.error(
                "sync.schedule_put_failed",
                extra={"connection_id": connection.id, "error": type(exc).__name__},
            )
            return
        logger.info("sync.schedule_put", extra={"connection_id": connection.id})

    def delete(self, connection_id: str) -> None:
        if not self.group:
            return
        try:
            self.client.delete_schedule(Name=schedule_name(connection_id), GroupName=self.group)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                logger.error(
                    "sync.schedule_delete_failed",
                    extra={"connection_id": connection_id, "error": type(exc).__name__},
                )
        except BotoCoreError as exc:
            logger.error(
                "sync.schedule_delete_failed",
                extra={"connection_id": connection_id, "error": type(exc).__name__},
            )


__all__ = ["ConnectionSchedules", "schedule_name"]
