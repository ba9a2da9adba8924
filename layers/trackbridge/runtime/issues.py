"""Reading the synced copy: one issue with its comments, worklogs and links, and filtered listings.

Every listing reads one index (``storage/README.md``): a connection's issues by update time (GSI3) when a
connection is named, else live issues of a status category (GSI2) when one is, else the tenant's issues by
update time (GSI1). Value filters (status name, assignee, label, priority, type, text) and a category given
with a connection are checked on the items that query reads (:class:`IssueFilter`), with a bounded read
budget per page (``storage.issues.FILTER_READ_BUDGET``): such a page may be shorter than ``limit``, even
empty, while ``next_cursor`` still leads on. Listings read every field but the body (a projection): bodies
can be most of an item, and list views do not show them; ``with_body`` (or a text search) reads them too.

An issue ref names its connection (``{connection_id}.{native_id}``); the connection is read first, so an
unknown connection, another tenant's, or a malformed ref are the same 404 as an unknown issue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import NotFound
from trackbridge.domain.ids import IdPrefix, is_id, parse_issue_ref
from trackbridge.domain.issues import (
    Comment,
    Issue,
    Sprint,
    StatusCategory,
    Transition,
    Worklog,
    time_in_status,
)
from trackbridge.domain.links import Link
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from trackbridge.domain.times import utcnow
from trackbridge.storage.changelogs import TransitionRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.issues import CommentRepository, IssueRepository, SprintRepository, WorklogRepository
from trackbridge.storage.links import LinkRepository

T = TypeVar("T")

# One export answer (``SyncedIssues.export``): at most this many bytes of JSON lines (Lambda answers at most
# 6 MB, API Gateway 10 MB) and this many seconds of reading (API Gateway waits 29 s), and a page bound.
EXPORT_BYTES = 5 * 1024 * 1024
EXPORT_SECONDS = 20.0
MAX_EXPORT_PAGES = 500
JsonLines = list[str]  # (named here: inside ``SyncedIssues``, ``list`` is its method)

# An issue's comments, worklogs and links are read in pages of 100; this many pages at most (a bound on
# one request's reads: 1,000 comments is far beyond what a person reads in one answer).
MAX_DETAIL_PAGES = 10


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
    """``GET /v1/issues/{ref}``: the issue with its live comments and worklogs, oldest first, and its
    changelog (status and assignee transitions, oldest first) with the time spent in each status."""

    comments: list[Comment] = Field(default_factory=list)
    worklogs: list[Worklog] = Field(default_factory=list)
    transitions: list[Transition] = Field(
        default_factory=list,
        description="status and assignee changes, oldest first (a connection syncing `changelogs`)",
    )
    time_in_status: dict[str, float] | None = Field(
        None,
        description="seconds spent in each status, from creation to now, by its changelog; null when no "
        "transition is stored (changelogs not synced, or the status never changed)",
    )
    sprints: list[Sprint] = Field(
        default_factory=list,
        description="the sprints `sprint_ids` names, as synced (a connection syncing `sprints`)",
    )


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


class IssueFilter(BaseModel):
    """Value filters of a listing, checked on each issue an index query reads (``list_matching``).

    Names and labels compare case-insensitively (trackers differ: GitHub logins are case-insensitive, Jira
    statuses are shown capitalised); ``q`` looks for its text in the title or the body. An issue passes
    when it has every value asked for; a tombstone never does (value filters list live issues, as the
    status filter does).
    """

    model_config = ConfigDict(frozen=True)

    category: StatusCategory | None = None
    status: str | None = None
    assignee: str | None = None
    label: str | None = None
    priority: str | None = None
    issue_type: str | None = None
    q: str | None = None
    # A sprint id (exact): issues whose sprint field names it.
    sprint: str | None = None

    @property
    def active(self) -> bool:
        """Whether anything beyond the status category is asked (the category alone has its index)."""
        return any(v is not None for k, v in self if k != "category")

    def with_category(self, category: StatusCategory | None) -> IssueFilter:
        return self.model_copy(update={"category": category}) if category is not None else self

    def accepts(self, issue: Issue) -> bool:
        def same(asked: str | None, value: str | None) -> bool:
            return asked is None or (value is not None and asked.casefold() == value.casefold())

        if issue.deleted_at is not None:
            return False
        if self.category is not None and issue.status_category != self.category:
            return False
        if self.assignee is not None and not any(same(self.assignee, a) for a in issue.assignees):
            return False
        if self.label is not None and not any(same(self.label, label) for label in issue.labels):
            return False
        if self.sprint is not None and self.sprint not in issue.sprint_ids:
            return False
        if self.q is not None:
            text = self.q.casefold()
            if text not in issue.title.casefold() and text not in issue.body.casefold():
                return False
        return (
            same(self.status, issue.status)
            and same(self.priority, issue.priority)
            and same(self.issue_type, issue.issue_type)
        )


class SyncedIssues:
    def __init__(
        self,
        connections: ConnectionRepository,
        issues: IssueRepository,
        comments: CommentRepository,
        worklogs: WorklogRepository,
        links: LinkRepository,
        transitions: TransitionRepository | None = None,
    ) -> None:
        self.connections = connections
        self.issues = issues
        self.comments = comments
        self.worklogs = worklogs
        self.links = links
        # The changelog lives in the issue's partition, so the issues' table holds it.
        self.transitions = transitions if transitions is not None else TransitionRepository(issues.table)

    def _connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def links_of(self, tenant: str, ref: str) -> list[Link]:
        return _all_pages(lambda c: self.links.list_for_issue(tenant, ref, limit=MAX_PAGE_SIZE, cursor=c))

    def view(self, tenant: str, issue: Issue) -> IssueView:
        return IssueView.of(issue, self.links_of(tenant, issue.ref))

    def _by_id_or_key(self, tenant: str, connection: Connection, native_id: str) -> Issue:
        """The issue ``{connection}.{native_id}`` names: by its id, else by its key (``conn_....ACME-12``:
        a Jira key resolves through its key pointer, one batch read, then the issue)."""
        try:
            return self.issues.get(tenant, connection.id, connection.external_id(native_id))
        except NotFound:
            keyed = self.issues.find_by_keys(tenant, connection.id, [native_id]).get(native_id)
            if keyed is None:
                raise
            return self.issues.get(tenant, connection.id, keyed.external_id)

    def get(self, tenant: str, ref: str) -> IssueDetail:
        missing = NotFound(f"no issue {ref!r}", details={"ref": ref})
        parsed = parse_issue_ref(ref)
        if parsed is None:
            raise missing
        connection_id, native_id = parsed
        try:
            connection = self._connection(tenant, connection_id)
            issue = self._by_id_or_key(tenant, connection, native_id)
        except NotFound:
            raise missing from None
        ref = issue.ref
        comments = _all_pages(
            lambda c: self.comments.list_for_issue(tenant, ref, limit=MAX_PAGE_SIZE, cursor=c)
        )
        worklogs = _all_pages(
            lambda c: self.worklogs.list_for_issue(tenant, ref, limit=MAX_PAGE_SIZE, cursor=c)
        )
        transitions = self.transitions.history(tenant, ref)
        spent = (
            time_in_status(transitions, created_at=issue.created_at, now=utcnow(), current=issue.status)
            if transitions
            else None
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
            transitions=transitions,
            time_in_status=spent,
            # The sprints live in the connection's partition of the same table: one batch read, if any.
            sprints=SprintRepository(self.issues.table).get_many(
                tenant, issue.connection_id, issue.sprint_ids
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
        match: IssueFilter | None = None,
    ) -> Page[IssueView]:
        """Most recently updated first. Without a status or value filter, tombstones are listed too
        (``deleted_at`` set): a client following ``updated_since`` must see deletions. Bodies are read only
        ``with_body`` (or for a text search); without, each issue's ``body`` is unset (empty, and not in its
        ``model_fields_set``)."""
        if connection_id is not None:
            self._connection(tenant, connection_id)  # 404 for an unknown or foreign connection
        match = match or IssueFilter()
        if match.active or (connection_id is not None and status is not None):
            page = self.issues.list_matching(
                tenant,
                match.with_category(status).accepts,
                connection_id=connection_id,
                category=status,
                since=updated_since,
                limit=limit,
                cursor=cursor,
                with_body=with_body or match.q is not None,
            )
        elif connection_id is not None:
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

    def export(
        self,
        tenant: str,
        connection_id: str,
        *,
        updated_since: datetime | None = None,
        cursor: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> tuple[JsonLines, str | None]:
        """A connection's issues with their bodies as JSON lines, most recently updated first, and the
        cursor that continues (None: the export is complete).

        One answer must fit API Gateway's limits (10 MB, 29 s) and Lambda's 6 MB response: issues are read
        in pages of 100 until :data:`EXPORT_BYTES` of lines or :data:`EXPORT_SECONDS` are reached; an issue
        that would pass the size budget ends the answer before it, with a cursor right after the last line
        sent (``IssueRepository.connection_cursor``), so nothing is skipped or sent twice. Tombstones are
        exported too (``deleted_at`` set): a loader must see deletions.
        """
        self._connection(tenant, connection_id)
        lines: JsonLines = []
        size = 0
        deadline = clock() + EXPORT_SECONDS
        for _ in range(MAX_EXPORT_PAGES):
            page = self.issues.list_connection_updated(
                tenant, connection_id, since=updated_since, limit=MAX_PAGE_SIZE, cursor=cursor, with_body=True
            )
            for n, issue in enumerate(page.items):
                line = IssueView.of(issue).model_dump_json(ensure_ascii=True)
                if lines and size + len(line) + 1 > EXPORT_BYTES:
                    return lines, self.issues.connection_cursor(tenant, page.items[n - 1]) if n else cursor
                lines.append(line)
                size += len(line) + 1
            cursor = page.next_cursor
            if cursor is None or clock() >= deadline:
                break
        return lines, cursor


__all__ = ["IssueDetail", "IssueFilter", "IssueView", "SyncedIssues"]
