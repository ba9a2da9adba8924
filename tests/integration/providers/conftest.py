"""Sandbox trackers for the adapter contract suite: one started sandbox per provider per test process.

The contract runs for every provider that has both an adapter (``trackbridge.providers.registry``) and a
sandbox (``infra.local.trackers``): GitLab and Jira join by themselves once their sandboxes are
registered. Each test gets its sandbox freshly reset (data, hooks, faults, counters) and an adapter
whose sleep is recorded, never slept, so rate-limit waits cost no time, and whose outbound policy allows
exactly its sandbox's loopback host:port.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.support.hooks import HookReceiver, serve_hooks
from tests.support.sandboxes import allowlist_for
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.registry import PROVIDERS, create_adapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

CONTRACT_PROVIDERS = sorted(set(PROVIDERS) & set(SANDBOXES))
CONNECTION_ID = "conn_contractcontractcont"
SEED_ISSUES = 120
COMMENTS_PER_ISSUE = 2
# Generous: a loopback sandbox answers in milliseconds, but on a loaded CI machine (load ~12 on 2 cores) an
# ordinary answer took over half a second, timed out and was retried, so request counts came out one high.
# Only the timeout fault cases use a short timeout (FAULT_TIMEOUT_S), with a sandbox delay well past it.
REQUEST_TIMEOUT_S = 30.0
# The adapter timeout of the timeout fault cases; their sandbox delay is TIMEOUT_FAULT_DELAY_S, so a delayed
# answer always times out (the client gives up before the sandbox even starts answering).
FAULT_TIMEOUT_S = 1.0
TIMEOUT_FAULT_DELAY_S = 2.0
# Where each credential key comes from in a sandbox's describe() entry.
CREDENTIAL_SOURCES = {"token": "token", "api_token": "token", "email": "email"}


@dataclass
class RecordedSleeps:
    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Tracker:
    """One provider under contract: its sandbox, a ready adapter, and what the adapter slept."""

    name: str
    sandbox: SandboxTracker[Any]
    adapter: TrackerAdapter
    sleeps: RecordedSleeps
    info: dict[str, Any]

    def new_adapter(self, **options: Any) -> TrackerAdapter:
        return build_adapter(self.name, self.info, **options)


def build_adapter(name: str, info: dict[str, Any], **options: Any) -> TrackerAdapter:
    cls = PROVIDERS[name]
    scope_key = next(k for k in cls.scope_keys if k in info)
    config = TrackerConfig(info["url"], {scope_key: info[scope_key]}, CONNECTION_ID)
    credentials = {key: info[CREDENTIAL_SOURCES[key]] for key in cls.auth_scheme.keys}
    options.setdefault("timeout", httpx.Timeout(REQUEST_TIMEOUT_S))
    options.setdefault("egress", allowlist_for(info["url"]))
    options.setdefault(
        "retry", RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_wait_s=30.0)
    )
    return create_adapter(name, config, credentials, **options)


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in CONTRACT_PROVIDERS:
            sandbox = SANDBOXES[name](
                seed="contract", issues=SEED_ISSUES, comments_per_issue=COMMENTS_PER_ISSUE
            )
            started[name] = sandbox.start()
        yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()


@pytest.fixture(params=CONTRACT_PROVIDERS)
def tracker(request: pytest.FixtureRequest, sandboxes: dict[str, SandboxTracker[Any]]) -> Iterator[Tracker]:
    name: str = request.param
    sandbox = sandboxes[name]
    sandbox.reset()
    sandbox.clear_faults()
    sandbox.reset_requests()
    info = sandbox.describe()
    sleeps = RecordedSleeps()
    adapter = build_adapter(name, info, sleep=sleeps)
    try:
        yield Tracker(name, sandbox, adapter, sleeps, info)
    finally:
        adapter.close()
        sandbox.clear_faults()


@pytest.fixture(scope="session")
def _hook_server() -> Iterator[HookReceiver]:
    with serve_hooks() as receiver:
        yield receiver


@pytest.fixture
def hooks(_hook_server: HookReceiver) -> HookReceiver:
    _hook_server.clear()
    return _hook_server
