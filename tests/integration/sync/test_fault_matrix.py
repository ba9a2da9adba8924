"""The fault matrix: on every registered tracker, a full then an incremental sync under each fault ends with
0 lost, 0 duplicated, 0 stale.

Each case injects its fault through the sandbox's fault rules (or the engine's crash seam, or the driver's
duplicate delivery), runs a full sync with a budget of two pages per slice, changes data on the tracker,
runs an incremental sync under the same fault, and asks the differential checker. Rate limits must park
(never fail the operation), outages and broken bodies must be retried, and nothing may be written twice.

Nothing here names a tracker: the cases run on every sandbox in ``infra.local.trackers.SANDBOXES``, aimed
through what each declares. A rule's action goes to the issue listing by ``listing_fault`` (its
``listing_route``, plus ``listing_operation`` where one GraphQL route serves every query, as on Linear),
data changes go through the :class:`~tests.integration.sync.conftest.Provider` verbs, and the issues to
change come from ``live_issues()`` on the sandbox's state. A case that only means something where the
tracker answers that way (GitHub's secondary limit is a 403; a 403 elsewhere is a permission error) says so
in ``applies``, again from a declaration. Every rule must fire during the full sync, so a listing route or
operation that no longer matches what the adapter asks fails the case instead of passing it untested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.local.trackers import SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.conftest import Provider
from tests.integration.sync.support import Harness, SimulatedCrash, assert_counters_add_up
from tests.support.sandboxes import fresh
from trackbridge.domain.sync_plan import SyncRequest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

MATRIX_ISSUES = 60
# Ten a page: several pages per listing and several slices per sync, even where issues are the only listing.
MATRIX_PAGE = 10


def _always(sandbox: type[SandboxTracker[Any]]) -> bool:
    return True


@dataclass
class Fault:
    # Actions of fault rules (see ``infra.local.trackers._faults``), aimed by ``listing_fault``.
    rules: list[dict[str, Any]] = field(default_factory=list)
    crash_every: int | None = None
    duplicate: bool = False
    drift: bool = False
    adapter_options: dict[str, Any] = field(default_factory=dict)
    expect_outcome: str | None = None
    applies: Callable[[type[SandboxTracker[Any]]], bool] = _always


FAULTS: dict[str, Fault] = {
    "429_with_reset": Fault(
        rules=[{"every": 3, "times": 2, "rate_limit_reset_s": 1}], expect_outcome="parked"
    ),
    "secondary_limit": Fault(
        rules=[
            {
                "every": 3,
                "times": 2,
                "status": 403,
                "message": "You have exceeded a secondary rate limit",
                "retry_after_s": 1,
            }
        ],
        expect_outcome="parked",
        # Only where a 403 can be a rate limit at all (GitHub); elsewhere it is a permission error.
        applies=lambda sandbox: 403 in sandbox.rate_limit_fault_statuses,
    ),
    "http_500": Fault(rules=[{"every": 2, "times": 3, "status": 500}]),
    "http_502_outlasting_retries": Fault(rules=[{"times": 3, "status": 502}], expect_outcome="parked"),
    "http_503": Fault(rules=[{"every": 3, "times": 3, "status": 503}]),
    "timeout": Fault(rules=[{"every": 4, "times": 2, "delay_s": 1.5}], adapter_options={"timeout": 0.5}),
    "connection_reset": Fault(rules=[{"every": 3, "times": 3, "reset_connection": True}]),
    "malformed_json": Fault(
        rules=[{"every": 3, "times": 2, "malformed_body": True}], expect_outcome="parked"
    ),
    "page_drift": Fault(drift=True),
    "crash_between_write_and_checkpoint": Fault(crash_every=3, expect_outcome="crashed"),
    "duplicate_continuation_delivery": Fault(duplicate=True, expect_outcome="duplicate"),
}

# A known gap, kept visible (README, "Known gaps"): GitLab does not move an issue's updated_at for a note
# posted within a minute of its last update, so an incremental pass that finds the issue unchanged never
# lists that note. Strict: the day the engine re-reads such issues' notes, this fails and is removed.
KNOWN_GAPS = {
    ("gitlab", "page_drift"): pytest.mark.xfail(
        strict=True, reason="a GitLab note within 60 s of the issue's last update does not bump updated_at"
    )
}

CASES = [
    pytest.param(tracker, name, id=f"{tracker}-{name}", marks=KNOWN_GAPS.get((tracker, name), ()))
    for tracker, sandbox in SANDBOXES.items()
    for name, fault in sorted(FAULTS.items())
    if fault.applies(sandbox)
]


def issue_numbers(tracker: SandboxTracker[Any]) -> list[int]:
    """The numbers ``issue_ref`` takes for the tracker's live issues (pull requests, on GitHub, left out)."""
    numbers: list[int] = []
    for issue in tracker.state.live_issues():
        if getattr(issue, "pull", False):
            continue
        number = next(
            value
            for value in (getattr(issue, name, None) for name in ("number", "iid", "id"))
            if type(value) is int
        )
        numbers.append(number)
    assert numbers, f"{tracker.kind}: no live issue to change"
    return numbers


def drift(provider: Provider) -> Callable[[int], None]:
    """Between slices: update early issues (they jump to the end of update order), insert and comment."""
    numbers = issue_numbers(provider.tracker)

    def mutate(delivery: int) -> None:
        provider.update(numbers[(delivery * 5) % len(numbers)], f"edited while paging {delivery}")
        provider.create(f"inserted while paging {delivery}")
        provider.comment(numbers[(delivery * 7) % len(numbers)], f"drift {delivery}")

    return mutate


@pytest.fixture
def matrix_provider(
    request: pytest.FixtureRequest, small_sandboxes: dict[str, SandboxTracker[Any]]
) -> Provider:
    return Provider(request.param, fresh(small_sandboxes[request.param]))


@pytest.mark.parametrize(("matrix_provider", "name"), CASES, indirect=["matrix_provider"])
def test_full_then_incremental_under_fault(
    matrix_provider: Provider,
    name: str,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., Any],
) -> None:
    fault, provider = FAULTS[name], matrix_provider
    tracker = provider.tracker
    tracker.reset(issues=MATRIX_ISSUES, comments_per_issue=1)
    connection = provider.connection(tenant)
    rules = [tracker.listing_fault(**rule) for rule in fault.rules]
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
    between = drift(provider) if fault.drift else None
    for mode in ("full", "incremental"):
        tracker.add_faults(rules)
        op = harness.service.start(tenant, connection.id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
        harness.drain(pages_per_slice=2, duplicate=fault.duplicate, between=between)
        if mode == "full":
            # A fired-out rule leaves the book; one still there must at least have fired, or it missed.
            assert all(rule["fired"] for rule in tracker.faults()), (name, tracker.faults())
        tracker.clear_faults()
        final = harness.service.get(tenant, op.id)
        assert final.status == "Completed", (mode, final.results.errors, harness.outcomes, final.progress)
        assert_counters_add_up(final)
        if mode == "full" and not fault.drift:
            # A first sync counts every item once, as created, whatever it went through: a page replayed
            # after a crash counts what the lost attempt wrote, not "unchanged".
            counted = (final.results.unchanged, final.results.updated, final.results.failed)
            assert counted == (0, 0, 0), (name, final.results)
        if mode == "full":
            # Changes made after the full sync, for the incremental one to find.
            numbers = issue_numbers(tracker)
            provider.update(numbers[1], f"edited after {name}")
            provider.comment(numbers[0], f"comment after {name}")
            provider.create(f"created after {name}")

    if fault.drift:
        # Data changed until the very last slice: one quiet incremental run settles the last changes.
        harness.service.start(tenant, connection.id, SyncRequest(mode="incremental"), triggered_by="tests")
        harness.drain()
    report = verify(connection)
    assert report.ok, report.to_dict()
    assert (report.lost, report.duplicated, report.stale) == ([], [], [])
    if fault.expect_outcome:
        assert fault.expect_outcome in harness.outcomes, harness.outcomes
