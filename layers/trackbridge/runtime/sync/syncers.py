"""Entity syncers: one page of one pass per call, for each provider's issues and comments.

A syncer is mostly declarations (STYLE habit 3): which adapter listing it reads, whether its pass ends with
a deletion sweep, and whether each changed issue brings its comments along. :meth:`ListingSyncer.step`
owns the algorithm every syncer shares: fetch one page (full passes by the provider's cursor, update-ordered
passes by keyset on ``since``), write the children of changed items first and the items second (so a crash
between the two replays the page and finds the parent still changed), and return the next checkpoint.
The engine writes that checkpoint, so the order is always fetch -> write -> checkpoint -> next page.

Deletions (DESIGN section 10: never tombstone on absence alone, confirm with a direct GET):

* issues: the full sync's ``sweep`` asks every stored issue no pass met; between full syncs the deletion
  check (``deletions`` mode, or a scheduled incremental sync's ``check_deletions``) runs the same sweep after
  an ``ids`` pass that lists only the scope's issue ids (:mod:`~trackbridge.runtime.sync.deletion_check`);
* comments that come with their issues (GitLab, Jira): whenever an issue's complete comment list is in
  hand for an issue already stored (a changed issue in any pass; every issue in a full pass), stored
  comments missing from it are asked for one by one and tombstoned on 404/410;
* GitHub's repo-wide comment listing (its own entity) cannot show deletions (``since`` lists what
  changed, not what went): its full pass records the ids it met and ends with a sweep over the
  connection's stored comments (GSI3, a page of up to 1,000 per query). Between full syncs a deleted GitHub
  comment is caught by the webhook.

A full pass first reads one stored item of its entity (``stored_before``): when there is none, everything
stored afterwards is what the passes met, and the sweep ends without reading a page. An item a webhook
stores during that first sync and the tracker then deletes is left to the next deletion check.

Counting (:func:`~trackbridge.domain.sync_plan.count_write`): every listing pass adds the ids it meets to the
checkpoint's ``seen`` set, and an item whose id is already there (the catch-up pass re-reading the full
pass's overlap window, an update-ordered page re-reading its keyset position) is written if it changed but
not counted again; comments listed with an issue met before are met before too, unless new. So a first
sync counts every item once as created, and ``processed`` is the number of distinct items met.

Closed issues under ``include_closed=false``: update-ordered passes list every state, so an issue closed
since it was stored is seen and stored as closed (the stored copy never claims it is still open); closed
issues that were never stored are not written.

Which syncer syncs which entity follows from the adapter's declared capabilities, never from its name
(:func:`plan_for`): a tracker with ``repo_wide_comments`` lists comments as their own entity, any other
brings them with their issues. A new tracker needs no entry here. The entities every connection syncs are
:func:`plan_for`'s; those a connection names (advisories, worklogs, changelogs, sprints, users, repository
activity) are :mod:`~trackbridge.runtime.sync.plans`', one line each, whatever module holds the syncer.

Where the checkpoint goes after a page (phases, keyset ``since``, high-water, seen ids) is the state
machine's to say (:mod:`~trackbridge.runtime.sync.checkpoint`); a syncer reports what the page held.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, cast, runtime_checkable

from trackbridge.domain.connections import Entity
from trackbridge.domain.ids import parse_issue_ref
from trackbridge.domain.issues import Comment, Issue, is_advisory, tombstone
from trackbridge.domain.sync_plan import Checkpoint, IdRanges
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Capabilities, Page
from trackbridge.runtime.sync.checkpoint import (
    after_id_page,
    after_listing_page,
    after_sweep_page,
    met_before,
    seen_of,
)
from trackbridge.runtime.sync.deletion_check import (
    ListsDeletions,
    feed_start,
    first_page,
    id_listing_for,
    removals,
)
from trackbridge.runtime.sync.ports import Clock, StoredComments, StoredIssues
from trackbridge.runtime.sync.record_matching import adopt_local_records
from trackbridge.runtime.sync.writer import ItemWriter, WriteCounts
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.table import Table

SWEEP_PAGE = 100
# Comments are small and their sweep only compares ids: bigger pages, fewer queries (DynamoDB stops at 1 MB).
COMMENT_SWEEP_PAGE = 1_000


@dataclass
class SyncRun:
    """What a step needs besides its checkpoint: the adapter, the writer, the stores, the operation's
    choices. One per slice: what a syncer keeps for the run (Jira's embedded comments) lives as long."""

    tenant: str
    connection_id: str
    adapter: TrackerAdapter
    writer: ItemWriter
    issues: StoredIssues
    comments: StoredComments
    include_closed: bool
    entities: Sequence[Entity]
    overlap: timedelta
    now: Clock
    # The engine's DynamoDB table, for entities stored beside the issues (worklog pointers, transitions).
    table: Table | None = None


@dataclass
class StepResult:
    checkpoint: Checkpoint
    counts: WriteCounts
    fetched: int
    high_water: datetime | None
    not_modified: bool = False


@runtime_checkable
class KeepsEmbeddedComments(Protocol):
    """An adapter whose issue listings can carry each issue's comments (Jira's search): a run installs a
    cache of its own for its duration, and ``list_issue_comments`` answers from it."""

    def keeping_embedded_comments(self) -> AbstractContextManager[Any]: ...


def _cursor(data: Mapping[str, Any] | None) -> PageCursor | None:
    return PageCursor.from_dict(data) if data else None


def _native_id(item: Issue | Comment) -> str:
    return item.native_id if isinstance(item, Issue) else item.id


class EntitySyncer(ABC):
    """What the engine drives: one step of one pass of an entity at a time (:meth:`step`), inside the
    syncer's :meth:`session`. Most entities are a tracker listing (:class:`ListingSyncer`); one that reads
    something else (Jira's changelogs: the stored issues, then bulk histories) implements ``step`` itself."""

    entity: ClassVar[Entity]

    @abstractmethod
    def step(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        """One page of the current pass: what it wrote, and the checkpoint after it."""

    def session(self, run: SyncRun) -> AbstractContextManager[Any]:
        """What the syncer holds for one run (a slice) of its entity, entered around its steps; nothing
        by default."""
        return nullcontext()


class ListingSyncer(EntitySyncer):
    # Issues of trackers without a scope-wide comment listing bring their comments with them.
    comments_per_issue: ClassVar[bool] = False

    @abstractmethod
    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        """One page of the listing: ``since`` set for update-ordered passes, ``cursor`` to resume."""

    # ---- the shared algorithm --------------------------------------------------------------------
    def stored_any(self, run: SyncRun) -> bool:
        """Whether the connection has any item of this syncer's entity stored (one read of one item)."""
        return bool(run.issues.list_for_connection(run.tenant, run.connection_id, limit=1).items)

    def step(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        if cp.phase == "sweep":
            if cp.stored_before is False:
                # Everything stored was written by this operation's passes, so the sweep has nothing to ask.
                done = after_sweep_page(cp, high_water=high_water, next_cursor=None, overlap=run.overlap)
                return StepResult(done, WriteCounts(), 0, high_water)
            return self._sweep(run, cp, high_water)
        if cp.phase == "full" and cp.page is None and cp.stored_before is None and "sweep" in cp.phases:
            cp = cp.model_copy(update={"stored_before": self.stored_any(run)})
        if cp.phase == "ids":
            return self._list_ids(run, cp, high_water)
        keyset = cp.phase in ("catchup", "incremental")
        page = self.fetch(run, cp.since if keyset else None, _cursor(cp.page))
        items: tuple[Any, ...] = page.items
        seen = seen_of(cp)
        met = [
            met_before(
                _native_id(item), seen, phase=cp.phase, updated_at=item.updated_at, signpost=cp.signpost
            )
            for item in items
        ]
        # A full pass hands every issue's comment list over (not only changed issues'): the only way a
        # deleted GitLab note or Jira comment of an unchanged issue is ever seen missing.
        counts = self._write(run, items, all_comments=cp.phase == "full" and "sweep" in cp.phases, met=met)
        cp, high_water = after_listing_page(
            cp,
            high_water=high_water,
            met=[(_native_id(item), getattr(item, "updated_at", None)) for item in items],
            next_page=page.next_cursor.to_dict() if page.next_cursor is not None else None,
            not_modified=page.not_modified,
            overlap=run.overlap,
            seen=seen,
        )
        return StepResult(cp, counts, len(items), high_water, page.not_modified)

    def _write(
        self,
        run: SyncRun,
        items: Sequence[Any],
        *,
        all_comments: bool = False,
        met: Sequence[bool] | None = None,
    ) -> WriteCounts:
        """Write a page's items (and, for trackers whose issues bring their comments, the comments of the
        issues that changed); ``met`` flags the items this operation met before (counted once)."""
        flags = list(met) if met is not None else [False] * len(items)
        versions = run.writer.versions(items)
        decisions = run.writer.decisions(items, versions)
        rows = list(zip(items, versions, decisions, flags, strict=True))
        adopt_local_records(run, [row[0] for row in rows if row[2] == "create"])
        if not run.include_closed:
            # Update-ordered passes list closed issues too: keep those already stored (now closed), never
            # start storing closed ones.
            rows = [
                row
                for row in rows
                if not (row[2] == "create" and isinstance(row[0], Issue) and row[0].status_category == "done")
            ]
        counts = WriteCounts()
        if self.comments_per_issue and "comments" in run.entities:
            comments: list[Comment] = []
            parents_met: list[bool] = []
            complete_lists: list[tuple[Issue, list[Comment]]] = []
            for issue, stored, decision, seen_before in rows:
                # A current copy this operation wrote itself, first met now: a page replayed after a crash,
                # whose comments the lost attempt may have written (and must be counted) too.
                replayed = not seen_before and run.writer.wrote(stored)
                # A copy a webhook (or an API write) stored last says nothing about its comments: their own
                # deliveries may have been lost, so an update-ordered pass lists them once more.
                written_outside = stored is not None and stored.mark is None
                if decision == "skip" and not all_comments and not replayed and not written_outside:
                    continue
                listed = run.adapter.list_issue_comments(issue.key)
                comments.extend(listed)
                parents_met.extend([seen_before] * len(listed))
                if decision != "create":
                    complete_lists.append((issue, listed))
            # The page's comments in one write: batch reads of 100 keys and the writer's whole pool, rather
            # than a read and three puts per issue.
            if comments:
                comment_versions = run.writer.versions(comments)
                # The comments of an issue met before were listed then too, except those new since.
                comments_met = [
                    parent_met and stored is not None
                    for parent_met, stored in zip(parents_met, comment_versions, strict=True)
                ]
                counts.add(run.writer.write(comments, comment_versions, met=comments_met))
            # The lists are complete: stored comments missing from them may have been deleted. Each
            # issue's stored comments are one query; the page's queries run on the writer's pool.
            stored_lists = run.writer.map(lambda pair: _stored_comments(run, pair[0].ref), complete_lists)
            for (issue, listed), kept in zip(complete_lists, stored_lists, strict=True):
                counts.add(_confirm_missing(run, issue, listed, stored=kept))
        counts.add(run.writer.write([r[0] for r in rows], [r[1] for r in rows], met=[r[3] for r in rows]))
        return counts

    def _list_ids(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        """One page of the deletion check's id listing, added to ``seen``; nothing is written. An adapter
        with a removal feed reads it instead once the connection has been checked (:meth:`_read_removals`)."""
        if isinstance(run.adapter, ListsDeletions) and run.table is not None:
            feed = _cursor(cp.page.get("feed")) if cp.page else None
            since = feed_start(run.table, run.tenant, run.connection_id, run.overlap) if not cp.page else None
            if feed is not None or since is not None:
                return self._read_removals(run, cp, high_water, run.table, feed, since)
        page = id_listing_for(run.adapter).page(
            run.adapter, include_closed=run.include_closed, cursor=_cursor(cp.page)
        )
        cp = after_id_page(
            cp,
            high_water=high_water,
            ids=page.ids,
            next_page=page.next_cursor.to_dict() if page.next_cursor is not None else None,
            overlap=run.overlap,
        )
        return StepResult(cp, WriteCounts(), len(page.ids), high_water)

    def _read_removals(
        self,
        run: SyncRun,
        cp: Checkpoint,
        high_water: datetime | None,
        table: Table,
        cursor: PageCursor | None,
        since: datetime | None,
    ) -> StepResult:
        """One page of the removal feed (:class:`~trackbridge.runtime.sync.deletion_check.ListsDeletions`):
        what it names is tombstoned. Its last page ends the check without the sweep: nothing was inferred
        from absence, so there is nothing to ask about (``stored_before=False``)."""
        page = first_page(cast(ListsDeletions, run.adapter).iter_deleted(cursor, since=since))
        named = {key for key, _, _ in page.items}
        comments = CommentRepository(table)
        found = removals(
            run.adapter,
            page.items,
            stored=IssueRepository(table).find_by_keys(run.tenant, run.connection_id, named) if named else {},
            comment_of=lambda issue, comment_id: comments.get(run.tenant, issue.ref, comment_id),
            comments_of=lambda issue: _stored_comments(run, issue.ref),
            now=run.now(),
        )
        counts = WriteCounts()
        if found.tombstones:
            counts.add(run.writer.write(found.tombstones, tombstones=True))
        more = page.next_cursor is not None
        cp = after_id_page(
            cp,
            high_water=high_water,
            ids=(),
            next_page={"feed": page.next_cursor.to_dict()} if page.next_cursor is not None else None,
            overlap=run.overlap,
        )
        if not more:
            cp = cp.model_copy(update={"stored_before": False})
        return StepResult(cp, counts, len(page.items), high_water)

    def _sweep(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        """One page of stored issues checked against what the passes of this full sync (or the id listing
        of this deletion check) met."""
        stored = run.issues.list_for_connection(
            run.tenant, run.connection_id, limit=SWEEP_PAGE, cursor=cp.sweep_cursor
        )
        counts = WriteCounts()
        fetched = 0
        # A deletion check without closed issues lists open ones only: a copy already stored as closed is
        # outside the connection's scope and is left to the full sync's sweep, rather than costing one GET
        # per closed issue on every check (a stored open copy of a now closed issue is still asked about,
        # and stored as closed).
        skip_closed = "ids" in cp.phases and not run.include_closed
        if not cp.seen_overflow:
            seen = IdRanges.decode(cp.seen)
            for issue in stored.items:
                # Advisories stored as issues are not in the issue listing: their own entity keeps them.
                skipped = is_advisory(issue) or (skip_closed and issue.status_category == "done")
                if issue.deleted_at is None and not skipped:
                    fetched += self._sweep_issue(run, issue, seen, counts)
        cp = after_sweep_page(cp, high_water=high_water, next_cursor=stored.next_cursor, overlap=run.overlap)
        return StepResult(cp, counts, fetched, high_water)

    def _sweep_issue(self, run: SyncRun, issue: Issue, seen: IdRanges, counts: WriteCounts) -> int:
        """Issues that no pass met are asked for one by one: a 404/410 makes a tombstone (counted as
        deleted); an answer is written like any fetched issue (e.g. now closed). Returns requests made."""
        if issue.native_id in seen:
            return 0
        try:
            current = run.adapter.get_issue(issue.key)
        except NotFoundError:
            now = run.now()
            # The issue's comments went with it: they are tombstoned (and counted) too.
            comments = _stored_comments(run, issue.ref)
            gone: list[Any] = [tombstone(c, now) for c in comments if c.deleted_at is None]
            counts.add(run.writer.write([*gone, tombstone(issue, now)], tombstones=True))
            return 1
        counts.add(self._write(run, [current], all_comments=True))
        return 1


def _confirm_missing(
    run: SyncRun,
    issue: Issue,
    listed: Sequence[Comment],
    seen: IdRanges | None = None,
    *,
    stored: Sequence[Comment] | None = None,
) -> WriteCounts:
    """Stored live comments of ``issue`` (``stored``, read here when not given) that are neither in
    ``listed`` (its complete list) nor in ``seen`` are asked for by id: 404/410 tombstones them, an answer
    is written as it is now."""
    present = {c.id for c in listed}
    missing = [
        c
        for c in (stored if stored is not None else _stored_comments(run, issue.ref))
        if c.deleted_at is None and c.id not in present and (seen is None or c.id not in seen)
    ]
    return _recheck(run, [(issue.key, c) for c in missing])


def _recheck(run: SyncRun, missing: Sequence[tuple[str, Comment]]) -> WriteCounts:
    """Each (issue key, stored comment) asked for by id: 404/410 writes its tombstone, an answer is
    written as it is now."""
    gone: list[Comment] = []
    current: list[Comment] = []
    for key, comment in missing:
        try:
            current.append(run.adapter.get_comment(key, comment.id))
        except NotFoundError:
            gone.append(tombstone(comment, run.now()))
    counts = run.writer.write(gone, tombstones=True) if gone else WriteCounts()
    if current:
        counts.add(run.writer.write(current))
    return counts


def _stored_comments(run: SyncRun, issue_ref: str) -> list[Comment]:
    repo = run.comments
    found: list[Comment] = []
    cursor: str | None = None
    for _ in range(1_000):
        page = repo.list_for_issue(run.tenant, issue_ref, limit=100, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


class IssuesSyncer(ListingSyncer):
    entity = "issues"

    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        # Update-ordered passes ask for every state: an issue closed since it was stored must be seen.
        include_closed = run.include_closed or since is not None
        return first_page(
            run.adapter.iter_issue_pages(since=since, include_closed=include_closed, cursor=cursor)
        )


class IssuesWithCommentsSyncer(IssuesSyncer):
    """GitLab and Jira: no scope-wide comment listing, so comments come per changed issue (GitLab notes
    only for issues whose ``updated_at`` moved; Jira from the comments the search embedded)."""

    comments_per_issue = True

    @contextmanager
    def session(self, run: SyncRun) -> Iterator[None]:
        # Jira's search embeds each issue's comments: the run keeps them, so asking for them costs nothing.
        if isinstance(run.adapter, KeepsEmbeddedComments):
            with run.adapter.keeping_embedded_comments():
                yield
        else:
            yield


class RepoCommentsSyncer(ListingSyncer):
    """GitHub: every comment of the repository in one listing, with ``since`` for incremental passes."""

    entity = "comments"

    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        return first_page(run.adapter.iter_comment_pages(since=since, cursor=cursor))

    def stored_any(self, run: SyncRun) -> bool:
        return bool(run.comments.list_for_connection(run.tenant, run.connection_id, limit=1).items)

    def _sweep(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        """One page of the connection's stored comments (GSI3, grouped by issue) checked against what the
        comment passes met; the ones missing are asked for by id. One query per page of comments, not one
        per issue: the sweep costs the same however the comments spread over issues."""
        stored = run.comments.list_for_connection(
            run.tenant, run.connection_id, limit=COMMENT_SWEEP_PAGE, cursor=cp.sweep_cursor
        )
        counts = WriteCounts()
        before = run.adapter.stats.requests
        if not cp.seen_overflow:
            seen = IdRanges.decode(cp.seen)
            missing = [
                (parsed[1], c)
                for c in stored.items
                if c.deleted_at is None
                and c.id not in seen
                and (parsed := parse_issue_ref(c.issue_ref)) is not None
            ]
            counts.add(_recheck(run, missing))
        cp = after_sweep_page(cp, high_water=high_water, next_cursor=stored.next_cursor, overlap=run.overlap)
        return StepResult(cp, counts, run.adapter.stats.requests - before, high_water)


@runtime_checkable
class ListsAdvisoryIssues(Protocol):
    """An adapter that reads the scope's security advisories as issues (GitHub: repository advisories),
    pages of them newest update first, stopping at the first that reaches before ``since``."""

    def iter_advisory_issues(self, *, since: datetime | None = None) -> Iterator[list[Issue]]: ...


class AdvisoriesSyncer(ListingSyncer):
    """Security advisories as issues of type Bug (``advisories``, an entity of its own with its own cursor).

    A repository holds few advisories and their listing has no ``since`` filter (it is ordered by update,
    newest first, and the adapter stops at the first older than ``since``), so one step reads the whole
    pass: its checkpoint needs no page cursor. Advisories are withdrawn or closed, never deleted, so no
    pass sweeps them, and the issue sweep leaves them alone (:func:`~trackbridge.domain.issues.is_advisory`).
    """

    entity = "advisories"

    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        adapter = run.adapter
        if not isinstance(adapter, ListsAdvisoryIssues):
            raise TypeError(f"{adapter.name} lists no security advisories")
        issues = tuple(issue for page in adapter.iter_advisory_issues(since=since) for issue in page)
        return Page(items=issues, raw_count=len(issues), next_cursor=None)


ISSUES = IssuesSyncer()
ISSUES_WITH_COMMENTS = IssuesWithCommentsSyncer()
REPO_COMMENTS = RepoCommentsSyncer()
ADVISORIES = AdvisoriesSyncer()


def plan_for(capabilities: Capabilities) -> dict[Entity, EntitySyncer | None]:
    """entity -> syncer for an adapter with ``capabilities``. An entity another syncer covers (comments
    that come with their issues) maps to None: its state is kept in step with the covering entity."""
    if capabilities.repo_wide_comments:
        return {"issues": ISSUES, "comments": REPO_COMMENTS}
    return {"issues": ISSUES_WITH_COMMENTS, "comments": None}


__all__ = [
    "ADVISORIES",
    "ISSUES",
    "ISSUES_WITH_COMMENTS",
    "REPO_COMMENTS",
    "AdvisoriesSyncer",
    "EntitySyncer",
    "IssuesSyncer",
    "IssuesWithCommentsSyncer",
    "KeepsEmbeddedComments",
    "ListingSyncer",
    "ListsAdvisoryIssues",
    "RepoCommentsSyncer",
    "StepResult",
    "SyncRun",
    "plan_for",
]
