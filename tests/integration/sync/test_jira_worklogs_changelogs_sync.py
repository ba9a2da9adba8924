"""Jira worklogs and changelogs through the engine (issue 19): each its own entity, cursor and counts.

Against the Jira sandbox: a full sync stores every worklog (the search's embedded pages, one
``/issue/{id}/worklog`` request for the one issue whose embedded page was cut short) and every status and
assignee transition (``changelog/bulkfetch``); worklogs added, edited and deleted and an issue moved at the
tracker reach the store through one incremental sync of the change feeds, with no request per issue; and
under faults (429, 5xx, timeouts, a worker dying between a page's write and its checkpoint) the verifier
still finds 0 lost, 0 duplicated, 0 stale.

The sandbox leaves the last minute out of its worklog feeds, as Jira does: the tests move its clock two
minutes on after changing data, so the incremental sync's feeds reach the changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local.trackers.jira import JiraSandbox
from infra.local.trackers.jira._state import DONE
from tests.integration.sync.conftest import connection_fields, create_connection
from tests.integration.sync.support import Harness, SimulatedCrash, adapter_for, assert_counters_add_up
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport, verify_connection

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

ISSUES = 24
WORKLOGS_PER_ISSUE = 2
# More than the 20 worklogs the search embeds: this issue's list is read on its own.
BUSY_ISSUE_WORKLOGS = 23
PAGE = 10
ENTITIES = ["issues", "comments", "worklogs", "changelogs"]
API = "/rest/api/3"
PER_ISSUE_WORKLOGS = f"GET {API}/issue/{{issueIdOrKey}}/worklog"


@pytest.fixture
def jira(jira_sandbox: JiraSandbox) -> Iterator[JiraSandbox]:
    jira_sandbox.clock.unfreeze()
    jira_sandbox.reset(issues=ISSUES, comments_per_issue=1, worklogs_per_issue=WORKLOGS_PER_ISSUE)
    yield jira_sandbox
    jira_sandbox.clock.unfreeze()


@pytest.fixture
def connection(aws: Any, tenant: str, jira: JiraSandbox) -> Connection:
    return create_connection(tenant, **connection_fields(jira))


def _sync(
    harness: Harness, tenant: str, connection: Connection, mode: str, *, pages: int = 3
) -> SyncOperation:
    request = SyncRequest.model_validate({"mode": mode, "entities": ENTITIES})
    op = harness.service.start(tenant, connection.id, request, triggered_by="tests")
    harness.drain(pages_per_slice=pages)
    done = harness.service.get(tenant, op.id)
    assert done.status == "Completed", (done.results.errors, harness.outcomes, done.progress)
    assert_counters_add_up(done)
    return done


def _verify(tenant: str, connection: Connection) -> VerifyReport:
    credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
    with adapter_for(connection, credentials) as adapter:
        return verify_connection(
            container.table(), tenant, connection.id, adapter, with_worklogs=True, with_changelogs=True
        )


def _assert_in_step(tenant: str, connection: Connection) -> VerifyReport:
    report = _verify(tenant, connection)
    assert (report.lost, report.duplicated, report.stale, report.wrongly_deleted) == ([], [], [], []), (
        report.to_dict()
    )
    assert report.worklogs_checked > 0
    assert report.changelogs_checked > 0
    return report


def _live_worklogs(jira: JiraSandbox) -> int:
    return len(jira.state.worklogs)


def _transitions(jira: JiraSandbox) -> int:
    """Status and assignee items of every live issue's history (what the changelogs entity stores)."""
    return sum(
        1
        for issue in jira.state.live_issues()
        for history in issue.histories or []
        for item in history.items
        if item[1] in ("status", "assignee")
    )


def _change_at_tracker(jira: JiraSandbox, tenant: str, connection: Connection) -> dict[str, str]:
    """One worklog added, one edited, one deleted, one issue moved on; then the feeds' minute passes."""
    keys = sorted(jira.state.key(i) for i in jira.state.live_issues())
    added = jira.mutate("worklog", key=keys[1], seconds=900, comment="added later")
    by_issue = {w.issue_id: w for w in jira.state.worklogs.values()}
    issue_ids = sorted(by_issue)
    edited, deleted = by_issue[issue_ids[2]], by_issue[issue_ids[3]]
    credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
    with adapter_for(connection, credentials) as adapter:
        adapter.request(
            "PUT", f"rest/api/3/issue/{edited.issue_id}/worklog/{edited.id}", json={"timeSpentSeconds": 7_200}
        )
    jira.mutate("delete_worklog", worklog_id=str(deleted.id))
    moved = next(k for k in keys if getattr(jira.state.find(k), "status_id", DONE) != DONE)
    jira.close_issue(moved)
    jira.clock.advance(120)
    return {
        "added": str(added["worklog_id"]),
        "edited": str(edited.id),
        "deleted": str(deleted.id),
        "moved": moved,
    }


def test_full_then_incremental_worklogs_and_changelogs(
    jira: JiraSandbox, connection: Connection, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    keys = sorted(jira.state.key(i) for i in jira.state.live_issues())
    for n in range(BUSY_ISSUE_WORKLOGS):
        jira.mutate("worklog", key=keys[0], seconds=60 + n)
    harness = harness_factory(page_size=PAGE)
    jira.reset_requests()

    full = _sync(harness, tenant, connection, "full")
    counted = full.results.by_entity
    assert counted["worklogs"].created == _live_worklogs(jira)
    assert counted["changelogs"].created == _transitions(jira) > 0
    routes = jira.requests()["by_route"]
    # Only the issue whose embedded worklog page was cut short is asked for its worklogs on its own.
    assert routes.get(PER_ISSUE_WORKLOGS) == 1, routes
    assert routes[f"POST {API}/changelog/bulkfetch"] == math.ceil(ISSUES / 1000)
    _assert_in_step(tenant, connection)

    changed = _change_at_tracker(jira, tenant, connection)
    jira.reset_requests()
    incremental = _sync(harness, tenant, connection, "incremental")
    worklogs = incremental.results.by_entity["worklogs"]
    assert (worklogs.created, worklogs.updated, worklogs.deleted) == (1, 1, 1), worklogs
    assert incremental.results.by_entity["changelogs"].created >= 1
    routes = jira.requests()["by_route"]
    # The change feeds, never a request per issue: one page of each feed, one list call, one bulkfetch.
    assert PER_ISSUE_WORKLOGS not in routes, routes
    assert routes[f"GET {API}/worklog/updated"] == 1
    assert routes[f"POST {API}/worklog/list"] == 1
    assert routes[f"GET {API}/worklog/deleted"] == 1
    assert routes[f"POST {API}/changelog/bulkfetch"] == 1
    _assert_in_step(tenant, connection)

    # The issue's detail shows its worklogs and its changelog, with the time it spent in each status.
    moved = jira.state.find(changed["moved"])
    assert moved is not None
    detail = container.synced_issues().get(tenant, f"{connection.id}.{moved.id}")
    assert [t.to_name for t in detail.transitions if t.field == "status"][-1] == "Done"
    assert detail.time_in_status is not None
    assert "Done" in detail.time_in_status
    busy = jira.state.find(keys[0])
    assert busy is not None
    assert len(container.synced_issues().get(tenant, f"{connection.id}.{busy.id}").worklogs) == len(
        busy.worklogs
    )

    # Nothing changed: an idle pass of each feed and no list or bulkfetch call.
    jira.reset_requests()
    idle = _sync(harness, tenant, connection, "incremental")
    assert "worklogs" not in idle.results.by_entity, idle.results.by_entity
    routes = jira.requests()["by_route"]
    assert routes[f"GET {API}/worklog/updated"] == routes[f"GET {API}/worklog/deleted"] == 1
    assert f"POST {API}/worklog/list" not in routes
    # The changelog pass re-reads its overlap window of stored issues, and asks for none of them again.
    assert f"POST {API}/changelog/bulkfetch" not in routes


FAULTS: dict[str, dict[str, Any]] = {
    "429_on_the_worklog_feed": {
        "rules": [{"route": f"GET {API}/worklog/*", "every": 2, "times": 2, "rate_limit_reset_s": 1}]
    },
    "500_on_worklog_list_and_bulkfetch": {
        "rules": [
            {"route": f"POST {API}/worklog/list", "times": 1, "status": 500},
            {"route": f"POST {API}/changelog/bulkfetch", "times": 2, "status": 503},
        ]
    },
    "timeouts_on_the_worklog_search": {
        "rules": [{"route": f"POST {API}/search/jql", "every": 3, "times": 2, "delay_s": 1.5}],
        "adapter_options": {"timeout": 0.5},
    },
    "crash_between_write_and_checkpoint": {"crash_every": 3},
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_worklogs_and_changelogs_under_faults(
    name: str, jira: JiraSandbox, connection: Connection, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    fault = FAULTS[name]
    calls = {"n": 0}

    def crash(point: str) -> None:
        calls["n"] += 1
        if calls["n"] % fault["crash_every"] == 0:
            raise SimulatedCrash(point)

    harness = harness_factory(
        page_size=PAGE,
        fault_hook=crash if "crash_every" in fault else None,
        adapter_options=fault.get("adapter_options", {}),
    )
    for mode in ("full", "incremental"):
        jira.add_faults(fault.get("rules", []))
        # Two pages a slice: every pass is resumed from its checkpoint at least once.
        op = _sync(harness, tenant, connection, mode, pages=2)
        jira.clear_faults()
        if mode == "full":
            assert op.results.by_entity["worklogs"].created == _live_worklogs(jira)
            assert op.results.by_entity["changelogs"].created == _transitions(jira)
            _change_at_tracker(jira, tenant, connection)
    _assert_in_step(tenant, connection)
    if "crash_every" in fault:
        assert harness.crashes > 0
    else:
        assert jira.requests()["faulted"] > 0
