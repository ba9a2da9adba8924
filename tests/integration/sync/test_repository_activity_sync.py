"""Repository activity through the engine (entity ``activity``), against the GitHub and GitLab sandboxes.

A full sync stores every commit, pull/merge request and release the sandbox seeded, and one languages
snapshot; an incremental sync with nothing new at the tracker costs the floor (four listing requests) and
writes nothing; new commits and a changed request are picked up by the next incremental sync, and only they
are written; a failing listing is retried and the sync still completes with the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.local.trackers.core import SandboxTracker
from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.gitlab._releases import seeded_releases
from tests.integration.sync.conftest import connection_fields, create_connection
from tests.integration.sync.support import Harness, assert_counters_add_up
from tests.support.sandboxes import fresh
from trackbridge.domain.activity import LANGUAGES_ID
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.sync.activity_syncers import ACTIVITY_FLOOR
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.activity import ActivityRepository, activity_pk
from trackbridge.storage.sync import SYNC_MARK
from trackbridge.storage.table import Item

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

ROUTES = {
    "github": ("/commits", "/pulls", "/releases", "/languages"),
    "gitlab": ("/repository/commits", "/merge_requests", "/releases", "/languages"),
}


def _sync(harness: Harness, tenant: str, connection: Connection, mode: str) -> SyncOperation:
    request = SyncRequest.model_validate({"mode": mode, "entities": ["activity"]})
    op = harness.service.start(tenant, connection.id, request, triggered_by="tests")
    harness.drain()
    done = harness.service.get(tenant, op.id)
    assert done.status == "Completed", done
    assert_counters_add_up(done)
    return done


def _stored(tenant: str, connection: Connection) -> dict[str, Item]:
    """Every stored activity item of the connection, by its sort key (one partition, bounded pages)."""
    table = container.table()
    found: dict[str, Item] = {}
    cursor: str | None = None
    for _ in range(100):
        items, cursor = table.query(partition=activity_pk(tenant, connection.id), limit=500, cursor=cursor)
        found.update({str(item["sk"]): item for item in items})
        if cursor is None:
            return found
    raise AssertionError("more activity pages than the test expects")


def _seeded(name: str, tracker: SandboxTracker[Any]) -> dict[str, int]:
    if name == "github":
        state = tracker.state  # type: ignore[attr-defined]
        pulls = [issue for issue in state.issues if issue is not None and issue.pull]
        return {"commit": len(state.commits), "request": len(pulls), "release": len(state.releases)}
    state = tracker.state  # type: ignore[attr-defined]
    return {
        "commit": len(state.commits),
        "request": len(state.merge_requests),
        "release": len(seeded_releases(state)),
    }


def _by_kind(stored: dict[str, Item]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for item in stored.values():
        kind = str(item["entity"]).removeprefix("activity_")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _verified(verify: Callable[..., VerifyReport], connection: Connection, stored: dict[str, Item]) -> None:
    """``trackbridge verify`` of the activity alone (the issues are not synced here): every record a full
    pass reads is stored once, as the tracker has it."""
    report = verify(connection, with_issues=False, with_activity=True, strict=True)
    assert report.by_entity() == {}, report.to_dict()
    assert report.ok
    assert report.activity_checked == len(stored)


def _activity_requests(name: str, tracker: SandboxTracker[Any]) -> dict[str, int]:
    by_route = tracker.requests()["by_route"]
    return {route: n for route, n in by_route.items() if route.endswith(ROUTES[name])}


@pytest.fixture(params=["github", "gitlab"])
def provider(
    request: pytest.FixtureRequest,
    github_sync_sandbox: GitHubSandbox,
    gitlab_sandbox: GitLabSandbox,
) -> tuple[str, SandboxTracker[Any]]:
    tracker: SandboxTracker[Any] = github_sync_sandbox if request.param == "github" else gitlab_sandbox
    return request.param, fresh(tracker)


def test_full_then_nothing_new_then_incremental(
    provider: tuple[str, SandboxTracker[Any]],
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    name, tracker = provider
    connection = create_connection(tenant, **connection_fields(tracker))
    harness = harness_factory()

    # Given a full sync: every seeded commit, request and release, and the languages, stored once
    full = _sync(harness, tenant, connection, "full")
    stored = _stored(tenant, connection)
    seeded = _seeded(name, tracker)
    assert _by_kind(stored) == {**seeded, "languages": 1}
    assert full.results.created == len(stored)
    assert full.results.updated == 0
    assert full.results.by_entity["activity"].created == len(stored)
    languages = next(item for item in stored.values() if item["id"] == LANGUAGES_ID)
    assert languages["shares"]
    assert abs(sum(languages["shares"].values()) - 100) < 0.1
    _verified(verify, connection, stored)

    # When an incremental sync runs with nothing new at the tracker
    tracker.reset_requests()
    idle = _sync(harness, tenant, connection, "incremental")

    # Then it costs the floor, one request per listing, and writes nothing
    assert idle.requests == ACTIVITY_FLOOR
    assert sorted(_activity_requests(name, tracker).values()) == [1] * ACTIVITY_FLOOR
    assert (idle.results.created, idle.results.updated, idle.results.failed) == (0, 0, 0)
    after = _stored(tenant, connection)
    assert {sk: item[SYNC_MARK] for sk, item in after.items()} == {
        sk: item[SYNC_MARK] for sk, item in stored.items()
    }

    # And a second full sync (no ETags in a full pass) re-reads everything and writes nothing either:
    # the languages snapshot keeps its stored time, so its hash says unchanged
    again = _sync(harness, tenant, connection, "full")
    assert (again.results.created, again.results.updated) == (0, 0)
    assert again.results.by_entity["activity"].unchanged == len(stored)
    assert _stored(tenant, connection)["LANGUAGES"] == languages

    # When two commits land and a request changes state
    for n in (1, 2):
        tracker.mutate("push", message=f"Tidy the importer, part {n}")
    if name == "github":
        number = min(i.number for i in tracker.state.issues if i is not None and i.pull and i.state == "open")  # type: ignore[attr-defined]
        tracker.mutate("update", number=number, fields={"state": "closed"})
        changed_sk = f"REQUEST#{number:010d}"
    else:
        tracker.mutate("merge_request", title="Speed up the importer", source_branch="7-faster-import")
        changed_sk = f"REQUEST#{len(tracker.state.merge_requests):010d}"  # type: ignore[attr-defined]
    incremental = _sync(harness, tenant, connection, "incremental")

    # Then only they are written, and verify finds every record as the tracker has it
    latest = _stored(tenant, connection)
    _verified(verify, connection, latest)
    assert _by_kind(latest)["commit"] == seeded["commit"] + 2
    assert incremental.results.by_entity["activity"].created == 2 + (name == "gitlab")
    assert incremental.results.by_entity["activity"].updated == (name == "github")
    assert changed_sk in latest
    if name == "github":
        assert latest[changed_sk]["state"] == "closed"
    else:
        assert latest[changed_sk]["state"] == "open"


def test_a_failing_listing_is_retried_and_the_sync_completes(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    # Given the releases listing answers 503 twice, then recovers
    harness = harness_factory()
    github_tracker.add_faults([{"route": "GET /repos/{owner}/{repo}/releases", "times": 2, "status": 503}])
    try:
        op = _sync(harness, tenant, github_connection, "full")
    finally:
        github_tracker.clear_faults()

    # Then the step was retried and every record is stored exactly once
    stored = _stored(tenant, github_connection)
    assert _by_kind(stored)["release"] == len(github_tracker.state.releases)
    assert op.results.by_entity["activity"].created == len(stored)
    assert op.results.failed == 0
    _verified(verify, github_connection, stored)


def test_verify_finds_a_lost_and_a_stale_activity_record(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    # Given a full sync, then one stored pull request lost and one stored release changed behind its back
    _sync(harness_factory(), tenant, github_connection, "full")
    table, repo = container.table(), ActivityRepository(container.table())
    request = repo.requests(tenant, github_connection.id)[0]
    release = repo.releases(tenant, github_connection.id)[0]
    table.delete(*repo.key(tenant, request))
    edited = release.model_copy(update={"name": "Edited behind the sync", "content_hash": ""})
    table.put(repo.item(tenant, edited))
    # Then verify reports exactly those two, under the activity entity, and fails
    report = verify(github_connection, with_issues=False, with_activity=True)
    assert (report.lost, report.stale) == ([f"activity {request.id}"], [f"activity {release.id}"])
    assert report.by_entity() == {
        "activity": {"lost": 1, "duplicated": 0, "stale": 1, "wrongly_deleted": 0, "extra": 0}
    }
    assert not report.ok


def test_a_connection_that_does_not_name_activity_does_not_sync_it(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
) -> None:
    # Activity is opt-in: the default entities never read the repository's activity listings
    harness = harness_factory()
    request = SyncRequest.model_validate({"mode": "full"})
    op = harness.service.start(tenant, github_connection.id, request, triggered_by="tests")
    harness.drain()
    assert harness.service.get(tenant, op.id).status == "Completed"
    assert _activity_requests("github", github_tracker) == {}
    assert _stored(tenant, github_connection) == {}
