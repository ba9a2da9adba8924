"""YouTrack through the engine: the providers' full/incremental/sweep case, and the fault matrix.

The full, incremental and deletion-sweep case is the one GitLab and Jira run
(:func:`tests.integration.sync.test_providers_sync.test_full_incremental_and_sweep`), collected here with
a ``provider`` fixture naming the YouTrack sandbox. The fault matrix reuses the GitHub matrix's cases with
their rules aimed at YouTrack's issue listing (GitHub's secondary limit, a 403 with a rate-limit message,
has no YouTrack counterpart: a YouTrack 403 is a permission error) and ends, like it, at 0 lost,
0 duplicated, 0 stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.conftest import Provider
from tests.integration.sync.support import Harness, SimulatedCrash, assert_counters_add_up
from tests.integration.sync.test_fault_matrix import FAULTS, MATRIX_ISSUES, MATRIX_PAGE
from tests.integration.sync.test_providers_sync import test_full_incremental_and_sweep
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime.verify import VerifyReport

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

__all__ = ["test_full_incremental_and_sweep"]

YOUTRACK_FAULTS = {
    name: dataclasses.replace(fault, rules=[{**rule, "route": "GET */issues"} for rule in fault.rules])
    for name, fault in FAULTS.items()
    if name != "secondary_limit"
}


@pytest.fixture
def provider(small_sandboxes: dict[str, SandboxTracker[Any]]) -> Provider:
    tracker = small_sandboxes["youtrack"]
    tracker.reset()
    return Provider("youtrack", tracker)


@pytest.mark.parametrize("name", sorted(YOUTRACK_FAULTS))
def test_youtrack_full_then_incremental_under_fault(
    name: str,
    provider: Provider,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    fault = YOUTRACK_FAULTS[name]
    tracker = provider.tracker
    tracker.reset(issues=MATRIX_ISSUES, comments_per_issue=1)
    connection = provider.connection(tenant)
    calls = {"n": 0}

    def crash(point: str) -> None:
        calls["n"] += 1
        if fault.crash_every and calls["n"] % fault.crash_every == 0:
            raise SimulatedCrash(point)

    def drift(delivery: int) -> None:
        # Between slices: an issue edited (it moves in update order), one created, one commented on.
        provider.update(1 + (delivery * 5) % MATRIX_ISSUES, f"edited while paging {delivery}")
        provider.create(f"inserted while paging {delivery}")
        provider.comment(1 + (delivery * 7) % MATRIX_ISSUES, f"drift {delivery}")

    harness = harness_factory(
        fault_hook=crash if fault.crash_every else None,
        adapter_options=fault.adapter_options,
        # Half GitHub's page: YouTrack has no comment listing of its own, so this keeps as many slices.
        page_size=MATRIX_PAGE // 2,
    )
    for mode in ("full", "incremental"):
        tracker.add_faults(fault.rules)
        op = harness.service.start(tenant, connection.id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
        harness.drain(pages_per_slice=2, duplicate=fault.duplicate, between=drift if fault.drift else None)
        tracker.clear_faults()
        final = harness.service.get(tenant, op.id)
        assert final.status == "Completed", (mode, final.results.errors, harness.outcomes, final.progress)
        assert_counters_add_up(final)
        if mode == "full":
            provider.update(3, f"edited after {name}")
            provider.comment(1, f"comment after {name}")
            provider.create(f"created after {name}")
    if fault.drift:
        harness.service.start(tenant, connection.id, SyncRequest(mode="incremental"), triggered_by="tests")
        harness.drain()
    report = verify(connection)
    assert report.ok, report.to_dict()
    assert (report.lost, report.duplicated, report.stale) == ([], [], [])
    if fault.expect_outcome:
        assert fault.expect_outcome in harness.outcomes, harness.outcomes
