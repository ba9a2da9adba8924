"""The fault matrix: a full then an incremental sync under each fault ends with 0 lost, 0 duplicated, 0 stale.

Each case injects its fault through the sandbox's fault rules (or the engine's crash seam, or the driver's
duplicate delivery), runs a full sync with a budget of two pages per slice, changes data on the tracker,
runs an incremental sync under the same fault, and asks the differential checker. Rate limits must park
(never fail the operation), outages and broken bodies must be retried, and nothing may be written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.local.trackers.github import GitHubSandbox
from tests.integration.sync.support import Harness, SimulatedCrash, assert_counters_add_up
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime.verify import VerifyReport

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

LISTINGS = "GET /repos/*"
MATRIX_ISSUES = 60
MATRIX_PAGE = 20


@dataclass
class Fault:
    rules: list[dict[str, Any]] = field(default_factory=list)
    crash_every: int | None = None
    duplicate: bool = False
    drift: bool = False
    adapter_options: dict[str, Any] = field(default_factory=dict)
    expect_outcome: str | None = None


FAULTS: dict[str, Fault] = {
    "429_with_reset": Fault(
        rules=[{"route": LISTINGS, "every": 3, "times": 2, "rate_limit_reset_s": 1}],
        expect_outcome="parked",
    ),
    "secondary_limit": Fault(
        rules=[
            {
                "route": LISTINGS,
                "every": 3,
                "times": 2,
                "status": 403,
                "message": "You have exceeded a secondary rate limit",
                "retry_after_s": 1,
            }
        ],
        expect_outcome="parked",
    ),
    "http_500": Fault(rules=[{"route": LISTINGS, "every": 2, "times": 3, "status": 500}]),
    "http_502_outlasting_retries": Fault(
        rules=[{"route": LISTINGS, "times": 3, "status": 502}], expect_outcome="parked"
    ),
    "http_503": Fault(rules=[{"route": LISTINGS, "every": 3, "times": 3, "status": 503}]),
    "timeout": Fault(
        rules=[{"route": LISTINGS, "every": 4, "times": 2, "delay_s": 1.5}],
        adapter_options={"timeout": 0.5},
    ),
    "connection_reset": Fault(rules=[{"route": LISTINGS, "every": 3, "times": 3, "reset_connection": True}]),
    "malformed_json": Fault(
        rules=[{"route": LISTINGS, "every": 3, "times": 2, "malformed_body": True}], expect_outcome="parked"
    ),
    "page_drift": Fault(drift=True),
    "crash_between_write_and_checkpoint": Fault(crash_every=3, expect_outcome="crashed"),
    "duplicate_continuation_delivery": Fault(duplicate=True, expect_outcome="duplicate"),
}


def _drift(tracker: GitHubSandbox) -> Callable[[int], None]:
    """Between slices: update early issues (they jump to the end of update order) and insert new ones."""
    numbers = [i.number for i in tracker.state.issues if i is not None and not i.pull]

    def mutate(delivery: int) -> None:
        tracker.mutate(
            "update", number=numbers[delivery % len(numbers)], fields={"body": f"drift {delivery}"}
        )
        tracker.mutate("create", fields={"title": f"inserted while paging {delivery}"})
        tracker.mutate("comment", number=numbers[(delivery * 7) % len(numbers)], body=f"drift {delivery}")

    return mutate


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_full_then_incremental_under_fault(
    name: str,
    github_tracker: GitHubSandbox,
    github_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    fault = FAULTS[name]
    # Small data, small pages: several pages per listing and several slices per sync, quickly.
    github_tracker.reset(issues=MATRIX_ISSUES, comments_per_issue=1)
    calls = {"n": 0}

    def crash(point: str) -> None:
        calls["n"] += 1
        if fault.crash_every and calls["n"] % fault.crash_every == 0:
            raise SimulatedCrash(point)

    harness = harness_factory(
        fault_hook=crash if fault.crash_every else None,
        adapter_options=fault.adapter_options,
        page_size=MATRIX_PAGE,
    )
    between = _drift(github_tracker) if fault.drift else None
    for mode in ("full", "incremental"):
        github_tracker.add_faults(fault.rules)
        op = harness.service.start(tenant, github_connection.id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
        harness.drain(pages_per_slice=2, duplicate=fault.duplicate, between=between)
        github_tracker.clear_faults()
        final = harness.service.get(tenant, op.id)
        assert final.status == "Completed", (mode, final.results.errors, harness.outcomes, final.progress)
        assert_counters_add_up(final)
        if mode == "full" and not fault.drift:
            # A first sync counts every item once, as created, whatever it went through: a page replayed
            # after a crash counts what the lost attempt wrote, not "unchanged".
            counted = (final.results.unchanged, final.results.updated, final.results.failed)
            assert counted == (0, 0, 0), (name, final.results)
        # Changes made after the full sync, for the incremental one to find.
        number = 1 + next(i.number for i in github_tracker.state.issues if i is not None and not i.pull)
        if mode == "full":
            github_tracker.mutate(
                "update",
                number=number if not github_tracker.state.issues[number - 1].pull else 1,
                fields={"title": f"edited after {name}"},
            )
            github_tracker.mutate("comment", number=1, body=f"comment after {name}")
            github_tracker.mutate("create", fields={"title": f"created after {name}"})

    if fault.drift:
        # Data changed until the very last slice: one quiet incremental run settles the last changes.
        harness.service.start(
            tenant, github_connection.id, SyncRequest(mode="incremental"), triggered_by="tests"
        )
        harness.drain()
    report = verify(github_connection)
    assert report.ok, report.to_dict()
    assert (report.lost, report.duplicated, report.stale) == ([], [], [])
    if fault.expect_outcome:
        assert fault.expect_outcome in harness.outcomes, harness.outcomes
