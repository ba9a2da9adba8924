"""GitHub issue types, sub-issues and blockers through the engine: stored on the issue by a full sync at
one extra request per issue that has children or blockers (none for the others), and kept current by
incremental syncs (a sub-issue added or a blocker removed at the tracker shows on both issues)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from infra.local.trackers.github import GitHubSandbox
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Issue
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


def _sync(harness: Harness, tenant: str, connection: Connection, mode: str) -> None:
    op = harness.service.start(tenant, connection.id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
    harness.drain()
    assert harness.service.get(tenant, op.id).status == "Completed"


def _stored(tenant: str, connection: Connection) -> dict[str, Issue]:
    items = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000).items
    return {issue.key: issue for issue in items}


def test_relations_are_stored_at_their_request_cost_and_follow_the_tracker(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    harness = harness_factory()
    state = github_tracker.state
    live = [issue for issue in state.issues if issue is not None]
    parents = [i.number for i in live if i.sub_issues]
    blocked = [i.number for i in live if i.blocked_by]
    assert parents, "the seed holds parents"
    assert blocked, "the seed holds blocked issues"

    github_tracker.reset_requests()
    _sync(harness, tenant, github_connection, "full")
    counts = github_tracker.requests()["by_route"]
    # The issue listing's pages, and one listing per issue with children or blockers: no other request.
    assert sum(n for route, n in counts.items() if route.endswith("/sub_issues")) == len(parents), counts
    assert sum(n for route, n in counts.items() if "/dependencies/" in route) == len(blocked), counts
    # Nothing else per issue: the listings (the full pass and its catch-up) and the comment listing only.
    repo = "GET /repos/{owner}/{repo}/issues"
    assert set(counts) == {
        repo,
        f"{repo}/comments",
        f"{repo}/{{issue_number}}/sub_issues",
        f"{repo}/{{issue_number}}/dependencies/blocked_by",
    }, counts
    assert counts[repo] <= math.ceil(len(live) / 100) + 1, counts

    stored = _stored(tenant, github_connection)
    ref = f"{github_connection.id}.{{}}".format
    # Seeded: #122 is the parent of #123 and #124, #125 is blocked by #121.
    assert stored["#122"].sub_issue_refs == [ref(123), ref(124)]
    assert stored["#123"].parent_ref == stored["#124"].parent_ref == ref(122)
    assert stored["#125"].blocked_by_refs == [ref(121)]
    assert stored["#1"].issue_type == state.issue(1).issue_type == "Bug"  # type: ignore[union-attr]
    assert {stored[f"#{i.number}"].issue_type for i in live if not i.pull} == {"Bug", "Feature", "Task"}
    assert (stored["#1"].parent_ref, stored["#1"].sub_issue_refs, stored["#1"].blocked_by_refs) == (
        None,
        [],
        [],
    )

    # At the tracker: #9 becomes a sub-issue of #8, and #125 is no longer blocked by #121.
    github_tracker.mutate("sub_issue", number=8, child=9)
    github_tracker.mutate("block", number=125, blocker=121, remove=True)
    _sync(harness, tenant, github_connection, "incremental")
    stored = _stored(tenant, github_connection)
    assert stored["#8"].sub_issue_refs == [ref(9)]
    assert stored["#9"].parent_ref == ref(8)
    assert stored["#125"].blocked_by_refs == []
    assert verify(github_connection).ok

    # A sub-issue moved to another parent leaves the first one.
    github_tracker.mutate("sub_issue", number=122, child=9)
    _sync(harness, tenant, github_connection, "incremental")
    stored = _stored(tenant, github_connection)
    assert stored["#8"].sub_issue_refs == []
    assert stored["#122"].sub_issue_refs == [ref(123), ref(124), ref(9)]
    assert stored["#9"].parent_ref == ref(122)
