"""Fixtures of the sync integration tests: moto, the three sandboxes, a connection per test, a harness.

Every test gets a fresh tenant (so DynamoDB state never leaks between tests) and a freshly reset sandbox.
Each sandbox's loopback host:port is allowlisted in the outbound policy while it runs (``egress_allowed``).
The sandboxes and moto are started once per process; the tests share one xdist group so that process is
the only one paying for them. :class:`Provider` lets one test body drive any registered tracker
(``infra.local.trackers.SANDBOXES``) through what its sandbox declares, never by its name.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, cast

import pytest

from infra.definition import ENV
from infra.local.provision import table_request
from infra.local.trackers import SANDBOXES
from infra.local.trackers.core import SandboxTracker
from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox
from tests.integration.sync.support import Harness, adapter_for, build_harness
from tests.support.sandboxes import egress_allowed, fresh
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.providers.base import TrackerAdapter
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport, verify_connection

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

SYNC_ISSUES = 150
SYNC_COMMENTS = 2
# GitLab and Jira sandboxes: smaller, since a first sync asks each GitLab issue's notes once.
PROVIDER_ISSUES = 60
PROVIDER_COMMENTS = 2


@pytest.fixture(scope="session")
def github_sync_sandbox() -> Iterator[GitHubSandbox]:
    with (
        GitHubSandbox(seed="sync", issues=SYNC_ISSUES, comments_per_issue=SYNC_COMMENTS) as tracker,
        egress_allowed(tracker.url),
    ):
        yield tracker


@pytest.fixture(scope="session")
def small_sandboxes() -> Iterator[dict[str, SandboxTracker[Any]]]:
    """Every registered sandbox at the same small size, started once per process, egress allowed."""
    with ExitStack() as stack:
        started: dict[str, SandboxTracker[Any]] = {}
        for name, sandbox_class in SANDBOXES.items():
            tracker = stack.enter_context(
                sandbox_class(seed="sync", issues=PROVIDER_ISSUES, comments_per_issue=PROVIDER_COMMENTS)
            )
            stack.enter_context(egress_allowed(*tracker.urls()))
            started[name] = tracker
        yield started


@pytest.fixture(scope="session")
def gitlab_sandbox(small_sandboxes: dict[str, SandboxTracker[Any]]) -> GitLabSandbox:
    return cast(GitLabSandbox, small_sandboxes["gitlab"])


@pytest.fixture(scope="session")
def jira_sandbox(small_sandboxes: dict[str, SandboxTracker[Any]]) -> JiraSandbox:
    return cast(JiraSandbox, small_sandboxes["jira"])


class Provider:
    """How a test talks to one sandbox: its connection and its mutations, in one vocabulary.

    Every verb is the sandbox's own declaration (``infra.local.trackers.core.SandboxTracker``), so this
    class knows no tracker by name; ``name`` is only the registry key tests are parametrized with.
    """

    def __init__(self, name: str, tracker: SandboxTracker[Any]) -> None:
        self.name, self.tracker = name, tracker

    def connection(self, tenant: str) -> Connection:
        return create_connection(tenant, **connection_fields(self.tracker))

    def ident(self, n: int | str) -> dict[str, Any]:
        """The mutation keyword naming issue ``n`` (a number, a Jira key, or trackbridge's ``#n`` key)."""
        return self.tracker.issue_ref(n)

    def update(self, n: int | str, title: str) -> None:
        self.tracker.retitle_issue(n, title)

    def comment(self, n: int | str, body: str) -> str:
        """Adds a comment; returns its id."""
        return self.tracker.comment_on_issue(n, body)

    def delete_comment(self, comment_id: str) -> None:
        self.tracker.remove_comment(comment_id)

    def create(self, title: str) -> int | str:
        """Creates an open issue; returns what :meth:`ident` takes (number, iid or key)."""
        return self.tracker.open_issue(title)

    def close(self, n: int | str) -> None:
        self.tracker.close_issue(n)

    def delete(self, n: int | str) -> None:
        self.tracker.remove_issue(n)


@pytest.fixture(params=list(SANDBOXES))
def small_provider(
    request: pytest.FixtureRequest, small_sandboxes: dict[str, SandboxTracker[Any]]
) -> Provider:
    """Each registered sandbox, fresh and at the same small size."""
    return Provider(request.param, fresh(small_sandboxes[request.param]))


@pytest.fixture
def github_tracker(github_sync_sandbox: GitHubSandbox) -> GitHubSandbox:
    return fresh(github_sync_sandbox)


@pytest.fixture(scope="module")
def sync_table(local_resources: LocalResources) -> Iterator[LocalResources]:
    """A DynamoDB table of this test module's own, the process environment pointing at it meanwhile.

    moto deep-copies a whole table for every transaction (once per operation in it), and each sync starts
    and finishes with one: on the session's shared table, filled by every test before, a start took over
    10 s on a loaded machine, past the client's read timeout, and the retry raced moto's own copy.
    """
    stage = f"sync{uuid.uuid4().hex[:8]}"
    dynamodb = local_resources.client("dynamodb")
    name = dynamodb.create_table(**table_request(stage))["TableDescription"]["TableName"]
    previous = os.environ[ENV.table]
    os.environ[ENV.table] = name
    container.reset()
    try:
        yield dataclasses.replace(local_resources, table_name=name)
    finally:
        os.environ[ENV.table] = previous
        container.reset()
        dynamodb.delete_table(TableName=name)


@pytest.fixture
def aws(sync_table: LocalResources) -> LocalResources:
    container.reset()
    return sync_table


@pytest.fixture
def tenant() -> str:
    return f"sync-{uuid.uuid4().hex[:12]}"


def connection_fields(tracker: SandboxTracker[Any]) -> dict[str, Any]:
    """``create_connection``'s keywords for ``tracker``'s seeded project, as the sandbox declares them."""
    request = tracker.connection_request()
    return {key: request[key] for key in ("provider", "base_url", "scope", "credentials")}


def create_connection(
    tenant: str, provider: str, base_url: str, scope: dict[str, str], credentials: dict[str, str]
) -> Connection:
    body = ConnectionCreate.model_validate(
        {
            "name": f"{provider} sandbox",
            "provider": provider,
            "base_url": base_url,
            "scope": scope,
            "credentials": credentials,
        }
    )
    return container.connection_service().create(tenant, body, Actor(id="tests"))


@pytest.fixture
def github_connection(aws: LocalResources, tenant: str, github_tracker: GitHubSandbox) -> Connection:
    return create_connection(tenant, **connection_fields(github_tracker))


@pytest.fixture
def harness_factory(aws: LocalResources) -> Callable[..., Harness]:
    def make(**kwargs: Any) -> Harness:
        return build_harness(container.table(), container.connection_secrets(), **kwargs)

    return make


@pytest.fixture
def verify(aws: LocalResources, tenant: str) -> Callable[..., VerifyReport]:
    """``verify(connection, include_closed=..., strict=...)``: the differential checker for this tenant."""

    def check(connection: Connection, **options: bool) -> VerifyReport:
        credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
        adapter: TrackerAdapter = adapter_for(connection, credentials)
        with adapter:
            return verify_connection(container.table(), tenant, connection.id, adapter, **options)

    return check
