"""The sync engine's logic on in-memory ports, a fake tracker and a fake clock (no table, no network).

Given/When/Then per test: the phases an operation walks, resuming after a crash between a page's write and
its checkpoint, parking on a rate limit until its reset, a cancel between checkpoints, a trackbridge error
raised mid-step failing the operation, a dependency outage retried with back-off, and the syncer chosen by
what the adapter declares. The moto-backed suite (``tests/integration/sync``) runs the same engine against
DynamoDB and the sandbox trackers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.unit.sync.fakes import (
    T0,
    TENANT,
    Budget,
    FakeClock,
    FakeTracker,
    MemoryConnections,
    MemoryItems,
    MemoryLogs,
    MemoryOperations,
    MemoryQueue,
    MemoryStates,
    Secrets,
    connection,
    issue,
)
from trackbridge.domain.errors import DependencyFailure, ValidationFailed
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import Checkpoint, ContinueMessage, SyncRequest
from trackbridge.providers.errors import RateLimitedError
from trackbridge.providers.types import Capabilities
from trackbridge.runtime.sync.checkpoint import STAGE_WAITING_RATE_LIMIT, STAGE_WAITING_RETRY
from trackbridge.runtime.sync.engine import EngineConfig, SliceOutcome, SyncEngine
from trackbridge.runtime.sync.plans import syncable_entities
from trackbridge.runtime.sync.service import SyncService
from trackbridge.runtime.sync.syncers import ISSUES, ISSUES_WITH_COMMENTS, REPO_COMMENTS, plan_for

HOUR = timedelta(hours=1)


@dataclass
class World:
    clock: FakeClock
    states: MemoryStates
    operations: MemoryOperations
    logs: MemoryLogs
    items: MemoryItems
    queue: MemoryQueue
    tracker: FakeTracker
    engine: SyncEngine
    service: SyncService

    def start(self, mode: str = "full") -> SyncOperation:
        request = SyncRequest.model_validate({"mode": mode, "entities": ["issues"]})
        return self.service.start(TENANT, connection().id, request, triggered_by="tests")

    def deliver(self, budget: Budget | None = None) -> str:
        """The next queued message, after its delay on the fake clock."""
        message, delay_s = self.queue.pop()
        self.clock.advance(delay_s)
        assert isinstance(message, ContinueMessage) or message.kind == "start"
        return self.engine.run_slice(
            TENANT,
            message.operation_id,
            message.slice_no,
            budget or Budget(),
            resume_at=getattr(message, "resume_at", None),
        )

    def run(self, budget: Budget | None = None) -> list[str]:
        outcomes = []
        while self.queue.sent:
            outcomes.append(self.deliver(budget))
        return outcomes

    def op(self, op: SyncOperation) -> SyncOperation:
        return self.operations.get(TENANT, op.id)

    def checkpoint(self) -> Checkpoint:
        state = self.states.find(TENANT, connection().id, "issues")
        assert state is not None
        found = Checkpoint.from_json(state.cursor)
        assert found is not None
        return found

    def pages(self, op: SyncOperation) -> list[str]:
        return [e.data["phase"] for e in self.logs.events("sync.page") if e.operation_id == op.id]


def world(tracker: FakeTracker, **config: Any) -> World:
    clock, states, logs, items = FakeClock(), MemoryStates(), MemoryLogs(), MemoryItems()
    queue = MemoryQueue()
    operations = MemoryOperations(states)
    connections = MemoryConnections(connection())
    engine = SyncEngine(
        operations=operations,
        states=states,
        logs=logs,
        connections=connections,
        secrets=Secrets(),
        queue=queue,
        adapter_factory=lambda _connection, _credentials: tracker,  # type: ignore[arg-type,return-value]
        issues=items.issues,
        comments=items.comments,
        items=items,
        clock=clock,
        monotonic=clock.monotonic,
        config=EngineConfig(writer_workers=1, **config),
    )
    service = SyncService(
        operations=operations, states=states, logs=logs, connections=connections, queue=queue, clock=clock
    )
    return World(clock, states, operations, logs, items, queue, tracker, engine, service)


def five_issues(**options: Any) -> FakeTracker:
    # Updated an hour apart: the catch-up pass's overlap window holds only the newest.
    return FakeTracker([issue(n, T0 - (6 - n) * HOUR) for n in range(1, 6)], **options)


# ------------------------------------------------------------------------------------------------ phases


def test_a_full_sync_walks_full_catchup_and_sweep_then_is_done() -> None:
    # Given: five issues, two per page
    w = world(five_issues())

    # When
    op = w.start("full")
    outcomes = w.run()

    # Then: three full pages, one catch-up page (only the newest issue is in the overlap), one sweep page
    done = w.op(op)
    assert (outcomes, done.status) == ([SliceOutcome.COMPLETED], "Completed")
    assert w.pages(op) == ["full", "full", "full", "catchup", "sweep"]
    assert done.results.by_entity["issues"].as_dict() == {
        "processed": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert done.requests == w.tracker.stats.requests == 4  # the sweep asked nothing: every issue was seen
    cp = w.checkpoint()
    assert (cp.phase, cp.phases, cp.last_total) == ("done", ("full", "catchup", "sweep"), 5)
    state = w.states.find(TENANT, connection().id, "issues")
    assert state is not None
    assert (state.status, state.high_water, state.deletions_checked_at) == ("ok", T0 - HOUR, T0)
    assert not w.operations.locks


def test_a_first_full_sync_reads_no_sweep_page_and_a_later_one_sweeps_what_went() -> None:
    # Given: five issues at the tracker, nothing stored
    w = world(five_issues())

    # When: the first full sync
    first = w.start("full")
    w.run()

    # Then: one probe of one stored item before the first page, no sweep page read, still a complete check
    assert w.items.issues.listings == [1]
    assert w.pages(first)[-1] == "sweep"
    assert w.checkpoint().stored_before is False
    state = w.states.find(TENANT, connection().id, "issues")
    assert state is not None
    assert state.deletions_checked_at == T0

    # And when issue 3 is deleted at the tracker and a second full sync runs
    del w.tracker.issues[3]
    w.items.issues.listings.clear()
    second = w.start("full")
    w.run()

    # Then it sweeps the stored issues and tombstones the one that went
    assert w.checkpoint().stored_before is True
    assert w.items.issues.listings[0] == 1
    assert len(w.items.issues.listings) > 1
    assert w.op(second).results.by_entity["issues"].deleted == 1
    assert [i.native_id for i in w.items.stored_issues() if i.deleted_at is not None] == ["3"]


def test_an_incremental_sync_asks_from_the_high_water_minus_the_adapters_overlap() -> None:
    # Given: a full sync done, an adapter that declares a 7-minute overlap, one issue updated since
    w = world(five_issues(overlap=timedelta(minutes=7)))
    w.start("full")
    w.run()
    w.clock.advance(600)
    w.tracker.update(2, w.clock.now - timedelta(seconds=30), title="edited")

    # When
    op = w.start("incremental")
    w.run()

    # Then: one pass, from high_water - overlap; the edit is an update, the re-read newest issue unchanged
    done = w.op(op)
    assert w.pages(op) == ["incremental"]
    assert w.tracker.since_asked[-1] == T0 - HOUR - timedelta(minutes=7)
    assert (done.results.updated, done.results.unchanged, done.results.created) == (1, 1, 0)
    assert w.checkpoint().phases == ("incremental",)


def test_a_first_incremental_sync_is_a_full_one_without_the_sweep() -> None:
    w = world(five_issues())
    op = w.start("incremental")
    w.run()
    assert w.pages(op) == ["full", "full", "full", "catchup"]
    assert w.op(op).results.created == 5


def test_out_of_time_a_slice_continues_in_the_next_and_resumes_mid_pass() -> None:
    # Given: a budget under the safety margin (one page per slice)
    w = world(five_issues())
    op = w.start("full")

    # When
    outcomes = w.run(Budget(remaining_ms=1_000))

    # Then: one slice per page, each picking up where the checkpoint stood; nothing counted twice
    assert outcomes == [SliceOutcome.CONTINUED] * 4 + [SliceOutcome.COMPLETED]
    assert w.pages(op) == ["full", "full", "full", "catchup", "sweep"]
    assert (w.op(op).results.created, w.op(op).results.processed, w.op(op).requests) == (5, 5, 4)


# -------------------------------------------------------------------------------------------- a crash


def test_a_crash_between_write_and_checkpoint_replays_the_page_and_counts_it_once() -> None:
    # Given: a worker that dies after writing its second page, before the checkpoint
    calls: list[str] = []

    def crash_on_second_page(point: str) -> None:
        calls.append(point)
        if len(calls) == 2:
            raise RuntimeError("the Lambda died")

    w = world(five_issues())
    w.engine.fault_hook = crash_on_second_page
    op = w.start("full")
    w.queue.pop()  # the start message, slice 0
    with pytest.raises(RuntimeError):
        w.engine.run_slice(TENANT, op.id, 0, Budget())
    assert len(w.items.of("issue")) == 4  # the second page was written
    assert w.checkpoint().page == {"offset": 2}  # but its checkpoint was not

    # When: SQS redelivers the message once the dead worker's lease ran out
    assert w.engine.run_slice(TENANT, op.id, 0, Budget()) == SliceOutcome.DUPLICATE  # the lease still holds
    w.clock.advance(w.engine.config.lease_s + 1)
    outcome = w.engine.run_slice(TENANT, op.id, 0, Budget())

    # Then: the page is read again and its items count once, as the lost attempt's writes
    done = w.op(op)
    assert (outcome, done.status) == (SliceOutcome.COMPLETED, "Completed")
    assert (done.results.created, done.results.unchanged, done.results.processed) == (5, 0, 5)
    assert len(w.items.of("issue")) == 5


# ------------------------------------------------------------------------------------------- rate limits


def test_the_lease_is_extended_once_a_third_of_it_is_spent_not_after_every_page() -> None:
    # Given: five issues on three pages; each listing request takes 60 s of a 300 s lease
    w = world(five_issues(), lease_s=300)
    extended: list[datetime] = []
    extend = w.operations.extend_lease

    def recording(tenant: str, connection_id: str, operation_id: str, lease_until: datetime) -> bool:
        extended.append(lease_until)
        return extend(tenant, connection_id, operation_id, lease_until)

    w.operations.extend_lease = recording  # type: ignore[method-assign]
    w.tracker.on_request = lambda _n: w.clock.advance(60)

    # When
    op = w.start("full")
    w.run()

    # Then: at the slice's start, and then only once more than 100 s of the lease were spent: the lock
    # never had less than two thirds of a lease left at a checkpoint
    assert w.op(op).status == "Completed"
    pages = len(w.pages(op))
    assert 1 < len(extended) < pages + 1
    assert all(later - earlier > timedelta(seconds=100) for earlier, later in itertools.pairwise(extended))


def test_a_long_slice_writes_its_log_as_it_goes_in_batches_of_25() -> None:
    # Given: 120 issues, two per page: one slice of 60 full pages and more
    w = world(FakeTracker([issue(n, T0 - HOUR) for n in range(1, 121)]))

    # When
    op = w.start("full")
    w.run()

    # Then: the slice's log went out while it ran, 25 entries a batch, none lost
    assert w.op(op).status == "Completed"
    slice_batches = w.logs.batches[1:]  # the first is the start's own entry
    assert len(slice_batches) > 2
    assert max(slice_batches) == 25
    assert len(w.logs.events("sync.page")) == len(w.pages(op)) > 60


def test_a_rate_limit_parks_the_slice_until_the_reset_and_then_resumes() -> None:
    # Given: the second request is rate limited until 20 minutes from now
    w = world(five_issues())
    reset = T0 + timedelta(minutes=20)
    w.tracker.faults = [None, RateLimitedError("slow down", status=429, reset_at=reset)]
    op = w.start("full")

    # When
    first = w.deliver()

    # Then: parked (a new delayed message, at most SQS's 900 s), the stage says so, the request counted
    parked = w.op(op)
    assert first == SliceOutcome.PARKED
    assert (parked.status, parked.progress.stage, parked.progress.resume_at) == (
        "InProgress",
        STAGE_WAITING_RATE_LIMIT,
        reset,
    )
    assert parked.requests == 2
    ((message, delay),) = w.queue.sent
    assert (delay, getattr(message, "resume_at", None)) == (900, reset)

    # When: the first link of the chain arrives 15 minutes in, the next 5 minutes later
    assert w.deliver() == SliceOutcome.REPARKED
    assert w.queue.sent[0][1] == 300
    assert w.tracker.stats.requests == 2  # re-parking asks the tracker nothing
    assert w.run() == [SliceOutcome.COMPLETED]

    # Then: the operation ends as if never interrupted, every request counted
    done = w.op(op)
    assert (done.status, done.results.created) == ("Completed", 5)
    assert done.requests == w.tracker.stats.requests == 5
    assert w.clock.now == reset


def test_a_dependency_outage_mid_step_is_retried_with_back_off_then_completes() -> None:
    # Given: the store behind the adapter fails once
    w = world(five_issues())
    w.tracker.faults = [DependencyFailure("DynamoDB kept throttling")]
    op = w.start("full")

    # When
    first = w.deliver()

    # Then: parked for a retry, the failure counted in the checkpoint (bounded across slices)
    assert first == SliceOutcome.PARKED
    assert w.op(op).progress.stage == STAGE_WAITING_RETRY
    assert w.checkpoint().retries == 1
    assert w.run() == [SliceOutcome.COMPLETED]
    assert w.op(op).results.created == 5
    assert w.checkpoint().retries == 0


# --------------------------------------------------------------------------------------------- endings


def test_a_cancel_stops_the_operation_at_its_next_checkpoint_keeping_what_was_written() -> None:
    # Given: the operation is cancelled while its second page is being fetched
    w = world(five_issues())
    op = w.start("full")

    def cancel_during_second_page(request_no: int) -> None:
        if request_no == 2:
            w.service.cancel(TENANT, op.id)

    w.tracker.on_request = cancel_during_second_page

    # When
    outcome = w.deliver()

    # Then: stopped, no continuation, the written items kept, both requests counted on the operation
    done = w.op(op)
    assert (outcome, done.status) == (SliceOutcome.CANCELLED, "Cancelled")
    assert not w.queue.sent
    assert len(w.items.of("issue")) == 4
    assert done.requests == w.tracker.stats.requests == 2
    assert not w.operations.locks


def test_a_trackbridge_error_mid_step_fails_the_operation_instead_of_escaping() -> None:
    # Given: the adapter raises a domain error on the second page (no SQS retry could fix it)
    w = world(five_issues())
    w.tracker.faults = [None, ValidationFailed("the connection's scope is not valid any more")]
    op = w.start("full")

    # When
    outcome = w.deliver()

    # Then: Failed with the error's code, the entity's state failed, the lock released, nothing queued
    done = w.op(op)
    assert (outcome, done.status, done.progress.stage) == (SliceOutcome.FAILED, "Failed", "failed")
    assert done.results.errors[-1]["code"] == "VALIDATION_FAILED"
    assert done.results.errors[-1]["entity"] == "issues"
    assert done.requests == 2
    state = w.states.find(TENANT, connection().id, "issues")
    assert state is not None
    assert state.status == "failed"
    assert not w.queue.sent
    assert not w.operations.locks


def test_a_final_operation_ignores_its_late_messages() -> None:
    w = world(five_issues())
    op = w.start("full")
    w.run()
    w.queue.send(ContinueMessage(tenant=TENANT, operation_id=op.id, slice_no=1))
    assert w.deliver() == SliceOutcome.FINAL


# ---------------------------------------------------------------------------------- syncers by capability


def test_the_syncers_follow_the_adapters_capabilities_not_its_name() -> None:
    assert plan_for(Capabilities(repo_wide_comments=True)) == {"issues": ISSUES, "comments": REPO_COMMENTS}
    assert plan_for(Capabilities()) == {"issues": ISSUES_WITH_COMMENTS, "comments": None}
    # The per-tracker view is derived from the registry: no entry per tracker
    assert syncable_entities("github")["comments"] is REPO_COMMENTS
    assert syncable_entities("jira")["comments"] is None
    assert syncable_entities("nonesuch") == {}


def test_a_run_holds_the_adapters_embedded_comment_cache_for_its_duration() -> None:
    # Given: an adapter whose listings embed comments (it offers keeping_embedded_comments)
    held: list[str] = []

    class EmbeddingTracker(FakeTracker):
        @contextmanager
        def keeping_embedded_comments(self) -> Iterator[object]:
            held.append("enter")
            try:
                yield object()
            finally:
                held.append("exit")

    tracker = EmbeddingTracker([issue(n, T0 - (6 - n) * HOUR) for n in range(1, 6)])
    w = world(tracker)

    # When: a full sync in two slices
    w.start("full")
    w.run(Budget(remaining_ms=1_000))

    # Then: one cache per slice (one run), released when the slice ends
    assert held == ["enter", "exit"] * 5


def test_jira_keeps_embedded_comments_in_the_runs_cache_only() -> None:
    from tests.unit.providers.test_jira import SITE, jira_issue
    from trackbridge.providers.auth import BasicCredentialsAuth
    from trackbridge.providers.jira import EmbeddedComments, JiraAdapter
    from trackbridge.providers.types import TrackerConfig

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"issues": [jira_issue(10010, "OPS-1")], "isLast": True})

    adapter = JiraAdapter(
        TrackerConfig(SITE, {"project": "OPS"}, "conn_aaaaaaaaaaaaaaaaaaaa"),
        BasicCredentialsAuth("bot@acme.example", "token"),
        client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    with adapter.keeping_embedded_comments() as cache:
        assert isinstance(cache, EmbeddedComments)
        list(adapter.iter_issue_pages())
        assert cache.get("OPS-1") is not None
        assert cache.get("10010") is not None  # by id too
        comments = adapter.list_issue_comments("OPS-1")
    assert len(seen) == 1  # the comments came from the run's cache
    assert [c.id for c in comments] == ["10000"]
    assert adapter.embedded_comments is None  # the run's cache went with the run
