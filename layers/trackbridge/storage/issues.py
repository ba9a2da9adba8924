"""Synced tracker data: issues, their comments and worklogs, and a connection's users and sprints.

Layout (access patterns in README.md):

* issue ``T#{t}#CONN#{connection}`` / ``ISSUE#{external_id}``, indexed three ways by ``{updated_at}#{ref}``:
  GSI1 ``T#{t}#ISSUES`` (all issues of the tenant), GSI2 ``T#{t}#STATUS#{category}`` (live issues only),
  GSI3 ``T#{t}#CONN#{connection}#BYUPDATED``;
* comment / worklog ``T#{t}#ISSUE#{ref}`` / ``COMMENT#{id}`` / ``WORKLOG#{id}``; comments also in GSI3
  ``T#{t}#CONN#{connection}#COMMENTS`` / ``{ref}#{id}`` (a connection's comments, for the deletion sweep);
* user / sprint ``T#{t}#CONN#{connection}`` / ``USER#{id}`` / ``SPRINT#{id}``.

Issues, comments and worklogs are written by webhooks, tracker actions and syncs that can race: every write
goes through ``storage.write_journal`` (DESIGN section 10's conditional ``PutItem``: it lands only if nothing
is stored, the stored ``updated_at`` is older, or the timestamps are equal and the content hash differs).
The repositories' ``put_if_newer`` is the path from outside a sync: it journals the version first, so a
sync's unconditional batch of new items never buries it.
"""

from __future__ import annotations

import builtins
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from trackbridge.domain.errors import NotFound
from trackbridge.domain.issues import NOT_SEEN, Comment, Issue, Sprint, User, Worklog
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from trackbridge.domain.sync_plan import StoredVersion
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.cursors import encode_cursor
from trackbridge.storage.keys import (
    COMMENT_PREFIX,
    GSI1,
    GSI1_PK,
    GSI1_SK,
    GSI2,
    GSI2_PK,
    GSI2_SK,
    GSI3,
    GSI3_PK,
    GSI3_SK,
    INDEX_KEYS,
    ISSUE_PREFIX,
    PK,
    SK,
    SPRINT_PREFIX,
    USER_PREFIX,
    WORKLOG_PREFIX,
    comment_sk,
    comments_of_connection_gsi3pk,
    connection_pk,
    issue_key_sk,
    issue_pk,
    issue_sk,
    issues_by_status_gsi2pk,
    issues_by_updated_gsi1pk,
    issues_of_connection_by_updated_gsi3pk,
    sprint_sk,
    tenant_pk,
    updated_sort_key,
    user_sk,
    worklog_sk,
)
from trackbridge.storage.mapping import datetime_or_none, iso_or_none
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import Item, Table
from trackbridge.storage.write_journal import WriteOutcome, put_if_newer, write_outside_sync

# Index items a filtered listing reads per page at most (``IssueRepository.list_matching``): ten queries of
# 100, about 1 MB of listed attributes; the page then ends early and its cursor resumes the walk.
FILTER_READ_BUDGET = 1000

_C = TypeVar("_C", User, Sprint)
# A connection's users or sprints read whole by a sync pass: 50,000 at most (far beyond a project's people).
CATALOG_MAX_PAGES = 500


def stored_versions(table: Table, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
    """Update time, hash and tombstone of stored items, one batch read per 100 keys (the sync engine
    decides which items of a page need a write without a read per item)."""
    found = table.batch_get(keys, attributes=("updated_at", "content_hash", "deleted_at"))
    return {
        key: StoredVersion(
            updated_at=str(item.get("updated_at") or ""),
            content_hash=str(item.get("content_hash") or ""),
            deleted=bool(item.get("deleted_at")),
        )
        for key, item in found.items()
    }


class IssueRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def key(tenant: str, issue: Issue) -> tuple[str, str]:
        return connection_pk(tenant, issue.connection_id), issue_sk(issue.external_id)

    @staticmethod
    def item(tenant: str, issue: Issue) -> Item:
        updated = to_iso(issue.updated_at)
        by_updated = updated_sort_key(updated, issue.ref)
        item: Item = {
            PK: connection_pk(tenant, issue.connection_id),
            SK: issue_sk(issue.external_id),
            GSI1_PK: issues_by_updated_gsi1pk(tenant),
            GSI1_SK: by_updated,
            GSI3_PK: issues_of_connection_by_updated_gsi3pk(tenant, issue.connection_id),
            GSI3_SK: by_updated,
            "entity": "issue",
            "ref": issue.ref,
            "external_id": issue.external_id,
            "connection_id": issue.connection_id,
            "provider": issue.provider,
            "key": issue.key,
            "title": issue.title,
            "body": issue.body,
            "status": issue.status,
            "status_category": issue.status_category,
            "assignees": list(issue.assignees),
            "labels": list(issue.labels),
            "priority": issue.priority,
            "url": issue.url,
            "issue_type": issue.issue_type,
            "parent_ref": issue.parent_ref,
            "sub_issue_refs": list(issue.sub_issue_refs),
            "blocked_by_refs": list(issue.blocked_by_refs),
            "sprint_ids": list(issue.sprint_ids),
            "created_at": to_iso(issue.created_at),
            "updated_at": updated,
            "deleted_at": iso_or_none(issue.deleted_at),
            "content_hash": issue.content_hash or issue.compute_hash(),
        }
        if issue.deleted_at is None:
            # Only live issues are listed by status; a tombstone stays findable by id and by update time.
            item[GSI2_PK] = issues_by_status_gsi2pk(tenant, issue.status_category)
            item[GSI2_SK] = by_updated
        return item

    @staticmethod
    def model(item: Item) -> Issue:
        """The stored issue; from a listing's projection without the body (``LISTED_ATTRIBUTES``), its
        ``body`` is left unset (``""`` and not in ``model_fields_set``): such an issue must not be hashed
        or stored."""
        body = {"body": item["body"]} if "body" in item else {}
        return Issue(
            ref=item["ref"],
            external_id=item["external_id"],
            connection_id=item["connection_id"],
            provider=item["provider"],
            key=item["key"],
            title=item["title"],
            **body,
            status=item["status"],
            status_category=item["status_category"],
            assignees=item["assignees"],
            labels=item["labels"],
            priority=item.get("priority"),
            url=item.get("url"),
            # Items stored before these fields existed have none of them.
            issue_type=item.get("issue_type"),
            parent_ref=item.get("parent_ref"),
            sub_issue_refs=item.get("sub_issue_refs") or [],
            blocked_by_refs=item.get("blocked_by_refs") or [],
            sprint_ids=item.get("sprint_ids") or [],
            created_at=from_iso(item["created_at"]),
            updated_at=from_iso(item["updated_at"]),
            deleted_at=datetime_or_none(item.get("deleted_at")),
            content_hash=item["content_hash"],
        )

    def put_if_newer(self, tenant: str, issue: Issue) -> WriteOutcome:
        """Store ``issue`` from outside a sync (a tracker action's write-through): journaled, then the
        newer-wins put (``storage.write_journal``)."""
        return write_outside_sync(self.table, self.item(tenant, issue))

    def get(self, tenant: str, connection_id: str, external_id: str) -> Issue:
        item = self.table.get(connection_pk(tenant, connection_id), issue_sk(external_id))
        if item is None:
            raise NotFound(f"no issue {external_id!r}", details={"external_id": external_id})
        return self.model(item)

    def find_by_keys(self, tenant: str, connection_id: str, keys: Iterable[str]) -> dict[str, Issue]:
        """``key -> issue`` (without its body, tombstones included) for the Jira-style keys (``ACME-12``)
        of ``keys`` that name a stored issue of the connection: their ``KEY#`` pointers, then the issues,
        two batch reads per 100 keys whatever the connection's size. A forge's ``#12`` has no pointer: its
        issue is found by id (``get``)."""
        partition = connection_pk(tenant, connection_id)
        pointers = self.table.batch_get(
            [(partition, issue_key_sk(key)) for key in dict.fromkeys(keys)], attributes=("key", "external_id")
        )
        by_issue: dict[tuple[str, str], list[str]] = {}  # a moved issue has a pointer per key it had
        for pointer in pointers.values():
            issue_key = (partition, issue_sk(str(pointer["external_id"])))
            by_issue.setdefault(issue_key, []).append(str(pointer["key"]))
        issues = self.table.batch_get(list(by_issue), attributes=self.LISTED_ATTRIBUTES)
        return {key: self.model(item) for found, item in issues.items() for key in by_issue[found]}

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Issue]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=connection_pk(tenant, connection_id),
            sk_prefix=ISSUE_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    # What a listing reads of each issue: every field but the body, which can be most of an item and which
    # list views do not show (``GET /v1/issues/{ref}`` does).
    LISTED_ATTRIBUTES = tuple(name for name in Issue.model_fields if name != "body")

    def _by_updated(
        self,
        tenant: str,
        index: str,
        partition: str,
        since: datetime | None,
        limit: int,
        cursor: str | None,
        with_body: bool,
    ) -> Page[Issue]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=partition,
            index=index,
            sk_after=to_iso(since) if since else None,
            forward=False,
            limit=limit,
            cursor=cursor,
            attributes=(*self.LISTED_ATTRIBUTES, "body") if with_body else self.LISTED_ATTRIBUTES,
        )

    def list_updated(
        self,
        tenant: str,
        *,
        since: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        with_body: bool = False,
    ) -> Page[Issue]:
        """Every issue of the tenant, most recently updated first (GSI1); bodies only ``with_body``."""
        partition = issues_by_updated_gsi1pk(tenant)
        return self._by_updated(tenant, GSI1, partition, since, limit, cursor, with_body)

    def list_by_status(
        self,
        tenant: str,
        category: str,
        *,
        since: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        with_body: bool = False,
    ) -> Page[Issue]:
        """Live issues of a status category, most recently updated first (GSI2); bodies only ``with_body``."""
        partition = issues_by_status_gsi2pk(tenant, category)
        return self._by_updated(tenant, GSI2, partition, since, limit, cursor, with_body)

    def list_connection_updated(
        self,
        tenant: str,
        connection_id: str,
        *,
        since: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        with_body: bool = False,
    ) -> Page[Issue]:
        """Issues of one connection, most recently updated first (GSI3); bodies only ``with_body``."""
        partition = issues_of_connection_by_updated_gsi3pk(tenant, connection_id)
        return self._by_updated(tenant, GSI3, partition, since, limit, cursor, with_body)

    @staticmethod
    def connection_cursor(tenant: str, issue: Issue) -> str:
        """The cursor of :meth:`list_connection_updated` that resumes right after ``issue`` (its GSI3 and
        table keys, all derived from the issue): a reader that stops mid-page (an export at its size budget)
        hands it out instead of the page's own."""
        updated = updated_sort_key(to_iso(issue.updated_at), issue.ref)
        pk, sk = IssueRepository.key(tenant, issue)
        gsi_pk = issues_of_connection_by_updated_gsi3pk(tenant, issue.connection_id)
        return encode_cursor({PK: pk, SK: sk, GSI3_PK: gsi_pk, GSI3_SK: updated})

    def list_matching(
        self,
        tenant: str,
        keep: Callable[[Issue], bool],
        *,
        connection_id: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        with_body: bool = False,
        read_budget: int = FILTER_READ_BUDGET,
    ) -> Page[Issue]:
        """Issues ``keep`` accepts, most recently updated first, read from the narrowest index the key
        filters allow: a connection's issues (GSI3), else live issues of a status category (GSI2), else the
        tenant's (GSI1); a category given with a connection is checked by ``keep`` like any other filter.

        At most ``read_budget`` index items are read per page (pages of 100): a selective filter may so
        answer fewer than ``limit`` issues, or none, with a ``next_cursor`` that resumes exactly after the
        last item read. When the page fills mid-read, the cursor is that of the last issue kept, so nothing
        read after it is lost. Bodies are read ``with_body`` (``keep`` may need them: a text search)."""
        if connection_id is not None:
            index, partition = GSI3, issues_of_connection_by_updated_gsi3pk(tenant, connection_id)
        elif category is not None:
            index, partition = GSI2, issues_by_status_gsi2pk(tenant, category)
        else:
            index, partition = GSI1, issues_by_updated_gsi1pk(tenant)
        key_attributes = (PK, SK, *INDEX_KEYS[index])
        attributes = (*self.LISTED_ATTRIBUTES, "body") if with_body else self.LISTED_ATTRIBUTES
        found: list[Issue] = []
        left = max(1, read_budget)
        while left > 0:
            items, next_cursor = self.table.query(
                partition=partition,
                index=index,
                sk_after=to_iso(since) if since else None,
                forward=False,
                limit=min(MAX_PAGE_SIZE, left),
                cursor=cursor,
                tenant_prefix=tenant_pk(tenant),
                attributes=attributes,
            )
            left -= MAX_PAGE_SIZE
            for n, item in enumerate(items):
                issue = self.model(item)
                if not keep(issue):
                    continue
                found.append(issue)
                if len(found) == limit:
                    last = n == len(items) - 1
                    resume = next_cursor if last else encode_cursor({a: item[a] for a in key_attributes})
                    return Page[Issue](items=found, next_cursor=resume)
            cursor = next_cursor
            if cursor is None:
                break
        return Page[Issue](items=found, next_cursor=cursor)


class CommentRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def key(tenant: str, comment: Comment) -> tuple[str, str]:
        return issue_pk(tenant, comment.issue_ref), comment_sk(comment.id)

    @staticmethod
    def item(tenant: str, comment: Comment) -> Item:
        return {
            PK: issue_pk(tenant, comment.issue_ref),
            SK: comment_sk(comment.id),
            GSI3_PK: comments_of_connection_gsi3pk(tenant, comment.connection_id),
            GSI3_SK: f"{comment.issue_ref}#{comment.id}",
            "entity": "comment",
            "id": comment.id,
            "issue_ref": comment.issue_ref,
            "connection_id": comment.connection_id,
            "author": comment.author,
            "body": comment.body,
            "created_at": to_iso(comment.created_at),
            "updated_at": to_iso(comment.updated_at),
            "deleted_at": iso_or_none(comment.deleted_at),
            "content_hash": comment.content_hash or comment.compute_hash(),
        }

    @staticmethod
    def model(item: Item) -> Comment:
        return Comment(
            id=item["id"],
            issue_ref=item["issue_ref"],
            connection_id=item["connection_id"],
            author=item.get("author"),
            body=item["body"],
            created_at=from_iso(item["created_at"]),
            updated_at=from_iso(item["updated_at"]),
            deleted_at=datetime_or_none(item.get("deleted_at")),
            content_hash=item["content_hash"],
        )

    def put_if_newer(self, tenant: str, comment: Comment) -> WriteOutcome:
        """Store ``comment`` from outside a sync: journaled, then the newer-wins put."""
        return write_outside_sync(self.table, self.item(tenant, comment))

    def get(self, tenant: str, issue_ref: str, comment_id: str) -> Comment:
        item = self.table.get(issue_pk(tenant, issue_ref), comment_sk(comment_id))
        if item is None:
            raise NotFound(f"no comment {comment_id!r}", details={"id": comment_id})
        return self.model(item)

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Comment]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=issue_pk(tenant, issue_ref),
            sk_prefix=COMMENT_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Comment]:
        """Every stored comment of a connection (tombstones too), grouped by issue (GSI3)."""
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=comments_of_connection_gsi3pk(tenant, connection_id),
            index=GSI3,
            limit=limit,
            cursor=cursor,
        )


class WorklogRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def key(tenant: str, worklog: Worklog) -> tuple[str, str]:
        return issue_pk(tenant, worklog.issue_ref), worklog_sk(worklog.id)

    @staticmethod
    def item(tenant: str, worklog: Worklog) -> Item:
        return {
            PK: issue_pk(tenant, worklog.issue_ref),
            SK: worklog_sk(worklog.id),
            "entity": "worklog",
            "id": worklog.id,
            "issue_ref": worklog.issue_ref,
            "connection_id": worklog.connection_id,
            "author": worklog.author,
            "time_spent_s": worklog.time_spent_s,
            "started_at": to_iso(worklog.started_at),
            "comment": worklog.comment,
            "created_at": to_iso(worklog.created_at),
            "updated_at": to_iso(worklog.updated_at),
            "deleted_at": iso_or_none(worklog.deleted_at),
            "content_hash": worklog.content_hash or worklog.compute_hash(),
        }

    @staticmethod
    def model(item: Item) -> Worklog:
        return Worklog(
            id=item["id"],
            issue_ref=item["issue_ref"],
            connection_id=item["connection_id"],
            author=item.get("author"),
            time_spent_s=item["time_spent_s"],
            started_at=from_iso(item["started_at"]),
            comment=item["comment"],
            created_at=from_iso(item["created_at"]),
            updated_at=from_iso(item["updated_at"]),
            deleted_at=datetime_or_none(item.get("deleted_at")),
            content_hash=item["content_hash"],
        )

    def put_if_newer(self, tenant: str, worklog: Worklog) -> WriteOutcome:
        """Store ``worklog`` from outside a sync: journaled, then the newer-wins put."""
        return write_outside_sync(self.table, self.item(tenant, worklog))

    def get(self, tenant: str, issue_ref: str, worklog_id: str) -> Worklog:
        item = self.table.get(issue_pk(tenant, issue_ref), worklog_sk(worklog_id))
        if item is None:
            raise NotFound(f"no worklog {worklog_id!r}", details={"id": worklog_id})
        return self.model(item)

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Worklog]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=issue_pk(tenant, issue_ref),
            sk_prefix=WORKLOG_PREFIX,
            limit=limit,
            cursor=cursor,
        )


class _CatalogRepository(Generic[_C]):
    """A connection's users or sprints: one item each under the connection (``USER#`` / ``SPRINT#``),
    written by the sync's writer (its conditional put, like every synced item), read by id or listed in id
    order. Items stored before these kinds were synced have no ``updated_at`` or hash: they read as such
    (an empty hash never matches, so the next sync rewrites them)."""

    prefix: ClassVar[str]
    kind: ClassVar[str]

    def __init__(self, table: Table) -> None:
        self.table = table

    @classmethod
    def key(cls, tenant: str, obj: _C) -> tuple[str, str]:
        return connection_pk(tenant, obj.connection_id), cls.sort_key(obj.id)

    @classmethod
    def item(cls, tenant: str, obj: _C) -> Item:
        """The model's fields as they are (times as ``to_iso`` writes them, which the writer's decisions
        compare as strings); the hash as given: the sync always gives one (``put`` computes a missing one)."""
        pk, sk = cls.key(tenant, obj)
        fields = {k: to_iso(v) if isinstance(v, datetime) else v for k, v in obj.model_dump().items()}
        return {
            PK: pk,
            SK: sk,
            "entity": cls.kind,
            **fields,
        }

    @staticmethod
    @abstractmethod
    def sort_key(item_id: str) -> str: ...

    @staticmethod
    @abstractmethod
    def model(item: Item) -> _C: ...

    def put(self, tenant: str, obj: _C) -> None:
        """Store ``obj`` unconditionally (the sync writes through the writer's conditional put instead)."""
        self.table.put(self.item(tenant, obj if obj.content_hash else obj.with_hash()))

    def get(self, tenant: str, connection_id: str, item_id: str) -> _C:
        item = self.table.get(connection_pk(tenant, connection_id), self.sort_key(item_id))
        if item is None:
            raise NotFound(f"no {self.kind} {item_id!r}", details={"id": item_id})
        return self.model(item)

    def get_many(self, tenant: str, connection_id: str, ids: Iterable[str]) -> builtins.list[_C]:
        """The stored items of ``ids`` (those found), in the order given: one batch read per 100 ids."""
        partition = connection_pk(tenant, connection_id)
        wanted = [(partition, self.sort_key(item_id)) for item_id in dict.fromkeys(ids)]
        found = self.table.batch_get(wanted) if wanted else {}
        return [self.model(found[key]) for key in wanted if key in found]

    def list(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[_C]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=connection_pk(tenant, connection_id),
            sk_prefix=self.prefix,
            limit=limit,
            cursor=cursor,
        )

    def list_matching(
        self,
        tenant: str,
        connection_id: str,
        keep: Callable[[_C], bool],
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        read_budget: int = FILTER_READ_BUDGET,
    ) -> Page[_C]:
        """Items ``keep`` accepts, in id order, reading at most ``read_budget`` items per page (pages of
        100): a selective filter may answer fewer than ``limit``, with a ``next_cursor`` that resumes after
        the last item read; a page that fills mid-read resumes right after its last item."""
        found: builtins.list[_C] = []
        left = max(1, read_budget)
        while left > 0:
            page = self.list(tenant, connection_id, limit=min(MAX_PAGE_SIZE, left), cursor=cursor)
            left -= MAX_PAGE_SIZE
            for n, obj in enumerate(page.items):
                if not keep(obj):
                    continue
                found.append(obj)
                if len(found) == limit:
                    pk, sk = self.key(tenant, obj)
                    last = n == len(page.items) - 1
                    resume = page.next_cursor if last else encode_cursor({PK: pk, SK: sk})
                    return Page[Any](items=found, next_cursor=resume)
            cursor = page.next_cursor
            if cursor is None:
                break
        return Page[Any](items=found, next_cursor=cursor)

    def list_all(
        self, tenant: str, connection_id: str, *, max_pages: int = CATALOG_MAX_PAGES
    ) -> builtins.list[_C]:
        """Every stored item of the connection (tombstones too), pages of 100, at most ``max_pages``."""
        found: builtins.list[_C] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page = self.list(tenant, connection_id, limit=MAX_PAGE_SIZE, cursor=cursor)
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found


class UserRepository(_CatalogRepository[User]):
    """Tracker accounts of a connection; a user who left stays, with ``active`` false."""

    prefix = USER_PREFIX
    kind = "user"

    @staticmethod
    def sort_key(item_id: str) -> str:
        return user_sk(item_id)

    @staticmethod
    def model(item: Item) -> User:
        return User(
            id=item["id"],
            connection_id=item["connection_id"],
            login=item.get("login"),
            display_name=item.get("display_name"),
            email=item.get("email"),
            active=item["active"],
            updated_at=datetime_or_none(item.get("updated_at")) or NOT_SEEN,
            content_hash=item.get("content_hash") or "",
        )


class SprintRepository(_CatalogRepository[Sprint]):
    """Sprints of a connection's boards (Jira); a deleted sprint stays as a tombstone (``deleted_at``)."""

    prefix = SPRINT_PREFIX
    kind = "sprint"

    @staticmethod
    def sort_key(item_id: str) -> str:
        return sprint_sk(item_id)

    @staticmethod
    def model(item: Item) -> Sprint:
        return Sprint(
            id=item["id"],
            connection_id=item["connection_id"],
            name=item["name"],
            state=item["state"],
            board_id=item.get("board_id"),
            goal=item.get("goal"),
            start_at=datetime_or_none(item.get("start_at")),
            end_at=datetime_or_none(item.get("end_at")),
            complete_at=datetime_or_none(item.get("complete_at")),
            deleted_at=datetime_or_none(item.get("deleted_at")),
            updated_at=datetime_or_none(item.get("updated_at")) or NOT_SEEN,
            content_hash=item.get("content_hash") or "",
        )


__all__ = [
    "CommentRepository",
    "IssueRepository",
    "SprintRepository",
    "UserRepository",
    "WorklogRepository",
    "WriteOutcome",
    "put_if_newer",
    "stored_versions",
]
