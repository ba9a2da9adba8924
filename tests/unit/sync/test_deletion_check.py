"""The deletion check's decisions and listings, without a tracker or a table.

- when a scheduled run includes the check: the interval on an injected clock, through the service that
  starts scheduled runs;
- which passes each mode plans, and when the sync state records a check as done;
- the id listings: Jira asks for ids only, 5,000 a page, and pages by token; GitHub's full listing drops
  pull requests and is asked for without ETags (a 304 carries no ids), the adapter's ETags kept for later;
- the sweep of a check without closed issues does not ask about copies already stored as closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest

from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import Issue
from trackbridge.domain.pagination import Page
from trackbridge.domain.sync import SyncOperation, SyncState
from trackbridge.domain.sync_plan import Checkpoint, IdRanges, SyncRequest
from trackbridge.providers.auth import BasicCredentialsAuth
from trackbridge.providers.errors import NotFoundError, TrackerError
from trackbridge.providers.etags import ETagCache
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.types import TrackerConfig
from trackbridge.runtime.sync.checkpoint import (
    deletion_check_due,
    deletions_checked_at,
    plan_phases,
    start_checkpoint,
)
from trackbridge.runtime.sync.deletion_check import AdapterIdListing, IdListing, id_listing_for
from trackbridge.runtime.sync.service import SyncService
from trackbridge.runtime.sync.syncers import IssuesSyncer, SyncRun
from trackbridge.runtime.sync.writer import WriteCounts

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONNECTION_ID = "conn_aaaaaaaaaaaaaaaaaaaa"


# ------------------------------------------------------------------------------------------- the schedule


@dataclass
class MovableClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeStates:
    checked_at: datetime | None
    exists: bool = True

    def find(self, tenant: str, connection_id: str, entity: str) -> SyncState | None:
        if not self.exists or entity != "issues":
            return None
        return SyncState(
            connection_id=connection_id, entity="issues", deletions_checked_at=self.checked_at, updated_at=T0
        )


@dataclass
class FakeOperations:
    started: list[SyncOperation] = field(default_factory=list)

    def start(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        owner: str,
        lease_until: datetime,
        now: datetime | None = None,
    ) -> SyncOperation:
        self.started.append(op)
        return op


class FakeLogs:
    def append(self, tenant: str, entries: Sequence[Any]) -> None:
        return None


def _connection(entities: list[str] | None = None) -> Connection:
    body = ConnectionCreate.model_validate(
        {
            "name": "c",
            "provider": "github",
            "base_url": "https://api.github.com",
            "scope": {"repo": "acme/widgets"},
            "credentials": {"token": "t"},
            **({"entities": entities} if entities else {}),
        }
    )
    return Connection.from_create(body, connection_id=CONNECTION_ID, now=T0)


class FakeConnections:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, tenant: str, connection_id: str) -> Connection:
        return self.connection


def _service(states: FakeStates, clock: MovableClock, connection: Connection | None = None) -> SyncService:
    return SyncService(
        operations=cast(Any, FakeOperations()),
        states=cast(Any, states),
        logs=cast(Any, FakeLogs()),
        connections=cast(Any, FakeConnections(connection or _connection())),
        queue=cast(Any, None),
        clock=clock,
    )


def test_the_check_is_due_once_the_interval_has_passed() -> None:
    assert deletion_check_due(None, T0, HOUR)
    assert not deletion_check_due(T0, T0 + HOUR - timedelta(seconds=1), HOUR)
    assert deletion_check_due(T0, T0 + HOUR, HOUR)
    assert deletion_check_due(T0, T0, timedelta(0))  # zero: every scheduled run checks


def test_scheduled_runs_include_the_check_by_the_injected_clock() -> None:
    clock = MovableClock(T0)
    service = _service(FakeStates(checked_at=T0 - timedelta(minutes=10)), clock)

    def scheduled() -> SyncOperation:
        return service.start_scheduled("t", CONNECTION_ID, deletion_check_interval=HOUR)

    first = scheduled()
    assert (first.mode, first.triggered_by, first.check_deletions) == ("incremental", "schedule", False)
    clock.now = T0 + timedelta(minutes=49, seconds=59)
    assert not scheduled().check_deletions
    clock.now = T0 + timedelta(minutes=50)
    assert scheduled().check_deletions
    # Shorter interval, same clock: due
    clock.now = T0
    assert service.start_scheduled(
        "t", CONNECTION_ID, deletion_check_interval=timedelta(minutes=5)
    ).check_deletions


def test_never_checked_or_never_synced_means_due() -> None:
    assert _service(FakeStates(checked_at=None), MovableClock()).deletion_check_due("t", CONNECTION_ID, HOUR)
    never_synced = FakeStates(checked_at=T0, exists=False)
    assert _service(never_synced, MovableClock()).deletion_check_due("t", CONNECTION_ID, HOUR)


def test_only_incremental_operations_carry_the_check_flag_and_deletions_check_issues_only() -> None:
    service = _service(FakeStates(checked_at=None), MovableClock(), _connection(["issues", "comments"]))
    full = service.start(
        "t", CONNECTION_ID, SyncRequest(mode="full"), triggered_by="x", enqueue=False, check_deletions=True
    )
    assert not full.check_deletions
    deletions = service.start(
        "t", CONNECTION_ID, SyncRequest(mode="deletions"), triggered_by="x", enqueue=False
    )
    assert (deletions.mode, deletions.entities, deletions.check_deletions) == ("deletions", ["issues"], False)
    with pytest.raises(ValidationFailed):
        service.start(
            "t", CONNECTION_ID, SyncRequest(mode="deletions", entities=["comments"]), triggered_by="x"
        )


# ------------------------------------------------------------------------------------------------ phases


def test_phases_of_each_mode() -> None:
    assert plan_phases("deletions", "issues", T0) == ("ids", "sweep")
    assert plan_phases("deletions", "issues", None) == ("ids", "sweep")
    assert plan_phases("deletions", "comments", T0) == ("done",)
    assert plan_phases("incremental", "issues", T0, check_deletions=True) == ("incremental", "ids", "sweep")
    assert plan_phases("incremental", "comments", T0, check_deletions=True) == ("incremental",)
    assert plan_phases("incremental", "issues", T0) == ("incremental",)
    # A first sync stores everything afresh: nothing to check
    assert plan_phases("incremental", "issues", None, check_deletions=True) == ("full", "catchup")
    assert plan_phases("full", "issues", T0, check_deletions=True) == ("full", "catchup", "sweep")


def _checkpoint(mode: str, **changes: Any) -> Checkpoint:
    cp = start_checkpoint(
        operation_id="op",
        mode=mode,  # type: ignore[arg-type]
        entity="issues",
        high_water=T0,
        signpost=T0 + HOUR,
        overlap=timedelta(seconds=5),
        previous=None,
        check_deletions=True,
    )
    return cp.model_copy(update=changes)


def test_the_state_records_a_check_when_a_complete_sweep_finishes() -> None:
    done = _checkpoint("deletions", phase="done")
    assert deletions_checked_at(done, None) == T0 + HOUR
    assert deletions_checked_at(done, T0) == T0 + HOUR
    assert deletions_checked_at(done, T0 + 2 * HOUR) == T0 + 2 * HOUR  # never backwards
    assert deletions_checked_at(_checkpoint("deletions", phase="sweep"), T0) == T0
    assert deletions_checked_at(_checkpoint("deletions", phase="done", seen_overflow=True), T0) == T0
    # An incremental sync without the check has no sweep: nothing recorded
    plain = start_checkpoint(
        operation_id="op",
        mode="incremental",
        entity="issues",
        high_water=T0,
        signpost=T0 + HOUR,
        overlap=timedelta(seconds=5),
        previous=None,
    ).model_copy(update={"phase": "done"})
    assert deletions_checked_at(plain, T0) == T0
    # A full sync's sweep is a check too
    full = _checkpoint("full", phase="done")
    assert full.phases == ("full", "catchup", "sweep")
    assert deletions_checked_at(full, None) == T0 + HOUR


# ------------------------------------------------------------------------------------------ the listings


def _recording(
    answers: list[httpx.Response], seen: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return handler


def test_jira_lists_ids_only_5000_a_page_by_token() -> None:
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(200, json={"issues": [{"id": "10001"}, {"id": "10002"}], "nextPageToken": "p2"}),
        httpx.Response(200, json={"issues": [{"id": "10007"}], "isLast": True}),
    ]
    client = httpx.Client(transport=httpx.MockTransport(_recording(answers, seen)))
    adapter = JiraAdapter(
        TrackerConfig("https://acme.atlassian.net", {"project": "OPS"}, CONNECTION_ID),
        BasicCredentialsAuth("bot@acme.example", "token"),
        client=client,
    )
    listing = id_listing_for(adapter)
    # Jira offers an id-only listing of its own (``iter_issue_id_pages``); nothing names the tracker
    assert isinstance(listing, AdapterIdListing)

    first = listing.page(adapter, include_closed=False, cursor=None)
    second = listing.page(adapter, include_closed=False, cursor=first.next_cursor)

    assert first.ids == ("10001", "10002")
    assert (second.ids, second.next_cursor) == (("10007",), None)
    bodies = [json.loads(r.content) for r in seen]
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/rest/api/3/search/jql")] * 2
    assert all(b["fields"] == ["id"] and b["maxResults"] == 5000 for b in bodies)
    # The full sync's query: the scope, open issues only (include_closed=False), an order paging keeps
    assert bodies[0]["jql"] == 'project = "OPS" AND statusCategory != "Done" ORDER BY key ASC'
    assert "nextPageToken" not in bodies[0]
    assert bodies[1]["nextPageToken"] == "p2"


def test_jira_results_without_ids_are_a_malformed_answer() -> None:
    answers = [httpx.Response(200, json={"issues": [{"key": "OPS-1"}], "isLast": True})]
    adapter = JiraAdapter(
        TrackerConfig("https://acme.atlassian.net", {"project": "OPS"}, CONNECTION_ID),
        BasicCredentialsAuth("bot@acme.example", "token"),
        client=httpx.Client(transport=httpx.MockTransport(_recording(answers, []))),
    )
    with pytest.raises(TrackerError) as caught:
        id_listing_for(adapter).page(adapter, include_closed=True, cursor=None)
    assert caught.value.code == "MALFORMED_RESPONSE"


def _github_issue(number: int, *, pull: bool = False) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "number": number,
        "state": "open",
        "title": f"issue {number}",
        "body": "",
        "labels": [],
        "assignees": [],
        "html_url": f"https://github.com/acme/widgets/issues/{number}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
    }
    if pull:
        raw["pull_request"] = {"url": "https://api.github.com/repos/acme/widgets/pulls/2"}
    return raw


def test_github_lists_ids_of_issues_without_etags_and_keeps_the_adapters() -> None:
    seen: list[httpx.Request] = []
    body = [_github_issue(1), _github_issue(2, pull=True), _github_issue(3)]
    answers = [httpx.Response(200, json=body, headers={"ETag": '"v1"'}) for _ in range(3)]
    adapter = GitHubAdapter(
        TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID),
        cast(Any, None),
        client=httpx.Client(transport=httpx.MockTransport(_recording(answers, seen))),
    )
    cache = ETagCache()
    adapter.etag_cache = cache
    # A full sync read the same listing before and kept its ETag
    list(adapter.iter_issue_pages(include_closed=True))
    assert len(cache) == 1

    listing = id_listing_for(adapter)
    page = listing.page(adapter, include_closed=True, cursor=None)

    assert type(listing) is IdListing
    assert page.ids == ("1", "3")  # the pull request is not an issue
    assert page.next_cursor is None
    assert seen[1].url.params["state"] == "all"
    assert "if-none-match" not in seen[1].headers
    # The adapter's cache is back for the passes that follow, and still used by them
    assert adapter.etag_cache is cache
    list(adapter.iter_issue_pages(include_closed=True))
    assert seen[2].headers["if-none-match"] == '"v1"'


# ---------------------------------------------------------------------------------- the sweep of a check


def _stored(number: int, *, closed: bool) -> Issue:
    return Issue(
        ref=f"{CONNECTION_ID}.{number}",
        external_id=f"github:x:{number}",
        connection_id=CONNECTION_ID,
        provider="github",
        key=f"#{number}",
        title="t",
        status="closed" if closed else "open",
        status_category="done" if closed else "todo",
        created_at=T0,
        updated_at=T0,
    ).with_hash()


class StoredIssues:
    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int, cursor: str | None
    ) -> Page[Issue]:
        return Page(items=self.issues)


class Tracker:
    """Answers a GET for the issues it still has; records what it was asked."""

    def __init__(self, alive: dict[str, Issue]) -> None:
        self.alive = alive
        self.asked: list[str] = []

    def get_issue(self, key: str) -> Issue:
        self.asked.append(key)
        if key not in self.alive:
            raise NotFoundError("gone", status=404)
        return self.alive[key]


class Writer:
    def versions(self, items: Sequence[Any]) -> list[None]:
        return [None] * len(items)

    def decisions(self, items: Sequence[Any], versions: Any = None) -> list[str]:
        return ["skip"] * len(items)

    def wrote(self, stored: Any) -> bool:
        return False

    def write(
        self, objects: Sequence[Any], versions: Any = None, *, met: Any = None, tombstones: bool = False
    ) -> WriteCounts:
        return WriteCounts.of("issues", unchanged=len(objects))


@pytest.mark.parametrize("include_closed", [True, False])
def test_a_check_without_closed_issues_does_not_ask_about_stored_closed_copies(include_closed: bool) -> None:
    now_closed = _stored(2, closed=True)
    stored = [_stored(1, closed=False), _stored(2, closed=False), _stored(3, closed=True)]
    tracker = Tracker(alive={"#1": stored[0], "#2": now_closed, "#3": stored[2]})
    run = SyncRun(
        tenant="t",
        connection_id=CONNECTION_ID,
        adapter=cast(Any, tracker),
        writer=cast(Any, Writer()),
        issues=cast(Any, StoredIssues(stored)),
        comments=cast(Any, None),  # every stored issue is still there: no comment is looked at
        include_closed=include_closed,
        entities=["issues"],
        overlap=timedelta(seconds=5),
        now=lambda: T0,
    )
    listed = IdRanges()
    listed.add("1")  # the open listing: #2 was closed since it was stored, #3 long ago
    cp = _checkpoint("deletions", phase="sweep", seen=listed.encode())

    result = IssuesSyncer().step(run, cp, T0)

    assert result.checkpoint.phase == "done"
    # #2 claims to be open and is not listed: asked (and stored as closed); #3 is already stored as closed
    assert tracker.asked == (["#2", "#3"] if include_closed else ["#2"])
    assert result.fetched == len(tracker.asked)


# ------------------------------------------------------------------------------------------------ storage


def test_the_check_flag_and_time_are_stored_and_old_items_read_as_never() -> None:
    from trackbridge.storage.sync import SyncOperationRepository, SyncStateRepository

    state = SyncState(connection_id=CONNECTION_ID, entity="issues", deletions_checked_at=T0, updated_at=T0)
    item = SyncStateRepository.item("t", state)
    assert SyncStateRepository.model(item).deletions_checked_at == T0
    del item["deletions_checked_at"]
    assert SyncStateRepository.model(item).deletions_checked_at is None

    op = SyncOperation(
        id="op_aaaaaaaaaaaaaaaaaaaa",
        connection_id=CONNECTION_ID,
        mode="incremental",
        entities=["issues"],
        created_at=T0,
        triggered_by="schedule",
        check_deletions=True,
    )
    stored = SyncOperationRepository.item("t", op)
    assert SyncOperationRepository.model(stored) == op
    del stored["check_deletions"]
    assert not SyncOperationRepository.model(stored).check_deletions


# ------------------------------------------------------------------------------------------ the setting


def test_the_interval_comes_from_the_environment_into_the_scheduled_start() -> None:
    from pydantic import ValidationError

    from trackbridge.domain.sync_plan import ScheduledMessage
    from trackbridge.runtime.settings import Settings
    from trackbridge.runtime.sync.handler import handle_body

    assert Settings.from_env({}).deletion_check_interval_s == 3600
    assert Settings.from_env({"TB_DELETION_CHECK_INTERVAL_S": "900"}).deletion_check_interval_s == 900
    with pytest.raises(ValidationError):
        Settings.from_env({"TB_DELETION_CHECK_INTERVAL_S": "-1"})

    asked: list[timedelta] = []

    class Service:
        def start_scheduled(
            self, tenant: str, connection_id: str, *, deletion_check_interval: timedelta
        ) -> SyncOperation:
            asked.append(deletion_check_interval)
            return SyncOperation(
                id="op_aaaaaaaaaaaaaaaaaaaa",
                connection_id=connection_id,
                mode="incremental",
                entities=["issues"],
                created_at=T0,
                triggered_by="schedule",
            )

    class Engine:
        def run_slice(self, tenant: str, operation_id: str, slice_no: int, context: Any) -> str:
            return "completed"

    body = ScheduledMessage(tenant="t", connection_id=CONNECTION_ID).model_dump_json()
    outcome = handle_body(
        body,
        cast(Any, None),
        engine=cast(Any, Engine()),
        service=cast(Any, Service()),
        deletion_check_interval=timedelta(minutes=15),
    )
    assert (outcome, asked) == ("completed", [timedelta(minutes=15)])
