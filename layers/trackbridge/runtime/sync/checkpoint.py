"""The sync checkpoint's state machine: the one place where an entity's checkpoint moves (DESIGN 5, 10).

The engine does the I/O (fetch, write, store) and the syncers fetch and write a page; every decision about
*where the entity stands next* is a function here, returning a value (STYLE habit 4): the checkpoint
(``domain.sync_plan.Checkpoint``, stored as JSON in ``SyncState.cursor``), the high-water mark, the
entity's :class:`~trackbridge.domain.sync.SyncState` and the operation's counters.

**States** (``Checkpoint.phase``) and the passes an operation plans for an entity (:func:`plan_phases`):

===========  ==============  ===============  =============================================
mode         high-water      entity           phases
===========  ==============  ===============  =============================================
full         any             issues/comments  ``full -> catchup -> sweep -> done``
full, 1st    any             changelogs       ``full -> done`` (reads stored issues: nothing moves)
full         any             others           ``full -> catchup -> done``
incremental  none (1st run)  any              ``full -> catchup -> done`` (nothing is stale)
incremental  set             any              ``incremental -> done``
incremental  set + check     issues           ``incremental -> ids -> sweep -> done``
deletions    any             issues           ``ids -> sweep -> done``
deletions    any             others           ``done``
===========  ==============  ===============  =============================================

**Transitions.** :func:`checkpoint_for` starts an entity (or resumes it: the stored checkpoint belongs to
this operation). Each step moves inside its phase and, on the phase's last page, into the next one
(:func:`enter_phase`):

* a listing page (``full``, ``catchup``, ``incremental``; :func:`after_listing_page`): ``full`` follows
  the provider's cursor (``page``) in an order updates cannot change; update-ordered passes move ``since``
  to the page's largest ``updated`` (keyset: an item updated while we page moves behind us instead of
  shifting an unseen one onto a page already read) and follow ``page`` only when a whole page shares one
  timestamp. The ids met go into ``seen`` (the sweep spares them; an item met twice counts once);
* an ``ids`` page (:func:`after_id_page`): the scope's issue ids into ``seen``, which ``ids`` starts afresh;
* a ``sweep`` page (:func:`after_sweep_page`): ``sweep_cursor`` over the stored items;
* a page of a derived entity's stored input (:func:`after_stored_page`) or of a tracker's change feed
  (:func:`after_feed_page`, with :func:`feed_position`: the worklog feeds, whose position is the tracker's
  own ``until``);
* a transient failure (:func:`after_transient_failure`): ``retries`` + 1, so retries stay bounded across
  slices; any page that succeeds sets it back to 0.

**Cursors** (DESIGN section 10). ``signpost`` is the operation's start. When a listing pass ends, the
high-water mark becomes ``min(largest updated seen, signpost)`` and never moves back
(:func:`next_high_water`); ``catchup`` and ``incremental`` start at ``high_water - overlap``
(:func:`query_since`), the overlap being the adapter's declared ``incremental_overlap``.

**Counters.** :func:`add_counts` adds one page's :class:`~trackbridge.domain.sync.Counters` deltas per
entity to the operation's results; :func:`progress_after` is what ``progress`` then says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from trackbridge.domain.connections import Entity
from trackbridge.domain.sync import COUNTERS, Counters, Progress, Results, SyncMode, SyncState
from trackbridge.domain.sync_plan import Checkpoint, IdRanges, Phase

# The stages ``progress.stage`` shows while a slice is parked.
STAGE_WAITING_RATE_LIMIT: Final = "waiting_rate_limit"
STAGE_WAITING_RETRY: Final = "waiting_retry"
# Entities whose full passes end with a deletion sweep of their own.
SWEPT_ENTITIES: Final = frozenset({"issues", "comments"})
# Entities read from what the issue passes stored (changelogs: the histories of stored issues): a full pass
# reads a store that is not changing under it, so it needs no catch-up pass after it.
DERIVED_ENTITIES: Final = frozenset({"changelogs"})
# Entities the deletion check covers: an issue's comments are tombstoned with it (comment deletions of
# live issues are found by the passes that re-read comment lists, and by full syncs).
CHECKED_ENTITIES: Final = frozenset({"issues"})
DELETION_CHECK: Final[tuple[Phase, ...]] = ("ids", "sweep")
# The largest encoded seen set a checkpoint carries (the state item must stay well under DynamoDB's 400 KB).
MAX_SEEN_CHARS: Final = 250_000
# The errors an operation keeps (the newest).
MAX_ERRORS_KEPT: Final = 20


# -------------------------------------------------------------------------------------------- cursor math


def query_since(high_water: datetime | None, overlap: timedelta) -> datetime | None:
    """Where an incremental pass starts: ``high_water - overlap`` (None: there is no high-water yet)."""
    return None if high_water is None else high_water - overlap


def next_high_water(
    current: datetime | None, seen_max: datetime | None, signpost: datetime
) -> datetime | None:
    """The high-water mark after a pass: the largest ``updated`` seen, never past the signpost, never back."""
    candidate = min(seen_max, signpost) if seen_max is not None else None
    if candidate is None:
        return current
    if current is None:
        return candidate
    return max(current, candidate)


def next_keyset_since(current: datetime | None, page_max_updated: datetime | None) -> datetime | None:
    """The ``since`` of the next request of an update-ordered pass, or None when the page made no progress
    (every item at ``current``): then the provider's own next-page cursor must be followed instead."""
    if page_max_updated is None:
        return None
    if current is not None and page_max_updated <= current:
        return None
    return page_max_updated


def latest(moments: Iterable[datetime | None]) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


# ------------------------------------------------------------------------------------------------- phases


def plan_phases(
    mode: SyncMode, entity: Entity, high_water: datetime | None, *, check_deletions: bool = False
) -> tuple[Phase, ...]:
    """The passes one entity goes through in one operation (the table in the module docstring)."""
    checks = entity in CHECKED_ENTITIES
    if mode == "deletions":
        return DELETION_CHECK if checks else ("done",)
    if mode == "incremental" and high_water is not None:
        return ("incremental", *DELETION_CHECK) if check_deletions and checks else ("incremental",)
    if mode == "full" and entity in SWEPT_ENTITIES:
        return ("full", "catchup", "sweep")
    if entity in DERIVED_ENTITIES:
        return ("full",)
    return ("full", "catchup")


def next_phase(phases: Sequence[Phase], current: Phase) -> Phase:
    if current == "done" or current not in phases:
        return "done"
    index = phases.index(current)
    return phases[index + 1] if index + 1 < len(phases) else "done"


def stage_name(entity: str, phase: Phase) -> str:
    """``issues:full``, ``comments:incremental``...: what ``progress.stage`` says while a pass runs."""
    return f"{entity}:{phase}"


def deletion_check_due(last_checked: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Whether a scheduled incremental sync should end with a deletion check: never checked, or the last
    check (or full sync sweep) started ``interval`` or longer ago. A zero interval checks on every run."""
    return last_checked is None or now - last_checked >= interval


def deletions_checked_at(cp: Checkpoint, previous: datetime | None) -> datetime | None:
    """What the entity's state records as its last deletion check once ``cp`` is stored: the operation's
    start (every deletion before it has been seen missing) when a sweep just finished over a complete set
    of seen ids, else what it recorded before."""
    if cp.phase == "done" and "sweep" in cp.phases and not cp.seen_overflow:
        return cp.signpost if previous is None else max(previous, cp.signpost)
    return previous


def start_checkpoint(
    *,
    operation_id: str,
    mode: SyncMode,
    entity: Entity,
    high_water: datetime | None,
    signpost: datetime,
    overlap: timedelta,
    previous: Checkpoint | None,
    check_deletions: bool = False,
) -> Checkpoint:
    """The first checkpoint of an entity in an operation; ETags and the last total carry over."""
    phases = plan_phases(mode, entity, high_water, check_deletions=check_deletions)
    first = phases[0]
    return Checkpoint(
        operation_id=operation_id,
        phase=first,
        phases=phases,
        signpost=signpost,
        since=query_since(high_water, overlap) if first == "incremental" else None,
        etags=dict(previous.etags) if previous else {},
        last_total=previous.last_total if previous else None,
    )


def checkpoint_for(
    state: SyncState | None,
    *,
    operation_id: str,
    mode: SyncMode,
    entity: Entity,
    signpost: datetime,
    overlap: timedelta,
    check_deletions: bool = False,
) -> Checkpoint:
    """Where an entity of an operation stands when a slice takes it up: the stored checkpoint when it is
    this operation's (a continuation, a retry, a crash replaying its last page), else a fresh start."""
    previous = Checkpoint.from_json(state.cursor) if state else None
    if previous is not None and previous.operation_id == operation_id:
        return previous
    return start_checkpoint(
        operation_id=operation_id,
        mode=mode,
        entity=entity,
        high_water=state.high_water if state else None,
        signpost=signpost,
        overlap=overlap,
        previous=previous,
        check_deletions=check_deletions,
    )


def enter_phase(
    checkpoint: Checkpoint, phase: Phase, *, high_water: datetime | None, overlap: timedelta
) -> Checkpoint:
    """The checkpoint at the start of ``phase``: a catch-up pass starts from the high-water minus overlap
    (the whole window the full pass ran in, since the high-water never passes the signpost)."""
    changes: dict[str, Any] = {"phase": phase, "page": None, "retries": 0}
    if phase in ("catchup", "incremental"):
        changes["since"] = query_since(high_water, overlap)
    if phase == "ids":
        # The deletion check's listing is complete on its own: what an incremental pass before it met
        # (and may have been deleted since) must not spare an issue from the sweep.
        changes.update(seen=None, seen_overflow=False)
    return checkpoint.model_copy(update=changes)


def _next(cp: Checkpoint, high_water: datetime | None, overlap: timedelta) -> Checkpoint:
    return enter_phase(cp, next_phase(cp.phases, cp.phase), high_water=high_water, overlap=overlap)


# ------------------------------------------------------------------------------------------------ seen ids


def seen_of(cp: Checkpoint) -> IdRanges | None:
    """The ids this operation's passes met, or None when the set outgrew the checkpoint."""
    return None if cp.seen_overflow else IdRanges.decode(cp.seen)


def met_before(
    native_id: str, seen: IdRanges | None, *, phase: Phase, updated_at: datetime | None, signpost: datetime
) -> bool:
    """Whether a listed item was met earlier in this operation: its id is in the pass's ``seen`` set; when
    that set outgrew the checkpoint, a catch-up item not updated since the operation started (the full
    pass, in an order updates cannot change, met every such item)."""
    if seen is not None:
        return native_id in seen
    return phase == "catchup" and updated_at is not None and updated_at <= signpost


def _track_seen(cp: Checkpoint, native_ids: Sequence[str], seen: IdRanges | None = None) -> dict[str, Any]:
    """Checkpoint changes that add ``native_ids`` to the ids the sweep will not ask about (and that count
    once); ``seen`` is the decoded set when the caller already has it."""
    if not native_ids:
        return {}
    seen = seen if seen is not None else IdRanges.decode(cp.seen)
    for native_id in native_ids:
        seen.add(native_id)
    encoded = seen.encode()
    if len(encoded) > MAX_SEEN_CHARS:
        return {"seen": None, "seen_overflow": True}
    return {"seen": encoded}


# ------------------------------------------------------------------------------------------------ events


def after_listing_page(
    cp: Checkpoint,
    *,
    high_water: datetime | None,
    met: Sequence[tuple[str, datetime | None]],
    next_page: Mapping[str, Any] | None,
    not_modified: bool,
    overlap: timedelta,
    seen: IdRanges | None = None,
) -> tuple[Checkpoint, datetime | None]:
    """A page of a listing pass was written: ``met`` are its items' (native id, updated), ``next_page`` the
    provider's cursor to the next page (None: the pass is over), ``seen`` the decoded :func:`seen_of`.
    Returns the next checkpoint and the high-water mark (moved when the pass ended)."""
    keyset = cp.phase in ("catchup", "incremental")
    page_max = latest(updated for _, updated in met)
    changes: dict[str, Any] = {
        "seen_max": latest((cp.seen_max, page_max)),
        "processed": cp.processed + len(met),
        "retries": 0,
    }
    if seen is not None:
        changes.update(_track_seen(cp, [native_id for native_id, _ in met], seen))
    if next_page is not None:
        following = next_keyset_since(cp.since, page_max) if keyset and not not_modified else None
        if following is not None:
            changes.update(since=following, page=None)
        else:
            changes["page"] = dict(next_page)
    cp = cp.model_copy(update=changes)
    if next_page is not None:
        return cp, high_water
    high_water = next_high_water(high_water, cp.seen_max, cp.signpost)
    if cp.phase == "full":
        cp = cp.model_copy(update={"last_total": cp.processed})
    return _next(cp, high_water, overlap), high_water


def after_id_page(
    cp: Checkpoint,
    *,
    high_water: datetime | None,
    ids: Sequence[str],
    next_page: Mapping[str, Any] | None,
    overlap: timedelta,
) -> Checkpoint:
    """A page of the deletion check's id listing: its ids join ``seen``; nothing was written."""
    changes: dict[str, Any] = {"processed": cp.processed + len(ids), "retries": 0}
    if not cp.seen_overflow:
        changes.update(_track_seen(cp, ids))
    if next_page is not None:
        changes["page"] = dict(next_page)
    cp = cp.model_copy(update=changes)
    return cp if next_page is not None else _next(cp, high_water, overlap)


def after_sweep_page(
    cp: Checkpoint, *, high_water: datetime | None, next_cursor: str | None, overlap: timedelta
) -> Checkpoint:
    """A page of stored items was checked against ``seen``; ``next_cursor`` None: the sweep is over."""
    cp = cp.model_copy(update={"sweep_cursor": next_cursor})
    return cp if next_cursor is not None else _next(cp, high_water, overlap)


def after_stored_page(
    cp: Checkpoint,
    *,
    high_water: datetime | None,
    met: Sequence[tuple[str, datetime | None]],
    next_cursor: str | None,
    overlap: timedelta,
) -> tuple[Checkpoint, datetime | None]:
    """A page of stored items (a derived entity's input, read by the store's own cursor in ``page``) was
    handled; ``next_cursor`` None ends the pass, whose high-water is then the newest ``updated`` met (never
    past the signpost): the next pass reads what was stored as changed from there on."""
    changes: dict[str, Any] = {
        "seen_max": latest((cp.seen_max, latest(updated for _, updated in met))),
        "processed": cp.processed + len(met),
        "retries": 0,
        "page": {"cursor": next_cursor} if next_cursor is not None else None,
    }
    cp = cp.model_copy(update=changes)
    if next_cursor is not None:
        return cp, high_water
    high_water = next_high_water(high_water, cp.seen_max, cp.signpost)
    return _next(cp, high_water, overlap), high_water


# ------------------------------------------------------------------------------------ change feeds
# A tracker's change feed (Jira's /worklog/updated and /worklog/deleted) pages by the tracker's own clock:
# each page says ``until``, the ``since`` of the next call, and everything changed up to it has been listed
# (Jira holds back the last minute for that). A feed pass reads the updated feed, then the deleted feed from
# the same start; its position rides in ``Checkpoint.page`` (epoch milliseconds), and once both feeds end the
# entity's high-water is the earlier of their ``until``: a tracker time the next pass starts at exactly.
FEED_UPDATED: Final = "updated"
FEED_DELETED: Final = "deleted"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def feed_position(cp: Checkpoint, high_water: datetime | None, overlap: timedelta) -> tuple[str, datetime]:
    """(feed, since) of the next feed call. An incremental pass starts at the high-water itself (the
    tracker's own ``until`` of the last feed pass); a catch-up pass after a full one (whose mark is our
    clock and the items' times) at that mark minus the overlap, or at the operation's start minus it."""
    page = cp.page or {}
    if "at" in page:
        return str(page.get("feed", FEED_UPDATED)), _moment(int(page["at"]))
    if cp.phase == "incremental" and high_water is not None:
        return FEED_UPDATED, high_water
    return FEED_UPDATED, cp.since if cp.since is not None else cp.signpost - overlap


def after_feed_page(
    cp: Checkpoint,
    *,
    feed: str,
    since: datetime,
    until: datetime,
    last: bool,
    met: Sequence[str],
    overlap: timedelta,
    seen: IdRanges | None = None,
) -> tuple[Checkpoint, datetime | None]:
    """A page of a feed pass was written (``met``: the ids it listed, which join ``seen``). Returns the
    next checkpoint and, once the deleted feed ends the pass, the entity's new high-water (else None)."""
    page = dict(cp.page or {})
    start = int(page.get("start", _ms(since)))
    until_ms = max(_ms(until), _ms(since))
    changes: dict[str, Any] = {"processed": cp.processed + len(met), "retries": 0}
    if seen is not None:
        changes.update(_track_seen(cp, met, seen))
    if not last:
        changes["page"] = {**page, "feed": feed, "at": until_ms, "start": start}
        return cp.model_copy(update=changes), None
    if feed == FEED_UPDATED:
        changes["page"] = {"feed": FEED_DELETED, "at": start, "start": start, "updated_until": until_ms}
        return cp.model_copy(update=changes), None
    high_water = _moment(min(int(page.get("updated_until", until_ms)), until_ms))
    cp = cp.model_copy(update=changes)
    return _next(cp, high_water, overlap), high_water


def after_transient_failure(cp: Checkpoint) -> Checkpoint:
    """A step failed in a way that may pass (an outage): counted, so the retries stay bounded."""
    return cp.model_copy(update={"retries": cp.retries + 1})


def conditional_requests(cp: Checkpoint) -> bool:
    """Whether this step may send ETags. Not in a full pass: a 304 carries no items, so the pass would see
    none of the page's items and the sweep after it would ask for every one of them by a direct GET."""
    return cp.phase != "full"


def with_etags(cp: Checkpoint, etags: Mapping[str, Any]) -> Checkpoint:
    """The conditional-request cache rides in the checkpoint, across operations."""
    return cp.model_copy(update={"etags": dict(etags)})


# ------------------------------------------------------------------------------------------ entity state


def state_after(
    cp: Checkpoint,
    previous: SyncState | None,
    *,
    connection_id: str,
    entity: str,
    high_water: datetime | None,
    now: datetime,
) -> SyncState:
    """The entity's state once ``cp`` is stored (a page's checkpoint): ok when its passes are done."""
    done = cp.phase == "done"
    return SyncState(
        connection_id=connection_id,
        entity=entity,
        high_water=high_water,
        cursor=cp.to_json(),
        status="ok" if done else "running",
        last_operation_id=cp.operation_id,
        last_success_at=now if done else (previous.last_success_at if previous else None),
        last_error=None,
        deletions_checked_at=deletions_checked_at(cp, previous.deletions_checked_at if previous else None),
        updated_at=now,
        version=(previous.version + 1) if previous else 1,
    )


def state_retrying(
    cp: Checkpoint, previous: SyncState | None, *, connection_id: str, entity: str, now: datetime
) -> SyncState:
    """The entity's state while a transient failure waits for its retry (``cp`` already counts it)."""
    if previous is not None:
        return previous.model_copy(update={"cursor": cp.to_json(), "version": previous.version + 1})
    return SyncState(
        connection_id=connection_id,
        entity=entity,
        cursor=cp.to_json(),
        status="running",
        last_operation_id=cp.operation_id,
        updated_at=now,
    )


def state_failed(previous: SyncState, message: str, *, now: datetime) -> SyncState:
    return previous.model_copy(
        update={
            "status": "failed",
            "last_error": message[:500],
            "updated_at": now,
            "version": previous.version + 1,
        }
    )


def state_covered(
    covering: SyncState | None,
    previous: SyncState | None,
    *,
    connection_id: str,
    entity: str,
    operation_id: str,
    now: datetime,
) -> SyncState:
    """An entity that came with another (comments with their issues) follows the covering one's state."""
    return SyncState(
        connection_id=connection_id,
        entity=entity,
        high_water=covering.high_water if covering else None,
        status="ok",
        last_operation_id=operation_id,
        last_success_at=now,
        updated_at=now,
        version=(previous.version + 1) if previous else 1,
    )


# ---------------------------------------------------------------------------------------------- counters


def add_counts(
    results: Results, by_entity: Mapping[str, Counters], errors: Sequence[Mapping[str, Any]] = ()
) -> Results:
    """The operation's counters plus one page's deltas, per entity; the totals are the entities' sums."""
    kept = [*results.errors, *(dict(e) for e in errors)][-MAX_ERRORS_KEPT:]
    if not results.by_entity and results.totals:
        # An operation that started before per-entity counters existed: it keeps counting totals only.
        totals = (results.totals + Counters.total(by_entity.values())).floored()
        return Results(**{c: getattr(totals, c) for c in COUNTERS}, errors=kept)
    merged = dict(results.by_entity)
    for entity, deltas in by_entity.items():
        # A delta may move a count between counters (unchanged -> updated); a sum never goes below 0.
        merged[entity] = (merged.get(entity, Counters()) + deltas).floored()
    return Results.of(merged, kept)


def running_total(estimate: int | None, processed: int) -> int | None:
    """``progress.total`` while the operation runs: the estimate until ``processed`` passes it, then
    unknown (None) rather than a total that moves along with the count."""
    if estimate is None or processed > estimate:
        return None
    return estimate


def progress_after(progress: Progress, results: Results, entity: str, cp: Checkpoint) -> Progress:
    """What ``progress`` says once a page's checkpoint and counts are stored."""
    processed = results.processed
    return Progress(
        stage=stage_name(entity, cp.phase),
        processed=processed,
        total=running_total(progress.total, processed),
        estimated=True,
    )


__all__ = [
    "CHECKED_ENTITIES",
    "DELETION_CHECK",
    "DERIVED_ENTITIES",
    "FEED_DELETED",
    "FEED_UPDATED",
    "MAX_ERRORS_KEPT",
    "MAX_SEEN_CHARS",
    "STAGE_WAITING_RATE_LIMIT",
    "STAGE_WAITING_RETRY",
    "SWEPT_ENTITIES",
    "add_counts",
    "after_feed_page",
    "after_id_page",
    "after_listing_page",
    "after_stored_page",
    "after_sweep_page",
    "after_transient_failure",
    "checkpoint_for",
    "conditional_requests",
    "deletion_check_due",
    "deletions_checked_at",
    "enter_phase",
    "feed_position",
    "latest",
    "met_before",
    "next_high_water",
    "next_keyset_since",
    "next_phase",
    "plan_phases",
    "progress_after",
    "query_since",
    "running_total",
    "seen_of",
    "stage_name",
    "start_checkpoint",
    "state_after",
    "state_covered",
    "state_failed",
    "state_retrying",
    "with_etags",
]
