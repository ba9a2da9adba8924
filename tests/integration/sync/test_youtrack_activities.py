"""YouTrack's deletion check reads the activity stream: removals tombstoned at the cost of its pages.

Once a connection has been checked (a full sync's sweep counts), a ``deletions`` operation on YouTrack reads
``/api/activitiesPage`` from that check's start minus the overlap, tombstones the issues and comments the
stream shows removed, and skips the id listing and the confirming GETs: the sandbox sees only the stream's
pages, and afterwards the strict differential check passes. The sandbox's stream itself is checked against
the developer portal's shape (``afterCursor``, ``hasAfter``, ``activities[]`` with ``category(id)``,
``target`` and ``removed``), and a removal the stream cannot place for sure is confirmed with a GET.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.conftest import Provider
from tests.integration.sync.support import Harness, adapter_for
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Issue
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.providers.youtrack import YouTrackAdapter
from trackbridge.runtime import container
from trackbridge.runtime.sync.deletion_check import ListsDeletions, removals
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.sync import SyncStateRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

PAGE_SIZE = 2  # small pages: the stream's few removals still cross pages (and the cursor)
STREAM = "GET /api/activitiesPage"
CATEGORIES = ("IssueCreatedCategory", "CommentsCategory")


@pytest.fixture
def provider(small_sandboxes: dict[str, SandboxTracker[Any]]) -> Provider:
    tracker = small_sandboxes["youtrack"]
    tracker.reset()
    return Provider("youtrack", tracker)


@pytest.fixture
def api(provider: Provider) -> Iterator[httpx.Client]:
    tracker: Any = provider.tracker
    headers = {"Authorization": f"Bearer {tracker.token}", "Accept": "application/json"}
    with httpx.Client(base_url=f"{tracker.url}/api", headers=headers, timeout=60.0) as client:
        yield client


def _stored(tenant: str, connection: Connection) -> dict[str, Issue]:
    page = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000)
    return {i.key: i for i in page.items}


def _stream_pages(provider: Provider, tenant: str, connection: Connection) -> int:
    """The pages the check reads, from the sandbox's own stream: the activities since the last check's
    start minus the adapter's overlap, ``PAGE_SIZE`` a page (an empty stream is still one page)."""
    state = SyncStateRepository(container.table()).find(tenant, connection.id, "issues")
    assert state is not None
    assert state.deletions_checked_at is not None
    start = (state.deletions_checked_at - YouTrackAdapter.incremental_overlap).timestamp() * 1000
    activities: list[Any] = provider.tracker.state.activities
    return max(1, math.ceil(sum(1 for a in activities if a.timestamp >= start) / PAGE_SIZE))


def test_deletion_check_reads_removals_from_the_activity_stream(
    provider: Provider,
    api: httpx.Client,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    # Given a connection synced in full: an issue with a comment, another issue with two comments
    connection = provider.connection(tenant)
    harness = harness_factory(page_size=PAGE_SIZE)
    doomed, kept = provider.create("deleted at the tracker"), provider.create("keeps one comment")
    provider.comment(doomed, "goes with its issue")
    removed_comment = provider.comment(kept, "deleted at the tracker")
    binned_comment = provider.comment(kept, "moved to the recycle bin")
    provider.comment(kept, "stays")
    harness.run(tenant, connection.id, SyncRequest(mode="full"))
    assert verify(connection, strict=True).ok
    doomed_key, kept_key = str(doomed), str(kept)

    # When, at the tracker, the issue is deleted, one comment deleted and one binned
    provider.delete(doomed)
    provider.delete_comment(removed_comment)
    binned = api.post(f"issues/{kept_key}/comments/{binned_comment}", json={"deleted": True})
    assert binned.status_code == 200, binned.text
    expected_pages = _stream_pages(provider, tenant, connection)
    provider.tracker.reset_requests()
    check = harness.run(tenant, connection.id, SyncRequest(mode="deletions"))
    seen = provider.tracker.requests()

    # Then all of it is tombstoned: the issue with its comment, and the two comments of the kept issue
    stored = _stored(tenant, connection)
    assert stored[doomed_key].deleted_at is not None
    assert stored[kept_key].deleted_at is None
    comments = CommentRepository(container.table()).list_for_issue(tenant, stored[kept_key].ref, limit=100)
    gone = {c.id for c in comments.items if c.deleted_at is not None}
    assert gone == {removed_comment, binned_comment}
    assert check.results.deleted == 4
    assert (check.results.created, check.results.updated) == (0, 0)
    # ...at the cost of the stream's pages: no id listing, no confirming GET
    assert expected_pages >= 2  # the cursor was followed
    assert seen["by_route"] == {STREAM: expected_pages}, seen
    assert check.requests == expected_pages
    # ...and the check is recorded, so the next one starts from it
    state = SyncStateRepository(container.table()).find(tenant, connection.id, "issues")
    assert state is not None
    assert state.deletions_checked_at == check.started_at

    # When the incremental sync brings the kept issue's new `updated` (its comments changed), the store is
    # strictly in step; the next check finds nothing more to tombstone
    harness.run(tenant, connection.id, SyncRequest(mode="incremental"))
    again = harness.run(tenant, connection.id, SyncRequest(mode="deletions"))
    assert again.results.deleted == 0
    report = verify(connection, strict=True)
    assert report.ok, report.to_dict()


def test_sandbox_stream_has_the_documented_shape(provider: Provider, api: httpx.Client) -> None:
    # Given an issue created, commented, its comment binned and restored, and the issue deleted
    created = provider.create("streamed")
    comment = provider.comment(created, "binned and back")
    for deleted in (True, False):
        api.post(f"issues/{created}/comments/{comment}", json={"deleted": deleted}).raise_for_status()
    provider.delete(created)
    fields = (
        "afterCursor,hasAfter,activities(id,timestamp,category(id),target(id,idReadable,issue(idReadable)),"
        "added(id),removed(id,idReadable))"
    )
    params = {"categories": ",".join(CATEGORIES), "fields": fields, "reverse": "false", "$top": 3}

    # When the stream is read page by page from its start
    pages, cursor = [], None
    for _ in range(10):
        page = api.get("activitiesPage", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        pages.append(page.json())
        cursor = pages[-1]["afterCursor"]
        if not pages[-1]["hasAfter"]:
            break

    # Then it holds the five events in order, three a page, with the cursor linking the pages
    assert [len(p["activities"]) for p in pages] == [3, 2]
    events = [a for p in pages for a in p["activities"]]
    assert [(a["category"]["id"], bool(a["added"]), bool(a["removed"])) for a in events] == [
        ("IssueCreatedCategory", True, False),
        ("CommentsCategory", True, False),
        ("CommentsCategory", False, True),
        ("CommentsCategory", True, False),
        ("IssueCreatedCategory", False, True),
    ]
    assert events[-1]["removed"][0]["idReadable"] == str(created)
    assert events[2]["target"]["id"] == comment
    assert events[2]["target"]["issue"]["idReadable"] == str(created)
    assert all(isinstance(a["timestamp"], int) for a in events)
    # Categories are required, as on YouTrack; a cursor the server did not issue is a 400
    assert api.get("activitiesPage", params={"fields": "hasAfter"}).status_code == 400
    assert api.get("activitiesPage", params={**params, "cursor": "not-ours"}).status_code == 400


def _adapter(tenant: str, connection: Connection) -> YouTrackAdapter:
    credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
    adapter = adapter_for(connection, credentials)
    assert isinstance(adapter, YouTrackAdapter)
    assert isinstance(adapter, ListsDeletions)
    return adapter


def test_adapter_reports_what_stays_removed(
    provider: Provider, api: httpx.Client, aws: Any, tenant: str
) -> None:
    # Given an issue deleted, and a comment of another issue binned and restored
    connection = provider.connection(tenant)
    doomed, kept = provider.create("deleted"), provider.create("its comment comes back")
    comment = provider.comment(kept, "binned and back")
    for deleted in (True, False):
        api.post(f"issues/{kept}/comments/{comment}", json={"deleted": deleted}).raise_for_status()
    provider.delete(doomed)

    # When the adapter reads the stream from the start, two activities a page
    with _adapter(tenant, connection) as adapter:
        adapter.page_size = PAGE_SIZE  # type: ignore[misc]
        provider.tracker.reset_requests()
        pages = list(adapter.iter_deleted(since=datetime.fromtimestamp(0, UTC)))
    activities = len(provider.tracker.state.activities)

    # Then it reports the deleted issue, certain (the stream names its project), and not the restored comment
    assert [item for page in pages for item in page.items] == [(str(doomed), None, True)]
    assert len(pages) == math.ceil(activities / PAGE_SIZE)
    assert provider.tracker.requests()["by_route"] == {STREAM: len(pages)}
    assert all(page.next_cursor is not None for page in pages[:-1])
    assert pages[-1].next_cursor is None


def test_uncertain_removal_is_confirmed_with_a_get(
    provider: Provider, aws: Any, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    # Given a stored issue and a removal that only the key's prefix ties to the project: once the tracker
    # still has the issue, once it does not
    connection = provider.connection(tenant)
    harness = harness_factory(page_size=PAGE_SIZE)
    alive, dead = provider.create("still there"), provider.create("really gone")
    harness.run(tenant, connection.id, SyncRequest(mode="full"))
    stored = _stored(tenant, connection)
    provider.delete(dead)
    reported = [(str(alive), None, False), (str(dead), None, False)]

    # When the reported removals are turned into tombstones
    comments = CommentRepository(container.table())
    with _adapter(tenant, connection) as adapter:
        provider.tracker.reset_requests()
        found = removals(
            adapter,
            reported,
            stored=stored,
            comment_of=lambda issue, cid: comments.get(tenant, issue.ref, cid),
            comments_of=lambda issue: list(comments.list_for_issue(tenant, issue.ref, limit=100).items),
            now=datetime.now(UTC),
        )

    # Then each was asked for, and only the one the tracker no longer has becomes a tombstone
    assert found.requests == 2
    assert provider.tracker.requests()["by_route"] == {"GET /api/issues/{issue_id}": 2}
    assert [(type(t).__name__, getattr(t, "key", None)) for t in found.tombstones] == [("Issue", str(dead))]
    assert all(t.deleted_at is not None for t in found.tombstones)
