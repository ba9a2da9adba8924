"""Jira's worklogs and changelogs as synced entities, each with its own cursor (issue 19).

Both are opt-in (a connection or an operation names ``worklogs`` / ``changelogs``), both follow from what the
adapter declares (``Capabilities.worklog_feed``, ``Capabilities.changelog_bulkfetch``), and both read the
issues the issue passes stored as the connection's scope, so ``issues`` syncs before them (``syncers_for``).

**Worklogs** (:class:`WorklogsSyncer`). Airbyte's Jira source reads worklogs one issue at a time; here:

* a *full* pass pages the sync's own JQL with ``fields=worklog``: each issue's embedded worklog page is its
  complete list when its ``total`` fits, and ``/issue/{id}/worklog`` is asked only for the issues whose list
  was cut short. A stored live worklog missing from its issue's complete list is asked for by id, and
  tombstoned on 404/410 (DESIGN section 10: never on absence alone);
* *catch-up* and *incremental* passes read Jira's site-wide change feeds: ``/worklog/updated?since=`` (ids
  and times, up to 1,000 a page) then ``POST /worklog/list`` for their content (1,000 ids a call), then
  ``/worklog/deleted?since=`` from the same start. The feed covers every project of the site: worklogs of
  issues the connection has not stored are left out. The feed's position is the tracker's own ``until``
  (:func:`~trackbridge.runtime.sync.checkpoint.feed_position`), so an idle pass costs two requests;
* the deleted feed names worklog ids only, so each stored worklog has a pointer from its id to its issue
  (:class:`WorklogIndex`, written before the worklog itself, so a crash between the two leaves no worklog
  the feed cannot find).

**Changelogs** (:class:`ChangelogsSyncer`). The search embeds at most 40 history entries per issue, so the
complete history comes from ``POST /changelog/bulkfetch`` (1,000 issues a call, ``nextPageToken`` within
it), kept as status and assignee :class:`~trackbridge.domain.issues.Transition` s. A pass reads the stored
issues of the connection updated since its high-water (GSI3, 1,000 a page: one bulkfetch call per page),
so an incremental pass costs ceil(changed / 1000) calls and a full one ceil(issues / 1000). A history entry
never changes: storing is "put what is not there yet", counted created or unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

from trackbridge.domain.connections import Entity
from trackbridge.domain.ids import external_id, parse_issue_ref
from trackbridge.domain.issues import Issue, Transition, Worklog, tombstone
from trackbridge.domain.sync_plan import Checkpoint
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Capabilities, Page
from trackbridge.runtime.sync.checkpoint import (
    FEED_UPDATED,
    after_feed_page,
    after_listing_page,
    after_stored_page,
    feed_position,
    met_before,
    seen_of,
)
from trackbridge.runtime.sync.deletion_check import first_page
from trackbridge.runtime.sync.syncers import EntitySyncer, ListingSyncer, StepResult, SyncRun
from trackbridge.runtime.sync.writer import WriteCounts
from trackbridge.storage.changelogs import TransitionRepository
from trackbridge.storage.issues import IssueRepository, WorklogRepository
from trackbridge.storage.keys import PK, SK, connection_pk, issue_pk, issue_sk, worklog_sk
from trackbridge.storage.table import Item, Table

# Stored issues a changelog step reads: as many as one bulkfetch call takes, in this many queries at most.
CHANGELOG_ISSUES_PER_STEP: Final = 1_000
_MAX_QUERIES_PER_STEP: Final = 50
# An issue's stored worklogs are read in pages of this many, this many pages at most (a bound on the loop).
_WORKLOG_PAGE = 100
_MAX_WORKLOG_PAGES = 1_000
WORKLOG_POINTER_PREFIX: Final = "WORKLOGID#"


@runtime_checkable
class WorklogFeedAdapter(Protocol):
    """What the worklogs entity needs of an adapter (``providers.jira.JiraAdapter``)."""

    name: str

    @property
    def site_url(self) -> str: ...

    def iter_worklog_lists(
        self, *, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[Page[Any]]: ...

    def iter_updated_worklogs(self, since: datetime) -> Iterator[Any]: ...

    def iter_deleted_worklogs(self, since: datetime) -> Iterator[Any]: ...

    def get_worklog(self, key: str, worklog_id: str) -> Worklog: ...


@runtime_checkable
class BulkChangelogAdapter(Protocol):
    """What the changelogs entity needs of an adapter: complete histories, many issues a call."""

    def bulkfetch_transitions(self, issue_ids: Sequence[str]) -> list[Transition]: ...


class WorklogIndex:
    """Worklog id -> issue ref of a connection: ``T#{t}#CONN#{connection}`` / ``WORKLOGID#{id}``.

    Jira's deleted-worklog feed names worklogs by id alone, while a worklog is stored under its issue's
    partition; one pointer per worklog, written once (the id never moves to another issue), turns a page of
    deleted ids into batch reads of 100 keys rather than a search.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def key(tenant: str, connection_id: str, worklog_id: str) -> tuple[str, str]:
        return connection_pk(tenant, connection_id), f"{WORKLOG_POINTER_PREFIX}{worklog_id}"

    def record(self, tenant: str, worklogs: Sequence[Worklog]) -> None:
        """Pointers of ``worklogs`` (idempotent, unconditional batches of 25)."""
        items: list[Item] = []
        for worklog in worklogs:
            pk, sk = self.key(tenant, worklog.connection_id, worklog.id)
            items.append(
                {PK: pk, SK: sk, "entity": "worklog_id", "id": worklog.id, "issue_ref": worklog.issue_ref}
            )
        if items:
            self.table.batch_put(items)

    def issue_refs(self, tenant: str, connection_id: str, worklog_ids: Sequence[str]) -> dict[str, str]:
        """``worklog id -> issue ref`` for the ids with a pointer (absent ids were never stored)."""
        found = self.table.batch_get(
            [self.key(tenant, connection_id, wid) for wid in worklog_ids], attributes=("id", "issue_ref")
        )
        return {str(item["id"]): str(item["issue_ref"]) for item in found.values()}

    def any_recorded(self, tenant: str, connection_id: str) -> bool:
        items, _ = self.table.query(
            partition=connection_pk(tenant, connection_id), sk_prefix=WORKLOG_POINTER_PREFIX, limit=1
        )
        return bool(items)


def _table(run: SyncRun) -> Table:
    if run.table is None:
        raise TypeError("the worklogs and changelogs entities need the engine's DynamoDB table")
    return run.table


def _feed_adapter(run: SyncRun) -> WorklogFeedAdapter:
    adapter = run.adapter
    if not isinstance(adapter, WorklogFeedAdapter):
        raise TypeError(f"{adapter.name} has no worklog feed")
    return adapter


class WorklogsSyncer(ListingSyncer):
    entity = "worklogs"

    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        return first_page(
            _feed_adapter(run).iter_worklog_lists(include_closed=run.include_closed, cursor=cursor)
        )

    def stored_any(self, run: SyncRun) -> bool:
        return WorklogIndex(_table(run)).any_recorded(run.tenant, run.connection_id)

    def step(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        if cp.phase == "full":
            return self._full_page(run, cp, high_water)
        if cp.phase in ("catchup", "incremental"):
            return self._feed_page(run, cp, high_water)
        # No other phase is planned for worklogs (no sweep, no id listing): the entity is done.
        return StepResult(cp.model_copy(update={"phase": "done"}), WriteCounts(), 0, high_water)

    # ---- full pass: each issue's complete list ---------------------------------------------------
    def _full_page(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        if cp.stored_before is None:
            cp = cp.model_copy(update={"stored_before": self.stored_any(run)})
        page = self.fetch(run, None, PageCursor.from_dict(cp.page) if cp.page else None)
        seen = seen_of(cp)
        worklogs = [w for listed in page.items for w in listed.worklogs]
        met = [
            met_before(w.id, seen, phase=cp.phase, updated_at=w.updated_at, signpost=cp.signpost)
            for w in worklogs
        ]
        counts = self._write_worklogs(run, worklogs, met)
        if cp.stored_before:
            # Lists complete per issue: stored live worklogs missing from them may have been deleted.
            counts.add(self._confirm_missing(run, page.items))
        cp, high_water = after_listing_page(
            cp,
            high_water=high_water,
            met=[(w.id, w.updated_at) for w in worklogs],
            next_page=page.next_cursor.to_dict() if page.next_cursor is not None else None,
            not_modified=False,
            overlap=run.overlap,
            seen=seen,
        )
        return StepResult(cp, counts, len(page.items), high_water)

    def _write_worklogs(self, run: SyncRun, worklogs: Sequence[Worklog], met: Sequence[bool]) -> WriteCounts:
        """Pointers of the worklogs not stored yet, then the worklogs (counted once per operation)."""
        if not worklogs:
            return WriteCounts()
        versions = run.writer.versions(worklogs)
        WorklogIndex(_table(run)).record(
            run.tenant, [w for w, stored in zip(worklogs, versions, strict=True) if stored is None]
        )
        return run.writer.write(worklogs, versions, met=met)

    def _confirm_missing(self, run: SyncRun, lists: Sequence[Any]) -> WriteCounts:
        repo = WorklogRepository(_table(run))
        adapter = _feed_adapter(run)
        stored_lists = run.writer.map(
            lambda listed: _stored_worklogs(repo, run.tenant, run.connection_id, listed.issue_id),
            lists,
        )
        gone: list[Worklog] = []
        current: list[Worklog] = []
        for listed, stored in zip(lists, stored_lists, strict=True):
            present = {w.id for w in listed.worklogs}
            for worklog in stored:
                if worklog.deleted_at is not None or worklog.id in present:
                    continue
                try:
                    current.append(adapter.get_worklog(listed.issue_id, worklog.id))
                except NotFoundError:
                    gone.append(tombstone(worklog, run.now()))
        counts = run.writer.write(gone, tombstones=True) if gone else WriteCounts()
        if current:
            counts.add(run.writer.write(current))
        return counts

    # ---- feed passes: the site's changes since the high-water ------------------------------------
    def _feed_page(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        adapter = _feed_adapter(run)
        feed, since = feed_position(cp, high_water, run.overlap)
        if feed == FEED_UPDATED:
            page = first_page(adapter.iter_updated_worklogs(since))
            worklogs = self._in_scope(run, page.worklogs)
            seen = seen_of(cp)
            met = [
                met_before(w.id, seen, phase=cp.phase, updated_at=w.updated_at, signpost=cp.signpost)
                for w in worklogs
            ]
            counts = self._write_worklogs(run, worklogs, met)
            met_ids = [w.id for w in worklogs]
        else:
            page = first_page(adapter.iter_deleted_worklogs(since))
            counts = self._tombstone(run, page.ids)
            seen, met_ids = None, []
        cp, moved = after_feed_page(
            cp,
            feed=feed,
            since=since,
            until=page.until,
            last=page.last,
            met=met_ids,
            overlap=run.overlap,
            seen=seen,
        )
        return StepResult(cp, counts, len(met_ids), moved if moved is not None else high_water)

    def _in_scope(self, run: SyncRun, worklogs: Sequence[Worklog]) -> list[Worklog]:
        """The worklogs of issues this connection stores live (the feed lists the whole site's)."""
        adapter = _feed_adapter(run)
        partition = connection_pk(run.tenant, run.connection_id)
        issue_ids = {w.issue_ref: _native(w.issue_ref) for w in worklogs}
        keys = {
            ref: (partition, issue_sk(external_id(adapter.name, adapter.site_url, native)))
            for ref, native in issue_ids.items()
        }
        found = _table(run).batch_get(list(keys.values()), attributes=("deleted_at",)) if keys else {}
        live = {ref for ref, key in keys.items() if key in found and not found[key].get("deleted_at")}
        return [w for w in worklogs if w.issue_ref in live]

    def _tombstone(self, run: SyncRun, worklog_ids: Sequence[str]) -> WriteCounts:
        """Tombstones of the stored worklogs among ``worklog_ids`` (Jira's deleted feed says they went)."""
        table = _table(run)
        refs = WorklogIndex(table).issue_refs(run.tenant, run.connection_id, worklog_ids)
        if not refs:
            return WriteCounts()
        keys = [(issue_pk(run.tenant, ref), worklog_sk(wid)) for wid, ref in refs.items()]
        stored = [WorklogRepository.model(item) for item in table.batch_get(keys).values()]
        now = run.now()
        gone = [tombstone(w, now) for w in stored if w.deleted_at is None]
        return run.writer.write(gone, tombstones=True) if gone else WriteCounts()


def _native(issue_ref: str) -> str:
    parsed = parse_issue_ref(issue_ref)
    return parsed[1] if parsed else ""


def _stored_worklogs(
    repo: WorklogRepository, tenant: str, connection_id: str, issue_id: str
) -> list[Worklog]:
    ref = f"{connection_id}.{issue_id}"
    found: list[Worklog] = []
    cursor: str | None = None
    for _ in range(_MAX_WORKLOG_PAGES):
        page = repo.list_for_issue(tenant, ref, limit=_WORKLOG_PAGE, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


class ChangelogsSyncer(EntitySyncer):
    """Complete status and assignee histories of the stored issues that changed since the high-water."""

    entity = "changelogs"

    def step(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        if cp.phase not in ("full", "catchup", "incremental"):
            return StepResult(cp.model_copy(update={"phase": "done"}), WriteCounts(), 0, high_water)
        adapter = run.adapter
        if not isinstance(adapter, BulkChangelogAdapter):
            raise TypeError(f"{adapter.name} has no bulk changelog")
        table = _table(run)
        issues, next_cursor = _stored_issues(
            IssueRepository(table),
            run,
            since=cp.since if cp.phase != "full" else None,
            cursor=(cp.page or {}).get("cursor"),
        )
        repo = TransitionRepository(table)
        versions = {i.ref: i.updated_at for i in issues}
        # A full pass reads every history again (its repair pass); the others only those whose issue moved
        # since its history was read (the overlap window re-reads issues already read at that version).
        wanted = list(versions) if cp.phase == "full" else repo.unread(run.tenant, versions)
        counts = WriteCounts()
        if wanted:
            transitions = adapter.bulkfetch_transitions([_native(ref) for ref in wanted])
            result = repo.store(run.tenant, transitions)
            # After the transitions: a crash between the two reads the history again, never skips it.
            repo.mark_read(run.tenant, {ref: versions[ref] for ref in wanted})
            counts = WriteCounts.of(self.entity, created=result.created, unchanged=result.unchanged)
        cp, high_water = after_stored_page(
            cp,
            high_water=high_water,
            met=[(i.native_id, i.updated_at) for i in issues],
            next_cursor=next_cursor,
            overlap=run.overlap,
        )
        return StepResult(cp, counts, len(issues), high_water)


def _stored_issues(
    repo: IssueRepository, run: SyncRun, *, since: datetime | None, cursor: str | None
) -> tuple[list[Issue], str | None]:
    """Up to one bulkfetch call's worth of the connection's live stored issues updated since ``since``
    (GSI3, newest first), and the cursor after them. DynamoDB stops a query at 1 MB of items read, bodies
    included, so a page may hold fewer than asked: the queries go on until the call is full."""
    issues: list[Issue] = []
    for _ in range(_MAX_QUERIES_PER_STEP):
        page = repo.list_connection_updated(
            run.tenant,
            run.connection_id,
            since=since,
            limit=CHANGELOG_ISSUES_PER_STEP - len(issues),
            cursor=cursor,
        )
        issues.extend(i for i in page.items if i.deleted_at is None)
        cursor = page.next_cursor
        if cursor is None or len(issues) >= CHANGELOG_ISSUES_PER_STEP:
            break
    return issues, cursor


WORKLOGS = WorklogsSyncer()
CHANGELOGS = ChangelogsSyncer()


def jira_plan(capabilities: Capabilities) -> dict[Entity, EntitySyncer]:
    """The opt-in entities of a tracker with a worklog feed and bulk changelogs (Jira)."""
    plan: dict[Entity, EntitySyncer] = {}
    if capabilities.worklog_feed:
        plan["worklogs"] = WORKLOGS
    if capabilities.changelog_bulkfetch:
        plan["changelogs"] = CHANGELOGS
    return plan


__all__ = [
    "CHANGELOGS",
    "CHANGELOG_ISSUES_PER_STEP",
    "WORKLOGS",
    "WORKLOG_POINTER_PREFIX",
    "BulkChangelogAdapter",
    "ChangelogsSyncer",
    "WorklogFeedAdapter",
    "WorklogIndex",
    "WorklogsSyncer",
    "jira_plan",
]
