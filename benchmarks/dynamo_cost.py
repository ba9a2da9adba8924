"""DynamoDB request units from item sizes, and what they cost on demand: the benchmark's cost arithmetic.

Pure functions over DynamoDB's wire format (``{"name": {"S": "..."}}``), by the documented rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html and
.../read-write-operations.html):

- **item size** = the sum over attributes of the UTF-8 bytes of the name plus the value's size: a string its
  UTF-8 bytes, a number 1 byte per two significant digits (leading and trailing zeros trimmed) plus 1, a
  binary its raw bytes, null and boolean 1 byte, a list or map 3 bytes plus its elements' sizes plus 1 byte
  per element (a map's element adds its key's bytes), a set the sum of its elements;
- **writes**: 1 write request unit (WRU) per 1 KB of the item, rounded up per item, at least 1; a put,
  update or delete that replaces an item costs the larger of the sizes before and after; a failed
  conditional write consumes the same units; a transaction's items cost twice;
- **global secondary indexes**: a write also writes every index the item is in before or after
  (:func:`index_write_sizes`): a new entry 1 write, a removed one 1 write, a changed entry 1 write, or 2
  when its index key changed (delete the old entry, put the new one); each such write costs WRUs by the
  index entry's size, which is the item's size for an index projecting ALL (every index of trackbridge's
  table does);
- **reads**: a strongly consistent read 1 read request unit (RRU) per 4 KB rounded up, eventually
  consistent half that; GetItem and BatchGetItem round each item on its own (a key with no item still
  costs one read, as DynamoDB charges for GetItem); a Query rounds the summed size of the items it read
  once per call (at least one unit). Projections reduce nothing: the units follow the whole item read, so
  the meter that feeds these functions (:mod:`benchmarks.dynamo_meter`) looks up the full stored item of
  every key a projected read touched, in moto's own store, rather than measuring what came back.

Prices: us-east-1 on demand, :data:`PRICE_PER_MILLION_WRU` and :data:`PRICE_PER_MILLION_RRU`, from
:data:`PRICING_SOURCE`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
PRICE_PER_MILLION_WRU = 0.625
PRICE_PER_MILLION_RRU = 0.125
PRICING_SOURCE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
# A month of 30 days of 15-minute intervals.
INTERVALS_PER_MONTH = 30 * 24 * 4

WireItem = Mapping[str, Mapping[str, Any]]


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """The stored size of a number given as DynamoDB sends it (``"-12.50"``): 1 byte per two significant
    digits, plus 1."""
    digits = "".join(ch for ch in str(text).split("e")[0].split("E")[0] if ch.isdigit())
    significant = digits.strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    return len(base64.b64decode(value))


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in wire format (without its name)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return _utf8(inner)
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "SS":
        return sum(_utf8(v) for v in inner)
    if kind == "NS":
        return sum(number_size(v) for v in inner)
    if kind == "BS":
        return sum(_binary_size(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: WireItem | None) -> int:
    """An item's size in bytes: attribute names plus values (0 for no item)."""
    if not item:
        return 0
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def write_units(size: int, *, transactional: bool = False) -> int:
    """WRUs of one item write of ``size`` bytes (the larger of before and after): 1 per KB, at least 1."""
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


def read_units(size: int, *, consistent: bool = True) -> float:
    """RRUs of reading one item of ``size`` bytes (GetItem, or one key of a BatchGetItem); no item: 1."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def batch_get_units(sizes: Iterable[int], *, consistent: bool = True) -> float:
    """A BatchGetItem: every key rounded on its own (the docs' 1.5 KB + 6.5 KB = 12 KB = 3 RRU)."""
    return sum(read_units(size, consistent=consistent) for size in sizes)


def query_units(sizes: Iterable[int], *, consistent: bool = False) -> float:
    """A Query (or one page of it): the summed size of the items read, rounded up once; at least 1 unit."""
    units = max(1, math.ceil(sum(sizes) / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


IndexKeys = Sequence[tuple[str, str, str]]  # (index name, partition key attribute, sort key attribute)


def _index_entry(item: WireItem | None, pk: str, sk: str) -> tuple[Any, Any] | None:
    if not item or pk not in item or sk not in item:
        return None
    return (dict(item[pk]).get("S", str(item[pk])), dict(item[sk]).get("S", str(item[sk])))


def index_write_sizes(before: WireItem | None, after: WireItem | None, indexes: IndexKeys) -> list[int]:
    """The index writes one item write makes, as the sizes each is billed by (ALL projection: the item's).

    Per index: in neither -> nothing; only after -> put (after's size); only before -> delete (before's);
    in both with the same key -> one update (the larger), or none if the item did not change at all; in both
    with another key -> delete plus put."""
    writes: list[int] = []
    if before == after:
        return writes
    size_before, size_after = item_size(before), item_size(after)
    for _name, pk, sk in indexes:
        old, new = _index_entry(before, pk, sk), _index_entry(after, pk, sk)
        if old is None and new is None:
            continue
        if old is None:
            writes.append(size_after)
        elif new is None:
            writes.append(size_before)
        elif old == new:
            writes.append(max(size_before, size_after))
        else:
            writes.extend((size_before, size_after))
    return writes


@dataclass
class Usage:
    """Request units one run consumed, and the calls that consumed them (by API action)."""

    wru: float = 0.0
    index_wru: float = 0.0
    rru: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    items_written: int = 0

    def add_call(self, action: str) -> None:
        self.calls[action] = self.calls.get(action, 0) + 1

    @property
    def total_wru(self) -> float:
        return self.wru + self.index_wru

    @property
    def dollars(self) -> float:
        return dollars(self.total_wru, self.rru)

    def to_dict(self) -> dict[str, Any]:
        return {
            "wru": self.wru,
            "index_wru": self.index_wru,
            "rru": self.rru,
            "calls": dict(self.calls),
            "items_written": self.items_written,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        return cls(
            wru=float(data.get("wru", 0.0)),
            index_wru=float(data.get("index_wru", 0.0)),
            rru=float(data.get("rru", 0.0)),
            calls=dict(data.get("calls", {})),
            items_written=int(data.get("items_written", 0)),
        )


def dollars(wru: float, rru: float) -> float:
    """On-demand price of ``wru`` write and ``rru`` read request units (us-east-1)."""
    return wru * PRICE_PER_MILLION_WRU / 1e6 + rru * PRICE_PER_MILLION_RRU / 1e6


@dataclass(frozen=True)
class MonthlyEstimate:
    """Syncing ``issues`` issues every 15 minutes for a month: an incremental sync each interval, in which
    ``changed_share`` of the issues changed (each costing what one changed issue cost in the measured run),
    on top of the idle cost of asking (the measured idle incremental)."""

    provider: str
    issues: int
    changed_share: float
    idle_wru: float
    idle_rru: float
    per_changed_wru: float
    per_changed_rru: float
    intervals: int = INTERVALS_PER_MONTH

    @property
    def idle_dollars(self) -> float:
        return self.intervals * dollars(self.idle_wru, self.idle_rru)

    @property
    def changed_per_interval(self) -> int:
        return round(self.issues * self.changed_share)

    @property
    def changed_dollars(self) -> float:
        n = self.changed_per_interval
        return self.intervals * dollars(n * self.per_changed_wru, n * self.per_changed_rru)

    @property
    def total_dollars(self) -> float:
        return self.idle_dollars + self.changed_dollars

    def sentence(self) -> str:
        return (
            f"Syncing {self.issues:,} {self.provider} issues every 15 minutes costs about "
            f"${self.total_dollars:,.2f} a month in DynamoDB on-demand requests (us-east-1: "
            f"${PRICE_PER_MILLION_WRU} per million writes, ${PRICE_PER_MILLION_RRU} per million reads, "
            f"{PRICING_SOURCE}), assuming {self.changed_share:.0%} of the issues "
            f"({self.changed_per_interval:,}) change in each of the month's {self.intervals:,} intervals: "
            f"${self.idle_dollars:,.4f} of it is the idle incremental sync each interval "
            f"({self.idle_wru:g} WRU + {self.idle_rru:g} RRU), ${self.changed_dollars:,.2f} the changed "
            f"issues ({self.per_changed_wru:.1f} WRU + {self.per_changed_rru:.1f} RRU each)."
        )


__all__ = [
    "INTERVALS_PER_MONTH",
    "PRICE_PER_MILLION_RRU",
    "PRICE_PER_MILLION_WRU",
    "PRICING_SOURCE",
    "MonthlyEstimate",
    "Usage",
    "batch_get_units",
    "dollars",
    "index_write_sizes",
    "item_size",
    "number_size",
    "query_units",
    "read_units",
    "value_size",
    "write_units",
]
