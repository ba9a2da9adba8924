"""Webhook liveness: is each registered hook still delivering, and what to do when it is not.

Trackers drop webhooks without telling anyone (GitHub never redelivers; GitLab disables a hook after
failures, for good after 4xx answers; Jira's REST hooks expire after 30 days), so the scheduler-maintenance
run checks every registered hook (``storage.webhooks``, GSI1) at most once per ``check_interval``:

1. **the provider's own status**, where it reports one: the hook is gone (404: re-register); GitHub
   ``active: false`` (re-enable) or ``last_response.status == "failed"`` (our endpoint failed: nothing to
   repair at GitHub); GitLab ``alert_status`` ``disabled`` / ``temporarily_disabled`` (re-register: a new
   hook starts without the failure history, and GitLab drops what happens while a hook is disabled);
   a Jira admin hook ``enabled: false`` (re-register); a Jira REST hook missing from the app's list, i.e.
   expired (re-register).
2. **a cheap probe**, only when the status looks fine: one issue-listing request ``since`` the last
   delivery (or the registration, if later) plus a grace period. An issue updated after that, and long
   enough ago that its delivery should have arrived, is a change no delivery reported.

:func:`judge` turns the hook's stored state and that :class:`Observation` into its next state, as a value:
a problem marks an ``active`` hook ``inactive`` and switches its connection to polling fallback
(incremental syncs, ``triggered_by: webhook_fallback``, every ``fallback_interval``, the first at once);
the run then tries the repair the observation names and records it (``repaired_at``, the reason says what
was done). A later check that finds no problem (deliveries resumed, or the repaired hook is healthy and
no change went undelivered since its registration) returns the hook to ``active`` and ends the fallback.

Jira REST hooks (OAuth connections) are also refreshed (``PUT /rest/api/3/webhook/refresh``) once less
than ``jira_refresh_before`` of their 30 days is left, and ``GET /rest/api/3/webhook/failed`` is read on
every check: each delivery Jira gave up on that matched this hook is replayed through the webhook
Lambda's own dedup-and-enqueue path (:class:`IngestReplay`), with its original identifier, so one that
did arrive after all is acknowledged as a duplicate, never applied twice.

A check that cannot reach the tracker changes nothing (an unreachable tracker is not a dead hook) and is
reported as an error of that connection; the fallback syncs of an inactive hook go on regardless.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import Conflict, TrackbridgeError
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.times import to_iso, utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.types import DeliveryKind
from trackbridge.runtime.observability import logger
from trackbridge.runtime.webhooks.registration import create_hook, iter_registered, remove_hook
from trackbridge.storage.webhooks import RegisteredHook, WebhookRoute, WebhookRoutes

FALLBACK_TRIGGER = "webhook_fallback"
MAINTENANCE_ACTOR = Actor(id="scheduler-maintenance")
# A run that starts a little early (the rule's jitter) still checks a hook that is due.
CHECK_SLACK = timedelta(seconds=30)


class LivenessSettings(BaseModel):
    """Environment of the liveness check (the scheduler-maintenance function's)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    check_interval_s: int = Field(300, ge=0, alias="TB_WEBHOOK_CHECK_INTERVAL_S")
    fallback_interval_s: int = Field(300, ge=0, alias="TB_WEBHOOK_FALLBACK_INTERVAL_S")
    # How late a delivery may be before a change without one counts as missed (deliveries lag seconds,
    # and last_delivery_at is written at most once a minute).
    delivery_grace_s: int = Field(180, ge=0, alias="TB_WEBHOOK_DELIVERY_GRACE_S")
    # Jira REST hooks live 30 days: refresh once less than this is left.
    jira_refresh_before_s: int = Field(15 * 86_400, ge=0, alias="TB_JIRA_WEBHOOK_REFRESH_BEFORE_S")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LivenessSettings:
        return cls.model_validate(dict(os.environ if environ is None else environ))

    @property
    def check_interval(self) -> timedelta:
        return timedelta(seconds=self.check_interval_s)

    @property
    def fallback_interval(self) -> timedelta:
        return timedelta(seconds=self.fallback_interval_s)

    @property
    def delivery_grace(self) -> timedelta:
        return timedelta(seconds=self.delivery_grace_s)

    @property
    def jira_refresh_before(self) -> timedelta:
        return timedelta(seconds=self.jira_refresh_before_s)


# ---- the decision ---------------------------------------------------------------------------------------


class Repair(StrEnum):
    NONE = "none"
    REENABLE = "reenable"
    REREGISTER = "reregister"


@dataclass(frozen=True, slots=True)
class Observation:
    """What one check found at the tracker."""

    gone: bool = False
    trouble: str | None = None  # the provider's own status says the hook is not delivering
    repair: Repair = Repair.NONE  # what would fix ``trouble``
    missed_change_at: datetime | None = None  # the probe: a change no delivery reported
    expires_at: datetime | None = None  # Jira REST hooks

    @property
    def problem(self) -> tuple[str, Repair] | None:
        if self.gone:
            return "the hook no longer exists at the tracker", Repair.REREGISTER
        if self.trouble is not None:
            return self.trouble, self.repair
        if self.missed_change_at is not None:
            return (
                f"the tracker has a change of {to_iso(self.missed_change_at)} that no delivery reported",
                Repair.NONE,
            )
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    hook: RegisteredHook
    became_inactive: bool = False
    recovered: bool = False
    repair: Repair = Repair.NONE


def judge(hook: RegisteredHook, observation: Observation, now: datetime) -> Verdict:
    """The hook's next state: ``active`` -> ``inactive`` (fallback on) on a problem, back to ``active``
    (fallback off) on the first check that finds none."""
    expires = observation.expires_at or hook.expires_at
    problem = observation.problem
    if problem is not None:
        reason, repair = problem
        if hook.status == "active":
            inactive = hook.but(
                status="inactive",
                fallback=True,
                reason=reason,
                inactive_since=now,
                checked_at=now,
                fallback_synced_at=None,  # the first fallback sync runs at once
                expires_at=expires,
            )
            return Verdict(inactive, became_inactive=True, repair=repair)
        return Verdict(hook.but(reason=reason, checked_at=now, expires_at=expires), repair=repair)
    if hook.status == "inactive":
        active = hook.but(
            status="active",
            fallback=False,
            reason=None,
            inactive_since=None,
            checked_at=now,
            fallback_synced_at=None,
            expires_at=expires,
        )
        return Verdict(active, recovered=True)
    return Verdict(hook.but(checked_at=now, expires_at=expires))


def check_due(hook: RegisteredHook, now: datetime, interval: timedelta) -> bool:
    return hook.checked_at is None or now - hook.checked_at >= interval - CHECK_SLACK


def fallback_due(hook: RegisteredHook, now: datetime, interval: timedelta) -> bool:
    return hook.fallback and (hook.fallback_synced_at is None or now - hook.fallback_synced_at >= interval)


# ---- reading the tracker --------------------------------------------------------------------------------


def provider_observation(adapter: Any, hook: RegisteredHook) -> Observation:
    """Step 1 of the module docstring: the provider's own view of the hook."""
    if hook.kind == "jira_app":
        expires = adapter.app_webhook_expiry(hook.hook_id)
        return Observation(gone=True) if expires is None else Observation(expires_at=expires)
    if hook.kind == "jira_admin":
        raw = adapter.admin_webhook(hook.hook_id)
        if raw is None:
            return Observation(gone=True)
        if raw.get("enabled") is False:
            return Observation(trouble="Jira shows the webhook as disabled", repair=Repair.REREGISTER)
        return Observation()
    raw = adapter.webhook_info(hook.hook_id)
    if raw is None:
        return Observation(gone=True)
    if hook.kind == "github":
        if raw.get("active") is False:
            return Observation(trouble="GitHub shows the hook as inactive", repair=Repair.REENABLE)
        last = raw.get("last_response") or {}
        if last.get("status") == "failed":
            code = last.get("code")
            return Observation(trouble=f"GitHub's last delivery failed (HTTP {code or 'no response'})")
        return Observation()
    status = raw.get("alert_status")
    if status in ("disabled", "temporarily_disabled"):
        until = raw.get("disabled_until")
        detail = f" until {until}" if until else ""
        return Observation(
            trouble=f"GitLab {status.replace('_', ' ')} the hook after failed deliveries{detail}",
            repair=Repair.REREGISTER,
        )
    return Observation()


def missed_change(
    adapter: TrackerAdapter, since: datetime, now: datetime, grace: timedelta
) -> datetime | None:
    """Step 2: the newest issue change in ``(since + grace, now - grace]``, from one listing request."""
    start = since + grace
    if start >= now - grace:
        return None
    newest: datetime | None = None
    for page in adapter.iter_issue_pages(since=start):
        for issue in page.items:
            if start < issue.updated_at <= now - grace and (newest is None or issue.updated_at > newest):
                newest = issue.updated_at
        break  # one request: a cheap probe, not a sync
    return newest


# ---- collaborators --------------------------------------------------------------------------------------


class HookAdapters(Protocol):
    def lease(self, tenant: str, connection: Connection) -> AbstractContextManager[TrackerAdapter]: ...


class ConnectionLookup(Protocol):
    def find(self, tenant: str, document_id: str) -> Connection | None: ...


class FallbackSyncs(Protocol):
    """``runtime.sync.SyncService``."""

    def start(self, tenant: str, connection_id: str, request: SyncRequest, *, triggered_by: str) -> Any: ...


class SigningSecrets(Protocol):
    def webhook_secrets(self, tenant: str, connection_id: str, *, fresh: bool = False) -> list[str]: ...

    def put_webhook_secret(
        self, tenant: str, connection_id: str, secret: SecretStr, *, new: bool
    ) -> None: ...


class AuditTrail(Protocol):
    def append(self, tenant: str, entry: Any) -> None: ...


class FailedReplay(Protocol):
    def replay(self, route: WebhookRoute, connection: Connection, delivery_id: str, body: str) -> str: ...


class IngestReplay:
    """Replays a delivery the tracker gave up on through the webhook Lambda's path (parse, claim the
    delivery id, enqueue): read from the tracker's authenticated API, it needs no signature."""

    def __init__(self, ingest: Any, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.ingest = ingest  # runtime.webhooks.ingest.WebhookIngest
        self.clock = clock

    def replay(self, route: WebhookRoute, connection: Connection, delivery_id: str, body: str) -> str:
        from trackbridge.runtime.webhooks.ingest import WebhookRequest

        adapter_class = type(self.ingest.adapter_for(connection))
        header = (adapter_class.webhook_delivery_headers or ("x-delivery-id",))[0].lower()
        request = WebhookRequest(route.provider, route.connection_id, {header: delivery_id}, body.encode())
        delivery = self.ingest.adapter_for(connection).parse_webhook(request.headers, request.raw_body)
        if delivery.kind is not DeliveryKind.CHANGES or not delivery.changes:
            return "ignored"
        answer = self.ingest.enqueue(route, request, delivery, self.clock())
        return str(answer.body.get("status"))


# ---- the run --------------------------------------------------------------------------------------------


@dataclass
class HookCheck:
    """What the run did for one connection (the CLI prints these)."""

    tenant: str
    connection_id: str
    provider: str
    status: str
    fallback: bool
    checked: bool = False
    actions: list[str] = field(default_factory=list)
    reason: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "connection_id": self.connection_id,
            "provider": self.provider,
            "status": self.status,
            "fallback": self.fallback,
            "checked": self.checked,
            "actions": list(self.actions),
            "reason": self.reason,
            "error": self.error,
        }


@dataclass
class LivenessReport:
    hooks: list[HookCheck] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "registered": len(self.hooks),
            "active": sum(1 for h in self.hooks if h.status == "active"),
            "inactive": sum(1 for h in self.hooks if h.status == "inactive"),
            "fallback": sum(1 for h in self.hooks if h.fallback),
            "errors": sum(1 for h in self.hooks if h.error),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts(), "hooks": [h.as_dict() for h in self.hooks]}


class WebhookLiveness:
    """Checks, repairs and falls back (module docstring); :meth:`run` never raises for one connection."""

    def __init__(
        self,
        *,
        routes: WebhookRoutes,
        connections: ConnectionLookup,
        adapters: HookAdapters,
        syncs: FallbackSyncs,
        secrets: SigningSecrets,
        audit: AuditTrail,
        new_secret: Callable[[], SecretStr],
        replay: FailedReplay | None = None,
        settings: LivenessSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.routes = routes
        self.connections = connections
        self.adapters = adapters
        self.syncs = syncs
        self.secrets = secrets
        self.audit = audit
        self.new_secret = new_secret
        self.replay = replay
        self.settings = settings or LivenessSettings()
        self.clock = clock

    def run(self, *, force: bool = False) -> LivenessReport:
        """Every registered hook; ``force`` checks those not due yet too (``trackbridge maintenance run``)."""
        report = LivenessReport()
        for route in iter_registered(self.routes):
            report.hooks.append(self.check(route, force=force))
        logger.info("webhook.liveness", extra=report.counts())
        return report

    def check(self, route: WebhookRoute, *, force: bool = False) -> HookCheck:
        hook = route.hook
        assert hook is not None
        result = HookCheck(route.tenant, route.connection_id, route.provider, hook.status, hook.fallback)
        connection = self.connections.find(route.tenant, route.connection_id)
        if connection is None:
            result.error = "the connection is gone"
            return result
        now = self.clock()
        updated = hook
        try:
            if force or check_due(hook, now, self.settings.check_interval):
                with self.adapters.lease(route.tenant, connection) as adapter:
                    updated = self._check(adapter, route, connection, hook, now, result)
        except Exception as exc:
            result.error = _describe(exc)
            logger.warning(
                "webhook.check_failed",
                extra={"tenant": route.tenant, "connection_id": route.connection_id, "error": result.error},
            )
        if fallback_due(updated, now, self.settings.fallback_interval):
            updated = self._fallback_sync(route, updated, now, result)
        if updated != hook and not self.routes.save_hook(route.connection_id, hook.hook_id, updated):
            result.error = "the hook was unregistered or replaced during the check"
            return result
        result.status, result.fallback, result.reason = updated.status, updated.fallback, updated.reason
        return result

    # -- steps ----------------------------------------------------------------------------------------------

    def _check(
        self,
        adapter: TrackerAdapter,
        route: WebhookRoute,
        connection: Connection,
        hook: RegisteredHook,
        now: datetime,
        result: HookCheck,
    ) -> RegisteredHook:
        result.checked = True
        observation = provider_observation(adapter, hook)
        if observation.problem is None:
            baseline = max(d for d in (route.last_delivery_at, hook.registered_at) if d is not None)
            missed = missed_change(adapter, baseline, now, self.settings.delivery_grace)
            if missed is not None:
                observation = Observation(missed_change_at=missed, expires_at=observation.expires_at)
        verdict = judge(hook, observation, now)
        updated = verdict.hook
        extra = {"tenant": route.tenant, "connection_id": route.connection_id, "hook_id": hook.hook_id}
        if verdict.became_inactive:
            result.actions.append("marked_inactive")
            logger.warning("webhook.inactive", extra={**extra, "reason": updated.reason})
        if verdict.recovered:
            result.actions.append("recovered")
            logger.info("webhook.recovered", extra=extra)
        if verdict.repair is not Repair.NONE:
            updated = self._repair(adapter, route, connection, updated, verdict.repair, now, result)
        if updated.kind == "jira_app" and not observation.gone:
            updated = self._keep_alive(adapter, updated, now, result)
            updated = self._replay_failed(adapter, route, connection, updated, result)
        return updated

    def _repair(
        self,
        adapter: TrackerAdapter,
        route: WebhookRoute,
        connection: Connection,
        hook: RegisteredHook,
        repair: Repair,
        now: datetime,
        result: HookCheck,
    ) -> RegisteredHook:
        extra = {"tenant": route.tenant, "connection_id": route.connection_id, "hook_id": hook.hook_id}
        try:
            if repair is Repair.REENABLE:
                enable: Any = getattr(adapter, "enable_webhook")  # noqa: B009 - GitHub's adapter only
                enable(hook.hook_id)
                repaired = hook.but(repaired_at=now, reason=f"{hook.reason}; re-enabled it")
                result.actions.append("reenabled")
            else:
                # The old hook goes first: GitHub refuses a second hook with the same URL.
                remove_hook(adapter, hook.kind, hook.hook_id)
                created = create_hook(adapter, hook.kind, hook.url, self._secret(route, hook))
                repaired = hook.but(
                    hook_id=created.id,
                    registered_at=now,
                    repaired_at=now,
                    reason=f"{hook.reason}; re-registered it as hook {created.id}",
                )
                result.actions.append("reregistered")
        except Exception as exc:
            logger.warning("webhook.repair_failed", extra={**extra, "error": _describe(exc)})
            result.actions.append("repair_failed")
            return hook.but(reason=f"{hook.reason}; the repair failed: {_describe(exc)}")
        logger.info("webhook.repaired", extra={**extra, "new_hook_id": repaired.hook_id, "how": str(repair)})
        self.audit.append(
            route.tenant,
            new_entry(
                action="webhook.repair",
                target=route.connection_id,
                actor=MAINTENANCE_ACTOR,
                at=now,
                changes={"hook_id": FieldChange(old=hook.hook_id, new=repaired.hook_id)},
            ),
        )
        return repaired

    def _secret(self, route: WebhookRoute, hook: RegisteredHook) -> str | None:
        """The secret a re-registered hook signs with: the newest one kept (no rotation needed)."""
        if hook.kind == "jira_app":
            return None
        kept = self.secrets.webhook_secrets(route.tenant, route.connection_id, fresh=True)
        if kept:
            return kept[0]
        secret = self.new_secret()
        self.secrets.put_webhook_secret(route.tenant, route.connection_id, secret, new=False)
        return secret.get_secret_value()

    def _keep_alive(
        self, adapter: Any, hook: RegisteredHook, now: datetime, result: HookCheck
    ) -> RegisteredHook:
        if hook.expires_at is not None and hook.expires_at - now > self.settings.jira_refresh_before:
            return hook
        expires = adapter.refresh_app_webhook(hook.hook_id)
        result.actions.append("refreshed")
        logger.info(
            "webhook.refreshed",
            extra={"hook_id": hook.hook_id, "expires_at": to_iso(expires) if expires else None},
        )
        return hook.but(expires_at=expires or hook.expires_at)

    def _replay_failed(
        self,
        adapter: Any,
        route: WebhookRoute,
        connection: Connection,
        hook: RegisteredHook,
        result: HookCheck,
    ) -> RegisteredHook:
        if self.replay is None:
            return hook
        after = (
            hook.failed_after if hook.failed_after is not None else int(hook.registered_at.timestamp() * 1000)
        )
        replayed = 0
        for failed in adapter.failed_app_webhooks(after=after):
            after = max(after, failed.failure_time_ms)
            if not _matches(failed.body, hook.hook_id):
                continue  # another hook of the same app (another connection on this site)
            self.replay.replay(route, connection, failed.id, failed.body)
            replayed += 1
        if replayed:
            result.actions.append(f"replayed:{replayed}")
            logger.info("webhook.replayed", extra={"connection_id": route.connection_id, "count": replayed})
        return hook.but(failed_after=after)

    def _fallback_sync(
        self, route: WebhookRoute, hook: RegisteredHook, now: datetime, result: HookCheck
    ) -> RegisteredHook:
        try:
            self.syncs.start(
                route.tenant,
                route.connection_id,
                SyncRequest(mode="incremental"),
                triggered_by=FALLBACK_TRIGGER,
            )
            result.actions.append("fallback_sync")
        except Conflict:
            result.actions.append("fallback_sync_running")  # a sync already running covers it
        except Exception as exc:
            result.error = _describe(exc)
            logger.warning(
                "webhook.fallback_failed", extra={"connection_id": route.connection_id, "error": result.error}
            )
            return hook
        return hook.but(fallback_synced_at=now)


def _matches(body: str, hook_id: str) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    ids = payload.get("matchedWebhookIds") if isinstance(payload, dict) else None
    return not isinstance(ids, list) or any(str(i) == hook_id for i in ids)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TrackbridgeError):
        return f"{exc.code}: {exc.message}"[:300]
    return type(exc).__name__


__all__ = [
    "FALLBACK_TRIGGER",
    "FailedReplay",
    "HookCheck",
    "IngestReplay",
    "LivenessReport",
    "LivenessSettings",
    "Observation",
    "Repair",
    "Verdict",
    "WebhookLiveness",
    "check_due",
    "fallback_due",
    "judge",
    "missed_change",
    "provider_observation",
]
