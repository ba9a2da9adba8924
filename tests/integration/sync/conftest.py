"""Fixtures of the sync integration tests: moto, the three sandboxes, a connection per test, a harness.

Every test gets a fresh tenant (so DynamoDB state never leaks between tests) and a freshly reset sandbox.
Each sandbox's loopback host:port is allowlisted in the outbound policy while it runs (``egress_allowed``).
The sandboxes and moto are started once per process; the tests share one xdist group so that process is
the only one paying for them. :class:`Provider` lets one test body drive any of the three trackers.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from infra.definition import ENV
from infra.local.provision import table_request
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
def gitlab_sandbox() -> Iterator[GitLabSandbox]:
    with (
        GitLabSandbox(seed="sync", issues=PROVIDER_ISSUES, comments_per_issue=PROVIDER_COMMENTS) as tracker,
        egress_allowed(tracker.url),
    ):
        yield tracker


@pytest.fixture(scope="session")
def jira_sandbox() -> Iterator[JiraSandbox]:
    with (
        JiraSandbox(seed="sync", issues=PROVIDER_ISSUES, comments_per_issue=PROVIDER_COMMENTS) as tracker,
        egress_allowed(tracker.url, tracker.oauth_url),
    ):
        yield tracker


class Provider:
    """How a test talks to one sandbox: its connection and its mutations, in one vocabulary."""

    def __init__(self, name: str, tracker: Any) -> None:
        self.name, self.tracker = name, tracker

    def connection(self, tenant: str) -> Connection:
        t = self.tracker
        if self.name == "github":
            return create_connection(tenant, "github", t.url, {"repo": t.state.full_name}, {"token": t.token})
        if self.name == "gitlab":
            return create_connection(
                tenant, "gitlab", t.url, {"project": t.state.full_path}, {"token": t.token}
            )
        project = t.describe()["project"]
        return create_connection(
            tenant, "jira", t.url, {"project": project}, {"email": t.email, "api_token": t.token}
        )

    def ident(self, n: int | str) -> dict[str, Any]:
        if self.name == "github":
            return {"number": int(n)}
        if self.name == "gitlab":
            return {"iid": int(n)}
        return {"key": n if isinstance(n, str) else f"{self.tracker.describe()['project']}-{n}"}

    def update(self, n: int | str, title: str) -> None:
        field = "summary" if self.name == "jira" else "title"
        self.tracker.mutate("update", **self.ident(n), fields={field: title})

    def comment(self, n: int | str, body: str) -> str:
        """Adds a comment; returns its id."""
        return str(self.tracker.mutate("comment", **self.ident(n), body=body)["comment_id"])

    def delete_comment(self, comment_id: str) -> None:
        self.tracker.mutate("delete_comment", comment_id=int(comment_id))

    def create(self, title: str) -> int | str:
        """Creates an open issue; returns what :meth:`ident` takes (number, iid or key)."""
        field = "summary" if self.name == "jira" else "title"
        created = self.tracker.mutate("create", fields={field: title})
        return str(created["key"]) if self.name == "jira" else int(created["number"])

    def close(self, n: int | str) -> None:
        if self.name == "github":
            self.tracker.mutate("update", **self.ident(n), fields={"state": "closed"})
        elif self.name == "gitlab":
            self.tracker.mutate("update", **self.ident(n), fields={"state_event": "close"})
        else:
            self.tracker.mutate("transition", **self.ident(n), to="Done")

    def delete(self, n: int | str) -> None:
        self.tracker.mutate("delete", **self.ident(n))


@pytest.fixture(params=["github", "gitlab", "jira"])
def small_provider(
    request: pytest.FixtureRequest,
    github_tracker: GitHubSandbox,
    gitlab_sandbox: GitLabSandbox,
    jira_sandbox: JiraSandbox,
) -> Provider:
    """Each sandbox, fresh and at the same small size (the GitHub one re-seeded to the others' size)."""
    if request.param == "github":
        github_tracker.reset(issues=PROVIDER_ISSUES, comments_per_issue=PROVIDER_COMMENTS)
        return Provider("github", github_tracker)
    return Provider(request.param, fresh(gitlab_sandbox if request.param == "gitlab" else jira_sandbox))


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
def verify(aws: LocalResources, tenant: str) -> Callable[..., VerifyReport]:
    """``verify(connection, include_closed=..., strict=...)``: the differential checker for this tenant."""

    def check(connection: Connection, **options: bool) -> VerifyReport:
        credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
        adapter: TrackerAdapter = adapter_for(connection, credentials)
        with adapter:
            return verify_connection(container.table(), tenant, connection.id, adapter, **options)

    return check
