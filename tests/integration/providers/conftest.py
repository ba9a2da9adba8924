"""Sandbox trackers for the adapter contract suite: one started sandbox per provider per test process.

The contract runs for every provider that has both an adapter (``trackbridge.providers.registry``) and a
sandbox (``infra.local.trackers``): GitLab and Jira join by themselves once their sandboxes are
registered. Each test gets its sandbox freshly reset (data, hooks, faults, counters) and an adapter
whose sleep is recorded, never slept, so rate-limit waits cost no time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.registry import PROVIDERS, create_adapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

CONTRACT_PROVIDERS = sorted(set(PROVIDERS) & set(SANDBOXES))
CONNECTION_ID = "conn_contractcontractcont"
SEED_ISSUES = 120
COMMENTS_PER_ISSUE = 2
# Short enough that a delayed sandbox answer times out fast, long enough for a loaded CI machine.
REQUEST_TIMEOUT_S = 0.5
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


@dataclass
class HookReceiver:
    """A loopback endpoint that records the exact bytes and headers of each webhook delivery."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            raise AssertionError(f"expected {count} deliveries, got {len(self.received)}")


@pytest.fixture(scope="session")
def _hook_server() -> Iterator[HookReceiver]:
    receiver = HookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hooks(_hook_server: HookReceiver) -> HookReceiver:
    with _hook_server.lock:
        _hook_server.received.clear()
    return _hook_server
