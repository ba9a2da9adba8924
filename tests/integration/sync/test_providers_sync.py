"""GitLab and Jira through the engine: full, incremental with changes, deletion sweep, request economy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox
from tests.integration.sync.conftest import PROVIDER_COMMENTS, PROVIDER_ISSUES, Provider
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime.verify import VerifyReport

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

ISSUES = PROVIDER_ISSUES
COMMENTS = PROVIDER_COMMENTS


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
