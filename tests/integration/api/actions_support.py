"""The tracker-actions tests' world: moto, the local API Gateway over loopback HTTP, and three sandboxes.

Requests go the whole way a client's do: HTTP to :class:`~infra.local.apigw.LocalApiGateway`, which runs
the real authorizer and ``functions.api.handler`` on an API Gateway proxy event (base64 bodies included),
and the API talks HTTP to the sandbox trackers. Everything binds 127.0.0.1; the outbound policy allows
exactly the sandboxes' host:ports while the world runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

PROVIDER_NAMES = ("github", "gitlab", "jira")
SEED_ISSUES = 6


@dataclass
class World:
    gateway: LocalApiGateway
    sandboxes: dict[str, SandboxTracker[Any]]

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.gateway.url, headers=headers, timeout=30.0, trust_env=False)


@dataclass
class Tracker:
    """One provider under test: its sandbox and the connection the tenant made to it."""

    name: str
    sandbox: SandboxTracker[Any]
    connection_id: str

    @property
    def missing_key(self) -> str:
        """A well-formed key no issue has."""
        return f"{self.sandbox.describe()['project']}-99999" if self.name == "jira" else "99999"


def connection_body(name: str, sandbox: SandboxTracker[Any], *, token: str | None = None) -> dict[str, Any]:
    info = sandbox.describe()
    secret = token or info["token"]
    if name == "github":
        scope, credentials = {"repo": info["repo"]}, {"token": secret}
    elif name == "gitlab":
        scope, credentials = {"project": info["project"]}, {"token": secret}
    else:
        scope, credentials = {"project": info["project"]}, {"email": info["email"], "api_token": secret}
    return {
        "name": f"{name} sandbox",
        "provider": name,
        "base_url": info["url"],
        "scope": scope,
        "credentials": credentials,
    }


@contextmanager
def running_world(names: Sequence[str]) -> Iterator[World]:
    """The local gateway and a sandbox of each tracker in ``names``, their URLs allowed as egress."""
    container.reset()
    started: dict[str, SandboxTracker[Any]] = {}
    gateway = LocalApiGateway(LocalFunctions(), throttle_rate=10_000, throttle_burst=10_000)
    try:
        for name in names:
            started[name] = SANDBOXES[name](seed="actions", issues=SEED_ISSUES, comments_per_issue=1).start()
        gateway.start()
        urls = [str(u) for s in started.values() for k, u in s.describe().items() if k.endswith("url")]
        with egress_allowed(*urls):
            yield World(gateway, started)
    finally:
        gateway.stop()
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


@pytest.fixture(scope="module")
def world(local_resources: LocalResources) -> Iterator[World]:
    with running_world(PROVIDER_NAMES) as running:
        yield running


def declared_connection(world: World, http: httpx.Client, name: str) -> Tracker:
    """A fresh connection to ``name``'s reset sandbox, with the body the sandbox declares."""
    sandbox = fresh(world, name)
    answer = http.post("/v1/connections", json=sandbox.connection_request())
    assert answer.status_code == 201, answer.text
    return Tracker(name, sandbox, answer.json()["id"])


@pytest.fixture
def client(world: World, tenant: str) -> Iterator[httpx.Client]:
    with world.client(issue_api_key(tenant)) as http:
        yield http


def connect(world: World, http: httpx.Client, name: str, *, token: str | None = None) -> Tracker:
    sandbox = world.sandboxes[name]
    answer = http.post("/v1/connections", json=connection_body(name, sandbox, token=token))
    assert answer.status_code == 201, answer.text
    return Tracker(name, sandbox, answer.json()["id"])


def fresh(world: World, name: str) -> SandboxTracker[Any]:
    sandbox = world.sandboxes[name]
    sandbox.reset()
    sandbox.clear_faults()
    return sandbox


__all__ = [
    "PROVIDER_NAMES",
    "Tracker",
    "World",
    "client",
    "connect",
    "connection_body",
    "declared_connection",
    "fresh",
    "running_world",
    "world",
]
