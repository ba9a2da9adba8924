"""Webhook liveness against the sandbox trackers on loopback, composed as the scheduler-maintenance function
composes it (``functions.scheduler_maintenance.build_liveness``) on moto.

A GitLab hook whose deliveries fail is disabled by GitLab after four failures; the check finds it disabled,
marks the connection's webhook inactive, starts a fallback sync (``triggered_by: webhook_fallback``) and
re-registers the hook with the secret already kept; once the new hook is healthy the webhook is active
again. A GitHub hook switched off at GitHub is switched back on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from functions.scheduler_maintenance import build_liveness
from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.support.hooks import HookReceiver, serve_hooks
from tests.support.sandboxes import egress_allowed
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import ConnectionCreate
from trackbridge.runtime import container
from trackbridge.runtime.api.webhooks import webhook_registrations
from trackbridge.runtime.webhooks.liveness import FALLBACK_TRIGGER
from trackbridge.storage.webhooks import WebhookRoute, WebhookRoutes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("webhook-liveness")]

ACTOR = Actor(id="tests")


@pytest.fixture(scope="module")
def sandboxes(stack: Any) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in ("github", "gitlab"):
            started[name] = SANDBOXES[name](seed="liveness", issues=3, comments_per_issue=0).start()
        with egress_allowed(*[url for sandbox in started.values() for url in sandbox.urls()]):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    with serve_hooks() as hooks:
        yield hooks


@pytest.fixture
def tenant() -> str:
    return f"live-{uuid.uuid4().hex[:12]}"


def base_of(receiver: HookReceiver) -> str:
    return receiver.url.rsplit("/", 1)[0]


def connect_and_register(tenant: str, tracker: SandboxTracker[Any], receiver: HookReceiver) -> str:
    tracker.reset()
    body = ConnectionCreate.model_validate(tracker.connection_request(name=f"{tracker.kind} liveness"))
    connection = container.connection_service().create(tenant, body, ACTOR)
    webhook_registrations().register(tenant, connection.id, ACTOR, api_base=base_of(receiver))
    return connection.id


def route_of(connection_id: str) -> WebhookRoute:
    route = WebhookRoutes(container.table()).lookup(connection_id)
    assert route is not None
    assert route.hook is not None
    return route


def at_tracker(tenant: str, connection_id: str, hook_id: str) -> dict[str, Any] | None:
    connection = container.connection_repository().get(tenant, connection_id)
    credentials = container.connection_secrets().credentials(tenant, connection_id) or {}
    with container.adapter_factory()(connection, credentials) as adapter:
        found: dict[str, Any] | None = adapter.webhook_info(hook_id)  # type: ignore[attr-defined]
        return found


def wait_until(condition: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the condition never held")


def test_a_gitlab_hook_disabled_by_failures_is_detected_re_registered_and_active_again(
    sandboxes: dict[str, SandboxTracker[Any]], receiver: HookReceiver, tenant: str
) -> None:
    # Given a registered GitLab hook whose endpoint fails every delivery
    tracker = sandboxes["gitlab"]
    receiver.status = 500
    cid = connect_and_register(tenant, tracker, receiver)
    old_id = route_of(cid).hook.hook_id  # type: ignore[union-attr]
    for n in range(4):
        tracker.open_issue(f"lost delivery {n}")
    assert tracker.wait_for_deliveries()
    assert len(receiver.wait_for(4)) >= 4
    disabled = at_tracker(tenant, cid, old_id)
    assert disabled is not None
    assert disabled["alert_status"] == "temporarily_disabled"

    # When the endpoint is fixed and the maintenance check runs
    receiver.clear()
    liveness = build_liveness()
    result = liveness.check(route_of(cid), force=True)

    # Then the webhook is inactive with GitLab's reason, on fallback, and re-registered
    assert result.error is None
    assert result.actions == ["marked_inactive", "reregistered", "fallback_sync"]
    assert (result.status, result.fallback) == ("inactive", True)
    hook = route_of(cid).hook
    assert hook is not None
    assert hook.hook_id != old_id
    assert hook.reason is not None
    assert hook.reason.startswith("GitLab temporarily disabled the hook after failed deliveries until ")
    assert hook.reason.endswith(f"; re-registered it as hook {hook.hook_id}")
    assert at_tracker(tenant, cid, old_id) is None
    renewed = at_tracker(tenant, cid, hook.hook_id)
    assert renewed is not None
    assert renewed["alert_status"] == "executable"
    (operation,) = container.sync_service().operations_of(tenant, cid).items
    assert (operation.mode, operation.triggered_by) == ("incremental", FALLBACK_TRIGGER)

    # And the new hook delivers with the secret kept (X-Gitlab-Token is the connection's newest secret)
    tracker.open_issue("delivered again")
    (delivery,) = receiver.wait_for(1)
    secret = container.connection_secrets().webhook_secrets(tenant, cid, fresh=True)[0]
    assert delivery.headers["X-Gitlab-Token"] == secret

    # When the next check finds the new hook healthy
    again = liveness.check(route_of(cid), force=True)

    # Then the webhook is active and the fallback is over
    assert (again.status, again.fallback, again.actions) == ("active", False, ["recovered"])
    view = webhook_registrations().view(tenant, cid)
    assert (view.status, view.fallback, view.reason) == ("active", False, None)


def test_a_github_hook_switched_off_is_switched_back_on(
    sandboxes: dict[str, SandboxTracker[Any]], receiver: HookReceiver, tenant: str
) -> None:
    tracker = sandboxes["github"]
    cid = connect_and_register(tenant, tracker, receiver)
    hook_id = route_of(cid).hook.hook_id  # type: ignore[union-attr]
    wait_until(lambda: len(receiver.received) >= 1)  # GitHub's ping
    connection = container.connection_repository().get(tenant, cid)
    credentials = container.connection_secrets().credentials(tenant, cid) or {}
    with container.adapter_factory()(connection, credentials) as adapter:
        adapter.send_json("PATCH", f"{adapter.repo_path}/hooks/{hook_id}", json={"active": False})  # type: ignore[attr-defined]

    result = build_liveness().check(route_of(cid), force=True)

    assert result.actions == ["marked_inactive", "reenabled", "fallback_sync"]
    assert at_tracker(tenant, cid, hook_id)["active"] is True  # type: ignore[index]
    assert route_of(cid).hook.reason == "GitHub shows the hook as inactive; re-enabled it"  # type: ignore[union-attr]
