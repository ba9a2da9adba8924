"""A test driver for the sync engine: an in-memory sync queue and a bounded loop that delivers it.

The driver plays SQS and Lambda: it hands each due message to the real queue-consumer logic
(:func:`trackbridge.runtime.sync.handler.handle_body`) with a context whose time budget runs out after a
few pages (so every test crosses slices), redelivers a message whose handler raised (after moving the
engine's clock past the lease, as a dead worker's lease would run out), optionally delivers every message
twice (duplicate SQS delivery), and waits out short parking delays for real (the sandbox's rate-limit
windows are real time).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from trackbridge.domain.connections import Connection
from trackbridge.domain.sync import COUNTERS, SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.runtime.sync.adapters import default_adapter_factory
from trackbridge.runtime.sync.engine import EngineConfig, SyncEngine
from trackbridge.runtime.sync.handler import handle_body
from trackbridge.runtime.sync.queue import Message
from trackbridge.runtime.sync.service import SyncService
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository
from trackbridge.storage.table import Table

# Retries without sleeping, and never wait for a rate limit in-process: every limit parks the slice.
TEST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0, max_wait_s=0.0)
TEST_CONFIG = EngineConfig(safety_margin_ms=1_000, lease_s=60, transient_backoff_s=1, default_park_s=1)
# The sandboxes are on loopback: a slow answer means a loaded machine, not a sick tracker. The adapter's
# 30 s default would time out and retry there, and a retry shows in exact request counts.
PATIENT_TIMEOUT = httpx.Timeout(300.0, connect=60.0)


class SimulatedCrash(Exception):
    """Raised by a fault hook: the worker dies between writing a page and checkpointing it."""


@dataclass
class PageBudget:
    """A Lambda context whose remaining time runs out after ``pages`` checks."""

    pages: int
    calls: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 900_000 if self.calls <= self.pages else 0


@dataclass
class Clock:
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@dataclass
class MemoryQueue:
    clock: Clock
    messages: list[tuple[datetime, Message]] = field(default_factory=list)
    sent: list[tuple[int, Message]] = field(default_factory=list)

    def send(self, message: Message, *, delay_s: int = 0) -> None:
        self.sent.append((delay_s, message))
        self.messages.append((self.clock() + timedelta(seconds=delay_s), message))

    def pop_due(self) -> tuple[datetime, Message] | None:
        if not self.messages:
            return None
        self.messages.sort(key=lambda pair: pair[0])
        return self.messages.pop(0)


@dataclass
class Harness:
    engine: SyncEngine
    service: SyncService
    queue: MemoryQueue
    clock: Clock
    outcomes: list[str] = field(default_factory=list)
    crashes: int = 0
    adapters: list[TrackerAdapter] = field(default_factory=list)

    def retries(self) -> int:
        """Retries every adapter this harness built has made: a retried request is one page, asked again."""
        return sum(adapter.stats.retries for adapter in self.adapters)

    def drain(
        self,
        *,
        pages_per_slice: int = 2,
        duplicate: bool = False,
        between: Callable[[int], None] | None = None,
        max_deliveries: int = 400,
        max_wait_s: float = 5.0,
    ) -> list[str]:
        """Deliver messages until the queue is empty; returns the outcome of each delivery."""
        for delivery in range(max_deliveries):
            item = self.queue.pop_due()
            if item is None:
                return self.outcomes
            due, message = item
            wait = (due - self.clock()).total_seconds()
            if wait > 0:
                assert wait <= max_wait_s, f"a message is parked {wait:.0f} s ahead"
                time.sleep(wait)
            if between is not None:
                between(delivery)
            copies = 2 if duplicate and message.kind == "continue" else 1
            for _ in range(copies):
                self._deliver(message, pages_per_slice)
        raise AssertionError(f"the queue did not drain in {max_deliveries} deliveries")

    def run(self, tenant: str, connection_id: str, request: SyncRequest) -> SyncOperation:
        """Start a sync, drain it three pages a slice, and return the operation, which must have completed."""
        op = self.service.start(tenant, connection_id, request, triggered_by="tests")
        self.drain(pages_per_slice=3)
        final = self.service.get(tenant, op.id)
        assert final.status == "Completed", (final.results.errors, self.outcomes)
        return final

    def _deliver(self, message: Message, pages_per_slice: int) -> None:
        try:
            outcome = handle_body(
                message.model_dump_json(),
                PageBudget(pages_per_slice),
                engine=self.engine,
                service=self.service,
            )
        except SimulatedCrash:
            self.crashes += 1
            self.outcomes.append("crashed")
            # SQS redelivers after the visibility timeout, by which time the dead worker's lease is over.
            self.clock.offset += timedelta(seconds=self.engine.config.lease_s + 1)
            self.queue.messages.append((self.clock(), message))
            return
        self.outcomes.append(outcome)


def build_harness(
    table: Table,
    secrets: Any,
    *,
    fault_hook: Callable[[str], None] | None = None,
    config: EngineConfig = TEST_CONFIG,
    adapter_options: Mapping[str, Any] | None = None,
    page_size: int | None = None,
) -> Harness:
    clock = Clock()
    queue = MemoryQueue(clock)
    repos = {
        "operations": SyncOperationRepository(table),
        "states": SyncStateRepository(table),
        "logs": SyncLogRepository(table),
        "connections": ConnectionRepository(table),
    }

    built: list[TrackerAdapter] = []

    def factory(connection: Connection, credentials: Mapping[str, Any]) -> TrackerAdapter:
        options = {
            "retry": TEST_RETRY,
            "sleep": lambda _s: None,
            "timeout": PATIENT_TIMEOUT,
            **(adapter_options or {}),
        }
        adapter = default_adapter_factory(connection, credentials, **options)
        if page_size is not None:
            # Small pages make small data sets cross many pages (and slices) quickly.
            adapter.page_size = page_size  # type: ignore[misc]
        built.append(adapter)
        return adapter

    engine = SyncEngine(
        table=table,
        secrets=secrets,
        queue=queue,
        adapter_factory=factory,
        clock=clock,
        config=config,
        fault_hook=fault_hook,
        **repos,
    )
    service = SyncService(queue=queue, clock=clock, **repos)
    return Harness(engine=engine, service=service, queue=queue, clock=clock, adapters=built)


def assert_counters_add_up(op: SyncOperation) -> None:
    """The arithmetic every finished operation's counters obey (DESIGN section 5, issue 12)."""
    results = op.results
    assert results.by_entity, results
    for counter in COUNTERS:
        by_entity = sum(getattr(e, counter) for e in results.by_entity.values())
        assert by_entity == getattr(results, counter), (counter, results)
    for entity, counts in results.by_entity.items():
        assert counts.processed == counts.created + counts.updated + counts.unchanged + counts.failed, entity
    assert op.progress.processed == results.created + results.updated + results.unchanged + results.failed
    if op.status == "Completed":
        assert op.progress.total == op.progress.processed


def adapter_for(connection: Connection, credentials: Mapping[str, Any]) -> TrackerAdapter:
    return default_adapter_factory(
        connection, credentials, retry=TEST_RETRY, sleep=lambda _s: None, timeout=PATIENT_TIMEOUT
    )
