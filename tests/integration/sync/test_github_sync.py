"""GitHub end to end through the engine: full, incremental, idle, slices, deletions, cancel, scheduled."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.local.trackers.github import GitHubSandbox
from tests.integration.sync.conftest import SYNC_COMMENTS, SYNC_ISSUES
from tests.integration.sync.support import Harness
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync_plan import ContinueMessage, ScheduledMessage, SyncRequest
from trackbridge.runtime.verify import VerifyReport

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


def run_sync(
    harness: Harness, tenant: str, connection: Connection, mode: str = "full", **drain: object
) -> str:
    op = harness.service.start(tenant, connection.id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
    harness.drain(**drain)  # type: ignore[arg-type]
    return op.id


def test_full_then_idle_incremental(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    harness = harness_factory()
    op_id = run_sync(harness, tenant, github_connection, "full", pages_per_slice=2)
    op = harness.service.get(tenant, op_id)
    assert op.status == "Completed", op
    assert "continued" in harness.outcomes  # a tiny budget: the backfill crossed several slices
    state = github_tracker.state
    issues = sum(1 for i in state.issues if i is not None and not i.pull)
    comments = sum(
        1 for c in state.comments.values() if (i := state.issue(c.issue_number)) is not None and not i.pull
    )
    assert comments > 0
    # Every issue and every issue comment once; pull requests and their comments never.
    assert op.results.created == issues + comments, (op.results, issues, comments)
    report = verify(github_connection)
    assert report.ok, report.to_dict()
    assert report.issues_checked == issues

    # An idle incremental right after: only conditional requests, all answered 304, and no item writes.
    github_tracker.reset_requests()
    op_id = run_sync(harness, tenant, github_connection, "incremental")
    op = harness.service.get(tenant, op_id)
    counts = github_tracker.requests()
    assert op.status == "Completed"
    assert counts["total"] == 2, counts
    assert counts["not_modified"] == 2, counts
    assert op.results.created == op.results.updated == op.results.deleted == 0
    assert op.requests == 2


def test_incremental_picks_up_changes_and_full_sweeps_deletions(
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    harness = harness_factory()
    run_sync(harness, tenant, github_connection, "incremental", pages_per_slice=3)  # first run: a full pass
    github_tracker.mutate("update", number=3, fields={"title": "changed title"})
    github_tracker.mutate("comment", number=5, body="a new comment")
    github_tracker.mutate("create", fields={"title": "brand new"})
    op = harness.service.get(tenant, run_sync(harness, tenant, github_connection, "incremental"))
    assert op.status == "Completed"
    assert op.results.updated >= 1
    assert op.results.created >= 2
    assert verify(github_connection).ok

    victim = next(
        i.number for i in github_tracker.state.issues if i is not None and not i.pull and i.number > 10
    )
    github_tracker.mutate("delete", number=victim)
    op = harness.service.get(tenant, run_sync(harness, tenant, github_connection, "full", pages_per_slice=3))
    assert op.results.deleted == 1 + SYNC_COMMENTS  # the issue and its comments
    report = verify(github_connection)
    assert report.ok, report.to_dict()
    assert not report.extra, report.to_dict()


def test_second_start_conflicts_and_cancel_stops_at_page_boundary(
    github_connection: Connection, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    from trackbridge.domain.errors import Conflict

    harness = harness_factory()
    op = harness.service.start(tenant, github_connection.id, SyncRequest(mode="full"), triggered_by="tests")
    with pytest.raises(Conflict) as caught:
        harness.service.start(tenant, github_connection.id, SyncRequest(), triggered_by="tests")
    assert caught.value.details["operation_id"] == op.id

    def cancel_after_first(delivery: int) -> None:
        if delivery == 1:
            harness.service.cancel(tenant, op.id)

    harness.drain(pages_per_slice=1, between=cancel_after_first)
    final = harness.service.get(tenant, op.id)
    assert final.status == "Cancelled"
    assert 0 < final.results.created < SYNC_ISSUES  # what was written before the cancel stays
    # The lock is released: a new sync can start.
    again = harness.service.start(tenant, github_connection.id, SyncRequest(), triggered_by="tests")
    assert again.status == "Pending"


def test_scheduled_message_starts_or_records_a_skip(
    github_connection: Connection, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    harness = harness_factory()
    harness.queue.send(ScheduledMessage(tenant=tenant, connection_id=github_connection.id))
    harness.drain(pages_per_slice=50)
    ops = harness.service.operations_of(tenant, github_connection.id).items
    assert [o.triggered_by for o in ops] == ["schedule"]
    assert ops[0].status == "Completed"

    running = harness.service.start(tenant, github_connection.id, SyncRequest(), triggered_by="tests")
    harness.queue.messages.clear()
    harness.queue.send(ScheduledMessage(tenant=tenant, connection_id=github_connection.id))
    harness.drain()
    assert harness.outcomes[-1] == "skipped"
    events = [e.event for e in harness.service.logs_of(tenant, github_connection.id, limit=100).items]
    assert "sync.schedule_skipped" in events
    assert harness.service.get(tenant, running.id).status == "Pending"


def test_messages_that_cannot_succeed_are_dropped_not_retried(
    aws: object, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    from tests.integration.sync.support import PageBudget
    from trackbridge.runtime.sync.handler import handle_body

    harness = harness_factory()
    budget = PageBudget(1)
    kwargs = {"engine": harness.engine, "service": harness.service}
    gone = ScheduledMessage(tenant=tenant, connection_id="conn_aaaaaaaaaaaaaaaaaaaa").model_dump_json()
    assert handle_body(gone, budget, **kwargs) == "dropped"  # type: ignore[arg-type]
    assert handle_body('{"kind": "nonsense"}', budget, **kwargs) == "dropped"  # type: ignore[arg-type]
    missing = ContinueMessage(tenant=tenant, operation_id="op_x", slice_no=1).model_dump_json()
    assert handle_body(missing, budget, **kwargs) == "missing"  # type: ignore[arg-type]
    assert harness.queue.sent == []
