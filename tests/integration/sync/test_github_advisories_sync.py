"""GitHub security advisories through the engine (entity ``advisories``): stored as issues of type Bug with
priority from severity, updated by the next incremental sync when an advisory changes, and never swept as
deleted issues by a full sync of the issues."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.local.trackers.github import GitHubSandbox
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Issue, is_advisory
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

PRIORITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}


def _sync(harness: Harness, tenant: str, connection: Connection, mode: str, *entities: str) -> str:
    request = SyncRequest.model_validate({"mode": mode, "entities": list(entities)})
    op = harness.service.start(tenant, connection.id, request, triggered_by="tests")
    harness.drain()
    done = harness.service.get(tenant, op.id)
    assert done.status == "Completed", done
    return op.id


def _advisories(tenant: str, connection: Connection) -> dict[str, Issue]:
    items = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000).items
    return {issue.key: issue for issue in items if is_advisory(issue)}


def _verified(verify: Callable[..., VerifyReport], connection: Connection, **options: bool) -> VerifyReport:
    """``trackbridge verify`` of the advisories (and of the issues when asked), strict."""
    report = verify(connection, with_advisories=True, strict=True, **({"with_issues": False} | options))
    assert report.by_entity() == {}, report.to_dict()
    assert report.ok
    return report


def test_advisories_are_synced_as_bugs_and_follow_their_changes(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    harness = harness_factory()
    seeded = {a.ghsa_id: a for a in github_tracker.state.advisories}
    github_tracker.reset_requests()
    op_id = _sync(harness, tenant, github_connection, "full", "advisories")
    op = harness.service.get(tenant, op_id)
    stored = _advisories(tenant, github_connection)
    assert sorted(stored) == sorted(seeded)
    assert op.results.created == len(seeded)
    for key, issue in stored.items():
        assert (issue.issue_type, issue.priority) == ("Bug", PRIORITY[seeded[key].severity])
        assert issue.status == seeded[key].state
    # The full pass and its catch-up: one listing request each, whatever the number of advisories.
    assert github_tracker.requests()["by_route"] == {"GET /repos/{owner}/{repo}/security-advisories": 2}
    assert _verified(verify, github_connection).advisories_checked == len(seeded)

    # An advisory escalated and closed at the tracker: the next incremental sync rewrites it, and only it.
    target = min(seeded.values(), key=lambda a: a.updated_at)
    github_tracker.mutate(
        "update_advisory", ghsa_id=target.ghsa_id, fields={"severity": "critical", "state": "closed"}
    )
    op = harness.service.get(tenant, _sync(harness, tenant, github_connection, "incremental", "advisories"))
    assert (op.results.updated, op.results.created) == (1, 0)
    changed = _advisories(tenant, github_connection)[target.ghsa_id]
    assert (changed.priority, changed.status, changed.status_category) == ("Critical", "closed", "done")
    _verified(verify, github_connection)

    # A full sync of the issues sweeps what its passes did not meet: never the advisories.
    op = harness.service.get(tenant, _sync(harness, tenant, github_connection, "full", "issues"))
    assert op.results.deleted == 0
    assert all(issue.deleted_at is None for issue in _advisories(tenant, github_connection).values())
    # And verify, with the issues, counts no advisory as an extra issue
    report = _verified(verify, github_connection, with_issues=True, with_comments=False)
    assert report.advisories_checked == len(seeded)
    assert report.issues_checked == github_tracker.issue_counts()[0]


def test_a_failing_advisory_listing_is_retried_then_verify_finds_them_all(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    route = "GET /repos/{owner}/{repo}/security-advisories"
    github_tracker.add_faults([{"route": route, "times": 2, "status": 503}])
    _sync(harness_factory(), tenant, github_connection, "full", "advisories")
    assert _verified(verify, github_connection).advisories_checked == len(github_tracker.state.advisories)


def test_verify_finds_a_lost_and_a_stale_advisory(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    _sync(harness_factory(), tenant, github_connection, "full", "advisories")
    lost, edited = sorted(_advisories(tenant, github_connection).values(), key=lambda i: i.key)[:2]
    # Given one stored advisory lost and one edited behind the sync's back
    table = container.table()
    table.delete(*IssueRepository.key(tenant, lost))
    table.put(IssueRepository.item(tenant, edited.model_copy(update={"title": "Edited"}).with_hash()))
    # Then verify reports exactly those, as advisories, and fails
    report = verify(github_connection, with_issues=False, with_advisories=True)
    assert (report.lost, report.stale) == ([f"advisory {lost.key}"], [f"advisory {edited.key}"])
    assert set(report.by_entity()) == {"advisory"}
    assert not report.ok
