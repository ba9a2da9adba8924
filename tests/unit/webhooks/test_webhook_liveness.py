"""Webhook liveness (``runtime.webhooks.liveness``) with in-memory collaborators and a fake tracker.

The state machine end to end: a healthy hook stays ``active``; a hook the tracker disabled (or lost, or
whose deliveries stopped) turns ``inactive``, switches its connection to fallback syncs
(``triggered_by: webhook_fallback``), gets repaired (re-registered or re-enabled), and returns to ``active``
(fallback off) on the next check that finds nothing wrong. The DynamoDB side of ``save_hook`` is exercised
on moto in tests/integration/api/test_webhook_registration_api.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from trackbridge.domain.connections import Connection
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import Conflict
from trackbridge.providers.errors import TransientError
from trackbridge.providers.jira import FailedWebhook
from trackbridge.providers.types import WebhookRegistration
from trackbridge.runtime.webhooks.liveness import (
    FALLBACK_TRIGGER,
    LivenessSettings,
    Observation,
    Repair,
    WebhookLiveness,
    judge,
)
from trackbridge.storage.webhooks import RegisteredHook, WebhookRoute

TENANT = "acme"
CONNECTION_ID = "conn_abcdefghijklmnopqrst"
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
URL = f"https://api.example.com/v1/webhooks/gitlab/{CONNECTION_ID}"


def connection(provider: str = "gitlab", auth: str = "token") -> Connection:
    scope = {"github": {"repo": "acme/web"}, "gitlab": {"project": "acme/web"}, "jira": {"project": "OPS"}}
    return Connection.model_validate(
        {
            "id": CONNECTION_ID,
            "name": "web",
            "provider": provider,
            "base_url": "https://tracker.example.com",
            "scope": scope[provider],
            "auth": auth,
            "created_at": T0,
            "updated_at": T0,
        }
    )


def hook(kind: str = "gitlab", **changes: Any) -> RegisteredHook:
    base = RegisteredHook(hook_id="7", kind=kind, url=URL, registered_at=T0, checked_at=T0)  # type: ignore[arg-type]
    return replace(base, **changes)


# ---- fakes ----------------------------------------------------------------------------------------------


@dataclass
class FakeRoutes:
    """``storage.webhooks.WebhookRoutes``: the routing item's ``hook``, with its conditional save."""

    provider: str
    hook: RegisteredHook | None
    last_delivery_at: datetime | None = None

    def route(self) -> WebhookRoute:
        return WebhookRoute(TENANT, self.provider, CONNECTION_ID, self.last_delivery_at, self.hook)

    def registered(self, *, limit: int = 100, cursor: str | None = None) -> tuple[list[WebhookRoute], None]:
        return ([self.route()] if self.hook is not None else []), None

    def save_hook(self, connection_id: str, previous_hook_id: str, new: RegisteredHook) -> bool:
        if self.hook is None or self.hook.hook_id != previous_hook_id:
            return False
        self.hook = new
        return True


@dataclass
class FakeTracker:
    """A tracker's hooks and issues, as the adapter methods liveness calls see them."""

    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated: list[datetime] = field(default_factory=list)  # issue update times
    next_id: int = 100
    fail_with: Exception | None = None
    calls: list[str] = field(default_factory=list)
    app_expiry: dict[str, datetime] = field(default_factory=dict)
    failed: list[FailedWebhook] = field(default_factory=list)
    refreshed_to: datetime | None = None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    # forge
    def webhook_info(self, hook_id: str) -> dict[str, Any] | None:
        self.calls.append(f"get {hook_id}")
        self._maybe_fail()
        return self.hooks.get(hook_id)

    def register_webhook(self, url: str, secret: str, *, events: Any = None) -> WebhookRegistration:
        hook_id = str(self.next_id)
        self.next_id += 1
        self.hooks[hook_id] = {"id": hook_id, "url": url, "secret": secret, "alert_status": "executable"}
        self.calls.append(f"register {hook_id}")
        return WebhookRegistration(id=hook_id, url=url)

    def unregister_webhook(self, hook_id: str) -> None:
        self.calls.append(f"unregister {hook_id}")
        self.hooks.pop(hook_id, None)

    def enable_webhook(self, hook_id: str) -> None:
        self.calls.append(f"enable {hook_id}")
        self.hooks[hook_id]["active"] = True

    def iter_issue_pages(self, *, since: datetime | None = None, **_: Any) -> Iterator[Any]:
        self.calls.append("list issues")
        items = tuple(
            SimpleNamespace(updated_at=u) for u in sorted(self.updated) if since is None or u >= since
        )
        yield SimpleNamespace(items=items)

    # jira REST hooks
    def app_webhook_expiry(self, hook_id: str) -> datetime | None:
        self.calls.append(f"expiry {hook_id}")
        return self.app_expiry.get(hook_id)

    def refresh_app_webhook(self, hook_id: str) -> datetime | None:
        self.calls.append(f"refresh {hook_id}")
        assert self.refreshed_to is not None
        self.app_expiry[hook_id] = self.refreshed_to
        return self.refreshed_to

    def failed_app_webhooks(self, *, after: int | None = None, limit: int = 100) -> list[FailedWebhook]:
        self.calls.append(f"failed after {after}")
        return [f for f in self.failed if after is None or f.failure_time_ms > after]


@dataclass
class FakeAdapters:
    tracker: FakeTracker

    @contextmanager
    def lease(self, tenant: str, conn: Connection) -> Iterator[Any]:
        yield self.tracker


@dataclass
class FakeConnections:
    connection: Connection | None

    def find(self, tenant: str, document_id: str) -> Connection | None:
        return self.connection


@dataclass
class FakeSyncs:
    started: list[tuple[str, str, str]] = field(default_factory=list)
    running: bool = False

    def start(self, tenant: str, connection_id: str, request: Any, *, triggered_by: str) -> Any:
        if self.running:
            raise Conflict("a sync is running", code="SYNC_RUNNING")
        self.started.append((connection_id, request.mode, triggered_by))
        return None


@dataclass
class FakeSecrets:
    kept: list[str] = field(default_factory=lambda: ["whsec_current"])

    def webhook_secrets(self, tenant: str, connection_id: str, *, fresh: bool = False) -> list[str]:
        return list(self.kept)

    def put_webhook_secret(self, tenant: str, connection_id: str, secret: SecretStr, *, new: bool) -> None:
        self.kept.insert(0, secret.get_secret_value())


@dataclass
class FakeAudit:
    entries: list[Any] = field(default_factory=list)

    def append(self, tenant: str, entry: Any) -> None:
        self.entries.append(entry)


@dataclass
class FakeReplay:
    replayed: list[tuple[str, str]] = field(default_factory=list)

    def replay(self, route: WebhookRoute, conn: Connection, delivery_id: str, body: str) -> str:
        self.replayed.append((delivery_id, body))
        return "queued"


@dataclass
class World:
    routes: FakeRoutes
    tracker: FakeTracker
    syncs: FakeSyncs
    audit: FakeAudit
    replay: FakeReplay
    secrets: FakeSecrets
    now: datetime = T0
    liveness: WebhookLiveness = field(init=False)

    def __post_init__(self) -> None:
        provider = self.routes.provider
        auth = "oauth" if self.routes.hook is not None and self.routes.hook.kind == "jira_app" else "token"
        self.liveness = WebhookLiveness(
            routes=self.routes,  # type: ignore[arg-type]
            connections=FakeConnections(connection(provider, auth)),
            adapters=FakeAdapters(self.tracker),
            syncs=self.syncs,
            secrets=self.secrets,
            audit=self.audit,
            new_secret=lambda: SecretStr("whsec_brand_new"),
            replay=self.replay,
            settings=LivenessSettings(),
            clock=lambda: self.now,
        )

    def run_at(self, minutes: float) -> Any:
        self.now = T0 + timedelta(minutes=minutes)
        (result,) = self.liveness.run().hooks
        return result

    @property
    def hook(self) -> RegisteredHook:
        assert self.routes.hook is not None
        return self.routes.hook


def world(provider: str = "gitlab", kind: str | None = None, **hook_changes: Any) -> World:
    tracker = FakeTracker()
    stored = hook(kind or provider, **hook_changes)
    tracker.hooks[stored.hook_id] = {"id": stored.hook_id, "alert_status": "executable", "active": True}
    return World(FakeRoutes(provider, stored), tracker, FakeSyncs(), FakeAudit(), FakeReplay(), FakeSecrets())


# ---- judge: the decision alone ---------------------------------------------------------------------------


def test_a_problem_turns_an_active_hook_inactive_with_fallback_and_names_the_repair() -> None:
    verdict = judge(hook(), Observation(gone=True), T0 + timedelta(minutes=5))

    assert verdict.became_inactive
    assert not verdict.recovered
    assert verdict.repair is Repair.REREGISTER
    assert verdict.hook.status == "inactive"
    assert verdict.hook.fallback
    assert verdict.hook.reason == "the hook no longer exists at the tracker"
    assert verdict.hook.inactive_since == T0 + timedelta(minutes=5)


def test_no_problem_returns_an_inactive_hook_to_active_and_ends_the_fallback() -> None:
    inactive = hook(status="inactive", fallback=True, reason="x", inactive_since=T0)

    verdict = judge(inactive, Observation(), T0 + timedelta(minutes=10))

    assert verdict.recovered
    assert not verdict.became_inactive
    assert (verdict.hook.status, verdict.hook.fallback, verdict.hook.reason) == ("active", False, None)


def test_a_change_no_delivery_reported_is_a_problem_with_nothing_to_repair() -> None:
    missed = T0 + timedelta(minutes=1)

    verdict = judge(hook(), Observation(missed_change_at=missed), T0 + timedelta(minutes=10))

    assert verdict.became_inactive
    assert verdict.repair is Repair.NONE
    assert verdict.hook.reason is not None
    assert "no delivery reported" in verdict.hook.reason


# ---- the run: active -> inactive -> fallback -> repaired -> active ---------------------------------------


def test_a_gitlab_hook_disabled_by_failures_goes_inactive_falls_back_is_reregistered_then_active() -> None:
    # Given a GitLab hook that checks out healthy
    w = world("gitlab")
    first = w.run_at(5)
    assert (first.status, first.fallback, w.syncs.started) == ("active", False, [])

    # When GitLab disables it after failed deliveries
    w.tracker.hooks["7"]["alert_status"] = "disabled"
    second = w.run_at(10)

    # Then it is inactive, on fallback (a sync at once), and re-registered with the secret kept
    assert second.status == "inactive"
    assert second.fallback
    assert second.actions == ["marked_inactive", "reregistered", "fallback_sync"]
    assert w.syncs.started == [(CONNECTION_ID, "incremental", FALLBACK_TRIGGER)]
    assert w.hook.hook_id == "100"
    assert "7" not in w.tracker.hooks
    assert w.tracker.hooks["100"]["secret"] == "whsec_current"
    assert w.hook.reason is not None
    assert w.hook.reason.startswith("GitLab disabled the hook after failed deliveries")
    assert w.hook.reason.endswith("re-registered it as hook 100")
    assert w.hook.registered_at == w.hook.repaired_at == T0 + timedelta(minutes=10)
    assert [(e.action, e.changes["hook_id"].old, e.changes["hook_id"].new) for e in w.audit.entries] == [
        ("webhook.repair", "7", "100")
    ]

    # When the next check finds the new hook healthy and no change went undelivered since it was registered
    third = w.run_at(15)

    # Then the hook is active again and the fallback ends (no further sync)
    assert (third.status, third.fallback, third.actions) == ("active", False, ["recovered"])
    assert w.syncs.started == [(CONNECTION_ID, "incremental", FALLBACK_TRIGGER)]
    assert w.hook.reason is None
    assert w.hook.inactive_since is None


def test_fallback_syncs_repeat_on_their_interval_until_deliveries_resume() -> None:
    # Given a GitHub hook whose last delivery failed at our end (nothing to repair at GitHub)
    w = world("github")
    w.tracker.hooks["7"]["last_response"] = {"code": 502, "status": "failed"}
    assert w.run_at(5).actions == ["marked_inactive", "fallback_sync"]
    assert w.hook.reason == "GitHub's last delivery failed (HTTP 502)"

    # When maintenance runs again before the check and the fallback are due
    early = w.run_at(7)
    # Then nothing is asked of the tracker and no sync starts
    assert early.actions == []
    assert not early.checked
    assert len(w.syncs.started) == 1

    # When the fallback is due and a sync is already running, that sync covers it
    w.syncs.running = True
    assert w.run_at(10).actions == ["fallback_sync_running"]
    w.syncs.running = False
    assert w.run_at(15).actions == ["fallback_sync"]
    assert len(w.syncs.started) == 2

    # When deliveries resume (GitHub's last response is a success and a delivery was recorded)
    w.tracker.hooks["7"]["last_response"] = {"code": 202, "status": "active"}
    w.routes.last_delivery_at = T0 + timedelta(minutes=19)
    back = w.run_at(20)
    assert (back.status, back.fallback, back.actions) == ("active", False, ["recovered"])
    assert len(w.syncs.started) == 2


def test_an_inactive_github_hook_is_re_enabled() -> None:
    w = world("github")
    w.tracker.hooks["7"]["active"] = False

    result = w.run_at(5)

    assert result.actions == ["marked_inactive", "reenabled", "fallback_sync"]
    assert w.tracker.hooks["7"]["active"] is True
    assert w.hook.hook_id == "7"
    assert w.hook.repaired_at == T0 + timedelta(minutes=5)
    assert w.run_at(10).status == "active"


def test_the_probe_finds_a_change_without_a_delivery_and_a_later_delivery_ends_it() -> None:
    # Given a healthy-looking hook whose last delivery was at 12:01 and a change at 12:06 never delivered
    w = world("gitlab")
    w.routes.last_delivery_at = T0 + timedelta(minutes=1)
    w.tracker.updated = [T0 + timedelta(minutes=6)]

    # When the check runs at 12:15
    result = w.run_at(15)

    # Then the hook is inactive with the change named, on fallback, and nothing is repaired
    assert result.actions == ["marked_inactive", "fallback_sync"]
    assert (
        w.hook.reason == "the tracker has a change of 2026-12-06T12:06:00.000000Z that no delivery reported"
    )
    assert [c for c in w.tracker.calls if c.startswith(("register", "unregister"))] == []

    # When a delivery arrives after that change
    w.routes.last_delivery_at = T0 + timedelta(minutes=17)
    assert w.run_at(20).status == "active"


def test_a_change_within_the_grace_period_is_not_a_missed_delivery() -> None:
    w = world("gitlab")
    w.routes.last_delivery_at = T0 + timedelta(minutes=4)
    w.tracker.updated = [T0 + timedelta(minutes=4, seconds=30), T0 + timedelta(minutes=9)]

    result = w.run_at(10)  # 12:04:30 is inside last delivery + grace; 12:09 is not yet due a delivery

    assert (result.status, result.actions) == ("active", [])


def test_a_hook_gone_from_the_tracker_is_re_registered() -> None:
    w = world("gitlab")
    del w.tracker.hooks["7"]

    result = w.run_at(5)

    assert result.actions == ["marked_inactive", "reregistered", "fallback_sync"]
    assert w.hook.hook_id == "100"


def test_a_failed_repair_is_recorded_and_the_fallback_goes_on() -> None:
    w = world("gitlab")
    w.tracker.hooks["7"]["alert_status"] = "temporarily_disabled"
    w.tracker.hooks["7"]["disabled_until"] = "2026-12-06T13:00:00.000Z"

    def refuse(url: str, secret: str, *, events: Any = None) -> WebhookRegistration:
        raise TransientError("GitLab answered 503", provider="gitlab", code=ErrorCode.PROVIDER_UNAVAILABLE)

    w.tracker.register_webhook = refuse  # type: ignore[method-assign]

    result = w.run_at(5)

    assert result.actions == ["marked_inactive", "repair_failed", "fallback_sync"]
    assert w.hook.reason is not None
    assert (
        "temporarily disabled the hook after failed deliveries until 2026-12-06T13:00:00.000Z"
        in w.hook.reason
    )
    assert w.hook.reason.endswith("; the repair failed: PROVIDER_UNAVAILABLE: GitLab answered 503")
    assert w.syncs.started == [(CONNECTION_ID, "incremental", FALLBACK_TRIGGER)]


def test_an_unreachable_tracker_changes_nothing_but_the_fallback_still_runs() -> None:
    w = world("gitlab", status="inactive", fallback=True, reason="earlier", inactive_since=T0)
    w.tracker.fail_with = TransientError("connection reset", provider="gitlab")

    result = w.run_at(5)

    assert result.error is not None
    assert "connection reset" in result.error
    assert w.hook.status == "inactive"
    assert w.hook.reason == "earlier"
    assert w.hook.checked_at == T0
    assert result.actions == ["fallback_sync"]


def test_a_hook_unregistered_during_the_check_is_not_written_back() -> None:
    w = world("gitlab")
    w.tracker.hooks["7"]["alert_status"] = "disabled"
    original = w.routes.save_hook

    def unregistered_meanwhile(connection_id: str, previous: str, new: RegisteredHook) -> bool:
        w.routes.hook = None
        return original(connection_id, previous, new)

    w.routes.save_hook = unregistered_meanwhile  # type: ignore[method-assign]

    result = w.run_at(5)

    assert result.error == "the hook was unregistered or replaced during the check"
    assert w.routes.hook is None


# ---- Jira REST hooks: refresh and replay -----------------------------------------------------------------


def test_a_jira_rest_hook_is_refreshed_when_less_than_the_margin_is_left() -> None:
    w = world("jira", kind="jira_app")
    w.tracker.app_expiry["7"] = T0 + timedelta(days=20)
    w.tracker.refreshed_to = T0 + timedelta(days=30, minutes=5)

    assert w.run_at(5).actions == []  # 20 days left: more than the 15-day margin
    assert w.hook.expires_at == T0 + timedelta(days=20)

    w.tracker.app_expiry["7"] = T0 + timedelta(days=14)
    assert w.run_at(10).actions == ["refreshed"]
    assert w.hook.expires_at == T0 + timedelta(days=30, minutes=5)
    assert "refresh 7" in w.tracker.calls


def test_an_expired_jira_rest_hook_is_registered_again() -> None:
    w = world("jira", kind="jira_app")
    w.tracker.refreshed_to = T0 + timedelta(days=30)

    def register_app_webhook(url: str, *, events: Any = None) -> WebhookRegistration:
        w.tracker.app_expiry["55"] = T0 + timedelta(days=30)
        return WebhookRegistration(id="55", url=url)

    w.tracker.register_app_webhook = register_app_webhook  # type: ignore[attr-defined]
    w.tracker.unregister_app_webhook = lambda hook_id: None  # type: ignore[attr-defined]

    result = w.run_at(5)

    assert result.actions[:2] == ["marked_inactive", "reregistered"]
    assert w.hook.hook_id == "55"


def test_failed_jira_deliveries_of_this_hook_are_replayed_once() -> None:
    w = world("jira", kind="jira_app")
    w.tracker.app_expiry["7"] = T0 + timedelta(days=29)
    registered_ms = int(T0.timestamp() * 1000)
    mine = json.dumps({"webhookEvent": "jira:issue_updated", "matchedWebhookIds": [7]})
    other = json.dumps({"webhookEvent": "jira:issue_updated", "matchedWebhookIds": [8]})
    w.tracker.failed = [
        FailedWebhook("before-registration", mine, registered_ms - 1000),
        FailedWebhook("d-1", mine, registered_ms + 1000),
        FailedWebhook("d-other", other, registered_ms + 2000),
    ]

    first = w.run_at(5)
    second = w.run_at(10)

    assert first.actions == ["replayed:1"]
    assert second.actions == []
    assert w.replay.replayed == [("d-1", mine)]
    assert w.hook.failed_after == registered_ms + 2000
    assert f"failed after {registered_ms + 2000}" in w.tracker.calls


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (300, 300, 180)),
        ({"TB_WEBHOOK_CHECK_INTERVAL_S": "60", "TB_WEBHOOK_FALLBACK_INTERVAL_S": "120"}, (60, 120, 180)),
    ],
)
def test_the_intervals_come_from_the_environment(
    environ: dict[str, str], expected: tuple[int, int, int]
) -> None:
    settings = LivenessSettings.from_env(environ)

    assert (settings.check_interval_s, settings.fallback_interval_s, settings.delivery_grace_s) == expected
