"""The sync engine's decisions, as values: messages, cursor math, write decisions, phases, parking.

Everything the engine decides lives here, free of I/O, so it is unit-tested on its own (STYLE habit 4);
the engine in ``trackbridge.runtime.sync`` does the side effects. The rules are DESIGN section 10's:

* **Cursors.** ``signpost`` is the time the operation started. After a pass the high-water mark becomes
  ``min(largest updated seen, signpost)`` and never moves backwards; the next incremental asks for
  ``updated >= high_water - overlap``, where the overlap covers clock skew and the provider's precision
  (Jira JQL is minute-precise). Re-seen items cost nothing: the content hash says they are unchanged.
* **Drift.** Full passes page in an order updates cannot change (the adapters ask for created/id order).
  Update-ordered passes (incremental and the catch-up pass after a full one) do not follow page numbers:
  each page is asked for again with ``since`` = the largest ``updated`` of the page before (keyset on the
  update time). An item updated while we page moves behind the keyset position instead of shifting an
  unseen item onto a page already read. Only when a whole page shares one timestamp (no progress) does
  the pass follow the provider's own next-page cursor.
* **Phases.** full mode: ``full`` (created order) -> ``catchup`` (update order from the pre-pass high
  water) -> ``sweep`` (stored items the passes did not see are checked one by one with a direct GET and
  tombstoned only on 404/410; issues, and comments where a scope-wide comment listing is their own
  entity). incremental mode with a high-water mark: ``incremental``; without one (first run) it is a full
  sync without the sweep, since nothing stored can be stale.
* **Deletions between full syncs.** An update-ordered listing never shows a deleted issue, so the deletion
  check lists only the scope's issue ids (``ids``, the cheapest listing each tracker has) into the same
  ``seen`` set a full pass fills, and the full sync's ``sweep`` confirms every stored issue missing from it
  with a direct GET. ``deletions`` mode is that check alone; a scheduled incremental sync appends it
  (``check_deletions``) when :func:`deletion_check_due` says the last one is older than the interval.
* **Writes.** :func:`decide_write` compares the stored version with the incoming one; the conditional
  ``PutItem`` in storage settles races with webhooks, so a lost race is "unchanged", never an error.
* **Counters.** Every item an operation meets counts once, by what the sync did to it (:func:`count_write`):
  an item met again (the catch-up pass re-reads the overlap window of the full pass; an update-ordered
  page re-reads the items at its keyset position) is not counted again, and a page replayed after a crash
  counts what the lost attempt wrote, which the writer's mark on each stored item
  (``{operation_id}/{c|u|d}``) tells. ``processed`` is created + updated + unchanged + failed.
* **Parking.** SQS delays are at most 900 s: a later reset is reached by chained delayed messages that
  carry ``resume_at``; a message that arrives before ``resume_at`` only re-parks.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from trackbridge.domain.connections import Entity
from trackbridge.domain.sync import SyncMode
from trackbridge.domain.times import UtcDatetime, from_iso, to_iso

# ------------------------------------------------------------------------------------------ API request


class SyncRequest(BaseModel):
    """Body of ``POST /v1/connections/{id}/syncs``; omitted fields take the connection's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: SyncMode = "incremental"
    entities: list[Entity] | None = Field(None, min_length=1, max_length=5)
    include_closed: bool | None = None


# ---------------------------------------------------------------------------------------------- messages

MAX_SQS_DELAY_S: Final = 900


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: Annotated[str, Field(min_length=1, max_length=63)]


class StartMessage(_Message):
    """Run the first slice of a freshly started operation."""

    kind: Literal["start"] = "start"
    operation_id: Annotated[str, Field(min_length=1, max_length=64)]
    slice_no: int = Field(0, ge=0)
    resume_at: UtcDatetime | None = None


class ContinueMessage(_Message):
    """Run slice ``slice_no`` of an operation; accepted once (``slice_no`` conditional claim)."""

    kind: Literal["continue"] = "continue"
    operation_id: Annotated[str, Field(min_length=1, max_length=64)]
    slice_no: int = Field(ge=0)
    # Set on parked slices: a message that arrives earlier (chained delays) only re-parks.
    resume_at: UtcDatetime | None = None


class ScheduledMessage(_Message):
    """What a connection's EventBridge schedule puts on the sync queue."""

    kind: Literal["scheduled"] = "scheduled"
    connection_id: Annotated[str, Field(min_length=1, max_length=64)]


SyncMessage = Annotated[StartMessage | ContinueMessage | ScheduledMessage, Field(discriminator="kind")]
_MESSAGE: TypeAdapter[StartMessage | ContinueMessage | ScheduledMessage] = TypeAdapter(SyncMessage)


def parse_message(body: str | bytes | Mapping[str, Any]) -> StartMessage | ContinueMessage | ScheduledMessage:
    """A queue body as a message; pydantic's ValidationError for anything else."""
    if isinstance(body, Mapping):
        return _MESSAGE.validate_python(dict(body))
    return _MESSAGE.validate_json(body)


def park_delay_s(now: datetime, resume_at: datetime) -> int:
    """The SQS delay of the next link of a parking chain: at least 1 s, at most SQS's 900 s."""
    wait = (resume_at - now).total_seconds()
    return max(1, min(MAX_SQS_DELAY_S, int(wait) + (0 if float(wait).is_integer() else 1)))


# -------------------------------------------------------------------------------------------- cursor math

# The overlap of an incremental pass (clock skew plus the precision of the tracker's "updated since" filter)
# is declared once, by each tracker's adapter (``TrackerAdapter.incremental_overlap``, with its reason); the
# runtime passes it in to the functions here, so this module never imports the providers.


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


# ------------------------------------------------------------------------------------------ write decision

WriteDecision = Literal["create", "update", "skip"]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What the engine reads of a stored item before deciding: its update time, hash and tombstone, and
    the mark of the sync operation that wrote it last (None when a webhook or an API call did)."""

    updated_at: str
    content_hash: str
    deleted: bool = False
    mark: str | None = None


def decide_write(stored: StoredVersion | None, updated_at: datetime, content_hash: str) -> WriteDecision:
    """Create what is new, update what is newer (or equally new with other content), skip the rest.

    A tombstone wins over updates older than it only: its ``updated_at`` is the deletion time.
    """
    if stored is None:
        return "create"
    incoming = to_iso(updated_at)
    if stored.updated_at > incoming:
        return "skip"
    if stored.updated_at == incoming and stored.content_hash == content_hash:
        return "skip"
    return "update"


# ---------------------------------------------------------------------------------------------- counters

# What writing one item came to: ``skip`` (the stored copy is current: no write), the conditional put's
# answer (``created``, ``updated``, ``unchanged`` when a newer copy won the race), ``failed``, or
# ``deleted`` (a tombstone written).
WriteOutcome = Literal["skip", "created", "updated", "unchanged", "failed", "deleted"]
EarlierWrite = Literal["created", "updated"]
_MARKS: Final[Mapping[str, EarlierWrite | Literal["deleted"]]] = {
    "c": "created",
    "u": "updated",
    "d": "deleted",
}


def write_mark(operation_id: str, decision: WriteDecision, *, tombstone: bool = False) -> str:
    """What the writer stores on an item it writes: which operation wrote it, and how."""
    return f"{operation_id}/{'d' if tombstone else decision[0]}"


def earlier_write(stored: StoredVersion | None, operation_id: str) -> EarlierWrite | None:
    """Whether ``operation_id`` itself wrote the stored copy (created or updated it), from its mark."""
    if stored is None or not stored.mark:
        return None
    op, _, how = stored.mark.rpartition("/")
    written = _MARKS.get(how) if op == operation_id else None
    return written if written in ("created", "updated") else None


def count_write(outcome: WriteOutcome, *, met: bool, earlier: EarlierWrite | None) -> dict[str, int]:
    """What one item adds to its entity's counters (a delta; the operation's sums never go below 0).

    ``met``: this operation already met, and counted, the item (an earlier page or pass listed it).
    ``earlier``: what this operation's own earlier write of the item did (:func:`earlier_write`).

    * first meeting: counted by the outcome; a copy that is current because this operation wrote it
      (a page replayed after a crash between write and checkpoint) counts as that write did;
    * met again: nothing, unless the item changed while the operation ran and was counted unchanged the
      first time: then it moves from ``unchanged`` to ``updated``.
    """
    if outcome == "deleted":
        return {"deleted": 1}
    if not met:
        if outcome in ("skip", "unchanged"):
            return {earlier or "unchanged": 1}
        if outcome == "updated" and earlier == "created":
            return {"created": 1}
        return {outcome: 1}
    if outcome == "updated" and earlier is None:
        return {"unchanged": -1, "updated": 1}
    return {}


def met_before(
    native_id: str, seen: IdRanges | None, *, phase: Phase, updated_at: datetime | None, signpost: datetime
) -> bool:
    """Whether a listed item was met earlier in this operation: its id is in the pass's ``seen`` set; when
    that set outgrew the checkpoint, a catch-up item not updated since the operation started (the full
    pass, in an order updates cannot change, met every such item)."""
    if seen is not None:
        return native_id in seen
    return phase == "catchup" and updated_at is not None and updated_at <= signpost


# ------------------------------------------------------------------------------------------------- phases

Phase = Literal["full", "catchup", "incremental", "ids", "sweep", "done"]
# The stage shown in progress when a slice is parked on a rate limit.
STAGE_WAITING_RATE_LIMIT: Final = "waiting_rate_limit"
STAGE_WAITING_RETRY: Final = "waiting_retry"


# Entities whose full passes end with a deletion sweep of their own.
SWEPT_ENTITIES: Final = frozenset({"issues", "comments"})


# Entities the deletion check covers: an issue's comments are tombstoned with it (comment deletions of
# live issues are found by the passes that re-read comment lists, and by full syncs).
CHECKED_ENTITIES: Final = frozenset({"issues"})
DELETION_CHECK: Final[tuple[Phase, ...]] = ("ids", "sweep")


def plan_phases(
    mode: SyncMode, entity: Entity, high_water: datetime | None, *, check_deletions: bool = False
) -> tuple[Phase, ...]:
    """The passes one entity goes through in one operation."""
    checks = entity in CHECKED_ENTITIES
    if mode == "deletions":
        return DELETION_CHECK if checks else ("done",)
    if mode == "incremental" and high_water is not None:
        return ("incremental", *DELETION_CHECK) if check_deletions and checks else ("incremental",)
    if mode == "full" and entity in SWEPT_ENTITIES:
        return ("full", "catchup", "sweep")
    return ("full", "catchup")


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


def next_phase(phases: Sequence[Phase], current: Phase) -> Phase:
    if current == "done" or current not in phases:
        return "done"
    index = phases.index(current)
    return phases[index + 1] if index + 1 < len(phases) else "done"


def stage_name(entity: str, phase: Phase) -> str:
    """``issues:full``, ``comments:incremental``...: what ``progress.stage`` says while a pass runs."""
    return f"{entity}:{phase}"


# ------------------------------------------------------------------------------------ seen ids (compact)


class IdRanges:
    """A set of native ids met by the passes of an operation, small enough to ride in every checkpoint.

    Small numbers (issue numbers, sandbox comment ids) are bits of a bitmap, stored zlib-compressed:
    100,000 issue numbers with gaps for pull requests take a few KB, where a list of runs would take a
    hundred. Large numbers (GitHub's global comment ids, around 2e9) are kept sorted and stored as
    varint-encoded gaps, a few bytes each; ids that are not numbers are kept as strings.
    """

    MAX_BIT: Final = 50_000_000

    def __init__(
        self, bits: bytes | bytearray = b"", others: Iterable[str] = (), large: Iterable[int] = ()
    ) -> None:
        self._bits = bytearray(bits)
        self._others: set[str] = set(others)
        self._large: set[int] = set(large)

    def add(self, native_id: str) -> None:
        if not _plain_number(native_id):
            self._others.add(native_id)
            return
        if int(native_id) >= self.MAX_BIT:
            self._large.add(int(native_id))
            return
        value = int(native_id)
        byte = value >> 3
        if byte >= len(self._bits):
            self._bits.extend(b"\0" * (byte + 1 - len(self._bits)))
        self._bits[byte] |= 1 << (value & 7)

    def __contains__(self, native_id: object) -> bool:
        if not isinstance(native_id, str):
            return False
        if not _plain_number(native_id):
            return native_id in self._others
        value = int(native_id)
        if value >= self.MAX_BIT:
            return value in self._large
        byte = value >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (value & 7)))

    def __len__(self) -> int:
        return sum(bin(b).count("1") for b in self._bits) + len(self._others) + len(self._large)

    def encode(self) -> str:
        packed = base64.b64encode(zlib.compress(bytes(self._bits), 9)).decode("ascii")
        data: dict[str, Any] = {"b": packed, "o": sorted(self._others)}
        if self._large:
            data["l"] = base64.b64encode(zlib.compress(_gaps(sorted(self._large)), 9)).decode("ascii")
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> IdRanges:
        if not text:
            return cls()
        data = json.loads(text)
        bits = zlib.decompress(base64.b64decode(data.get("b") or "")) if data.get("b") else b""
        large = _ungap(zlib.decompress(base64.b64decode(data["l"]))) if data.get("l") else ()
        return cls(bits, data.get("o") or (), large)


def _plain_number(text: str) -> bool:
    """ASCII digits without a leading zero: ``"007"`` stays a string, so it never equals ``"7"``."""
    return text.isascii() and text.isdigit() and (len(text) == 1 or text[0] != "0")


def _gaps(values: Sequence[int]) -> bytes:
    """Ascending integers as LEB128 varints of their differences (the first from zero)."""
    out = bytearray()
    previous = 0
    for value in values:
        gap = value - previous
        previous = value
        while True:
            low = gap & 0x7F
            gap >>= 7
            out.append(low | (0x80 if gap else 0))
            if not gap:
                break
    return bytes(out)


def _ungap(data: bytes) -> list[int]:
    values: list[int] = []
    current = shift = gap = 0
    for byte in data:
        gap |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        current += gap
        values.append(current)
        gap = shift = 0
    return values


# --------------------------------------------------------------------------------------------- checkpoint


class Checkpoint(BaseModel):
    """Where one entity of one operation stands; stored as JSON in ``SyncState.cursor``.

    ``page`` is the provider's next-page cursor to resume with; ``since`` the keyset position of an
    update-ordered pass; ``seen_max`` the largest ``updated`` met so far in this operation; ``seen`` the
    native ids the listing passes met (for the sweep, and so that an item met twice counts once; the
    deletion check's ``ids`` pass starts it afresh); ``sweep_cursor`` where the sweep over
    stored items resumes; ``etags`` the conditional-request cache, kept across operations so an idle
    incremental poll costs 304s; ``retries`` counts consecutive transient failures of this entity.
    """

    model_config = ConfigDict(frozen=True)

    operation_id: str
    phase: Phase
    phases: tuple[Phase, ...]
    signpost: UtcDatetime
    since: UtcDatetime | None = None
    page: dict[str, Any] | None = None
    seen_max: UtcDatetime | None = None
    seen: str | None = None
    sweep_cursor: str | None = None
    swept_done: bool = False
    # The seen ids outgrew MAX_SEEN_CHARS (a DynamoDB item holds 400 KB): this operation skips its sweep
    # rather than tombstone what it could not track. Only a scope with hundreds of thousands of comments.
    seen_overflow: bool = False
    etags: dict[str, Any] = Field(default_factory=dict)
    retries: int = 0
    processed: int = 0
    last_total: int | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=False)

    @classmethod
    def from_json(cls, text: str | None) -> Checkpoint | None:
        """The stored checkpoint, or None when there is none or it is unreadable (stored data may rot)."""
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except ValueError:
            return None


# The largest encoded seen set a checkpoint carries (the state item must stay well under DynamoDB's 400 KB).
MAX_SEEN_CHARS: Final = 250_000


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


def from_iso_or_none(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


__all__ = [
    "CHECKED_ENTITIES",
    "DELETION_CHECK",
    "MAX_SEEN_CHARS",
    "MAX_SQS_DELAY_S",
    "STAGE_WAITING_RATE_LIMIT",
    "STAGE_WAITING_RETRY",
    "SWEPT_ENTITIES",
    "Checkpoint",
    "ContinueMessage",
    "EarlierWrite",
    "IdRanges",
    "Phase",
    "ScheduledMessage",
    "StartMessage",
    "StoredVersion",
    "SyncMessage",
    "SyncRequest",
    "WriteDecision",
    "WriteOutcome",
    "count_write",
    "decide_write",
    "deletion_check_due",
    "deletions_checked_at",
    "earlier_write",
    "enter_phase",
    "from_iso_or_none",
    "latest",
    "met_before",
    "next_high_water",
    "next_keyset_since",
    "next_phase",
    "park_delay_s",
    "parse_message",
    "plan_phases",
    "query_since",
    "stage_name",
    "start_checkpoint",
    "write_mark",
]
