"""Sandbox trackers for the adapter contract suite: one started sandbox per provider per test process.

The contract runs for every tracker in the sandbox registry (``infra.local.trackers.SANDBOXES``): a
registered sandbox without an adapter fails here, and a test elsewhere holds the tracker declarations, the
registry and :data:`CONTRACT_PROVIDERS` equal. Each test gets its sandbox freshly reset (data, hooks,
faults, counters) and an adapter whose sleep is recorded, never slept, so rate-limit waits cost no time,
and whose outbound policy allows exactly its sandbox's loopback host:port. The adapter is built from the
sandbox's own ``connection_request_for``, and :class:`Tracker` passes on what the sandbox declares for the
suite (``listing_route``, ``search_query``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from infra.local.trackers import SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.support.hooks import HookReceiver, serve_hooks
from tests.support.sandboxes import allowlist_for
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.registry import create_adapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

# The contract's params: every registered sandbox, in registry order.
CONTRACT_PROVIDERS: tuple[str, ...] = tuple(SANDBOXES)
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

    @property
    def listing_route(self) -> str:
        """Fault-rule route pattern of the issue listing a sync pages (the sandbox's declaration)."""
        return self.sandbox.listing_route

    def search_query(self, text: str) -> str:
        """A query in the tracker's own search language that finds ``text``."""
        return self.sandbox.search_query(text)


def build_adapter(name: str, info: dict[str, Any], **options: Any) -> TrackerAdapter:
    """An adapter for the seeded project of the sandbox ``info`` describes, built as its connection is."""
    request = SANDBOXES[name].connection_request_for(info)
    config = TrackerConfig(request["base_url"], request["scope"], CONNECTION_ID)
    credentials = request["credentials"]
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
