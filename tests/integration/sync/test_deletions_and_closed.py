"""Comment deletions and issues closed under ``include_closed=false``, for GitHub, GitLab and Jira.

A comment deleted on the tracker must become a tombstone: at the latest with the next full sync (every
provider), and already with an incremental pass wherever that pass re-reads the issue's complete comment
list (GitLab notes and Jira comments of a changed issue). GitHub's repo-wide ``since`` listing cannot show
a deletion, so there only the full sync (or, later, the webhook) catches it: asserted here as documented.

An issue that was open when synced and is then closed must not stay ``open`` in DynamoDB when the
connection leaves closed issues out: the incremental pass sees it closed and stores it so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.sync.conftest import Provider
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Issue
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import CommentRepository, IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


@pytest.fixture
def provider(small_provider: Provider) -> Provider:
    return small_provider


def _sync(
    harness: Harness, tenant: str, connection: Connection, mode: str, *, include_closed: bool | None = None
) -> SyncOperation:
    request = SyncRequest(mode=mode, include_closed=include_closed)  # type: ignore[arg-type]
    return harness.run(tenant, connection.id, request)


def _stored_issue(tenant: str, connection: Connection, ident: int | str) -> Issue:
    key = ident if isinstance(ident, str) else f"#{ident}"
    repo = IssueRepository(container.table())
    cursor: str | None = None
    for _ in range(100):
        page = repo.list_for_connection(tenant, connection.id, limit=100, cursor=cursor)
        for issue in page.items:
            if issue.key == key:
                return issue
        cursor = page.next_cursor
        if cursor is None:
            break
    raise AssertionError(f"issue {key} is not stored")


def _comment_deleted(tenant: str, issue: Issue, comment_id: str) -> bool:
    return CommentRepository(container.table()).get(tenant, issue.ref, comment_id).deleted_at is not None


def test_deleted_comments_become_tombstones(
    provider: Provider,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    connection = provider.connection(tenant)
    harness = harness_factory(page_size=50)
    n = provider.create("an issue whose comments go away")
    kept = provider.comment(n, "this one stays")
    early = provider.comment(n, "deleted before the incremental sync")
    late = provider.comment(n, "deleted before the full sync")
    _sync(harness, tenant, connection, "full")
    assert verify(connection, strict=True).ok
    issue = _stored_issue(tenant, connection, n)
    assert not _comment_deleted(tenant, issue, early)

    provider.delete_comment(early)
    if provider.name in ("gitlab", "redmine"):
        # Deleting a note (a Redmine journal) does not move the issue's updated_at: an incremental pass
        # only re-reads the notes of an issue that changed otherwise.
        provider.update(n, "changed after a note was deleted")
    incremental = _sync(harness, tenant, connection, "incremental")
    report = verify(connection)
    assert report.ok, report.to_dict()
    if provider.name in ("github", "linear"):
        # The repo-wide listing cannot show deletions: still live until a full sync (documented).
        assert not _comment_deleted(tenant, issue, early)
        assert f"comment {early}" in report.extra
    else:
        assert _comment_deleted(tenant, issue, early)
        assert incremental.results.deleted == 1
        assert not report.extra, report.to_dict()

    provider.delete_comment(late)  # nothing else changes: only a full sync can notice
    full = _sync(harness, tenant, connection, "full")
    assert _comment_deleted(tenant, issue, early)
    assert _comment_deleted(tenant, issue, late)
    assert not _comment_deleted(tenant, issue, kept)
    assert full.results.deleted == (2 if provider.name in ("github", "linear") else 1)
    report = verify(connection, strict=True)
    assert report.ok, report.to_dict()
    assert report.comments_checked >= 1

    # A second full sync has nothing left to delete and asks for nothing twice.
    again = _sync(harness, tenant, connection, "full")
    assert again.results.deleted == 0


def test_closed_issue_is_stored_closed_without_include_closed(
    provider: Provider,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    connection = provider.connection(tenant)
    harness = harness_factory(page_size=50)
    n = provider.create("open when synced, closed afterwards")
    _sync(harness, tenant, connection, "full", include_closed=False)
    assert _stored_issue(tenant, connection, n).status_category != "done"
    report = verify(connection, include_closed=False, strict=True)
    assert report.ok, report.to_dict()

    provider.close(n)
    # The checker sees the stored copy claiming "open" about a closed issue.
    stale = verify(connection, include_closed=False)
    assert not stale.ok
    assert any("stored as open" in s for s in stale.stale), stale.to_dict()

    _sync(harness, tenant, connection, "incremental", include_closed=False)
    assert _stored_issue(tenant, connection, n).status_category == "done"
    report = verify(connection, include_closed=False)
    assert report.ok, report.to_dict()
    # Closed issues that were never stored are still left out: the only closed copy is the one we held.
    stored = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000)
    done = [i.key for i in stored.items if i.status_category == "done"]
    assert done == [_stored_issue(tenant, connection, n).key]
