"""Test runs from JUnit reports: store a run, link its tests to the issues they name, tell flaky and failing
tests to auto-issue, and report a suite's requirement coverage.

An upload, in order (anything refused leaves nothing stored and sends nothing):

1. the body is parsed (``domain.junit.parse_report``: over 4 MiB -> 413; not XML, a DTD or entity, not JUnit
   -> 400);
2. each test's issue keys (``domain.junit``) are resolved against the tenant's **synced** issues, never the
   tracker: ``conn_....12`` as given; ``#12`` in the GitHub/GitLab connection the upload names
   (``connection``), else the only such connection of the suite's scope, else of the tenant; ``owner/repo#12``
   in the connection of that repository; ``PROJ-12`` in the Jira connections scoped to project ``PROJ`` (else
   every JQL-scoped one), through the issues' key pointers (two batch reads per 100 keys, whatever the
   connection's size). A key that names no live synced issue, or more than one candidate connection, is
   recorded in the run as unresolved, with the reason, and links nothing;
3. flaky tests are decided (``domain.test_runs.flaky_reason``) against the suite's latest statuses;
4. the cases are stored in chunks, each test's new ``auto_detected`` link is made through
   ``LinkService.ensure`` (``created_by: test_run:{id}``; a pair linked by an earlier run is not asked
   again), the suite's latest statuses and scope are updated;
5. one ``test.failed`` event names the failing tests (``data.run``, ``data.failures[]``: the built-in
   ``test-failures`` template's fields), one ``test.flaky`` event per flaky test (``data.test``, ``runs``,
   ``failures``, subject: the test case object), at most :data:`MAX_FLAKY_EVENTS` a run;
6. the run item is written last: the run exists only once all of it does. A failure after step 3 (DynamoDB
   or the queue unavailable: 503) can leave links and latest statuses behind, which a retried upload finds
   and keeps (links are not made twice).

Coverage (:meth:`TestRunService.coverage`) is computed per suite over its **scope**: the connections its
tests' issues resolved in, and those uploads named. ``issues_without_tests``: open (not ``done``), live issues
of the scope that no test of the suite is linked to; ``failing_tests``: tests whose latest status is failed or
error; ``tests_on_closed_issues``: tests linked to an issue whose status category is ``done``. Each list holds
at most :data:`MAX_COVERAGE_ITEMS` entries (``counts`` has the totals, ``truncated`` says when cut).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from trackbridge.domain.audit import Actor
from trackbridge.domain.automation import Event
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import NotFound, ValidationFailed
from trackbridge.domain.ids import IdPrefix, is_id, new_id, parse_issue_ref
from trackbridge.domain.issues import Issue
from trackbridge.domain.junit import CaseResult, Report, case_id, object_part, parse_report
from trackbridge.domain.links import Link, LinkType, ObjectRef
from trackbridge.domain.pagination import Page
from trackbridge.domain.test_runs import (
    MAX_COVERAGE_ITEMS,
    MAX_LISTED,
    RUN_PREFIX,
    CaseCounts,
    Coverage,
    CoverageCounts,
    EmittedEvent,
    FailingTest,
    IssueGap,
    LatestStatus,
    RunCase,
    RunPage,
    TestOnClosedIssue,
    TestRun,
    UnresolvedKey,
    flaky_reason,
    is_failing,
)
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger

if TYPE_CHECKING:
    from trackbridge.storage.test_runs import TestRunRepository

MAX_FLAKY_EVENTS = 20
MAX_FAILURES_IN_EVENT = 100
MAX_SCOPE_ISSUES = 20_000  # per connection, read for coverage
_CONNECTION_PAGES = 20
_ISSUE_PAGE = 1_000
FORGES = ("github", "gitlab")


# ---- ports ------------------------------------------------------------------------------------------------


class Connections(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...

    def list(self, tenant: str, *, limit: int = ..., cursor: str | None = ...) -> Page[Connection]: ...


class Issues(Protocol):
    """``storage.issues.IssueRepository``."""

    def get(self, tenant: str, connection_id: str, external_id: str) -> Issue: ...

    def list_connection_updated(
        self, tenant: str, connection_id: str, *, limit: int = ..., cursor: str | None = ...
    ) -> Page[Issue]: ...

    def find_by_keys(self, tenant: str, connection_id: str, keys: Iterable[str]) -> dict[str, Issue]: ...


class Linker(Protocol):
    """``runtime.links.LinkService``."""

    def ensure(
        self,
        tenant: str,
        obj: ObjectRef,
        issue_ref: str,
        *,
        actor: Actor,
        type: LinkType,
        created_by: str | None = None,
        fetch_missing: bool = False,
    ) -> tuple[Link, bool]: ...


class Intake(Protocol):
    """``runtime.automation.intake.EventIntake``."""

    def accept(self, tenant: str, event: Event) -> Event: ...


# ---- models -----------------------------------------------------------------------------------------------


class RunMeta(BaseModel):
    """What the upload says about the run (query parameters of ``POST /v1/test-runs``)."""

    suite: str
    commit: str | None = None
    branch: str | None = None
    connection: str | None = None


# ---- resolving keys ---------------------------------------------------------------------------------------


class _Finder:
    """Issue keys of one upload -> refs of live synced issues, reading each connection's issues once."""

    def __init__(
        self, tenant: str, issues: Issues, connections: Sequence[Connection], forge: Connection | None
    ) -> None:
        self.tenant = tenant
        self.issues = issues
        self.connections = {c.id: c for c in connections}
        self.forge = forge
        self.by_key: dict[str, dict[str, Issue]] = {}
        self.pending: dict[str, set[str]] = {}  # connection -> Jira keys to resolve together
        self.looked: dict[str, set[str]] = {}  # connection -> Jira keys already asked
        self.cache: dict[str, tuple[str | None, str]] = {}

    def resolve(self, key: str) -> tuple[str | None, str]:
        """``(ref, "")``, or ``(None, reason)``."""
        if key not in self.cache:
            self.cache[key] = self._resolve(key)
        return self.cache[key]

    def _resolve(self, key: str) -> tuple[str | None, str]:
        parsed = parse_issue_ref(key)
        if parsed is not None:
            connection = self.connections.get(parsed[0])
            return self._synced(connection, parsed[1]) if connection else (None, "no such connection")
        repo, hash_, number = key.rpartition("#")
        if hash_ and not repo:
            if self.forge is None:
                return None, "ambiguous: name the GitHub or GitLab connection (connection=)"
            return self._synced(self.forge, number)
        if hash_:
            owners = [
                c for c in self._forges() if (c.scope.repo or c.scope.project or "").lower() == repo.lower()
            ]
            return self._synced(owners[0], number) if owners else (None, "no connection of that repository")
        return self._jira(key)

    def _forges(self) -> list[Connection]:
        return [c for c in self.connections.values() if c.provider in FORGES]

    def _synced(self, connection: Connection, native_id: str) -> tuple[str | None, str]:
        try:
            issue = self.issues.get(self.tenant, connection.id, connection.external_id(native_id))
        except NotFound:
            return None, "not synced"
        return (None, "deleted at the tracker") if issue.deleted_at else (issue.ref, "")

    def _jira(self, key: str) -> tuple[str | None, str]:
        candidates = self._jira_candidates(key)
        if not candidates:
            return None, "no Jira connection of that project"
        for connection in candidates:
            issue = self._keyed(connection, key)
            if issue is not None:
                return (None, "deleted at the tracker") if issue.deleted_at else (issue.ref, "")
        return None, "not synced"

    def _jira_candidates(self, key: str) -> list[Connection]:
        project = key.rsplit("-", 1)[0].lower()
        jira = [c for c in self.connections.values() if c.provider == "jira"]
        scoped = [c for c in jira if (c.scope.project or "").lower() == project]
        return scoped or [c for c in jira if c.scope.jql]

    def prefetch(self, keys: Iterable[str]) -> None:
        """Queue an upload's Jira keys, so each connection resolves them together (the issues' key pointers,
        two batch reads per 100 keys) rather than one key at a time as cases ask."""
        for key in keys:
            if parse_issue_ref(key) is None and "#" not in key:
                for connection in self._jira_candidates(key):
                    self.pending.setdefault(connection.id, set()).add(key)

    def _keyed(self, connection: Connection, key: str) -> Issue | None:
        looked = self.looked.setdefault(connection.id, set())
        wanted = self.pending.pop(connection.id, set()) | ({key} - looked)
        if wanted:
            self.by_key.setdefault(connection.id, {}).update(
                self.issues.find_by_keys(self.tenant, connection.id, wanted)
            )
            looked.update(wanted)
        return self.by_key.get(connection.id, {}).get(key)


def scope_issues(issues: Issues, tenant: str, connection_id: str) -> tuple[list[Issue], bool]:
    """A connection's synced issues (without bodies), and whether :data:`MAX_SCOPE_ISSUES` cut them."""
    found: list[Issue] = []
    cursor: str | None = None
    for _ in range(MAX_SCOPE_ISSUES // _ISSUE_PAGE):
        page = issues.list_connection_updated(tenant, connection_id, limit=_ISSUE_PAGE, cursor=cursor)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found, False
    return found, True


# ---- the service ------------------------------------------------------------------------------------------


class TestRunService:
    __test__ = False  # not a pytest test class

    def __init__(
        self,
        runs: TestRunRepository,
        connections: Connections,
        issues: Issues,
        links: Linker,
        events: Callable[[], Intake],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runs = runs
        self.connections = connections
        self.issues = issues
        self.links = links
        self.events = events  # built when a run has something to tell (the queue client)
        self.clock = clock

    # -- upload ---------------------------------------------------------------------------------------------

    def upload(self, tenant: str, data: bytes, meta: RunMeta, *, actor: Actor, created_by: str) -> TestRun:
        report = parse_report(data)
        connections = self._connections(tenant)
        named = self._named(connections, meta.connection)
        previous = self.runs.latest(tenant, meta.suite, {case_id(*c.identity) for c in report.cases})
        finder = _Finder(tenant, self.issues, connections, self._forge(tenant, meta, named, connections))
        finder.prefetch(key for case in report.cases for key in case.issue_keys)
        run_id, now = new_id(RUN_PREFIX), self.clock()
        cases = [self._case(meta, case, previous, finder) for case in report.cases]
        links_created = self._link(tenant, cases, previous, actor, f"test_run:{run_id}")
        chunks = self.runs.put_cases(tenant, run_id, cases, created_at=now)
        self.runs.record_latest(tenant, meta.suite, [_latest(c, meta.commit, run_id, now) for c in cases])
        scope = {ref.split(".", 1)[0] for c in cases for ref in c.issue_refs}  # refs of synced issues
        self.runs.add_scope(tenant, meta.suite, [*([named.id] if named else []), *sorted(scope)])
        counts = _counts(cases)
        run = TestRun(
            id=run_id,
            suite=meta.suite,
            commit=meta.commit,
            branch=meta.branch,
            created_at=now,
            created_by=created_by,
            counts=counts,
            cases=len(cases),
            links_created=links_created,
            unresolved_keys=_unresolved(report, finder),
            flaky=[c.object_key for c in cases if c.flaky][:MAX_LISTED],
            failing=[c.object_key for c in cases if is_failing(c.status)][:MAX_LISTED],
        )
        run = run.model_copy(update={"events": self._emit(tenant, run, cases, now)})
        self.runs.create(tenant, run, chunks=chunks)
        logger.info(
            "test_runs.stored",
            extra={
                "tenant": tenant,
                "run_id": run_id,
                "suite": meta.suite,
                "cases": len(cases),
                "links_created": links_created,
                "flaky": counts.flaky,
            },
        )
        return run

    def _connections(self, tenant: str) -> list[Connection]:
        found: list[Connection] = []
        cursor: str | None = None
        for _ in range(_CONNECTION_PAGES):
            page = self.connections.list(tenant, limit=100, cursor=cursor)
            found += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        return found

    @staticmethod
    def _named(connections: Sequence[Connection], connection_id: str | None) -> Connection | None:
        if connection_id is None:
            return None
        named = next((c for c in connections if c.id == connection_id), None)
        if named is None or not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return named

    def _forge(
        self, tenant: str, meta: RunMeta, named: Connection | None, connections: Sequence[Connection]
    ) -> Connection | None:
        """The connection a bare ``#12`` names: the upload's, else the only forge of the suite's scope, else
        the tenant's only one."""
        if named is not None:
            return named if named.provider in FORGES else None
        forges = [c for c in connections if c.provider in FORGES]
        scoped: set[str] = set(self.runs.scope(tenant, meta.suite))
        in_scope = [c for c in forges if c.id in scoped]
        for group in (in_scope, forges):
            if len(group) == 1:
                return group[0]
        return None

    @staticmethod
    def _case(meta: RunMeta, case: CaseResult, previous: dict[str, LatestStatus], finder: _Finder) -> RunCase:
        cid = case_id(*case.identity)
        obj = case_object(meta.suite, case)
        refs = [ref for ref, _ in (finder.resolve(k) for k in case.issue_keys) if ref]
        return RunCase(
            id=cid,
            object_key=obj.key,
            suite=case.suite,
            classname=case.classname,
            name=case.name,
            status=case.status,
            duration=case.duration,
            message=case.message,
            issue_keys=case.issue_keys,
            issue_refs=list(dict.fromkeys(refs)),
            flaky=flaky_reason(case, previous.get(cid), meta.commit),
            attempts=case.attempts,
        )

    def _link(
        self,
        tenant: str,
        cases: Sequence[RunCase],
        previous: dict[str, LatestStatus],
        actor: Actor,
        created_by: str,
    ) -> int:
        """``auto_detected`` links of each test to its issues; pairs an earlier run linked are not asked
        again (a link someone removed stays removed until the test names another issue)."""
        created = 0
        for case in cases:
            known = set(previous[case.id].issue_refs) if case.id in previous else set()
            for ref in case.issue_refs:
                if ref in known:
                    continue
                obj = ObjectRef.parse_key(case.object_key)
                try:
                    _, made = self.links.ensure(
                        tenant, obj, ref, actor=actor, type="auto_detected", created_by=created_by
                    )
                except (ValidationFailed, NotFound):  # deleted, or its connection gone, since it resolved
                    logger.warning("test_runs.link_skipped", extra={"tenant": tenant, "ref": ref})
                    continue
                created += int(made)
        return created

    def _emit(self, tenant: str, run: TestRun, cases: Sequence[RunCase], now: datetime) -> list[EmittedEvent]:
        """The run's ``test.failed`` event and a ``test.flaky`` event per flaky test, sent to auto-issue."""
        from trackbridge.runtime.automation.events import EventIn, new_event_id

        failing = [c for c in cases if is_failing(c.status)]
        flaky = [c for c in cases if c.flaky][:MAX_FLAKY_EVENTS]
        if not failing and not flaky:
            return []
        intake = self.events()
        source = f"test-runs/{run.suite}"
        summary = {"id": run.id, "name": run.suite, "commit": run.commit, "branch": run.branch}
        emitted: list[EmittedEvent] = []
        if failing:
            failures = [
                {
                    "test": _label(c),
                    "message": c.message,
                    "object_key": c.object_key,
                    "status": c.status,
                    "issue_refs": c.issue_refs,
                }
                for c in failing[:MAX_FAILURES_IN_EVENT]
            ]
            event = EventIn(
                type="test.failed",
                source=source,
                severity="medium",
                occurred_at=now,
                data={"run": {**summary, "failed": len(failing)}, "failures": failures},
            ).to_event(event_id=new_event_id(), received_at=now)
            intake.accept(tenant, event)
            emitted.append(
                EmittedEvent(
                    type="test.failed", event_id=event.id, tests=[c.object_key for c in failing][:MAX_LISTED]
                )
            )
        for case in flaky:
            failed_attempts = case.attempts - 1 if case.flaky == "rerun" else 1
            event = EventIn(
                type="test.flaky",
                source=source,
                severity="low",
                subject=ObjectRef.parse_key(case.object_key),
                occurred_at=now,
                data={
                    "test": _label(case),
                    "runs": case.attempts if case.flaky == "rerun" else 2,
                    "failures": max(failed_attempts, 1),
                    "reason": case.flaky,
                    "run": summary,
                    "issue_refs": case.issue_refs,
                },
            ).to_event(event_id=new_event_id(), received_at=now)
            intake.accept(tenant, event)
            emitted.append(EmittedEvent(type="test.flaky", event_id=event.id, tests=[case.object_key]))
        logger.info("test_runs.events", extra={"tenant": tenant, "run_id": run.id, "events": len(emitted)})
        return emitted

    # -- reading --------------------------------------------------------------------------------------------

    def get(self, tenant: str, run_id: str, *, status: str | None, limit: int, cursor: str | None) -> RunPage:
        if not is_id(RUN_PREFIX, run_id):
            raise NotFound(f"no test run {run_id!r}", details={"id": run_id})
        run, cases, next_cursor = self.runs.cases(tenant, run_id, status=status, limit=limit, cursor=cursor)
        return RunPage(**dict(run), items=cases, next_cursor=next_cursor)

    def list_runs(self, tenant: str, *, suite: str | None, limit: int, cursor: str | None) -> Page[TestRun]:
        return self.runs.list_runs(tenant, suite=suite, limit=limit, cursor=cursor)

    def coverage(self, tenant: str, suite: str, *, connection: str | None = None) -> Coverage:
        statuses = self.runs.statuses(tenant, suite)
        scope = self.runs.scope(tenant, suite)
        if not statuses and not scope:
            raise NotFound(f"no test runs of suite {suite!r}", details={"suite": suite})
        if connection is not None:
            if not is_id(IdPrefix.CONNECTION, connection):
                raise NotFound(f"no connection {connection!r}", details={"id": connection})
            self.connections.get(tenant, connection)
            scope = [connection]
        issues: dict[str, Issue] = {}
        truncated = False
        for connection_id in scope:
            listed, cut = scope_issues(self.issues, tenant, connection_id)
            issues.update((i.ref, i) for i in listed)
            truncated |= cut
        covered = {ref for s in statuses for ref in s.issue_refs}
        open_issues = [i for i in issues.values() if i.deleted_at is None and i.status_category != "done"]
        gaps = [_gap(i) for i in sorted(open_issues, key=lambda i: i.ref) if i.ref not in covered]
        failing = [_failing(s) for s in statuses if is_failing(s.status)]
        on_closed = [
            _on_closed(s, issues[ref])
            for s in statuses
            for ref in s.issue_refs
            if ref in issues and issues[ref].status_category == "done"
        ]
        counts = CoverageCounts(
            tests=len(statuses),
            issues_in_scope=len(open_issues),
            issues_covered=sum(1 for i in open_issues if i.ref in covered),
            issues_without_tests=len(gaps),
            failing_tests=len(failing),
            tests_on_closed_issues=len(on_closed),
        )
        cut = max(len(gaps), len(failing), len(on_closed)) > MAX_COVERAGE_ITEMS
        return Coverage(
            suite=suite,
            connections=sorted(scope),
            issues_without_tests=gaps[:MAX_COVERAGE_ITEMS],
            failing_tests=failing[:MAX_COVERAGE_ITEMS],
            tests_on_closed_issues=on_closed[:MAX_COVERAGE_ITEMS],
            counts=counts,
            truncated=truncated or cut,
        )


# ---- helpers ----------------------------------------------------------------------------------------------


def case_object(suite: str, case: CaseResult) -> ObjectRef:
    """The link object of a test: ``test_case:{suite}/{classname}/{name}`` (``junit.object_part``)."""
    return ObjectRef.model_validate(
        {
            "kind": "test_case",
            "database": suite,
            "schema": object_part(case.classname) if case.classname else None,
            "name": object_part(case.name),
        }
    )


def _label(case: RunCase) -> str:
    return f"{case.classname}.{case.name}" if case.classname else case.name


def _latest(case: RunCase, commit: str | None, run_id: str, at: datetime) -> LatestStatus:
    return LatestStatus(
        id=case.id,
        object_key=case.object_key,
        classname=case.classname,
        name=case.name,
        status=case.status,
        message=case.message,
        issue_refs=case.issue_refs,
        commit=commit,
        run_id=run_id,
        run_at=at,
    )


def _counts(cases: Sequence[RunCase]) -> CaseCounts:
    totals: dict[str, Any] = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for case in cases:
        totals[case.status] += 1
    return CaseCounts(**totals, flaky=sum(1 for c in cases if c.flaky))


def _unresolved(report: Report, finder: _Finder) -> list[UnresolvedKey]:
    tests: dict[str, int] = {}
    for case in report.cases:
        for key in case.issue_keys:
            if finder.resolve(key)[0] is None:
                tests[key] = tests.get(key, 0) + 1
    return [
        UnresolvedKey(key=key, reason=finder.resolve(key)[1], tests=count)
        for key, count in list(tests.items())[:MAX_LISTED]
    ]


def _gap(issue: Issue) -> IssueGap:
    return IssueGap(
        ref=issue.ref,
        key=issue.key,
        title=issue.title,
        status=issue.status,
        status_category=issue.status_category,
        url=issue.url,
    )


def _failing(status: LatestStatus) -> FailingTest:
    return FailingTest.model_validate(status.model_dump())


def _on_closed(status: LatestStatus, issue: Issue) -> TestOnClosedIssue:
    return TestOnClosedIssue(
        object_key=status.object_key,
        classname=status.classname,
        name=status.name,
        status=status.status,
        issue_ref=issue.ref,
        key=issue.key,
        issue_status=issue.status,
    )


__all__ = [
    "MAX_FLAKY_EVENTS",
    "RunMeta",
    "TestRunService",
    "case_object",
    "scope_issues",
]
