"""Reading the synced copy: one issue with its comments, worklogs and links, and filtered listings.

Every listing is served by one index (``storage/README.md``): the tenant's issues by update time (GSI1), live
issues of a status category (GSI2), a connection's issues by update time (GSI3). Filtering by connection
*and* status has no index of its own, so it walks GSI3 and keeps the matching issues; such a page may be
shorter than ``limit`` while ``next_cursor`` still leads on (a bounded number of index reads per page).
Listings read every field but the body (a projection): bodies can be most of an item, and list views do not
show them; ``with_body`` reads them too.

An issue ref names its connection (``{connection_id}.{native_id}``); the connection is read first, so an
unknown connection, another tenant's, or a malformed ref are the same 404 as an unknown issue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from pydantic import Field

from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import NotFound
from trackbridge.domain.ids import IdPrefix, is_id, parse_issue_ref
from trackbridge.domain.issues import Comment, Issue, StatusCategory, Worklog
from trackbridge.domain.links import Link
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.issues import CommentRepository, IssueRepository, WorklogRepository
from trackbridge.storage.links import LinkRepository

T = TypeVar("T")

# An issue's comments, worklogs and links are read in pages of 100; this many pages at most (a bound on
# one request's reads: 1,000 comments is far beyond what a person reads in one answer).
MAX_DETAIL_PAGES = 10
# Index reads per page when connection and status are combined (see the module docstring).
MAX_FILTERED_READS = 5


class IssueView(Issue):
    """An issue in the shape of DESIGN section 9."""

    body: str = Field(
        "",
        description="the issue's text; listings (`GET /v1/issues`) leave it out unless asked with "
        "`include=body`",
    )
    links: list[Link] | None = Field(
        None, description="links to internal objects; null in listings, which do not read them per issue"
    )

    @classmethod
    def of(cls, issue: Issue, links: Sequence[Link] | None = None) -> IssueView:
        # From the fields ``issue`` was given (no dump of it): a body a listing did not read stays unset.
        fields = {name: value for name, value in issue.__dict__.items() if name in issue.model_fields_set}
        return cls.model_validate({**fields, "links": list(links) if links is not None else None})


class IssueDetail(IssueView):
    """``GET /v1/issues/{ref}``: the issue with its live comments and worklogs, oldest first."""

    comments: list[Comment] = Field(default_factory=list)
    worklogs: list[Worklog] = Field(default_factory=list)


def _all_pages(read: Callable[[str | None], Page[T]]) -> list[T]:
    items: list[T] = []
    cursor: str | None = None
    for _ in range(MAX_DETAIL_PAGES):
        page = read(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return items


class SyncedIssues:
    def __init__(
        self,
        connections: ConnectionRepository,
        issues: IssueRepository,
        comments: CommentRepository,
        worklogs: WorklogRepository,
        links: LinkRepository,
    ) -> None:
        self.connections = connections
        self.issues = issues
        self.comments = comments
        self.worklogs = worklogs
        self.links = links

    def _connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def links_of(self, tenant: str, ref: str) -> list[Link]:
        return _all_pages(lambda c: self.links.list_for_issue(tenant, ref, limit=MAX_PAGE_SIZE, cursor=c))

    def view(self, tenant: str, issue: Issue) -> IssueView:
        return IssueView.of(issue, self.links_of(tenant, issue.ref))

    def get(self, tenant: str, ref: str) -> IssueDetail:
        missing = NotFound(f"no issue {ref!r}", details={"ref": ref})
        parsed = parse_issue_ref(ref)
        if parsed is None:
            raise missing
        connection_id, native_id = parsed
        try:
            connection = self._connection(tenant, connection_id)
            issue = self.issues.get(tenant, connection_id, connection.external_id(native_id))
        except NotFound:
            raise missing from None
        comments = _all_pages(
            lambda c: self.comments.list_for_issue(tenant, ref, limit=MAX_PAGE_SIZE, cursor=c)
        )
        worklogs = _all_pages(
            lambda c: self.worklogs.list_for_issue(tenant, ref, limit=MAX_PAGE_SIZE, cursor=c)
        )
        return IssueDetail(
            **issue.model_dump(),
            links=self.links_of(tenant, ref),
            comments=sorted(
                (c for c in comments if c.deleted_at is None), key=lambda c: (c.created_at, c.id)
            ),
            worklogs=sorted(
                (w for w in worklogs if w.deleted_at is None), key=lambda w: (w.started_at, w.id)
            ),
        )

    def list(
        self,
        tenant: str,
        *,
        connection_id: str | None = None,
        status: StatusCategory | None = None,
        updated_since: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        with_body: bool = False,
    ) -> Page[IssueView]:
        """Most recently updated first. Without a status, tombstones are listed too (``deleted_at`` set):
        a client following ``updated_since`` must see deletions. Bodies are read only ``with_body``; without,
        each issue's ``body`` is unset (empty, and not in its ``model_fields_set``)."""
        if connection_id is not None:
            self._connection(tenant, connection_id)  # 404 for an unknown or foreign connection
            if status is not None:
                return self._connection_with_status(
                    tenant, connection_id, status, updated_since, limit, cursor, with_body
                )
            page = self.issues.list_connection_updated(
                tenant, connection_id, since=updated_since, limit=limit, cursor=cursor, with_body=with_body
            )
        elif status is not None:
            page = self.issues.list_by_status(
                tenant, status, since=updated_since, limit=limit, cursor=cursor, with_body=with_body
            )
        else:
            page = self.issues.list_updated(
                tenant, since=updated_since, limit=limit, cursor=cursor, with_body=with_body
            )
        return Page[IssueView](items=[IssueView.of(i) for i in page.items], next_cursor=page.next_cursor)

    def _connection_with_status(
        self,
        tenant: str,
        connection_id: str,
        status: str,
        updated_since: datetime | None,
        limit: int,
        cursor: str | None,
        with_body: bool,
    ) -> Page[IssueView]:
        found: list[IssueView] = []
        for _ in range(MAX_FILTERED_READS):
            # Asking only for what is still missing means every item read is either kept or rightly
            # skipped, so the index cursor after this read is exactly where the next page starts.
            page = self.issues.list_connection_updated(
                tenant,
                connection_id,
                since=updated_since,
                limit=limit - len(found),
                cursor=cursor,
                with_body=with_body,
            )
            found.extend(
                IssueView.of(i) for i in page.items if i.status_category == status and i.deleted_at is None
            )
            cursor = page.next_cursor
            if cursor is None or len(found) >= limit:
                break
        return Page[IssueView](items=found, next_cursor=cursor)


__all__ = ["IssueDetail", "IssueView", "SyncedIssues"]
