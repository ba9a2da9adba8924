"""The link registry as use cases: link, list both ways, unlink, and the object view with live issue status.

Who calls it: the API (``runtime.api.links``: ``manual`` links), and the producers of the other link types,
which call :meth:`LinkService.ensure` with their own ``type`` and actor: auto-issue (``auto_created``) and
detection from commits, pull requests and test runs (``auto_detected``; a detector passes
``fetch_missing=False`` when a key naming no stored issue must stay unresolved rather than cost a tracker
request).

Linking, in order (each step's failure leaves nothing stored):

1. the issue ref must be well formed (422 ``body.issue_ref``) and its connection the tenant's (404);
2. the issue comes from the synced copy; one not synced yet is fetched through the connection's adapter and
   stored through :func:`~trackbridge.storage.write_journal.write_outside_sync`, so a sync in flight cannot
   bury it. An issue the tracker does not have, or whose copy is a tombstone, is a 422 naming it. The link
   takes the ref the tracker answers with, so ``conn_x.OPS-12`` (a Jira key) links ``conn_x.10012``;
3. the three link items and the audit entry (``link.create``) go in one transaction; the pair linked
   already is a 409 whose ``details.link_id`` names the existing link.

The object view reads one page of the object's links, then every linked issue's copy in one batch read.
An entry whose issue is a tombstone says ``state: issue_deleted`` (and ``status: issue_deleted``) instead of
dropping the link; one whose copy is gone (its connection deleted) says ``issue_missing``.

Refreshing (``?refresh=true``, ``POST /v1/links/{id}/refresh``) pulls each distinct linked issue of the
page from its tracker with one ``GET`` (``adapter.get_issue``), writes it through ``write_outside_sync``
and records when (``refreshed_at``). A 404 from the tracker is the direct confirmation DESIGN section 10
asks for before a tombstone, so the copy becomes one. Requests are not conditional: the adapters revalidate
listing pages with ETags but their single-issue ``get_issue`` takes no validator, and Jira offers none; the
write costs nothing when the issue did not change (the content hash), only the request is spent. Refreshes
stop starting when the request's budget is spent (``not_attempted``), so a page of 100 issues on a slow
tracker still answers within API Gateway's 29 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.audit import Actor, AuditEntry, FieldChange, new_entry
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import Conflict, NotFound, TrackbridgeError, ValidationFailed
from trackbridge.domain.ids import IdPrefix, is_id, new_id, parse_issue_ref
from trackbridge.domain.issues import Issue, StatusCategory, tombstone
from trackbridge.domain.links import Link, LinkType, ObjectRef
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import UtcDatetime, utcnow
from trackbridge.providers.errors import NotFoundError
from trackbridge.runtime.observability import logger
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.links import LinkedIssue
from trackbridge.storage.write_journal import WriteOutcome, write_outside_sync

if TYPE_CHECKING:
    from trackbridge.providers.base import TrackerAdapter
    from trackbridge.storage.table import Table, TransactItem

# API Gateway gives an integration 29 s; refreshes stop starting after this many seconds.
REFRESH_BUDGET_S = 20.0

LinkState = Literal["active", "issue_deleted", "issue_missing"]
RefreshOutcome = Literal["created", "updated", "unchanged", "deleted", "failed", "not_attempted"]


# ---- ports ------------------------------------------------------------------------------------------------


class ConnectionSource(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...


class LinkStore(Protocol):
    """``storage.links.LinkRepository``."""

    def create(self, tenant: str, link: Link, *, also: tuple[TransactItem, ...] = ()) -> Link: ...

    def get(self, tenant: str, link_id: str) -> Link: ...

    def delete(self, tenant: str, link_id: str, *, also: tuple[TransactItem, ...] = ()) -> Link: ...

    def list_for_object(
        self, tenant: str, obj: ObjectRef, *, limit: int = ..., cursor: str | None = ...
    ) -> Page[Link]: ...

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = ..., cursor: str | None = ...
    ) -> Page[Link]: ...

    def record_refresh(self, tenant: str, issue_ref: str, at: datetime) -> None: ...

    def linked_issues(self, tenant: str, wanted: Mapping[str, tuple[str, str]]) -> dict[str, LinkedIssue]: ...


class IssueCopy(Protocol):
    """The synced copy of issues: read one, and store one from outside a sync (:class:`SyncedCopy`)."""

    def get(self, tenant: str, connection_id: str, external_id: str) -> Issue: ...

    def store(self, tenant: str, issue: Issue) -> WriteOutcome: ...


class SyncedCopy:
    """:class:`IssueCopy` on the table: reads through the issue repository, writes as webhooks do (journal
    first, then the newer-wins put), so a sync's batch in flight cannot bury the version stored here."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.repository = IssueRepository(table)

    def get(self, tenant: str, connection_id: str, external_id: str) -> Issue:
        return self.repository.get(tenant, connection_id, external_id)

    def store(self, tenant: str, issue: Issue) -> WriteOutcome:
        return write_outside_sync(self.table, IssueRepository.item(tenant, issue))


class AuditOps(Protocol):
    def put_op(self, tenant: str, entry: AuditEntry) -> TransactItem: ...


class AdapterLeases(Protocol):
    """``runtime.adapter_pool.AdapterPool``."""

    def lease(self, tenant: str, connection: Connection) -> AbstractContextManager[TrackerAdapter]: ...


# ---- views ------------------------------------------------------------------------------------------------


class LinkView(Link):
    """A link as ``GET /v1/links`` lists it: the link and whether its issue still exists."""

    state: LinkState = Field(
        "active",
        description="`issue_deleted` once the tracker deleted the issue (the link stays until removed); "
        "`issue_missing` when trackbridge holds no copy of it (its connection was deleted)",
    )


class RefreshResult(BaseModel):
    """What a refresh did to one linked issue."""

    model_config = ConfigDict(frozen=True)

    outcome: RefreshOutcome = Field(
        description="created/updated/unchanged: the copy after pulling the issue; deleted: the tracker no "
        "longer has it (the copy is now a tombstone); failed: see error; not_attempted: the request's "
        "time ran out first"
    )
    error: dict[str, Any] | None = Field(None, description="the API's error object when outcome is failed")


class ObjectLinkEntry(BaseModel):
    """One link of an object with its issue's live state, from the synced copy."""

    id: str = Field(description="the link's id")
    issue_ref: str
    type: LinkType
    created_by: str
    created_at: UtcDatetime
    state: LinkState
    key: str | None = Field(None, description="what people call the issue: #12, OPS-12")
    title: str | None = None
    status: str | None = Field(
        None, description="the tracker's status of the issue; `issue_deleted` once the tracker deleted it"
    )
    status_category: StatusCategory | None = None
    assignees: list[str] = Field(default_factory=list)
    priority: str | None = None
    url: str | None = None
    issue_updated_at: UtcDatetime | None = Field(
        None, description="the issue's last change at the tracker, as the synced copy holds it"
    )
    deleted_at: UtcDatetime | None = None
    refreshed_at: UtcDatetime | None = Field(
        None,
        description="when a link refresh last pulled the issue from the tracker; null when the copy came "
        "from syncs and webhooks only",
    )
    refresh: RefreshResult | None = Field(
        None, description="what this request's refresh did; null without one"
    )


class ObjectView(BaseModel):
    """``GET /v1/objects/{kind}/{database}/{schema}/{name}``: one page of the object's links."""

    object: ObjectRef
    key: str = Field(description="the object's key, kind:database/schema/name")
    items: list[ObjectLinkEntry]
    next_cursor: str | None = None


# ---- the service ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """A linked issue: its connection (None when gone) and the external id that keys its copy."""

    ref: str
    connection_id: str
    native_id: str


def _validation(path: str, message: str, *, code: str | None = None) -> ValidationFailed:
    return ValidationFailed(
        f"invalid request: {path}: {message}",
        details={"errors": [{"path": path, "message": message, "type": "value_error"}]},
        code=code,
    )


class LinkService:
    def __init__(
        self,
        connections: ConnectionSource,
        links: LinkStore,
        issues: IssueCopy,
        audit: AuditOps,
        *,
        adapters: Callable[[], AdapterLeases],
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        refresh_budget_s: float = REFRESH_BUDGET_S,
    ) -> None:
        self.connections = connections
        self.links = links
        self.issues = issues
        self.audit = audit
        self.adapters = adapters  # called only when a tracker is asked: the pool pulls in httpx
        self.clock = clock
        self.monotonic = monotonic
        self.refresh_budget_s = refresh_budget_s

    # -- linking ------------------------------------------------------------------------------------------

    def create(
        self,
        tenant: str,
        obj: ObjectRef,
        issue_ref: str,
        *,
        actor: Actor,
        type: LinkType = "manual",
        created_by: str | None = None,
        fetch_missing: bool = True,
    ) -> Link:
        """Link ``obj`` to the issue; 422 for a malformed ref or an issue the tracker does not have, 404 for
        a connection that is not the tenant's, 409 (``details.link_id``) when the pair is linked already."""
        issue = self._issue_to_link(tenant, issue_ref, fetch_missing=fetch_missing)
        link = Link(
            id=new_id(IdPrefix.LINK),
            object=obj,
            issue_ref=issue.ref,
            type=type,
            created_by=created_by or actor.id,
            created_at=self.clock(),
        )
        changes = {
            "object": FieldChange(new=obj.key),
            "issue_ref": FieldChange(new=link.issue_ref),
            "type": FieldChange(new=type),
        }
        audit = new_entry(
            action="link.create", target=link.id, actor=actor, at=link.created_at, changes=changes
        )
        self.links.create(tenant, link, also=(self.audit.put_op(tenant, audit),))
        logger.info(
            "links.created",
            extra={
                "tenant": tenant,
                "link_id": link.id,
                "object": obj.key,
                "ref": link.issue_ref,
                "type": type,
            },
        )
        return link

    def ensure(
        self,
        tenant: str,
        obj: ObjectRef,
        issue_ref: str,
        *,
        actor: Actor,
        type: LinkType,
        created_by: str | None = None,
        fetch_missing: bool = False,
    ) -> tuple[Link, bool]:
        """For producers of ``auto_created`` / ``auto_detected`` links: the link of the pair, and whether
        this call made it (an existing link of any type is kept as it is)."""
        try:
            link = self.create(
                tenant,
                obj,
                issue_ref,
                actor=actor,
                type=type,
                created_by=created_by,
                fetch_missing=fetch_missing,
            )
        except Conflict as exc:
            existing = (exc.details or {}).get("link_id") if isinstance(exc.details, dict) else None
            if exc.code != "ALREADY_EXISTS" or not existing:
                raise
            return self.links.get(tenant, str(existing)), False
        return link, True

    def _connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def _issue_to_link(self, tenant: str, issue_ref: str, *, fetch_missing: bool) -> Issue:
        parsed = parse_issue_ref(issue_ref)
        if parsed is None:
            raise _validation("body.issue_ref", "an issue ref looks like {connection_id}.{native_id}")
        connection_id, native_id = parsed
        connection = self._connection(tenant, connection_id)
        try:
            issue = self.issues.get(tenant, connection_id, connection.external_id(native_id))
        except NotFound:
            if not fetch_missing:
                raise _unknown_issue(issue_ref, "is not synced") from None
            issue = self._fetch(tenant, connection, native_id, issue_ref)
        if issue.deleted_at is not None:
            raise _unknown_issue(issue_ref, "was deleted at the tracker")
        return issue

    def _fetch(self, tenant: str, connection: Connection, native_id: str, issue_ref: str) -> Issue:
        try:
            with self.adapters().lease(tenant, connection) as adapter:
                issue = adapter.get_issue(native_id)
        except NotFoundError as exc:
            raise _unknown_issue(issue_ref, f"does not exist at the {connection.provider} tracker") from exc
        if issue.deleted_at is None:
            # A tombstone the tracker answered with (never today) is not stored over a live copy.
            outcome = self.issues.store(tenant, issue)
            logger.info("links.issue_fetched", extra={"tenant": tenant, "ref": issue.ref, "outcome": outcome})
        return issue

    def delete(self, tenant: str, link_id: str, *, actor: Actor) -> Link:
        """Remove a link (all three items and an audit entry ``link.delete``); 404 for another tenant's or an
        unknown id."""
        if not is_id(IdPrefix.LINK, link_id):
            raise NotFound(f"no link {link_id!r}", details={"id": link_id})
        link = self.links.get(tenant, link_id)
        changes = {
            "object": FieldChange(old=link.object.key),
            "issue_ref": FieldChange(old=link.issue_ref),
            "type": FieldChange(old=link.type),
        }
        audit = new_entry(action="link.delete", target=link_id, actor=actor, at=self.clock(), changes=changes)
        removed = self.links.delete(tenant, link_id, also=(self.audit.put_op(tenant, audit),))
        logger.info("links.deleted", extra={"tenant": tenant, "link_id": link_id})
        return removed

    def get(self, tenant: str, link_id: str) -> Link:
        if not is_id(IdPrefix.LINK, link_id):
            raise NotFound(f"no link {link_id!r}", details={"id": link_id})
        return self.links.get(tenant, link_id)

    # -- listing both ways --------------------------------------------------------------------------------

    def list_for_object(
        self, tenant: str, obj: ObjectRef, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[LinkView]:
        page = self.links.list_for_object(tenant, obj, limit=limit, cursor=cursor)
        return self._link_views(tenant, page)

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[LinkView]:
        """The issue's links; 422 for a malformed ref (``query.issue``), 404 for another tenant's."""
        parsed = parse_issue_ref(issue_ref)
        if parsed is None:
            raise _validation("query.issue", "an issue ref looks like {connection_id}.{native_id}")
        self._connection(tenant, parsed[0])
        page = self.links.list_for_issue(tenant, issue_ref, limit=limit, cursor=cursor)
        return self._link_views(tenant, page)

    def _link_views(self, tenant: str, page: Page[Link]) -> Page[LinkView]:
        linked = self._linked(tenant, {link.issue_ref for link in page.items})
        views = [
            LinkView(**link.model_dump(), state=_state(linked.get(link.issue_ref))) for link in page.items
        ]
        return Page[LinkView](items=views, next_cursor=page.next_cursor)

    # -- the object view ----------------------------------------------------------------------------------

    def object_view(
        self,
        tenant: str,
        obj: ObjectRef,
        *,
        refresh: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> ObjectView:
        page = self.links.list_for_object(tenant, obj, limit=limit, cursor=cursor)
        refreshed = self.refresh(tenant, [link.issue_ref for link in page.items]) if refresh else {}
        linked = self._linked(tenant, {link.issue_ref for link in page.items})
        items = [
            _entry(link, linked.get(link.issue_ref), refreshed.get(link.issue_ref)) for link in page.items
        ]
        return ObjectView(object=obj, key=obj.key, items=items, next_cursor=page.next_cursor)

    def refresh_link(self, tenant: str, link_id: str) -> ObjectLinkEntry:
        """Pull one link's issue from the tracker now; the link's entry as the object view shows it."""
        link = self.get(tenant, link_id)
        refreshed = self.refresh(tenant, [link.issue_ref])
        linked = self._linked(tenant, {link.issue_ref})
        return _entry(link, linked.get(link.issue_ref), refreshed.get(link.issue_ref))

    def refresh(self, tenant: str, refs: Iterable[str]) -> dict[str, RefreshResult]:
        """Pull each distinct issue of ``refs`` from its tracker (one request each, at most), within the
        budget; write each through ``write_outside_sync`` and record the refresh."""
        deadline = self.monotonic() + self.refresh_budget_s
        by_connection: dict[str, list[_Target]] = {}
        for ref in dict.fromkeys(refs):
            parsed = parse_issue_ref(ref)
            if parsed is not None:
                by_connection.setdefault(parsed[0], []).append(_Target(ref, *parsed))
        results: dict[str, RefreshResult] = {}
        for connection_id, targets in by_connection.items():
            results.update(self._refresh_connection(tenant, connection_id, targets, deadline))
        done = sum(1 for r in results.values() if r.outcome not in ("failed", "not_attempted"))
        logger.info("links.refreshed", extra={"tenant": tenant, "issues": len(results), "refreshed": done})
        return results

    def _refresh_connection(
        self, tenant: str, connection_id: str, targets: Sequence[_Target], deadline: float
    ) -> dict[str, RefreshResult]:
        results: dict[str, RefreshResult] = {}
        try:
            connection = self._connection(tenant, connection_id)
            with self.adapters().lease(tenant, connection) as adapter:
                for target in targets:
                    if self.monotonic() >= deadline:
                        results[target.ref] = RefreshResult(outcome="not_attempted")
                        continue
                    results[target.ref] = self._refresh_one(tenant, connection, adapter, target)
        except TrackbridgeError as exc:  # the connection is gone, or no adapter could be built for it
            failed = RefreshResult(outcome="failed", error=exc.to_body()["error"])
            return {t.ref: results.get(t.ref, failed) for t in targets}
        return results

    def _refresh_one(
        self, tenant: str, connection: Connection, adapter: TrackerAdapter, target: _Target
    ) -> RefreshResult:
        try:
            try:
                issue = adapter.get_issue(target.native_id)
            except NotFoundError:
                outcome = self._tombstone(tenant, connection, target)
            else:
                outcome = self.issues.store(tenant, issue)
            self.links.record_refresh(tenant, target.ref, self.clock())
        except TrackbridgeError as exc:  # tracker failures included, each with its own code and guidance
            logger.warning(
                "links.refresh_failed", extra={"tenant": tenant, "ref": target.ref, "code": str(exc.code)}
            )
            return RefreshResult(outcome="failed", error=exc.to_body()["error"])
        return RefreshResult(outcome=outcome)

    def _tombstone(self, tenant: str, connection: Connection, target: _Target) -> RefreshOutcome:
        try:
            stored = self.issues.get(tenant, connection.id, connection.external_id(target.native_id))
        except NotFound:
            return "deleted"  # nothing stored to mark
        if stored.deleted_at is None:
            self.issues.store(tenant, tombstone(stored, self.clock()))
        return "deleted"

    # -- reading linked issues ----------------------------------------------------------------------------

    def _linked(self, tenant: str, refs: Iterable[str]) -> dict[str, LinkedIssue]:
        """The copies of ``refs`` (one batch read); a ref whose connection is gone maps to nothing."""
        connections: dict[str, Connection | None] = {}
        wanted: dict[str, tuple[str, str]] = {}
        for ref in refs:
            parsed = parse_issue_ref(ref)
            if parsed is None:
                continue
            connection_id, native_id = parsed
            if connection_id not in connections:
                try:
                    connections[connection_id] = self._connection(tenant, connection_id)
                except NotFound:
                    connections[connection_id] = None
            connection = connections[connection_id]
            if connection is not None:
                wanted[ref] = (connection_id, connection.external_id(native_id))
        return self.links.linked_issues(tenant, wanted) if wanted else {}


def _unknown_issue(issue_ref: str, why: str) -> ValidationFailed:
    return _validation("body.issue_ref", f"the issue {issue_ref} {why}")


def _state(linked: LinkedIssue | None) -> LinkState:
    if linked is None or linked.issue is None:
        return "issue_missing"
    return "issue_deleted" if linked.issue.deleted_at is not None else "active"


def _entry(link: Link, linked: LinkedIssue | None, refreshed: RefreshResult | None) -> ObjectLinkEntry:
    state = _state(linked)
    issue = linked.issue if linked is not None else None
    fields: dict[str, Any] = {}
    if issue is not None:
        fields = {
            "key": issue.key,
            "title": issue.title,
            "status": "issue_deleted" if state == "issue_deleted" else issue.status,
            "status_category": issue.status_category,
            "assignees": list(issue.assignees),
            "priority": issue.priority,
            "url": issue.url,
            "issue_updated_at": issue.updated_at,
            "deleted_at": issue.deleted_at,
        }
    return ObjectLinkEntry(
        id=link.id,
        issue_ref=link.issue_ref,
        type=link.type,
        created_by=link.created_by,
        created_at=link.created_at,
        state=state,
        refreshed_at=linked.refreshed_at if linked is not None else None,
        refresh=refreshed,
        **fields,
    )


__all__ = [
    "REFRESH_BUDGET_S",
    "AdapterLeases",
    "ConnectionSource",
    "IssueCopy",
    "LinkService",
    "LinkState",
    "LinkStore",
    "LinkView",
    "ObjectLinkEntry",
    "ObjectView",
    "RefreshResult",
    "SyncedCopy",
]
