"""Jira's bulk reads for worklogs and complete changelogs (issue 19), sandbox and adapter over loopback HTTP.

The sandbox side: ``POST /changelog/bulkfetch`` pages, groups and filters as Atlassian documents, the
search embeds at most 40 changelog entries, seeded issues carry the history their state implies, and the
control API deletes worklogs into ``/worklog/deleted``. The adapter side: the request counts are the floors
(one bulkfetch per 1,000 issues; one ``/worklog/list`` per 1,000 changed worklogs plus the feed's pages),
and a 503 or 429 in the middle of a feed costs a retry, never an entry.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.local.trackers.jira import JiraSandbox
from tests.integration.providers.conftest import RecordedSleeps, build_adapter
from trackbridge.providers.jira import JiraAdapter

pytestmark = pytest.mark.integration

API = "/rest/api/3"
ISSUES = 1_200  # more than one bulkfetch batch and more than one worklog feed page
BULKFETCH = f"POST {API}/changelog/bulkfetch"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JiraSandbox]:
    with JiraSandbox(seed="changelogs", issues=ISSUES, comments_per_issue=0, worklogs_per_issue=1) as tracker:
        yield tracker


@pytest.fixture
def jira(sandbox: JiraSandbox) -> Iterator[JiraSandbox]:
    sandbox.reset()
    sandbox.clear_faults()
    sandbox.reset_requests()
    yield sandbox
    sandbox.clear_faults()
    sandbox.clock.unfreeze()


@pytest.fixture
def http(jira: JiraSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=jira.url, auth=(jira.email, jira.token), timeout=60, trust_env=False
    ) as client:
        yield client


@pytest.fixture
def adapter(jira: JiraSandbox) -> Iterator[JiraAdapter]:
    made = build_adapter("jira", jira.describe(), timeout=httpx.Timeout(60.0), sleep=RecordedSleeps())
    assert isinstance(made, JiraAdapter)
    try:
        yield made
    finally:
        made.close()


def _bulkfetch_all(http: httpx.Client, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (issue id, entry) of a bulkfetch, following ``nextPageToken`` (bounded)."""
    entries: list[tuple[str, dict[str, Any]]] = []
    request = dict(body)
    for _ in range(100):
        response = http.post(f"{API}/changelog/bulkfetch", json=request)
        assert response.status_code == 200, response.text
        page = response.json()
        for group in page["issueChangeLogs"]:
            entries.extend((group["issueId"], entry) for entry in group["changeHistories"])
        if not page.get("nextPageToken"):
            return entries
        request["nextPageToken"] = page["nextPageToken"]
    raise AssertionError("bulkfetch did not end")


# ---- the sandbox ---------------------------------------------------------------------------------------


def test_seeded_issues_carry_the_history_their_state_implies(jira: JiraSandbox, http: httpx.Client) -> None:
    done = next(i for i in jira.state.live_issues() if i.status_id == "10001" and i.assignee)
    body = http.get(f"{API}/issue/{done.id}/changelog").json()
    items = [(item["fieldId"], item.get("toString")) for entry in body["values"] for item in entry["items"]]
    assert items[-2:] == [("status", "In Progress"), ("status", "Done")]
    assert ("assignee", jira.state.users[done.assignee].display_name) in items
    times = [entry["created"] for entry in body["values"]]
    assert times == sorted(times)


def test_bulkfetch_pages_oldest_first_and_matches_each_issues_changelog(
    jira: JiraSandbox, http: httpx.Client
) -> None:
    ids = [str(i.id) for i in jira.state.live_issues()[:30]]
    jira.mutate("transition", key=ids[0], to="Done" if jira.state.issues[0].status_id != "10001" else "To Do")
    entries = _bulkfetch_all(http, {"issueIdsOrKeys": ids, "maxResults": 7})
    assert [e["created"] for _, e in entries] == sorted(e["created"] for _, e in entries)
    for issue_id in ids[:5]:
        own = http.get(f"{API}/issue/{issue_id}/changelog").json()["values"]
        assert [e["id"] for i, e in entries if i == issue_id] == [e["id"] for e in own]
    assert sum(len(http.get(f"{API}/issue/{i}/changelog").json()["values"]) for i in ids) == len(entries)


def test_bulkfetch_keeps_only_the_fields_asked_for(jira: JiraSandbox, http: httpx.Client) -> None:
    key = "ACME-3"
    jira.mutate("update", key=key, fields={"summary": "renamed for the filter"})
    jira.mutate("transition", key=key, to="Done")
    entries = _bulkfetch_all(http, {"issueIdsOrKeys": [key], "fieldIds": ["status"]})
    fields = {item["fieldId"] for _, entry in entries for item in entry["items"]}
    assert fields == {"status"}
    unfiltered = _bulkfetch_all(http, {"issueIdsOrKeys": [key]})
    assert "summary" in {item["fieldId"] for _, entry in unfiltered for item in entry["items"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"issueIdsOrKeys": []}, "between 1 and 1000"),
        ({"issueIdsOrKeys": [str(n) for n in range(1001)]}, "between 1 and 1000"),
        ({"issueIdsOrKeys": ["ACME-1"], "fieldIds": [f"f{n}" for n in range(11)]}, "at most 10"),
        ({"issueIdsOrKeys": ["ACME-1"], "maxResults": 0}, "maxResults"),
        ({"issueIdsOrKeys": ["ACME-1"], "expand": "x"}, "Unrecognized field"),
        ({"issueIdsOrKeys": ["ACME-1"], "nextPageToken": "forged.token"}, "invalid or expired"),
    ],
)
def test_bulkfetch_refuses_bad_requests(
    jira: JiraSandbox, http: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = http.post(f"{API}/changelog/bulkfetch", json=body)
    assert response.status_code == 400
    assert message in " ".join(response.json()["errorMessages"])


def test_a_token_belongs_to_its_own_request(jira: JiraSandbox, http: httpx.Client) -> None:
    ids = [str(i.id) for i in jira.state.live_issues()[:10]]
    first = http.post(f"{API}/changelog/bulkfetch", json={"issueIdsOrKeys": ids, "maxResults": 1})
    token = first.json()["nextPageToken"]
    other = http.post(
        f"{API}/changelog/bulkfetch",
        json={"issueIdsOrKeys": ["ACME-4"], "maxResults": 1, "nextPageToken": token},
    )
    assert other.status_code == 400


def test_search_embeds_the_newest_40_entries_and_the_total(jira: JiraSandbox, http: httpx.Client) -> None:
    issue = jira.state.find("ACME-5")
    assert issue is not None
    for _ in range(45):
        jira.mutate("transition", key="ACME-5", to="To Do" if issue.status_id == "10001" else "Done")
    total = len(issue.histories or [])
    found = http.post(
        f"{API}/search/jql", json={"jql": "key = ACME-5", "fields": ["summary"], "expand": "changelog"}
    ).json()["issues"][0]["changelog"]
    assert total > 40
    assert found["total"] == total
    assert len(found["histories"]) == 40
    assert found["histories"][0]["id"] == str((issue.histories or [])[-1].id)


def test_deleted_worklogs_reach_the_deleted_feed(jira: JiraSandbox, http: httpx.Client) -> None:
    issue = jira.state.find("ACME-7")
    assert issue is not None
    assert issue.worklogs
    gone = issue.worklogs[0]
    jira.mutate("delete_worklog", worklog_id=gone)
    jira.clock.advance(120)  # Jira leaves the last minute out of both feeds
    values = http.get(f"{API}/worklog/deleted", params={"since": 0}).json()["values"]
    assert gone in [v["worklogId"] for v in values]
    assert http.get(f"{API}/issue/ACME-7/worklog/{gone}").status_code == 404


# ---- the adapter ---------------------------------------------------------------------------------------


def test_bulkfetch_transitions_costs_one_call_per_thousand_issues(
    jira: JiraSandbox, adapter: JiraAdapter
) -> None:
    ids = [str(i.id) for i in jira.state.live_issues()]
    transitions = adapter.bulkfetch_transitions(ids)
    assert adapter.stats.requests == math.ceil(len(ids) / 1000) == 2
    expected = sum(
        1
        for issue in jira.state.live_issues()
        for h in issue.histories or []
        for item in h.items
        if item[1] in ("status", "assignee")
    )
    assert len(transitions) == expected > len(ids) // 2
    assert {t.field for t in transitions} == {"status", "assignee"}
    assert [t.at for t in transitions] == sorted(t.at for t in transitions)
    moved = next(t for t in transitions if t.field == "status")
    assert (moved.from_name, moved.to_name) == ("To Do", "In Progress")
    assert moved.issue_ref.startswith(adapter.connection_id)


def test_bulkfetch_transitions_survives_a_503_and_a_429(jira: JiraSandbox, adapter: JiraAdapter) -> None:
    ids = [str(i.id) for i in jira.state.live_issues()]
    clean = adapter.bulkfetch_transitions(ids)
    jira.add_faults(
        [
            {"route": BULKFETCH, "status": 503, "times": 1},
            {"route": BULKFETCH, "status": 429, "retry_after_s": 1, "times": 1},
        ]
    )
    assert adapter.bulkfetch_transitions(ids) == clean


def test_worklog_feed_costs_its_pages_plus_one_list_call_per_thousand(
    jira: JiraSandbox, adapter: JiraAdapter
) -> None:
    total = len(jira.state.worklogs)
    pages = list(adapter.iter_updated_worklogs(EPOCH))
    assert sum(len(p.worklogs) for p in pages) == total == ISSUES
    feed_pages = math.ceil(total / 1000)
    assert len(pages) == feed_pages
    assert adapter.stats.requests == feed_pages + math.ceil(total / 1000)
    assert pages[-1].last


def test_a_fault_in_the_middle_of_the_worklog_feed_loses_nothing(
    jira: JiraSandbox, adapter: JiraAdapter
) -> None:
    jira.add_faults(
        [
            {"route": f"GET {API}/worklog/updated", "status": 503, "times": 1, "every": 2},
            {"route": f"POST {API}/worklog/list", "status": 429, "retry_after_s": 1, "times": 1},
        ]
    )
    ids = {w.id for page in adapter.iter_updated_worklogs(EPOCH) for w in page.worklogs}
    assert ids == {str(w) for w in jira.state.worklogs}


def test_deleted_worklog_ids_come_from_their_feed(jira: JiraSandbox, adapter: JiraAdapter) -> None:
    issue = jira.state.find("ACME-9")
    assert issue is not None
    gone = str(issue.worklogs[0])
    since = datetime.fromtimestamp(jira.clock.now() - 1, tz=UTC)  # the feeds list what came after since
    jira.mutate("delete_worklog", worklog_id=gone)
    jira.clock.advance(120)
    pages = list(adapter.iter_deleted_worklogs(since))
    assert [i for p in pages for i in p.ids] == [gone]
    assert adapter.stats.requests == 1
