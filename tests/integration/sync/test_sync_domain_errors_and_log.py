"""Issue 13: a trackbridge (domain) error raised mid-step fails the operation instead of escaping to an SQS
retry, and the sync log has one ``sync.page`` entry per page, each naming the pass that page belonged to."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from infra.local.trackers.gitlab import GitLabSandbox
from tests.integration.sync.conftest import PROVIDER_ISSUES, Provider
from tests.integration.sync.support import Harness
from tests.support.sandboxes import fresh
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import (
    DependencyFailure,
    TrackbridgeError,
    UnsupportedCapability,
    ValidationFailed,
)
from trackbridge.domain.sync import SyncLogEntry
from trackbridge.domain.sync_plan import Checkpoint, SyncRequest
from trackbridge.providers.base import TrackerAdapter
from trackbridge.runtime.sync.syncers import ListingSyncer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

PAGE = 20


def _failing_on_second_page(harness: Harness, error: TrackbridgeError, *, times: int = 1_000) -> list[bool]:
    """Wrap the harness's adapter factory: the issue listing's second page raises ``error`` (as an adapter
    raising a domain error, e.g. a response it cannot validate, would) the first ``times`` times it is asked
    for. Returns, per listing page asked for, whether it raised."""
    factory = harness.engine.adapter_factory
    asked: list[bool] = []

    def make(connection: Connection, credentials: Mapping[str, Any]) -> TrackerAdapter:
        adapter = factory(connection, credentials)
        pages = adapter.iter_issue_pages

        def iter_issue_pages(**kwargs: Any) -> Iterator[Any]:
            raising = kwargs.get("cursor") is not None and sum(asked) < times
            asked.append(raising)
            if raising:
                raise error
            return pages(**kwargs)

        adapter.iter_issue_pages = iter_issue_pages  # type: ignore[method-assign]
        return adapter

    harness.engine.adapter_factory = make
    return asked


@pytest.mark.parametrize(
    "error",
    [
        ValidationFailed("the tracker answered an issue without a title", guidance="check the tracker"),
        UnsupportedCapability("this tracker cannot list issues by page"),
    ],
    ids=["validation_failed", "unsupported_capability"],
)
def test_a_domain_error_raised_mid_step_fails_the_operation(
    error: TrackbridgeError,
    aws: Any,
    tenant: str,
    gitlab_sandbox: GitLabSandbox,
    harness_factory: Callable[..., Harness],
) -> None:
    connection = Provider("gitlab", fresh(gitlab_sandbox)).connection(tenant)
    harness = harness_factory(page_size=PAGE)
    asked = _failing_on_second_page(harness, error)
    op = harness.service.start(tenant, connection.id, SyncRequest(mode="full"), triggered_by="tests")

    # No exception escapes the handler (an escape is an SQS retry of the same slice).
    outcomes = harness.drain(pages_per_slice=3)

    final = harness.service.get(tenant, op.id)
    assert final.status == "Failed", (final.status, outcomes)
    assert outcomes[-1] == "failed", outcomes
    assert asked == [False, True], asked  # page 1, then page 2 raised; nothing after the failure
    assert final.progress.stage == "failed", final.progress
    assert final.finished_at is not None
    failure = final.results.errors[-1]
    assert failure["code"] == error.code, failure
    assert failure["message"] == error.message, failure
    assert failure.get("guidance") == error.guidance, failure
    assert failure.get("retryable") is False, failure
    assert failure.get("entity") == "issues", failure
    # Page 1 was written and counted before the failure.
    assert final.results.by_entity["issues"].created == PAGE, final.results
    # The lock is released: another sync can start at once.
    assert harness.engine.operations.lock_item(tenant, connection.id) is None
    assert not harness.queue.messages
    again = harness.service.start(tenant, connection.id, SyncRequest(mode="full"), triggered_by="tests")
    assert again.status == "Pending"
    state = next(s for s in harness.service.states_of(tenant, connection.id) if s.entity == "issues")
    assert state.status == "failed", state
    logged = [e for e in _log(harness, tenant, connection.id, op.id) if e.event == "sync.failed"]
    assert [e.data.get("code") for e in logged] == [error.code], logged


def test_a_dependency_outage_mid_step_is_retried_later_and_the_sync_completes(
    aws: Any,
    tenant: str,
    gitlab_sandbox: GitLabSandbox,
    harness_factory: Callable[..., Harness],
) -> None:
    connection = Provider("gitlab", fresh(gitlab_sandbox)).connection(tenant)
    harness = harness_factory(page_size=PAGE)
    asked = _failing_on_second_page(
        harness, DependencyFailure("DynamoDB kept throttling a batch read"), times=1
    )
    op = harness.service.start(tenant, connection.id, SyncRequest(mode="full"), triggered_by="tests")

    outcomes = harness.drain(pages_per_slice=3)

    final = harness.service.get(tenant, op.id)
    assert final.status == "Completed", (final.results.errors, outcomes)
    assert "parked" in outcomes, outcomes
    assert asked[:3] == [False, True, False], asked  # page 2 asked again after the back-off
    assert final.results.by_entity["issues"].created == PROVIDER_ISSUES, final.results
    retried = [e for e in _log(harness, tenant, connection.id, op.id) if e.event == "sync.retry_later"]
    assert [(e.data["code"], e.data["retryable"]) for e in retried] == [("DEPENDENCY_FAILURE", True)], retried
    assert harness.engine.operations.lock_item(tenant, connection.id) is None


def _log(harness: Harness, tenant: str, connection_id: str, operation_id: str) -> list[SyncLogEntry]:
    """The operation's entries as ``GET /v1/connections/{id}/sync-logs`` reads them (newest first), oldest
    first."""
    entries: list[SyncLogEntry] = []
    cursor: str | None = None
    while True:
        page = harness.service.logs_of(tenant, connection_id, limit=25, cursor=cursor)
        entries.extend(e for e in page.items if e.operation_id == operation_id)
        cursor = page.next_cursor
        if cursor is None:
            return entries[::-1]


def test_sync_log_has_one_entry_per_page_with_the_phase_it_belonged_to(
    aws: Any,
    tenant: str,
    small_provider: Provider,
    harness_factory: Callable[..., Harness],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = small_provider.connection(tenant)
    harness = harness_factory(page_size=PAGE)
    ran: list[tuple[str, str]] = []
    step = ListingSyncer.step

    def recording(self: ListingSyncer, run: Any, cp: Checkpoint, high_water: Any) -> Any:
        # The pass each page (one step) belongs to: the phase of the checkpoint the step starts from.
        ran.append((self.entity, cp.phase))
        return step(self, run, cp, high_water)

    monkeypatch.setattr(ListingSyncer, "step", recording)
    op = harness.run(tenant, connection.id, SyncRequest(mode="full"))

    pages = [e for e in _log(harness, tenant, connection.id, op.id) if e.event == "sync.page"]
    logged = [(e.data["entity"], e.data["phase"]) for e in pages]
    # One entry per page the engine ran, in order, each naming the pass that page belonged to.
    assert logged == ran, (logged, ran)
    for entity in {e for e, _ in ran}:
        phases = [p for e, p in logged if e == entity]
        # The first page of the full pass has its entry; the passes follow in order, each ending once.
        assert phases[0] == "full", (entity, phases)
        assert phases == sorted(phases, key=["full", "catchup", "sweep"].index), (entity, phases)
        if entity == "issues":
            assert phases.count("full") >= math.ceil(PROVIDER_ISSUES / PAGE), phases
        assert "catchup" in phases, (entity, phases)
        assert phases[-1] == "sweep", (entity, phases)
    # What the full passes fetched is what they listed: every page is in the log.
    listed = sum(
        e.data["fetched"] for e in pages if e.data["phase"] == "full" and e.data["entity"] == "issues"
    )
    # (GitHub's issue listing also lists pull requests, which are not stored as issues.)
    assert listed >= op.results.by_entity["issues"].created > 0, (listed, op.results)
    assert sum(e.data.get("created", 0) for e in pages) == op.results.created
