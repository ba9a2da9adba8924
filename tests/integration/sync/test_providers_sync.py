"""GitLab and Jira through the engine: full, incremental with changes, deletion sweep, request economy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox
from tests.integration.sync.conftest import create_connection
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime.verify import VerifyReport

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

ISSUES = 60
COMMENTS = 2


@pytest.fixture(scope="module")
def gitlab_sandbox() -> Iterator[GitLabSandbox]:
    tracker = GitLabSandbox(seed="sync", issues=ISSUES, comments_per_issue=COMMENTS).start()
    try:
        yield tracker
    finally:
        tracker.stop()


@pytest.fixture(scope="module")
def jira_sandbox() -> Iterator[JiraSandbox]:
    tracker = JiraSandbox(seed="sync", issues=ISSUES, comments_per_issue=COMMENTS).start()
    try:
        yield tracker
    finally:
        tracker.stop()


class Provider:
    """How a test talks to one sandbox: its connection and its mutations, in one vocabulary."""

    def __init__(self, name: str, tracker: Any) -> None:
        self.name, self.tracker = name, tracker

    def connection(self, tenant: str) -> Connection:
        t = self.tracker
        if self.name == "gitlab":
            return create_connection(
                tenant, "gitlab", t.url, {"project": t.state.full_path}, {"token": t.token}
            )
        project = t.describe()["project"]
        return create_connection(
            tenant, "jira", t.url, {"project": project}, {"email": t.email, "api_token": t.token}
        )

    def ident(self, n: int) -> dict[str, Any]:
        if self.name == "gitlab":
            return {"iid": n}
        return {"key": f"{self.tracker.describe()['project']}-{n}"}

    def update(self, n: int, title: str) -> None:
        field = "title" if self.name == "gitlab" else "summary"
        self.tracker.mutate("update", **self.ident(n), fields={field: title})

    def comment(self, n: int, body: str) -> None:
        self.tracker.mutate("comment", **self.ident(n), body=body)

    def create(self, title: str) -> None:
        field = "title" if self.name == "gitlab" else "summary"
        self.tracker.mutate("create", fields={field: title})

    def delete(self, n: int) -> None:
        self.tracker.mutate("delete", **self.ident(n))


@pytest.fixture(params=["gitlab", "jira"])
def provider(
    request: pytest.FixtureRequest, gitlab_sandbox: GitLabSandbox, jira_sandbox: JiraSandbox
) -> Provider:
    tracker = gitlab_sandbox if request.param == "gitlab" else jira_sandbox
    tracker.reset()
    return Provider(request.param, tracker)


def _sync(harness: Harness, tenant: str, connection: Connection, mode: str) -> Any:
    op = harness.service.start(tenant, connection.id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
    harness.drain(pages_per_slice=2)
    final = harness.service.get(tenant, op.id)
    assert final.status == "Completed", (final.results.errors, harness.outcomes)
    return final


def test_full_incremental_and_sweep(
    provider: Provider,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    connection = provider.connection(tenant)
    harness = harness_factory(page_size=25)
    full = _sync(harness, tenant, connection, "full")
    assert full.results.created >= ISSUES
    report = verify(connection)
    assert report.ok, report.to_dict()
    assert report.issues_checked == ISSUES
    assert report.comments_checked == ISSUES * COMMENTS

    # Idle: no item is written again.
    idle = _sync(harness, tenant, connection, "incremental")
    assert (idle.results.created, idle.results.updated, idle.results.deleted) == (0, 0, 0)

    provider.update(2, "changed on the tracker")
    provider.comment(4, "a new comment")
    provider.create("created on the tracker")
    incremental = _sync(harness, tenant, connection, "incremental")
    assert incremental.results.updated >= 1
    assert incremental.results.created >= 2
    assert verify(connection).ok

    provider.delete(9)
    full = _sync(harness, tenant, connection, "full")
    assert full.results.deleted >= 1
    report = verify(connection)
    assert report.ok, report.to_dict()
    assert not report.extra, report.to_dict()
