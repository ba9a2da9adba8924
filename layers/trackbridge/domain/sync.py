"""Sync bookkeeping: operations, per-entity state (cursors) and sync log entries (DESIGN section 5).

A :class:`SyncOperation` moves ``Pending -> InProgress -> Completed | Failed | Cancelled``; only one may be
Pending or InProgress per connection (storage enforces it with a lock item). ``slice_no`` counts accepted
continuation messages, so a duplicate SQS delivery of slice n finds n+1 stored and does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trackbridge.domain.connections import Entity
from trackbridge.domain.times import UtcDatetime

# ``deletions``: only the deletion check (the scope's issue ids, then a direct GET for each stored issue
# missing from them), for the window between full syncs (``runtime.sync.deletion_check``).
SyncMode = Literal["full", "incremental", "deletions"]
OperationStatus = Literal["Pending", "InProgress", "Completed", "Failed", "Cancelled"]
ACTIVE_STATUSES: Final[frozenset[str]] = frozenset({"Pending", "InProgress"})
FINAL_STATUSES: Final[frozenset[str]] = frozenset({"Completed", "Failed", "Cancelled"})


class Progress(BaseModel):
    """Where a running operation stands. ``processed`` is ``results``' created + updated + unchanged +
    failed (deletions are counted apart); ``total`` is what ``processed`` should reach, or None while
    unknown: the trackers do not say how many items a listing holds, so a full sync's total is the last
    full sync's count (``estimated``), an incremental sync's is unknown until it completes."""

    model_config = ConfigDict(frozen=True)

    stage: str = "queued"
    processed: int = Field(0, ge=0)
    total: int | None = Field(None, ge=0)
    # True when ``total`` is an estimate (the provider does not say; e.g. the previous full pass's count).
    estimated: bool = False
    # While a slice is parked on a rate limit (stage ``waiting_rate_limit``): when it resumes.
    resume_at: UtcDatetime | None = None


COUNTERS: Final = ("created", "updated", "unchanged", "deleted", "failed")
# The counters that make up ``processed``: every item an operation met, once. Deletions are counted apart.
PROCESSED_COUNTERS: Final = ("created", "updated", "unchanged", "failed")


class Counters(BaseModel):
    """The five counters of DESIGN section 9, the one shape they take everywhere.

    Every item an operation meets counts once, by what the sync did to it: ``created`` (new to the store),
    ``updated`` (stored, and changed), ``unchanged`` (stored and current: no write) or ``failed`` (could not
    be stored); ``processed`` is their sum, always (derived, never stored on its own). ``deleted`` counts
    tombstones written (items the tracker no longer has), apart from ``processed``.

    The same value is an entity's share of an operation's results (``Results.by_entity``), what one page
    adds to it and what one item adds (``count_write``). A page's or an item's counters are deltas: an item
    met again that changed meanwhile moves one count from ``unchanged`` to ``updated``, so a delta may be
    negative; :meth:`floored` is what an operation stores, never below 0.
    """

    model_config = ConfigDict(frozen=True)

    processed: int = Field(0, description="created + updated + unchanged + failed")
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _sum_processed(cls, data: Any) -> Any:
        # Derived: whatever a caller (or an old item) says, the sum holds.
        if isinstance(data, Mapping):
            data = {**data, "processed": sum(int(data.get(k) or 0) for k in PROCESSED_COUNTERS)}
        return data

    def __add__(self, other: Counters) -> Counters:
        return Counters(**{c: getattr(self, c) + getattr(other, c) for c in COUNTERS})

    def __bool__(self) -> bool:
        return any(getattr(self, c) for c in COUNTERS)

    def floored(self) -> Counters:
        """Each counter at least 0: a sum of deltas as an operation stores it."""
        return Counters(**{c: max(0, getattr(self, c)) for c in COUNTERS})

    def as_dict(self) -> dict[str, int]:
        """``processed`` first, then the five counters (logs, the CLI)."""
        return {"processed": self.processed, **{c: int(getattr(self, c)) for c in COUNTERS}}

    @classmethod
    def total(cls, parts: Iterable[Counters]) -> Counters:
        summed = cls()
        for part in parts:
            summed = summed + part
        return summed


# The name an entity's counters had before deltas and totals shared one type.
EntityResults = Counters


class Results(BaseModel):
    """An operation's counters: the totals of DESIGN section 9 and, in ``by_entity``, each entity's share
    (``{"issues": {...}, "comments": {...}}``); each total is the sum of its entity counters. Operations
    stored before ``by_entity`` existed read back with an empty map."""

    model_config = ConfigDict(frozen=True)

    created: int = Field(0, ge=0)
    updated: int = Field(0, ge=0)
    unchanged: int = Field(0, ge=0)
    deleted: int = Field(0, ge=0)
    failed: int = Field(0, ge=0)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    by_entity: dict[str, Counters] = Field(default_factory=dict)

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    @property
    def totals(self) -> Counters:
        return Counters(**{c: getattr(self, c) for c in COUNTERS})

    @classmethod
    def of(cls, by_entity: Mapping[str, Counters], errors: list[dict[str, Any]] | None = None) -> Results:
        """Totals summed from the entities' counters."""
        totals = Counters.total(by_entity.values())
        order = {entity: n for n, entity in enumerate(get_args(Entity))}
        ordered = dict(sorted(by_entity.items(), key=lambda pair: (order.get(pair[0], len(order)), pair[0])))
        return cls(**{c: getattr(totals, c) for c in COUNTERS}, errors=list(errors or []), by_entity=ordered)

    def counters(self) -> dict[str, int]:
        """The totals as a plain mapping (logs, the CLI): ``processed`` first."""
        return self.totals.as_dict()


class SyncOperation(BaseModel):
    """The operation shape of DESIGN section 9, plus ``slice_no`` and ``version`` for conditional writes."""

    model_config = ConfigDict(frozen=True)

    id: str
    connection_id: str
    mode: SyncMode
    entities: list[Entity]
    include_closed: bool = True
    status: OperationStatus = "Pending"
    progress: Progress = Field(default_factory=Progress)
    results: Results = Field(default_factory=Results)
    requests: int = Field(0, ge=0)
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    triggered_by: str
    # An incremental sync that ends with a deletion check (scheduled runs, once per
    # ``TB_DELETION_CHECK_INTERVAL_S``); a ``deletions`` operation is the check alone.
    check_deletions: bool = False
    slice_no: int = Field(0, ge=0)
    version: int = Field(1, ge=1)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class SyncState(BaseModel):
    """Where incremental sync of one entity of one connection resumes.

    ``high_water`` is the largest ``updated`` seen that is not after the sync's start (the signpost);
    ``cursor`` holds a provider token when the provider pages by token instead. ``deletions_checked_at``:
    the start of the last operation whose deletion sweep (a full sync's, or a deletion check's) finished;
    every deletion at the tracker before it is tombstoned in the store.
    """

    model_config = ConfigDict(frozen=True)

    connection_id: str
    entity: Entity
    high_water: UtcDatetime | None = None
    cursor: str | None = None
    status: Literal["never", "ok", "failed", "running"] = "never"
    last_operation_id: str | None = None
    last_success_at: UtcDatetime | None = None
    last_error: str | None = None
    deletions_checked_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    version: int = Field(1, ge=1)


class SyncLogEntry(BaseModel):
    """One line of an operation's log; kept for a limited time (TTL)."""

    model_config = ConfigDict(frozen=True)

    operation_id: str
    connection_id: str
    seq: int = Field(ge=0)
    at: UtcDatetime
    level: Literal["debug", "info", "warning", "error"] = "info"
    event: str = Field(description="a stable dotted name, e.g. sync.page")
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "ACTIVE_STATUSES",
    "COUNTERS",
    "FINAL_STATUSES",
    "PROCESSED_COUNTERS",
    "Counters",
    "EntityResults",
    "OperationStatus",
    "Progress",
    "Results",
    "SyncLogEntry",
    "SyncMode",
    "SyncOperation",
    "SyncState",
]
