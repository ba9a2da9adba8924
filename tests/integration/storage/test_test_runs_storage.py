"""``TestRunRepository`` on moto: latest statuses settle races by run time, runs stay in their tenant, cases
page across chunks, and a status no upload refreshed expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.errors import InvalidInput, NotFound
from trackbridge.domain.test_runs import CaseCounts, LatestStatus, RunCase, TestRun
from trackbridge.storage.table import Table
from trackbridge.storage.test_runs import CHUNK_CASES, STATUS_TTL_S, TestRunRepository

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)  # runs and statuses expire: a fixed past date would already have
SUITE = "web-unit"


def _status(n: int, status: str, at: datetime, run: str = "run_abcdefghijklmnopqrst") -> LatestStatus:
    return LatestStatus(
        id=f"{n:024d}", object_key=f"test_case:{SUITE}/c/t{n}", classname="c", name=f"t{n}", status=status,
        commit="abc", run_id=run, run_at=at,
    )  # fmt: skip


def _run(run_id: str, cases: int) -> TestRun:
    counts = CaseCounts(passed=cases)
    return TestRun(
        id=run_id,
        suite=SUITE,
        created_at=NOW,
        created_by="tests",
        counts=counts,
        cases=cases,
        links_created=0,
    )


def test_an_older_run_never_overwrites_a_newer_status(table: Table, tenant: str) -> None:
    runs = TestRunRepository(table)
    before = NOW
    runs.record_latest(tenant, SUITE, [_status(n, "failed", before + timedelta(minutes=5)) for n in range(3)])

    # When: an earlier run writes the three (its transaction fails: each is settled alone) and a new test
    runs.record_latest(tenant, SUITE, [_status(n, "passed", before) for n in (0, 1, 2, 9)])

    # Then: the newer statuses stand; the new test is recorded
    latest = runs.latest(tenant, SUITE, [f"{n:024d}" for n in (0, 1, 2, 9)])
    assert {s.name: s.status for s in latest.values()} == {
        "t0": "failed",
        "t1": "failed",
        "t2": "failed",
        "t9": "passed",
    }


def test_a_status_no_upload_refreshed_expires(table: Table, tenant: str) -> None:
    runs = TestRunRepository(table)
    stale = datetime.now(UTC) - timedelta(seconds=STATUS_TTL_S + 60)
    runs.record_latest(tenant, SUITE, [_status(1, "failed", stale), _status(2, "passed", datetime.now(UTC))])

    assert [s.name for s in runs.statuses(tenant, SUITE)] == ["t2"]


def test_cases_page_across_chunks_and_runs_stay_in_their_tenant(
    table: Table, tenant: str, other_tenant: str
) -> None:
    runs = TestRunRepository(table)
    cases = [
        RunCase(id=f"{n:024d}", object_key=f"test_case:{SUITE}/c/t{n}", suite="s", classname="c",
                name=f"t{n}", status="failed" if n % 7 == 0 else "passed")
        for n in range(CHUNK_CASES + 3)
    ]  # fmt: skip
    chunks = runs.put_cases(tenant, "run_abcdefghijklmnopqrst", cases, created_at=NOW)
    runs.create(tenant, _run("run_abcdefghijklmnopqrst", len(cases)), chunks=chunks)

    seen: list[RunCase] = []
    cursor: str | None = None
    for _ in range(10):
        _, page, cursor = runs.cases(
            tenant, "run_abcdefghijklmnopqrst", status=None, limit=200, cursor=cursor
        )
        seen += page
        if cursor is None:
            break
    assert (chunks, seen) == (2, cases)
    _, failing, _ = runs.cases(tenant, "run_abcdefghijklmnopqrst", status="failed", limit=1000, cursor=None)
    assert [c.name for c in failing] == [c.name for c in cases if c.status == "failed"]

    with pytest.raises(NotFound):
        runs.get(other_tenant, "run_abcdefghijklmnopqrst")
    assert runs.list_runs(other_tenant, suite=None, limit=10, cursor=None).items == []
    with pytest.raises(InvalidInput):
        runs.cases(tenant, "run_abcdefghijklmnopqrst", status=None, limit=10, cursor="7.0")
