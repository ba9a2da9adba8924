"""Per-tenant daily counters: ``T#{tenant}#METRICS`` / ``DAY#{yyyy-mm-dd}``, one attribute per counter.

What ``GET /v1/metrics`` reads. CloudWatch has the same numbers as EMF metrics, but not per tenant and not
under the embedded stack; these items are the tenant's own view and work wherever DynamoDB does.

Writes are atomic ``ADD``s, so concurrent Lambda instances never lose a count, and batched: a handler adds
to :class:`MetricCounters` in memory while it works and :meth:`MetricCounters.flush` writes one
``UpdateItem`` per tenant and day at the end of the invocation (a sync slice, a webhook batch), not one per
event. A failed write is dropped and counted in what ``flush`` returns (the caller logs it): counters are
bookkeeping and must not fail the work they count.
Items expire after :data:`RETENTION_DAYS`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Final

from pydantic import BaseModel, Field

from trackbridge.domain.errors import TrackbridgeError
from trackbridge.domain.times import utcnow
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE, tenant_pk
from trackbridge.storage.table import Table

RETENTION_DAYS: Final = 400
MAX_DAYS: Final = 92  # the longest period one summary reads (one query page of at most this many items)
_PREFIX: Final = "c_"  # counter attributes, apart from the key and TTL attributes
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}(\.[a-z0-9_]{1,40}){0,3}$")


def metrics_pk(tenant: str) -> str:
    return f"{tenant_pk(tenant)}#METRICS"


def day_sk(day: date) -> str:
    return f"DAY#{day.isoformat()}"


class DayCounters(BaseModel):
    day: date
    counters: dict[str, int]


class MetricsSummary(BaseModel):
    since: date
    until: date
    totals: dict[str, int] = Field(description="each counter summed over the period")
    days: list[DayCounters] = Field(description="the days that counted anything, oldest first")


class MetricCounters:
    """Counters of one invocation, held in memory until :meth:`flush`."""

    def __init__(self, table: Table, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.table = table
        self.clock = clock
        self._pending: defaultdict[tuple[str, date], defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )

    def add(self, tenant: str, name: str, value: int = 1) -> None:
        """Count ``value`` more of ``name`` (a dotted name: ``syncs.completed``) for ``tenant`` today."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a counter name: {name!r}")
        if value:
            self._pending[(tenant, self.clock().date())][name] += value

    def flush(self) -> int:
        """One atomic ``ADD`` per tenant and day; the pending counts are cleared whether or not the writes
        worked. Returns how many writes failed."""
        pending, self._pending = self._pending, defaultdict(lambda: defaultdict(int))
        failed = 0
        for (tenant, day), counts in pending.items():
            names = {f"#c{i}": _PREFIX + name for i, name in enumerate(counts)}
            values = {f":c{i}": value for i, value in enumerate(counts.values())}
            expires = int(datetime(day.year, day.month, day.day).timestamp()) + RETENTION_DAYS * 86400
            update = "ADD " + ", ".join(f"{n} :c{i}" for i, n in enumerate(names)) + " SET #ttl = :ttl"
            try:
                self.table.update(
                    metrics_pk(tenant),
                    day_sk(day),
                    update=update,
                    names={**names, "#ttl": TTL_ATTRIBUTE},
                    values={**values, ":ttl": expires},
                )
            except TrackbridgeError:
                failed += 1
        return failed

    def summary(self, tenant: str, since: date, until: date) -> MetricsSummary:
        """The tenant's counters from ``since`` to ``until`` (both included, at most :data:`MAX_DAYS`)."""
        if until < since or (until - since) > timedelta(days=MAX_DAYS - 1):
            raise ValueError(f"give a period of 1 to {MAX_DAYS} days")
        items, _ = self.table.query(
            partition=metrics_pk(tenant),
            sk_after=day_sk(since),
            limit=MAX_DAYS,
            tenant_prefix=tenant_pk(tenant),
        )
        days: list[DayCounters] = []
        totals: defaultdict[str, int] = defaultdict(int)
        for item in items:
            day = date.fromisoformat(str(item[SK]).removeprefix("DAY#"))
            if day > until:
                break
            counters = {
                str(k)[len(_PREFIX) :]: int(v)
                for k, v in item.items()
                if str(k).startswith(_PREFIX) and k not in (PK, SK)
            }
            for name, value in counters.items():
                totals[name] += value
            days.append(DayCounters(day=day, counters=dict(sorted(counters.items()))))
        return MetricsSummary(since=since, until=until, totals=dict(sorted(totals.items())), days=days)


__all__ = ["MAX_DAYS", "DayCounters", "MetricCounters", "MetricsSummary", "day_sk", "metrics_pk"]
