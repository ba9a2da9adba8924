"""Issues deleted between full syncs: the deletion check tombstones them, at one id listing plus a GET each.

An incremental listing never shows a deleted issue, so after one the store still holds it and the strict
differential check fails. A ``deletions`` operation lists only the scope's issue ids and confirms each
stored issue missing from them with a direct GET: afterwards the strict check passes, and the tracker saw
exactly the id listing's pages and one GET. Scheduled runs append the same check once the last one is older
than the interval (``TB_DELETION_CHECK_INTERVAL_S``), measured on the engine's injected clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.sync.conftest import Provider
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Issue
from trackbridge.domain.sync import SyncMode, SyncOperation
from trackbridge.domain.sync_plan import ScheduledMessage, SyncRequest
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.registry import PROVIDERS
from trackbridge.runtime import container
from trackbridge.runtime.sync.deletion_check import ListsDeletions
from trackbridge.runtime.sync.handler import DEFAULT_DELETION_CHECK_INTERVAL
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.sync import SyncStateRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

PAGE_SIZE = 25
# The sandboxes' route templates: the id listing, and the direct GET that confirms a deletion.
ROUTES = {
    "github": ("GET /repos/{owner}/{repo}/issues", "GET /repos/{owner}/{repo}/issues/{issue_number}"),
    "gitlab": ("GET /api/v4/projects/{id}/issues", "GET /api/v4/projects/{id}/issues/{issue_iid}"),
    "jira": ("POST /rest/api/3/search/jql", "GET /rest/api/3/issue/{issueIdOrKey}"),
    "youtrack": ("GET /api/issues", "GET /api/issues/{issue_id}"),
    "redmine": ("GET /issues.json", "GET /issues/{issue_id}.json"),
    "azure_devops": (
        "POST /{org}/{project}/_apis/wit/wiql",
        "GET /{org}/{project}/_apis/wit/workitems/{number}",
    ),
    # Every GraphQL operation is the one route: the listing's pages and the GET are told apart by count.
    "linear": ("POST /graphql", "POST /graphql"),
}


# The removal feeds of trackers that have one (``ListsDeletions``), read once the connection was checked.
FEEDS = {"youtrack": "GET /api/activitiesPage"}


@pytest.fixture
def provider(small_provider: Provider) -> Provider:
    return small_provider


def _sync(harness: Harness, tenant: str, connection: Connection, mode: SyncMode) -> SyncOperation:
    return harness.run(tenant, connection.id, SyncRequest(mode=mode))


def _scheduled(harness: Harness, tenant: str, connection: Connection) -> SyncOperation:
    """What the connection's schedule does at a fire: the message on the queue, handled like SQS would."""
    harness.queue.send(ScheduledMessage(tenant=tenant, connection_id=connection.id))
    harness.drain(pages_per_slice=3)
    newest = harness.service.operations_of(tenant, connection.id, limit=1).items[0]
    assert newest.triggered_by == "schedule"
    assert newest.status == "Completed", (newest.results.errors, harness.outcomes)
    return newest


def _stored(tenant: str, connection: Connection, key: str) -> Issue:
    page = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000)
    found = [i for i in page.items if i.key == key]
    assert len(found) == 1, key
    return found[0]


def _key(ident: int | str) -> str:
    return ident if isinstance(ident, str) else f"#{ident}"


def _listing_pages(provider: Provider) -> int:
    """Pages the id listing takes, from the sandbox's own truth: GitHub lists pull requests with the issues
    (one number sequence), an adapter with an id-only listing its ``id_page_size`` a page (Jira's search
    5,000, Azure DevOps' WIQL 20,000), the others the adapter's page size."""
    state = provider.tracker.state
    live = state.live_issues()
    if provider.name == "jira":
        project = provider.tracker.describe()["project"]
        live = [i for i in live if state.projects[i.project_id].key == project]
        return math.ceil(len(live) / JiraAdapter.id_page_size)
    return math.ceil(len(live) / getattr(PROVIDERS[provider.name], "id_page_size", PAGE_SIZE))


def test_deletion_check_tombstones_what_incremental_cannot_see(
    provider: Provider,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    # Given a connection synced in full, strictly in step with its tracker; two issues of its own (a seeded
    # Jira issue may have sub-tasks, which its deletion would take along), one with a comment
    connection = provider.connection(tenant)
    harness = harness_factory(page_size=PAGE_SIZE)
    first, second = provider.create("deleted between full syncs"), provider.create("deleted later")
    provider.comment(first, "goes with its issue")
    _sync(harness, tenant, connection, "full")
    assert verify(connection, strict=True).ok
    victim = _stored(tenant, connection, _key(first))
    comments = CommentRepository(container.table()).list_for_issue(tenant, victim.ref, limit=100).items
    assert len(comments) == 1

    # When the issue is deleted at the tracker and an incremental sync runs
    provider.delete(first)
    incremental = _sync(harness, tenant, connection, "incremental")

    # Then the store still holds it: the strict check fails on exactly that item
    assert incremental.results.deleted == 0
    assert _stored(tenant, connection, victim.key).deleted_at is None
    stale = verify(connection, strict=True)
    assert not stale.ok
    assert f"issue {victim.key}" in stale.extra, stale.to_dict()

    # When the deletion check runs
    provider.tracker.reset_requests()
    check = _sync(harness, tenant, connection, "deletions")
    seen = provider.tracker.requests()

    # Then the issue and its comments are tombstoned and the strict check passes
    assert _stored(tenant, connection, victim.key).deleted_at is not None
    assert check.results.deleted == 2  # the issue and its comment
    assert (check.results.created, check.results.updated) == (0, 0)
    report = verify(connection, strict=True)
    assert report.ok, report.to_dict()
    # ...at the cost of the id listing's pages and one confirming GET, nothing else; a tracker with a removal
    # feed (YouTrack's activity stream) reads it instead: one page here, no listing, no GET
    if issubclass(PROVIDERS[provider.name], ListsDeletions):
        assert seen["by_route"] == {FEEDS[provider.name]: 1}, seen
        assert check.requests == seen["total"] == 1
    else:
        listing, confirm = ROUTES[provider.name]
        pages = _listing_pages(provider)
        assert seen["by_route"] == dict(Counter({listing: pages}) + Counter({confirm: 1})), seen
        assert seen["total"] == pages + 1
        assert check.requests == pages + 1
    # ...and the sync state records when the check ran
    state = SyncStateRepository(container.table()).find(tenant, connection.id, "issues")
    assert state is not None
    assert state.deletions_checked_at == check.started_at

    # When another issue goes and the schedule fires within the interval: incremental only
    provider.delete(second)
    quiet = _scheduled(harness, tenant, connection)
    assert not quiet.check_deletions
    assert _stored(tenant, connection, _key(second)).deleted_at is None
    # Once the interval has passed, the scheduled run ends with the check
    harness.clock.offset += DEFAULT_DELETION_CHECK_INTERVAL + timedelta(seconds=1)
    due = _scheduled(harness, tenant, connection)
    assert due.check_deletions
    assert _stored(tenant, connection, _key(second)).deleted_at is not None
    assert due.results.deleted == 1
    report = verify(connection, strict=True)
    assert report.ok, report.to_dict()
