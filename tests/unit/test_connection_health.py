"""Per-connection health: each degraded and down state, decided by ``assess`` and reported by the checker
with small fakes that follow issue 18's agreed signatures (``ScheduleAdmin.state``,
``OperatorAlerts.channel_health``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trackbridge.domain.connections import Connection, WebhookView
from trackbridge.domain.pagination import Page
from trackbridge.domain.sync import SyncState
from trackbridge.runtime.connection_health import (
    ConnectionHealthChecker,
    CredentialHealth,
    ScheduleHealth,
    assess,
)

NOW = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
TOKEN = CredentialHealth(kind="token", valid=None)
ACTIVE = WebhookView(status="active")


def schedule(**overrides: Any) -> ScheduleHealth:
    values: dict[str, Any] = {
        "paused": False,
        "effective_expression": "rate(15 minutes)",
        "ladder_step": 0,
        "consecutive_failures": 0,
    }
    return ScheduleHealth(**{**values, **overrides})


def verdict(**overrides: Any) -> tuple[str, list[str]]:
    values: dict[str, Any] = {
        "now": NOW,
        "schedule": schedule(),
        "webhook": ACTIVE,
        "credentials": TOKEN,
        "cursor_lag": timedelta(minutes=20),
        "last_error": None,
    }
    return assess(**{**values, **overrides})


def test_a_healthy_connection_is_ok_without_reasons() -> None:
    assert verdict() == ("ok", [])


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        (
            {"schedule": schedule(paused=True, paused_reason="AUTH_INVALID", last_code="AUTH_INVALID")},
            "down",
            "schedule paused: AUTH_INVALID",
        ),
        ({"credentials": CredentialHealth(kind="token", valid=False)}, "down", "credentials refused"),
        (
            {
                "credentials": CredentialHealth(
                    kind="oauth", valid=True, expires_at=NOW - timedelta(minutes=1), refreshable=False
                )
            },
            "down",
            "OAuth access token expired",
        ),
        (
            {
                "credentials": CredentialHealth(
                    kind="oauth", valid=True, expires_at=NOW + timedelta(hours=3), refreshable=False
                )
            },
            "degraded",
            "OAuth access token expires",
        ),
        (
            {
                "schedule": schedule(
                    ladder_step=2,
                    effective_expression="rate(6 hours)",
                    consecutive_failures=6,
                    last_code="PROVIDER_UNAVAILABLE",
                )
            },
            "degraded",
            "back-off ladder step 2 (rate(6 hours))",
        ),
        (
            {"schedule": schedule(consecutive_failures=1, last_code="PROVIDER_UNAVAILABLE")},
            "degraded",
            "1 failed syncs in a row (PROVIDER_UNAVAILABLE)",
        ),
        ({"cursor_lag": timedelta(hours=30)}, "degraded", "cursor 30 h behind"),
        (
            {"last_error": "TRACKER_TIMEOUT", "schedule": None},
            "degraded",
            "last sync failed: TRACKER_TIMEOUT",
        ),
        ({"webhook": WebhookView(status="inactive", fallback=True)}, "degraded", "webhook inactive"),
    ],
)
def test_each_problem_has_its_status_and_reason(overrides: dict[str, Any], status: str, reason: str) -> None:
    got_status, reasons = verdict(**overrides)
    assert got_status == status
    assert any(r.startswith(reason) for r in reasons), reasons


def test_a_refreshable_oauth_token_that_expires_soon_is_fine() -> None:
    credentials = CredentialHealth(
        kind="oauth", valid=True, expires_at=NOW + timedelta(minutes=5), refreshable=True
    )
    assert verdict(credentials=credentials) == ("ok", [])


def test_a_manual_pause_is_not_a_problem() -> None:
    assert verdict(schedule=schedule(paused=True, paused_reason="tracker maintenance")) == ("ok", [])


# -- the checker over fakes ---------------------------------------------------------------------------------


def connection(name: str, *, auth: str = "token") -> Connection:
    return Connection(
        id=f"conn_{name:a<20}",
        name=name,
        provider="github",
        base_url="https://api.github.com",
        scope={"repo": f"acme/{name}"},
        auth=auth,
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=1),
    )


@dataclass
class State:
    paused: bool = False
    paused_reason: str | None = None
    expression: str = "rate(15 minutes)"
    timezone: str = "UTC"
    effective_expression: str = "rate(15 minutes)"
    ladder_step: int = 0
    consecutive_failures: int = 0
    last_code: str | None = None


@dataclass
class Channel:
    name: str
    kind: str
    ok: bool
    last_error_code: str | None = None
    last_failure_at: datetime | None = None
    pending_retries: int = 0


@dataclass
class Fakes:
    connections: list[Connection]
    states: dict[str, list[SyncState]] = field(default_factory=dict)
    schedules: dict[str, State] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)
    hooks: dict[str, WebhookView] = field(default_factory=dict)
    tokens: dict[str, tuple[datetime, bool] | None] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def list(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Connection]:
        return Page[Connection](items=self.connections[:limit], next_cursor=None)

    def list_for_connection(self, tenant: str, connection_id: str) -> list[SyncState]:
        return self.states.get(connection_id, [])

    def state(self, *args: str) -> Any:
        if len(args) == 1:  # WebhookStates.state(connection_id)
            return self.hooks.get(args[0], ACTIVE)
        tenant, connection_id = args  # ScheduleAdmin.state(tenant, connection_id)
        self.asked.append((tenant, connection_id))
        return self.schedules.get(connection_id, State())

    def channel_health(self, tenant: str) -> list[Channel]:
        return self.channels

    def token_expiry(self, tenant: str, conn: Connection) -> tuple[datetime, bool] | None:
        return self.tokens.get(conn.id)


def checker(fakes: Fakes) -> ConnectionHealthChecker:
    return ConnectionHealthChecker(
        connections=fakes,
        states=fakes,
        webhooks=fakes,
        schedules=fakes,
        alerts=fakes,
        token_expiry=fakes.token_expiry,
        clock=lambda: NOW,
    )


def synced(
    connection_id: str, *, high_water: datetime, status: str = "ok", error: str | None = None
) -> SyncState:
    return SyncState(
        connection_id=connection_id,
        entity="issues",
        high_water=high_water,
        status=status,  # type: ignore[arg-type]
        last_success_at=high_water + timedelta(minutes=1),
        updated_at=NOW,
    )


def test_the_checker_reports_each_connection_and_the_worst_status() -> None:
    # Given: a healthy connection, one on the ladder, an OAuth one without tokens, and a failing alert channel
    web, api, jira = connection("web"), connection("api"), connection("jira", auth="oauth")
    fakes = Fakes(
        connections=[web, api, jira],
        states={
            web.id: [synced(web.id, high_water=NOW - timedelta(minutes=10))],
            api.id: [synced(api.id, high_water=NOW - timedelta(hours=2))],
        },
        schedules={api.id: State(ladder_step=1, consecutive_failures=3, last_code="PROVIDER_UNAVAILABLE")},
        channels=[Channel("ops-slack", "slack", ok=False, last_error_code="HTTP_404", pending_retries=2)],
        tokens={jira.id: None},
    )

    # When
    report = checker(fakes).check("acme", limit=10)

    # Then
    by_name = {item.name: item for item in report.items}
    assert by_name["web"].status == "ok"
    assert by_name["web"].cursor_lag_s == 600.0
    assert by_name["web"].last_successful_sync == NOW - timedelta(minutes=9)
    assert by_name["api"].status == "degraded"
    assert by_name["api"].schedule is not None
    assert by_name["api"].schedule.ladder_step == 1
    assert by_name["jira"].status == "down"
    assert by_name["jira"].credentials.kind == "oauth"
    assert report.status == "down"
    assert "alert channel ops-slack: HTTP_404" in report.reasons
    assert report.alert_channels is not None
    assert report.alert_channels[0].pending_retries == 2
    assert ("acme", api.id) in fakes.asked


def test_a_failing_alert_channel_alone_degrades_the_tenant() -> None:
    fakes = Fakes(connections=[], channels=[Channel("mail", "email", ok=False)])
    report = checker(fakes).check("acme", limit=10)
    assert (report.status, report.reasons) == ("degraded", ["alert channel mail: failing"])


def test_without_schedule_admin_and_alerts_their_parts_are_left_out() -> None:
    web = connection("web")
    fakes = Fakes(connections=[web])
    report = ConnectionHealthChecker(
        connections=fakes, states=fakes, webhooks=fakes, clock=lambda: NOW
    ).check("acme", limit=10)
    assert report.alert_channels is None
    assert report.items[0].schedule is None
    assert report.items[0].status == "ok"


def test_the_agreed_models_carry_every_field_the_protocols_read() -> None:
    # The Protocols here stand for E's ScheduleState and F's ChannelHealth; the lead wires the real classes.
    backoff = pytest.importorskip("trackbridge.domain.backoff")
    alerts = pytest.importorskip("trackbridge.domain.alerts")
    schedule_fields = {"paused", "paused_reason", "effective_expression", "ladder_step"}
    assert schedule_fields | {"consecutive_failures", "last_code"} <= set(backoff.ScheduleState.model_fields)
    channel_fields = {"name", "kind", "ok", "last_error_code", "last_failure_at", "pending_retries"}
    assert channel_fields <= set(alerts.ChannelHealth.model_fields)
