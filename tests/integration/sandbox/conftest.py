"""Fixtures for the sandbox tracker tests.

``github_sandbox`` is one started GitHub sandbox per test process (seeding and starting once keeps the
suite fast); ``github`` hands it to a test freshly reset, so tests never see each other's writes, hooks,
faults or counters. ``hook_receiver`` is an independent webhook endpoint built on ``http.server`` (not on
the sandbox core) that records the exact bytes and headers of every delivery, so signature checks in the
tests verify what actually crossed the wire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox

# 120 issues: three pages of 50, so multi-page walks are exercised with small data.
SEED_ISSUES = 120


@pytest.fixture(scope="session")
def github_sandbox() -> Iterator[GitHubSandbox]:
    tracker = GitHubSandbox(seed="tests", issues=SEED_ISSUES, comments_per_issue=3).start()
    try:
        yield tracker
    finally:
        tracker.stop()


@pytest.fixture
def github(github_sandbox: GitHubSandbox) -> GitHubSandbox:
    github_sandbox.clock.unfreeze()
    github_sandbox.reset()
    return github_sandbox


@pytest.fixture
def github_http(github: GitHubSandbox) -> Iterator[httpx.Client]:
    headers = {
        "Authorization": f"Bearer {github.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(base_url=github.url, headers=headers, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def gitlab_sandbox() -> Iterator[GitLabSandbox]:
    tracker = GitLabSandbox(seed="tests", issues=SEED_ISSUES, comments_per_issue=3).start()
    try:
        yield tracker
    finally:
        tracker.stop()


@pytest.fixture
def gitlab(gitlab_sandbox: GitLabSandbox) -> GitLabSandbox:
    """The session's GitLab sandbox, freshly reset (data, hooks, faults, counters, real clock)."""
    gitlab_sandbox.clock.unfreeze()
    gitlab_sandbox.reset()
    return gitlab_sandbox


@pytest.fixture
def gitlab_http(gitlab: GitLabSandbox) -> Iterator[httpx.Client]:
    api, headers = f"{gitlab.url}/api/v4", {"PRIVATE-TOKEN": gitlab.token}
    with httpx.Client(base_url=api, headers=headers, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def jira_sandbox() -> Iterator[JiraSandbox]:
    tracker = JiraSandbox(seed="tests", issues=SEED_ISSUES, comments_per_issue=3, worklogs_per_issue=2)
    tracker.start()
    try:
        yield tracker
    finally:
        tracker.stop()


@pytest.fixture
def jira(jira_sandbox: JiraSandbox) -> JiraSandbox:
    """The session's Jira sandbox, freshly reset (data, hooks, OAuth grants, faults, counters, real clock)."""
    jira_sandbox.clock.unfreeze()
    jira_sandbox.reset()
    return jira_sandbox


@pytest.fixture
def jira_http(jira: JiraSandbox) -> Iterator[httpx.Client]:
    """Basic auth with the API user's e-mail and token, as a personal script calls Jira Cloud."""
    auth = (jira.email, jira.token)
    with httpx.Client(base_url=jira.url, auth=auth, timeout=10, trust_env=False) as client:
        yield client


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookReceiver:
    """A loopback webhook endpoint; ``status`` is what it answers, ``received`` what it got."""

    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
        self.status = 200

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Received]:
        """The first ``count`` deliveries; fails the test if they do not arrive in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            got = len(self.received)
        raise AssertionError(f"expected {count} webhook deliveries, got {got}")


@pytest.fixture(scope="session")
def _hook_server() -> Iterator[HookReceiver]:
    receiver = HookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hook_receiver(_hook_server: HookReceiver) -> HookReceiver:
    _hook_server.clear()
    return _hook_server
