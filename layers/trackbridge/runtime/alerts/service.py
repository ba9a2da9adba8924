"""Operator alerts for failing connections: one alert per incident, one recovery message, and channel health.

:class:`OperatorAlerts` is what the schedules' back-off ladder calls (``incident`` when a code that needs a
person pauses a connection or the ladder first steps down, ``recovered`` on the first success after either),
what health reads (``channel_health``) and what the maintenance run calls (``retry_pending``).

``incident`` first counts a failure of the open incident of (connection, code); only when none is open does
it open one, in one transaction with the sends its alert needs (``domain.alerts.AlertPolicy`` says which
channels), and deliver them. Of two concurrent first failures one opens the incident and the other counts,
so one alert is sent. ``recovered`` closes every open incident of the connection in one transaction with
the recovery sends, so two concurrent successes send one recovery message. Neither raises: a channel's
failure is recorded for ``channel_health`` and retried, and a failure to record (DynamoDB unavailable) is
logged as ``alerts.not_recorded``: the caller's sync goes on either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trackbridge.domain.alerts import (
    BUILTIN_EMAIL,
    DEFAULT_POLICY,
    AlertChannel,
    AlertKind,
    AlertMessage,
    AlertPolicy,
    AlertSend,
    ChannelHealth,
    Incident,
    IncidentState,
    channel_ok,
    clip,
    incident_message,
    new_incident,
    recovery_message,
    send_id,
)
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import TrackbridgeError
from trackbridge.domain.ids import random_token
from trackbridge.domain.pagination import Page
from trackbridge.domain.times import from_iso, utcnow
from trackbridge.runtime.alerts.dispatch import Dispatcher
from trackbridge.runtime.observability import logger
from trackbridge.storage.alerts import (
    AlertChannelRepository,
    AlertPolicyRepository,
    AlertSendRepository,
    ChannelStatusRepository,
    IncidentRepository,
)

INCIDENT_PREFIX = "inc"
# How long a maintenance run holds a due send it is trying before another run may take it.
CLAIM_LEASE = timedelta(minutes=10)
# Recovery after several concurrent closes: re-read and try again at most this often.
_CLOSE_ROUNDS = 3


@dataclass(frozen=True)
class RetryReport:
    """What one ``retry_pending`` pass did."""

    tried: int = 0
    delivered: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"tried": self.tried, "delivered": self.delivered}


def _sends(
    alert_id: str, kind: AlertKind, message: AlertMessage, channels: Sequence[str], at: datetime
) -> list[AlertSend]:
    return [
        AlertSend(
            id=send_id(alert_id, kind, channel),
            channel=channel,
            message=message,
            created_at=at,
            next_attempt_at=at,
        )
        for channel in channels
    ]


class OperatorAlerts:
    def __init__(
        self,
        *,
        incidents: IncidentRepository,
        sends: AlertSendRepository,
        statuses: ChannelStatusRepository,
        channels: AlertChannelRepository,
        policies: AlertPolicyRepository,
        dispatcher: Dispatcher,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.incidents = incidents
        self.sends = sends
        self.statuses = statuses
        self.channels = channels
        self.policies = policies
        self.dispatcher = dispatcher
        self.clock = clock

    def policy(self, tenant: str) -> AlertPolicy:
        return self.policies.current(tenant) or DEFAULT_POLICY

    # ---- the interface the schedules call -----------------------------------------------------------

    def incident(
        self,
        tenant: str,
        connection: Connection,
        *,
        code: str,
        detail: str,
        operation_id: str | None,
        at: datetime,
    ) -> None:
        """Open an incident for (tenant, connection, code) and alert once, or count one more failure."""
        try:
            self._incident(
                tenant, connection, code=code, detail=clip(detail), operation_id=operation_id, at=at
            )
        except TrackbridgeError as exc:
            logger.error(
                "alerts.not_recorded",
                extra={
                    "tenant": tenant,
                    "connection_id": connection.id,
                    "code": code,
                    "error_code": exc.code,
                },
            )

    def _incident(
        self,
        tenant: str,
        connection: Connection,
        *,
        code: str,
        detail: str,
        operation_id: str | None,
        at: datetime,
    ) -> None:
        counted = self.incidents.count(
            tenant, connection.id, code, at=at, detail=detail, operation_id=operation_id
        )
        if counted is not None:
            return
        channels = self.policy(tenant).channels_for(code)
        incident = new_incident(
            incident_id=f"{INCIDENT_PREFIX}_{random_token()}",
            connection_id=connection.id,
            connection_name=connection.name,
            provider=connection.provider,
            code=code,
            detail=detail,
            operation_id=operation_id,
            at=at,
            channels=channels,
        )
        sends = _sends(incident.id, "incident", incident_message(tenant, incident), channels, at)
        opened = self.incidents.open(tenant, incident, also=[self.sends.put_op(tenant, s) for s in sends])
        if not opened:
            # Another failure opened it a moment ago: this one only counts.
            self.incidents.count(tenant, connection.id, code, at=at, detail=detail, operation_id=operation_id)
            return
        logger.info(
            "alerts.incident_opened",
            extra={"tenant": tenant, "connection_id": connection.id, "code": code, "channels": channels},
        )
        for send in sends:
            self.dispatcher.deliver(tenant, send)

    def recovered(self, tenant: str, connection: Connection, *, at: datetime) -> None:
        """Close the connection's open incidents with one recovery message; nothing when none is open."""
        try:
            self._recovered(tenant, connection, at=at)
        except TrackbridgeError as exc:
            logger.error(
                "alerts.not_recorded",
                extra={"tenant": tenant, "connection_id": connection.id, "error_code": exc.code},
            )

    def _recovered(self, tenant: str, connection: Connection, *, at: datetime) -> None:
        for _ in range(_CLOSE_ROUNDS):
            open_incidents = self.incidents.open_of(tenant, connection.id)
            if not open_incidents:
                return
            channels = list(dict.fromkeys(c for i in open_incidents for c in i.channels))
            if not self.policy(tenant).recovery:
                channels = []
            message = recovery_message(tenant, open_incidents, at)
            sends = _sends(open_incidents[0].id, "recovery", message, channels, at)
            ops = [self.sends.put_op(tenant, s) for s in sends]
            if self.incidents.close(tenant, open_incidents, at, also=ops):
                logger.info(
                    "alerts.incident_closed",
                    extra={
                        "tenant": tenant,
                        "connection_id": connection.id,
                        "incidents": len(open_incidents),
                    },
                )
                for send in sends:
                    self.dispatcher.deliver(tenant, send)
                return
        logger.warning("alerts.close_contended", extra={"tenant": tenant, "connection_id": connection.id})

    # ---- health and maintenance ---------------------------------------------------------------------

    def configured(self, tenant: str) -> list[AlertChannel]:
        return [BUILTIN_EMAIL, *self.channels.all(tenant)]

    def channel_health(self, tenant: str) -> list[ChannelHealth]:
        """Per configured channel: its last outcome and the sends waiting or given up on."""
        statuses = self.statuses.all(tenant)
        sends = self.sends.of_tenant(tenant)
        report = []
        for channel in self.configured(tenant):
            status: dict[str, Any] = statuses.get(channel.name, {})
            failed_at = _moment(status.get("last_failure_at"))
            succeeded_at = _moment(status.get("last_success_at"))
            pending = sum(1 for s in sends if s.channel == channel.name and s.state == "pending")
            report.append(
                ChannelHealth(
                    name=channel.name,
                    kind=channel.kind,
                    ok=channel_ok(failed_at, succeeded_at, pending),
                    last_error_code=status.get("last_error_code"),
                    last_error=status.get("last_error"),
                    last_failure_at=failed_at,
                    last_success_at=succeeded_at,
                    pending_retries=pending,
                    abandoned=sum(1 for s in sends if s.channel == channel.name and s.state == "abandoned"),
                )
            )
        return report

    def retry_pending(self, now: datetime | None = None, *, limit: int = 100) -> RetryReport:
        """Try every send that is due (any tenant), each claimed first so two runs never both send it."""
        moment = now or self.clock()
        tried = delivered = 0
        for tenant, send in list(self.sends.due(moment, limit=limit)):
            if not self.sends.claim(tenant, send, lease_until=moment + CLAIM_LEASE):
                continue
            tried += 1
            delivered += self.dispatcher.deliver(tenant, send)
        if tried:
            logger.info("alerts.retried", extra={"tried": tried, "delivered": delivered})
        return RetryReport(tried=tried, delivered=delivered)

    def incidents_page(
        self, tenant: str, *, state: IncidentState, limit: int, cursor: str | None
    ) -> Page[Incident]:
        return self.incidents.list(tenant, state=state, limit=limit, cursor=cursor)


def _moment(value: Any) -> datetime | None:
    return from_iso(value) if isinstance(value, str) and value else None


__all__ = ["OperatorAlerts", "RetryReport"]
