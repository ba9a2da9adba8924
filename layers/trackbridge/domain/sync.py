"""Sync bookkeeping: operations, per-entity state (cursors) and sync log entries (DESIGN section 5).

A :class:`SyncOperation` moves ``Pending -> InProgress -> Completed | Failed | Cancelled``; only one may be
Pending or InProgress per connection (storage enforces it with a lock item). ``slice_no`` counts accepted
continuation messages, so a duplicate SQS delivery of slice n finds n+1 stored and does nothing.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.connections import Entity
from trackbridge.domain.times import UtcDatetime

# ``deletions``: only the deletion check (the scope's issue ids, then a direct GET for each stored issue
# missing from them), for the window between full syncs (``runtime.sync.deletion_check``).
SyncMode = Literal["full", "incremental", "deletions"]
OperationStatus = Literal["Pending", "InProgress", "Completed", "Failed", "Cancelled"]
ACTIVE_STATUSES: Final[frozenset[str]] = frozenset({"Pending", "InProgress"})
FINAL_STATUSES: Final[frozenset[str]] = frozenset({"Completed", "Failed", "Cancelled"})


class Progress(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str = "queued"
    processed: int = Field(0, ge=0)
    total: int | None = Field(None, ge=0)
    # True when ``total`` is an estimate (the provider does not say; e.g. the previous full pass's count).
    estimated: bool = False
    # While a slice is parked on a rate limit (stage ``waiting_rate_limit``): when it resumes.
    resume_at: UtcDatetime | None = None


class Results(BaseModel):
    model_config = ConfigDict(frozen=True)

    created: int = Field(0, ge=0)
    updated: int = Field(0, ge=0)
    unchanged: int = Field(0, ge=0)
    deleted: int = Field(0, ge=0)
    failed: int = Field(0, ge=0)
    errors: list[dict[str, Any]] = Field(default_factory=list)


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
    "FINAL_STATUSES",
    "OperationStatus",
    "Progress",
    "Results",
    "SyncLogEntry",
    "SyncMode",
    "SyncOperation",
    "SyncState",
]
