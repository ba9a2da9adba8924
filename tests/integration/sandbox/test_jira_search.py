"""The Jira sandbox's ``/rest/api/3/search/jql``: tokens, field lists, caps, bad input, the JQL time trap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.trackers.jira import JiraSandbox

pytestmark = pytest.mark.integration

SEARCH = "/rest/api/3/search/jql"
ALL_BY_KEY = "project = ACME ORDER BY key ASC"
REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
    "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def walk(
    http: httpx.Client, jql: str, *, post: bool = False, **extra: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every issue of a search, following ``nextPageToken`` until ``isLast``; returns (issues, pages)."""
    issues: list[dict[str, Any]] = []
    token: str | None = None
    for pages in range(1, 200):
        params: dict[str, Any] = {"jql": jql, **extra}
        if token:
            params["nextPageToken"] = token
        response = http.post(SEARCH, json=params) if post else http.get(SEARCH, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "total" not in body
        assert "startAt" not in body
        issues += body["issues"]
        if body["isLast"]:
            assert "nextPageToken" not in body
            return issues, pages
        token = body["nextPageToken"]
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
def test_pages_through_every_issue_with_ids_only_by_default(
    jira: JiraSandbox, jira_http: httpx.Client, post: bool
) -> None:
    issues, pages = walk(jira_http, ALL_BY_KEY, post=post)

    assert pages == 3  # 120 issues, 50 a page by default
    assert [issue["id"] for issue in issues] == [str(i.id) for i in jira.state.live_issues()]
    assert all(set(issue) == {"id"} for issue in issues)


def test_max_results_is_capped_by_the_weight_of_the_fields(jira_http: httpx.Client) -> None:
    def page_size(fields: str) -> int:
        response = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY, "maxResults": 5000, "fields": fields})
        assert response.status_code == 200, response.text
        return len(response.json()["issues"])

    assert page_size("id") == 120  # ids or keys only: up to 5000 a page
    assert page_size("key") == 120
    assert page_size("summary,status") == 100
    assert page_size("summary,comment") == 50


def test_fields_lists_exclusions_and_repeated_parameters(jira_http: httpx.Client) -> None:
    response = jira_http.get(
        SEARCH, params=[("jql", "key = ACME-3"), ("fields", "*all,-comment"), ("fields", "-worklog")]
    )
    fields = response.json()["issues"][0]["fields"]

    assert {"summary", "status", "labels", "updated"} <= set(fields)
    assert "comment" not in fields
    assert "worklog" not in fields
    keyed = jira_http.get(SEARCH, params={"jql": "key = ACME-3", "fields": "key"}).json()["issues"][0]
    assert keyed["key"] == "ACME-3"
    assert keyed["fields"] == {}


def test_post_takes_expand_as_a_string_and_returns_names_at_the_top(jira_http: httpx.Client) -> None:
    body = {"jql": "key = ACME-3", "fields": ["summary"], "expand": "names,schema", "maxResults": 5}

    result = jira_http.post(SEARCH, json=body).json()

    assert result["names"] == {"summary": "Summary"}
    assert result["schema"]["summary"]["type"] == "string"
    assert jira_http.post(SEARCH, json={**body, "expand": ["names"]}).status_code == 400


def test_post_rejects_unknown_keys_and_get_ignores_unknown_parameters(jira_http: httpx.Client) -> None:
    rejected = jira_http.post(SEARCH, json={"jql": ALL_BY_KEY, "startAt": 50})

    assert rejected.status_code == 400
    assert rejected.json()["errorMessages"][0].startswith('Unrecognized field "startAt"')
    plain = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY}).json()
    with_start = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY, "startAt": 50}).json()
    assert [i["id"] for i in with_start["issues"]] == [i["id"] for i in plain["issues"]]


def test_unbounded_and_invalid_jql_are_400_in_jiras_shape(jira_http: httpx.Client) -> None:
    unbounded = jira_http.get(SEARCH, params={"jql": "order by key desc"})
    broken = jira_http.get(SEARCH, params={"jql": "project ACME"})
    unknown = jira_http.post(SEARCH, json={"jql": "project = NOPE"})

    assert unbounded.status_code == 400
    assert unbounded.json() == {
        "errorMessages": [
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        ],
        "errors": {},
    }
    assert broken.status_code == 400
    assert broken.json()["errorMessages"][0].startswith(
        "Error in the JQL Query: Expecting operator but got 'ACME'."
    )
    assert unknown.json() == {
        "errorMessages": ["The value 'NOPE' does not exist for the field 'project'."],
        "errors": {},
    }


def test_page_tokens_are_bound_to_their_query_and_tamper_proof(jira_http: httpx.Client) -> None:
    token = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY}).json()["nextPageToken"]

    other_query = jira_http.get(
        SEARCH, params={"jql": "project = ACME ORDER BY key DESC", "nextPageToken": token}
    )
    tampered = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY, "nextPageToken": token[:-2] + "xx"})

    for response in (other_query, tampered):
        assert response.status_code == 400
        assert response.json()["errorMessages"] == ["The provided next page token is invalid or expired."]


def test_page_tokens_expire_after_seven_days(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    jira.clock.freeze()
    token = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY}).json()["nextPageToken"]

    jira.clock.advance(7 * 86_400 + 1)

    assert jira_http.get(SEARCH, params={"jql": ALL_BY_KEY, "nextPageToken": token}).status_code == 400


def test_a_deletion_mid_walk_skips_nothing(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    first = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY}).json()
    jira.mutate("delete", key="ACME-5")  # on the page already read: an offset would now skip ACME-51

    rest, _ = walk(jira_http, ALL_BY_KEY)  # restart to learn the truth
    second = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY, "nextPageToken": first["nextPageToken"]}).json()

    assert second["issues"][0]["id"] == str(jira.state.by_key["ACME-51"])
    assert len(rest) == 119


def test_an_update_mid_walk_moves_the_issue_to_a_later_page(
    jira: JiraSandbox, jira_http: httpx.Client
) -> None:
    jql = "project = ACME ORDER BY updated ASC, key ASC"
    first = jira_http.get(SEARCH, params={"jql": jql, "maxResults": 40}).json()
    moved = first["issues"][0]["id"]

    jira.mutate("update", key=moved, fields={"summary": "touched while a client pages"})
    later, _ = walk(jira_http, jql, maxResults=40, nextPageToken=first["nextPageToken"])

    assert later[-1]["id"] == moved  # seen again at the end, never skipped
    assert len({i["id"] for i in first["issues"]} | {i["id"] for i in later}) == 120


def test_bare_jql_dates_are_read_in_the_users_zone_but_epoch_millis_are_exact(
    jira: JiraSandbox, jira_http: httpx.Client
) -> None:
    """The trap the sync engine must avoid: a UTC watermark written as a bare date string misses issues."""
    changed_at = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)
    jira.clock.freeze(int(changed_at.timestamp()))
    jira.mutate("update", key="ACME-7", fields={"summary": "changed at 18:30 UTC"})
    watermark = changed_at - timedelta(minutes=5)
    myself = jira_http.get("/rest/api/3/myself").json()

    as_utc_string = f'project = ACME AND updated >= "{watermark:%Y/%m/%d %H:%M}"'
    as_epoch_ms = f"project = ACME AND updated >= {int(watermark.timestamp() * 1000)}"
    as_local_string = f'project = ACME AND updated >= "{watermark - timedelta(hours=7):%Y/%m/%d %H:%M}"'

    assert myself["timeZone"] == "America/Los_Angeles"
    assert walk(jira_http, as_utc_string)[0] == []
    assert [i["id"] for i in walk(jira_http, as_epoch_ms)[0]] == [str(jira.state.by_key["ACME-7"])]
    assert len(walk(jira_http, as_local_string)[0]) == 1  # PDT is UTC-7 in March after the switch


def test_timestamps_come_back_in_the_callers_zone(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    jira.clock.freeze(int(datetime(2026, 1, 15, 20, 0, tzinfo=UTC).timestamp()))
    jira.mutate("update", key="ACME-8", fields={"summary": "winter"})

    result = jira_http.get(SEARCH, params={"jql": "key = ACME-8", "fields": "updated"}).json()

    assert result["issues"][0]["fields"]["updated"] == "2026-01-15T12:00:00.000-0800"


def test_approximate_count_needs_a_bounded_query(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    done = sum(1 for i in jira.state.live_issues() if i.status_id == "10001")

    counted = jira_http.post("/rest/api/3/search/approximate-count", json={"jql": "statusCategory = Done"})
    unbounded = jira_http.post("/rest/api/3/search/approximate-count", json={"jql": ""})
    unknown_key = jira_http.post("/rest/api/3/search/approximate-count", json={"jql": "x = 1", "fields": []})

    assert counted.json() == {"count": done}
    assert unbounded.status_code == 400
    assert unknown_key.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/rest/api/3/search"),
        ("POST", "/rest/api/3/search"),
        ("GET", "/rest/api/2/search"),
        ("POST", "/rest/api/2/search"),
        ("POST", "/rest/api/3/search/id"),
    ],
)
def test_the_removed_search_endpoints_answer_410(jira_http: httpx.Client, method: str, path: str) -> None:
    response = jira_http.request(
        method, path, params={"jql": ALL_BY_KEY}, json={} if method == "POST" else None
    )

    assert response.status_code == 410
    assert response.json() == {"errorMessages": [REMOVED]}


def test_reconcile_issues_is_validated(jira_http: httpx.Client) -> None:
    ok = jira_http.post(SEARCH, json={"jql": ALL_BY_KEY, "reconcileIssues": [10001, 10002]})
    too_many = jira_http.post(SEARCH, json={"jql": ALL_BY_KEY, "reconcileIssues": list(range(10001, 10052))})
    not_ids = jira_http.get(SEARCH, params={"jql": ALL_BY_KEY, "reconcileIssues": "a,b"})

    assert ok.status_code == 200
    assert too_many.status_code == 400
    assert not_ids.status_code == 400
