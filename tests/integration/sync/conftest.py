"""Fixtures of the sync integration tests: moto, a GitHub sandbox, a connection per test, a harness.

Every test gets a fresh tenant (so DynamoDB state never leaks between tests) and a freshly reset sandbox.
The sandbox and moto are started once per process; the tests share one xdist group so that process is the
only one paying for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from infra.local.trackers.github import GitHubSandbox
from tests.integration.sync.support import Harness, adapter_for, build_harness
from tests.support.sandboxes import fresh
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.providers.base import TrackerAdapter
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport, verify_connection

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

SYNC_ISSUES = 150
SYNC_COMMENTS = 2


@pytest.fixture(scope="session")
def github_sync_sandbox() -> Iterator[GitHubSandbox]:
    with GitHubSandbox(seed="sync", issues=SYNC_ISSUES, comments_per_issue=SYNC_COMMENTS) as tracker:
        yield tracker


@pytest.fixture
def github_tracker(github_sync_sandbox: GitHubSandbox) -> GitHubSandbox:
    return fresh(github_sync_sandbox)


@pytest.fixture
def aws(local_resources: LocalResources) -> LocalResources:
    container.reset()
    return local_resources


@pytest.fixture
def tenant() -> str:
    return f"sync-{uuid.uuid4().hex[:12]}"


def create_connection(
    tenant: str, provider: str, url: str, scope: dict[str, str], credentials: dict[str, str]
) -> Connection:
    body = ConnectionCreate.model_validate(
        {
            "name": f"{provider} sandbox",
            "provider": provider,
            "base_url": url,
            "scope": scope,
            "credentials": credentials,
        }
    )
    return container.connection_service().create(tenant, body, Actor(id="tests"))


@pytest.fixture
def github_connection(aws: LocalResources, tenant: str, github_tracker: GitHubSandbox) -> Connection:
    return create_connection(
        tenant,
        "github",
        github_tracker.url,
        {"repo": github_tracker.state.full_name},
        {"token": github_tracker.token},
    )


@pytest.fixture
def harness_factory(aws: LocalResources) -> Callable[..., Harness]:
    def make(**kwargs: Any) -> Harness:
        return build_harness(container.table(), container.connection_secrets(), **kwargs)

    return make


@pytest.fixture
def verify(aws: LocalResources, tenant: str) -> Callable[[Connection], VerifyReport]:
    def check(connection: Connection) -> VerifyReport:
        credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
        adapter: TrackerAdapter = adapter_for(connection, credentials)
        with adapter:
            return verify_connection(container.table(), tenant, connection.id, adapter)

    return check
