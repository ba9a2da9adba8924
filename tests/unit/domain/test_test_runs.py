"""Flaky decisions (``domain.test_runs.flaky_reason``) and how a run's cases are chunked for storage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trackbridge.domain.junit import CaseResult
from trackbridge.domain.test_runs import LatestStatus, RunCase, flaky_reason
from trackbridge.storage.test_runs import CHUNK_BYTES, CHUNK_CASES, chunk_cases

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def _case(status: str, *, flaky: bool = False) -> CaseResult:
    return CaseResult.model_validate(
        {"suite": "s", "classname": "c", "name": "t", "status": status, "flaky": flaky, "attempts": 2}
    )


def _stored(status: str, commit: str | None) -> LatestStatus:
    return LatestStatus(
        id="x", object_key="test_case:s/c/t", classname="c", name="t", status=status, commit=commit,
        run_id="run_abcdefghijklmnopqrst", run_at=T0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("now", "before", "commit", "reason"),
    [
        (_case("passed", flaky=True), None, None, "rerun"),  # Surefire's flakyFailure, no history needed
        (_case("passed"), _stored("failed", "abc"), "abc", "same_commit"),  # failed, then passed
        (_case("failed"), _stored("passed", "abc"), "abc", "same_commit"),  # passed, then failed
        (_case("passed"), _stored("error", "abc"), "abc", "same_commit"),
        (_case("passed"), _stored("failed", "abc"), "def", None),  # another commit: a fix, not flakiness
        (_case("passed"), _stored("failed", None), None, None),  # without commits nothing says "same code"
        (_case("failed"), _stored("failed", "abc"), "abc", None),  # consistently failing
        (_case("skipped"), _stored("failed", "abc"), "abc", None),  # a skip tells nothing
        (_case("passed"), None, "abc", None),
    ],
)
def test_flaky_reason(
    now: CaseResult, before: LatestStatus | None, commit: str | None, reason: str | None
) -> None:
    assert flaky_reason(now, before, commit) == reason


def _run_case(n: int, message_chars: int = 0) -> RunCase:
    return RunCase(
        id=f"{n:024d}", object_key=f"test_case:s/c/t{n}", suite="s", classname="c", name=f"t{n}",
        status="failed", message="m" * message_chars or None,
    )  # fmt: skip


def test_chunks_hold_a_bounded_number_of_cases() -> None:
    chunks = chunk_cases([_run_case(n) for n in range(CHUNK_CASES * 2 + 1)])

    assert [len(c) for c in chunks] == [CHUNK_CASES, CHUNK_CASES, 1]


def test_chunks_stay_under_the_item_size_bound() -> None:
    cases = [_run_case(n, message_chars=2_000) for n in range(400)]

    chunks = chunk_cases(cases)

    assert [c for chunk in chunks for c in chunk] == cases
    assert len(chunks) > 1
    assert all(sum(len(c.model_dump_json()) for c in chunk) <= CHUNK_BYTES for chunk in chunks)
