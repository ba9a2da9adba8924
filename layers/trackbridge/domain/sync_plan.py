"""The sync engine's values: API request, queue messages, write decisions, counting rules, checkpoint shape.

Free of I/O and unit-tested on their own (STYLE habit 4). What moves a checkpoint from one phase to the
next (and the cursor math of DESIGN section 10) is the state machine in ``trackbridge.runtime.sync.
checkpoint``; this module holds the shapes it moves and the per-item rules:

* **Writes.** :func:`decide_write` compares the stored version with the incoming one; the conditional
  ``PutItem`` in storage settles races with webhooks, so a lost race is "unchanged", never an error.
* **Counters.** Every item an operation meets counts once, by what the sync did to it (:func:`count_write`,
  a :class:`~trackbridge.domain.sync.Counters` delta): an item met again (the catch-up pass re-reads the
  overlap window of the full pass; an update-ordered page re-reads the items at its keyset position) is
  not counted again, and a page replayed after a crash counts what the lost attempt wrote, which the
  writer's mark on each stored item (``{operation_id}/{c|u|d}``) tells. ``processed`` is created + updated
  + unchanged + failed.
* **Checkpoint.** :class:`Checkpoint` is where one entity of one operation stands, stored as JSON in
  ``SyncState.cursor`` (the API reads its ``phase``); :class:`IdRanges` is its compact set of seen ids.
* **Parking.** SQS delays are at most 900 s: a later reset is reached by chained delayed messages that
  carry ``resume_at``; a message that arrives before ``resume_at`` only re-parks (:func:`park_delay_s`).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from trackbridge.domain.connections import Entity
from trackbridge.domain.sync import Counters, SyncMode
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


def count_write(outcome: WriteOutcome, *, met: bool, earlier: EarlierWrite | None) -> Counters:
    """What one item adds to its entity's counters (a delta; the operation's sums never go below 0).

    ``met``: this operation already met, and counted, the item (an earlier page or pass listed it).
    ``earlier``: what this operation's own earlier write of the item did (:func:`earlier_write`).

    * first meeting: counted by the outcome; a copy that is current because this operation wrote it
      (a page replayed after a crash between write and checkpoint) counts as that write did;
    * met again: nothing, unless the item changed while the operation ran and was counted unchanged the
      first time: then it moves from ``unchanged`` to ``updated``.
    """
    if outcome == "deleted":
        return Counters(deleted=1)
    if not met:
        if outcome in ("skip", "unchanged"):
            return Counters.model_validate({earlier or "unchanged": 1})
        if outcome == "updated" and earlier == "created":
            return Counters(created=1)
        return Counters.model_validate({outcome: 1})
    if outcome == "updated" and earlier is None:
        return Counters(unchanged=-1, updated=1)
    return Counters()


# ------------------------------------------------------------------------------------------------- phases

# The passes of one entity in one operation; which follow which is ``runtime.sync.checkpoint``'s to say.
Phase = Literal["full", "catchup", "incremental", "ids", "sweep", "done"]


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
    # Whether anything of the entity was stored when its full pass began (None: not asked, as in a
    # deletion check). A first full sync stores nothing it has not met, so its sweep has nothing to ask.
    stored_before: bool | None = None
    # The seen ids outgrew the checkpoint's limit (``runtime.sync.checkpoint.MAX_SEEN_CHARS``: a DynamoDB
    # item holds 400 KB): this operation skips its sweep rather than tombstone what it could not track.
    # Only a scope with hundreds of thousands of comments.
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


def from_iso_or_none(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


__all__ = [
    "MAX_SQS_DELAY_S",
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
    "earlier_write",
    "from_iso_or_none",
    "park_delay_s",
    "parse_message",
    "write_mark",
]
