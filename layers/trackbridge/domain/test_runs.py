"""Test runs: a JUnit report stored for a suite, its cases with the issues they link, and the decisions made
on it (flaky, failing) as values.

A **suite** is what a CI job calls its tests (``web-unit``): every upload names one, and its test cases are
link objects ``test_case:{suite}/{classname}/{name}`` (classname and name through
``domain.junit.object_part``). Each suite keeps the latest status of each of its cases (the coverage report
reads them) and the connections its issues live in (its **scope**).

**Flaky** (:func:`flaky_reason`): a test that both failed and passed on the same code. Within one run that is
a rerun that passed (``rerun``); across runs, a test whose latest stored outcome on the same commit differs
from this run's, pass after fail or fail after pass (``same_commit``). Without a commit, only reruns tell.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.junit import CaseResult, CaseStatus
from trackbridge.domain.times import UtcDatetime

SUITE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
COMMIT_PATTERN: Final = r"^[A-Za-z0-9._/-]{1,100}$"
BRANCH_MAX: Final = 255
RUN_PREFIX: Final = "run"
MAX_LISTED: Final = 100  # unresolved keys, flaky and failing tests named on a run
MAX_COVERAGE_ITEMS: Final = 500  # entries of each list of a coverage report
FlakyReason = Literal["rerun", "same_commit"]
_FAILING: Final = frozenset({"failed", "error"})


class CaseCounts(BaseModel):
    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    flaky: int = 0


class RunCase(BaseModel):
    """A case as stored with its run: the report's case, its object, and what trackbridge made of it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the case's id within its suite")
    object_key: str = Field(description="the test case's link object, test_case:{suite}/{classname}/{name}")
    suite: str = Field(description="the report's <testsuite name>")
    classname: str
    name: str
    status: CaseStatus
    duration: float | None = None
    message: str | None = None
    issue_keys: list[str] = Field(default_factory=list)
    issue_refs: list[str] = Field(default_factory=list, description="the issues its keys resolved to")
    flaky: FlakyReason | None = None
    attempts: int = 1


class UnresolvedKey(BaseModel):
    key: str
    reason: str = Field(description="why it links nothing: no synced issue, ambiguous, deleted")
    tests: int = Field(description="how many tests of the run name it")


class EmittedEvent(BaseModel):
    """An event this run sent to auto-issue (``GET /v1/events/{id}`` shows its receipt)."""

    type: Literal["test.failed", "test.flaky"]
    event_id: str
    tests: list[str] = Field(description="object keys of the tests it reports")


class TestRun(BaseModel):
    """A stored run, without its cases (``GET /v1/test-runs/{id}`` pages them)."""

    __test__: ClassVar[bool] = False  # not a pytest test class, whatever its name says
    model_config = ConfigDict(frozen=True)

    id: str
    suite: str
    commit: str | None = None
    branch: str | None = None
    created_at: UtcDatetime
    created_by: str
    counts: CaseCounts
    cases: int = Field(description="how many test cases the report held")
    links_created: int
    unresolved_keys: list[UnresolvedKey] = Field(default_factory=list)
    flaky: list[str] = Field(
        default_factory=list, description=f"flaky tests' object keys (at most {MAX_LISTED})"
    )
    failing: list[str] = Field(
        default_factory=list, description=f"failed or errored tests' object keys (at most {MAX_LISTED})"
    )
    events: list[EmittedEvent] = Field(default_factory=list)


class LatestStatus(BaseModel):
    """A suite's latest outcome of one test (the coverage report's input)."""

    model_config = ConfigDict(frozen=True)

    id: str
    object_key: str
    classname: str
    name: str
    status: CaseStatus
    message: str | None = None
    issue_refs: list[str] = Field(default_factory=list)
    commit: str | None = None
    run_id: str
    run_at: UtcDatetime


class RunPage(TestRun):
    """``GET /v1/test-runs/{id}``: the run and one page of its cases."""

    items: list[RunCase] = Field(description="the page's test cases")
    next_cursor: str | None = None


class IssueGap(BaseModel):
    ref: str
    key: str
    title: str
    status: str
    status_category: str
    url: str | None = None


class FailingTest(BaseModel):
    id: str
    object_key: str
    classname: str
    name: str
    status: str
    message: str | None = None
    issue_refs: list[str]
    commit: str | None = None
    run_id: str
    run_at: UtcDatetime


class TestOnClosedIssue(BaseModel):
    __test__: ClassVar[bool] = False  # not a pytest test class

    object_key: str
    classname: str
    name: str
    status: str = Field(description="the test's latest status")
    issue_ref: str
    key: str
    issue_status: str


class CoverageCounts(BaseModel):
    tests: int
    issues_in_scope: int = Field(description="open, live issues of the scope")
    issues_covered: int
    issues_without_tests: int
    failing_tests: int
    tests_on_closed_issues: int


class Coverage(BaseModel):
    suite: str
    connections: list[str] = Field(description="the suite's scope: the connections whose issues count")
    issues_without_tests: list[IssueGap]
    failing_tests: list[FailingTest]
    tests_on_closed_issues: list[TestOnClosedIssue]
    counts: CoverageCounts
    truncated: bool = Field(
        description=f"a list was cut at {MAX_COVERAGE_ITEMS} entries, or a connection had more issues than "
        "coverage reads"
    )


def flaky_reason(case: CaseResult, previous: LatestStatus | None, commit: str | None) -> FlakyReason | None:
    """Whether ``case`` shows its test flaky: passed on a rerun within the report, or an outcome on
    ``commit`` other than the one stored for the same commit (skips tell nothing)."""
    if case.flaky:
        return "rerun"
    if previous is None or commit is None or previous.commit != commit:
        return None
    outcomes = {previous.status, case.status}
    if "skipped" in outcomes:
        return None
    return "same_commit" if "passed" in outcomes and outcomes & _FAILING else None


def is_failing(status: str) -> bool:
    return status in _FAILING


__all__ = [
    "BRANCH_MAX",
    "COMMIT_PATTERN",
    "MAX_COVERAGE_ITEMS",
    "MAX_LISTED",
    "RUN_PREFIX",
    "SUITE_PATTERN",
    "CaseCounts",
    "Coverage",
    "CoverageCounts",
    "EmittedEvent",
    "FailingTest",
    "FlakyReason",
    "IssueGap",
    "LatestStatus",
    "RunCase",
    "RunPage",
    "TestOnClosedIssue",
    "TestRun",
    "UnresolvedKey",
    "flaky_reason",
    "is_failing",
]
