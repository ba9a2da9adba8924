"""``GET /v1/health/connections``: a tenant's connections, each ``ok``, ``degraded`` or ``down`` with reasons.

Per connection: the last successful sync and the cursor lag (from its sync states), the schedule's ladder
step and pause (``ScheduleAdmin.state``), the webhook's liveness, and whether its credentials still work
(the last classified failure; an OAuth connection's token expiry and refresh token). Per tenant: the alert
channels' health (``OperatorAlerts.channel_health``): an alert that cannot be delivered is a problem of
every connection. The schedule and alert collaborators are Protocols here, so this module depends on
their shape, not their modules; either may be absent (``None``), and their parts are then left out.

The verdict is a value (:func:`assess`): ``down`` when a person must act before the connection syncs again
(a code that pauses the schedule, credentials that no longer work), ``degraded`` when it syncs but less
well than it should (on the back-off ladder, failing, a cursor far behind, an inactive webhook, credentials
about to lapse, an alert channel failing), else ``ok``.

The tenant variant is its own route, not ``GET /v1/health`` with a key: that route is public, so API
Gateway runs no authorizer on it, and the API function would have to check keys itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, Field

from trackbridge.domain.connections import Connection, WebhookView
from trackbridge.domain.pagination import Page
from trackbridge.domain.sync import SyncState
from trackbridge.domain.times import UtcDatetime, utcnow
from trackbridge.runtime.health import HealthStatus

# Codes that pause a schedule until a person acts (the back-off ladder's rule, issue 18).
PERSON_CODES: Final = frozenset({"AUTH_INVALID", "AUTH_EXPIRED", "PERMISSION_DENIED", "SUSPENDED_PAYMENT"})
CREDENTIAL_CODES: Final = frozenset({"AUTH_INVALID", "AUTH_EXPIRED"})
MAX_CURSOR_LAG: Final = timedelta(hours=24)
# An OAuth access token without a refresh token lapses for good: warn this long before.
EXPIRY_WARNING: Final = timedelta(days=1)


# -- the collaborators' shapes (issue 18's agreed interface) -------------------------------------------------


class ScheduleStateLike(Protocol):
    @property
    def paused(self) -> bool: ...
    @property
    def paused_reason(self) -> str | None: ...
    @property
    def effective_expression(self) -> str | None: ...
    @property
    def ladder_step(self) -> int: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def last_code(self) -> str | None: ...


class ScheduleStates(Protocol):
    """``runtime.schedule_admin.ScheduleAdmin``."""

    def state(self, tenant: str, connection_id: str) -> ScheduleStateLike: ...


class ChannelHealthLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def last_error_code(self) -> str | None: ...
    @property
    def last_failure_at(self) -> datetime | None: ...
    @property
    def pending_retries(self) -> int: ...


class AlertChannels(Protocol):
    """``runtime.alerts.service.OperatorAlerts``."""

    def channel_health(self, tenant: str) -> Sequence[ChannelHealthLike]: ...


class ConnectionListing(Protocol):
    def list(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Connection]: ...


class SyncStates(Protocol):
    def list_for_connection(self, tenant: str, connection_id: str) -> list[SyncState]: ...


class WebhookStates(Protocol):
    def state(self, connection_id: str) -> WebhookView: ...


class TokenExpiry(Protocol):
    """An OAuth connection's tokens: ``(access token expiry, has a refresh token)``, None when none stored."""

    def __call__(self, tenant: str, connection: Connection) -> tuple[datetime, bool] | None: ...


# -- the answer ----------------------------------------------------------------------------------------------


class ScheduleHealth(BaseModel):
    paused: bool
    paused_reason: str | None = None
    effective_expression: str | None
    ladder_step: int
    consecutive_failures: int
    last_code: str | None = None


class CredentialHealth(BaseModel):
    kind: Literal["token", "oauth"]
    valid: bool | None = Field(description="false when the tracker refused them; null when not known")
    expires_at: UtcDatetime | None = Field(None, description="OAuth: when the access token expires")
    refreshable: bool | None = Field(None, description="OAuth: whether a refresh token renews it")


class ChannelStatus(BaseModel):
    name: str
    kind: str
    ok: bool
    last_error_code: str | None = None
    last_failure_at: UtcDatetime | None = None
    pending_retries: int = 0


class ConnectionHealth(BaseModel):
    connection_id: str
    name: str
    provider: str
    status: HealthStatus
    reasons: list[str]
    last_successful_sync: UtcDatetime | None
    cursor_lag_s: float | None = Field(description="how far the oldest entity cursor is behind now")
    last_error: str | None = None
    schedule: ScheduleHealth | None = None
    webhook: WebhookView
    credentials: CredentialHealth


class TenantHealth(BaseModel):
    status: HealthStatus = Field(description="the worst of this page's connections and the alert channels")
    reasons: list[str]
    alert_channels: list[ChannelStatus] | None = None
    items: list[ConnectionHealth]
    next_cursor: str | None = None


# -- the verdict -----------------------------------------------------------------------------------------


def _worst(statuses: Sequence[HealthStatus]) -> HealthStatus:
    return "down" if "down" in statuses else "degraded" if "degraded" in statuses else "ok"


def assess(
    *,
    now: datetime,
    schedule: ScheduleHealth | None,
    webhook: WebhookView,
    credentials: CredentialHealth,
    cursor_lag: timedelta | None,
    last_error: str | None,
) -> tuple[HealthStatus, list[str]]:
    """A connection's status and the reasons for it; pure, so each rule is tested alone."""
    down: list[str] = []
    degraded: list[str] = []
    if schedule is not None:
        if schedule.paused and schedule.paused_reason in PERSON_CODES:
            down.append(f"schedule paused: {schedule.paused_reason}")
        if schedule.ladder_step > 0:
            degraded.append(
                f"back-off ladder step {schedule.ladder_step} ({schedule.effective_expression}) after "
                f"{schedule.consecutive_failures} failures ({schedule.last_code})"
            )
        elif schedule.consecutive_failures > 0:
            degraded.append(f"{schedule.consecutive_failures} failed syncs in a row ({schedule.last_code})")
    if credentials.valid is False:
        down.append("credentials refused by the tracker")
    elif credentials.expires_at is not None and credentials.refreshable is False:
        if credentials.expires_at <= now:
            down.append("OAuth access token expired and no refresh token: authorize again")
        elif credentials.expires_at - now <= EXPIRY_WARNING:
            degraded.append(f"OAuth access token expires at {credentials.expires_at.isoformat()}")
    if cursor_lag is not None and cursor_lag > MAX_CURSOR_LAG:
        degraded.append(f"cursor {int(cursor_lag.total_seconds() // 3600)} h behind")
    if last_error and not down and not (schedule and schedule.consecutive_failures):
        degraded.append(f"last sync failed: {last_error}")
    if webhook.status == "inactive":
        degraded.append("webhook inactive" + (" (polling fallback)" if webhook.fallback else ""))
    status: HealthStatus = "down" if down else "degraded" if degraded else "ok"
    return status, down + degraded


def last_code_of(schedule: ScheduleHealth | None, states: Sequence[SyncState]) -> str | None:
    if schedule is not None and schedule.last_code:
        return schedule.last_code
    failed = [s for s in states if s.status == "failed" and s.last_error]
    return failed[0].last_error if failed else None


# -- the service ---------------------------------------------------------------------------------------


class ConnectionHealthChecker:
    def __init__(
        self,
        *,
        connections: ConnectionListing,
        states: SyncStates,
        webhooks: WebhookStates,
        schedules: ScheduleStates | None = None,
        alerts: AlertChannels | None = None,
        token_expiry: TokenExpiry | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.connections = connections
        self.states = states
        self.webhooks = webhooks
        self.schedules = schedules
        self.alerts = alerts
        self.token_expiry = token_expiry
        self.clock = clock

    def check(self, tenant: str, *, limit: int, cursor: str | None = None) -> TenantHealth:
        now = self.clock()
        page = self.connections.list(tenant, limit=limit, cursor=cursor)
        items = [self.connection(tenant, connection, now) for connection in page.items]
        channels = self._channels(tenant)
        failing = [c for c in channels or () if not c.ok]
        reasons = [f"{item.name}: {reason}" for item in items for reason in item.reasons]
        reasons += [f"alert channel {c.name}: {c.last_error_code or 'failing'}" for c in failing]
        statuses = [item.status for item in items] + (["degraded"] if failing else [])
        return TenantHealth(
            status=_worst(statuses),
            reasons=reasons,
            alert_channels=channels,
            items=items,
            next_cursor=page.next_cursor,
        )

    def _channels(self, tenant: str) -> list[ChannelStatus] | None:
        if self.alerts is None:
            return None
        return [
            ChannelStatus(
                name=c.name,
                kind=c.kind,
                ok=c.ok,
                last_error_code=c.last_error_code,
                last_failure_at=c.last_failure_at,
                pending_retries=c.pending_retries,
            )
            for c in self.alerts.channel_health(tenant)
        ]

    def _schedule(self, tenant: str, connection_id: str) -> ScheduleHealth | None:
        if self.schedules is None:
            return None
        state = self.schedules.state(tenant, connection_id)
        return ScheduleHealth(
            paused=state.paused,
            paused_reason=state.paused_reason,
            effective_expression=state.effective_expression,
            ladder_step=state.ladder_step,
            consecutive_failures=state.consecutive_failures,
            last_code=state.last_code,
        )

    def _credentials(self, tenant: str, connection: Connection, last_code: str | None) -> CredentialHealth:
        refused = last_code in CREDENTIAL_CODES
        if connection.auth != "oauth" or self.token_expiry is None:
            return CredentialHealth(kind="token", valid=False if refused else None)
        tokens = self.token_expiry(tenant, connection)
        if tokens is None:
            return CredentialHealth(kind="oauth", valid=False, refreshable=False)
        expires_at, refreshable = tokens
        return CredentialHealth(
            kind="oauth", valid=not refused, expires_at=expires_at, refreshable=refreshable
        )

    def connection(self, tenant: str, connection: Connection, now: datetime) -> ConnectionHealth:
        states = self.states.list_for_connection(tenant, connection.id)
        schedule = self._schedule(tenant, connection.id)
        last_error = last_code_of(schedule, states)
        credentials = self._credentials(tenant, connection, last_error)
        webhook = self.webhooks.state(connection.id)
        successes = [s.last_success_at for s in states if s.last_success_at]
        marks = [s.high_water for s in states if s.high_water]
        lag = now - min(marks) if marks else None
        status, reasons = assess(
            now=now,
            schedule=schedule,
            webhook=webhook,
            credentials=credentials,
            cursor_lag=lag,
            last_error=last_error,
        )
        return ConnectionHealth(
            connection_id=connection.id,
            name=connection.name,
            provider=str(connection.provider),
            status=status,
            reasons=reasons,
            last_successful_sync=max(successes) if successes else None,
            cursor_lag_s=round(lag.total_seconds(), 1) if lag is not None else None,
            last_error=last_error,
            schedule=schedule,
            webhook=webhook,
            credentials=credentials,
        )


class RouteWebhookStates:
    """:class:`WebhookStates` from the webhook routing items (one GetItem), as ``GET /v1/connections/{id}``
    reads them, without the registration service's tracker clients."""

    def __init__(self, routes: Any) -> None:
        self.routes = routes

    def state(self, connection_id: str) -> WebhookView:
        from trackbridge.runtime.webhooks.registration import view_of

        return view_of(self.routes.lookup(connection_id))


def oauth_token_expiry(secret_name: Callable[[str, str], str], store: Callable[[str], Any]) -> TokenExpiry:
    """The :class:`TokenExpiry` over Secrets Manager: ``secret_name(tenant, connection_id)`` names the
    connection's token secret and ``store(name)`` opens it (``container.oauth_token_store``). Only the expiry
    and whether a refresh token exists leave this function; the tokens do not."""

    def expiry(tenant: str, connection: Connection) -> tuple[datetime, bool] | None:
        tokens = store(secret_name(tenant, connection.id)).load()
        if tokens is None:
            return None
        return tokens.expires_at, tokens.refresh_token is not None

    return expiry


__all__ = [
    "PERSON_CODES",
    "AlertChannels",
    "ChannelStatus",
    "ConnectionHealth",
    "ConnectionHealthChecker",
    "CredentialHealth",
    "RouteWebhookStates",
    "ScheduleHealth",
    "ScheduleStates",
    "TenantHealth",
    "assess",
    "oauth_token_expiry",
]
