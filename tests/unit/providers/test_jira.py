"""The Jira Cloud adapter: request shapes, token paging, ADF bodies, transitions, errors, normalization.

Responses are built from the spec's own examples (shared/fixtures/jira/rest_v3_*), completed with the
fields those examples leave out (summary, status, created, updated) where an operation needs them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import InvalidInput, UnsupportedCapability, ValidationFailed
from trackbridge.providers.adf import markdown_to_adf, validate_adf
from trackbridge.providers.auth import BasicCredentialsAuth
from trackbridge.providers.errors import (
    AccountSuspendedError,
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TrackerError,
    TransientError,
)
from trackbridge.providers.jira import ISSUE_FIELDS, JiraAdapter, parse_jira_time
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.registry import create_adapter, get_adapter_class
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import IssueChanges, IssueDraft, TrackerConfig

from .conftest import CONNECTION_ID, NOW, FakeTracker, Sleeps, clock_at, json_response

SITE = "https://acme.atlassian.net"
API_TOKEN = "ATATT3xUnitTestJiraTokenThatMustNeverLeak"
FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "jira"
SEARCH = "/rest/api/3/search/jql"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"rest_v3_{name}.openapi-example.json").read_text())


def status(name: str, category_key: str, category_id: int = 2) -> dict[str, Any]:
    return {"name": name, "statusCategory": {"key": category_key, "id": category_id}}


def jira_issue(issue_id: int, key: str, **fields: Any) -> dict[str, Any]:
    """The spec's GET issue example, with the fields a sync reads filled in and comments embedded the way
    search/jql and GET issue return them (a page of comments)."""
    raw = copy.deepcopy(fixture("issue_get.response"))
    example_comments = raw["fields"].pop("comment")
    raw.update({"id": str(issue_id), "key": key, "self": f"{SITE}/rest/api/3/issue/{issue_id}"})
    raw["fields"].update(
        {
            "summary": f"Issue {key}",
            "status": status("In Progress", "indeterminate", 4),
            "assignee": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
            "labels": ["bugfix"],
            "priority": {"name": "High", "id": "2"},
            "created": "2021-01-17T12:34:00.000+0000",
            "updated": "2021-01-18T23:45:00.000+0000",
            "comment": {"comments": example_comments, "maxResults": 1, "total": 1, "startAt": 0},
        }
    )
    raw["fields"].update(fields)
    return raw


@pytest.fixture
def jira(fake: FakeTracker, sleeps: Sleeps) -> Iterator[JiraAdapter]:
    adapter = JiraAdapter(
        TrackerConfig(SITE, {"project": "OPS"}, CONNECTION_ID),
        BasicCredentialsAuth("bot@acme.example", API_TOKEN),
        client=fake.client(),
        clock=clock_at(NOW),
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.5, max_wait_s=30.0, max_rate_limit_waits=2),
    )
    yield adapter
    adapter.client.close()


def test_registered_and_described() -> None:
    assert get_adapter_class("jira") is JiraAdapter
    described = JiraAdapter.describe()
    assert described["credential_keys"] == ["email", "api_token"]
    # Jira has worklogs and sprints (the adapter lists them), but no route or syncer uses them yet.
    assert JiraAdapter.capabilities.worklogs
    assert JiraAdapter.capabilities.sprints
    assert "worklogs" not in described["capabilities"]
    assert described["capabilities"]["sprints"] is True  # the sprints entity and GET /v1/sprints use it
    adapter = create_adapter(
        "jira",
        TrackerConfig(SITE, {"project": "OPS"}, CONNECTION_ID),
        {"email": "a@b.example", "api_token": "t"},
    )
    assert isinstance(adapter, JiraAdapter)
    adapter.close()


# ---- search and paging -------------------------------------------------------------------------------------


def test_full_sync_pages_by_token_in_key_order(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on(
        "POST",
        SEARCH,
        json_response(
            200, {"issues": [jira_issue(10001, "OPS-1")], "nextPageToken": "tok-2", "isLast": False}
        ),
        json_response(200, {"issues": [jira_issue(10002, "OPS-2")], "isLast": True}),
    )
    pages = list(jira.iter_issue_pages())
    assert fake.body(0) == {
        "jql": 'project = "OPS" ORDER BY key ASC',
        "fields": list(ISSUE_FIELDS),
        "maxResults": 100,
    }
    assert fake.body(1) == {**fake.body(0), "nextPageToken": "tok-2"}
    assert [i.key for p in pages for i in p.items] == ["OPS-1", "OPS-2"]
    assert pages[0].next_cursor == PageCursor(token="tok-2")
    assert pages[1].next_cursor is None
    # Never the removed endpoint, always with the auth header.
    assert all(r.url.path == SEARCH for r in fake.requests)
    assert fake.requests[0].headers["authorization"].startswith("Basic ")


def test_last_page_with_a_null_token_and_no_is_last(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", SEARCH, json_response(200, {"issues": [jira_issue(1, "OPS-1")], "nextPageToken": None}))
    pages = list(jira.iter_issue_pages())
    assert len(pages) == 1
    assert pages[0].next_cursor is None


def test_incremental_sync_uses_epoch_millis_and_update_order(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", SEARCH, json_response(200, {"issues": [], "isLast": True}))
    since = datetime(2024, 11, 29, 10, 44, 51, tzinfo=UTC)
    list(jira.iter_issue_pages(since=since, include_closed=False))
    assert fake.body()["jql"] == (
        'project = "OPS" AND updated >= 1732877040000 AND statusCategory != "Done" '
        "ORDER BY updated ASC, key ASC"
    )


def test_resuming_sends_the_stored_token(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", SEARCH, json_response(200, {"issues": [], "isLast": True}))
    list(jira.iter_issue_pages(cursor=PageCursor(token="stored-token")))
    assert fake.body()["nextPageToken"] == "stored-token"


def test_a_jql_scope_is_parenthesised(fake: FakeTracker) -> None:
    scoped = JiraAdapter(
        TrackerConfig(SITE, {"jql": "project = A OR labels = ops"}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    fake.on("POST", SEARCH, json_response(200, {"issues": [], "isLast": True}))
    list(scoped.iter_issue_pages())
    assert fake.body()["jql"] == "(project = A OR labels = ops) ORDER BY key ASC"


def test_spec_search_example_without_the_needed_fields_is_a_malformed_response(
    jira: JiraAdapter, fake: FakeTracker
) -> None:
    # The spec's example search result has no summary, status or created: not something to store.
    fake.on("POST", SEARCH, json_response(200, fixture("search_jql.response")))
    with pytest.raises(MalformedResponseError):
        list(jira.iter_issue_pages())


# ---- normalization -----------------------------------------------------------------------------------------


def test_issue_normalization(jira: JiraAdapter) -> None:
    issue = jira.normalize_issue(jira_issue(10002, "ED-1"))
    assert issue.ref == f"{CONNECTION_ID}.10002"
    assert issue.external_id == f"jira:{SITE}:10002"
    assert issue.key == "ED-1"
    assert issue.title == "Issue ED-1"
    assert issue.body == "Main order flow broken"  # from the example's ADF description
    assert (issue.status, issue.status_category) == ("In Progress", "in_progress")
    assert issue.assignees == ["5b10a2844c20165700ede21g"]
    assert issue.labels == ["bugfix"]
    assert issue.priority == "High"
    assert issue.url == f"{SITE}/browse/ED-1"
    assert issue.created_at == datetime(2021, 1, 17, 12, 34, tzinfo=UTC)
    assert issue.content_hash == issue.compute_hash() != ""


@pytest.mark.parametrize(
    ("raw_status", "category"),
    [
        (status("To Do", "new", 2), "todo"),
        (status("In Review", "indeterminate", 4), "in_progress"),
        (status("Closed", "done", 3), "done"),
        # A status named "Done" in an in-progress category is in progress: never judged by name.
        (status("Done", "indeterminate", 4), "in_progress"),
        (status("Won't do", "done", 3), "done"),
        # The spec's examples use keys real sites do not send; the built-in id still tells.
        ({"name": "Closed", "statusCategory": {"key": "completed", "id": 3}}, "done"),
        ({"name": "X", "statusCategory": {"key": "in-flight", "id": 4}}, "in_progress"),
        ({"name": "X"}, "todo"),
    ],
)
def test_status_category_comes_from_the_category(jira: JiraAdapter, raw_status: Any, category: str) -> None:
    assert jira.normalize_issue(jira_issue(1, "OPS-1", status=raw_status)).status_category == category


def test_oauth_base_url_with_site_url_for_links(fake: FakeTracker) -> None:
    adapter = JiraAdapter(
        TrackerConfig(
            "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421",
            {"project": "OPS"},
            CONNECTION_ID,
            options={"site_url": SITE},
        ),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    fake.on(
        "GET",
        "/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/issue/OPS-1",
        json_response(200, jira_issue(5, "OPS-1")),
    )
    issue = adapter.get_issue("OPS-1")
    assert issue.url == f"{SITE}/browse/OPS-1"
    assert issue.external_id == f"jira:{SITE}:5"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-01-17T12:34:00.000+0000", datetime(2021, 1, 17, 12, 34, tzinfo=UTC)),
        ("2015-04-11T15:22:00.000+10:00", datetime(2015, 4, 11, 5, 22, tzinfo=UTC)),
        ("2021-01-17T12:34:00.000-0530", datetime(2021, 1, 17, 18, 4, tzinfo=UTC)),
        ("2021-01-17T12:34:00Z", datetime(2021, 1, 17, 12, 34, tzinfo=UTC)),
    ],
)
def test_jira_timestamps_parse(text: str, expected: datetime) -> None:
    assert parse_jira_time(text) == expected


@pytest.mark.parametrize("bad", ["", None, 1, "2021-01-17T12:34:00", "yesterday"])
def test_bad_timestamps_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_jira_time(bad)


# ---- issues ------------------------------------------------------------------------------------------------


def test_get_issue_asks_only_for_needed_fields(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-7", json_response(200, jira_issue(10007, "OPS-7")))
    assert jira.get_issue("OPS-7").key == "OPS-7"
    assert fake.params() == {"fields": ",".join(ISSUE_FIELDS)}


@pytest.mark.parametrize("key", ["../../admin", "OPS-1/comment", "OPS", "-1", "OPS-0", "", "1 OR 1"])
def test_keys_that_are_not_keys_never_reach_a_url(jira: JiraAdapter, fake: FakeTracker, key: str) -> None:
    with pytest.raises(InvalidInput):
        jira.get_issue(key)
    assert fake.requests == []


def test_create_issue_sends_adf_and_reads_the_issue_back(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", "/rest/api/3/issue", json_response(201, fixture("issue_create.response")))
    fake.on("GET", "/rest/api/3/issue/10000", json_response(200, jira_issue(10000, "ED-24")))
    draft = IssueDraft(
        title="Replication lag on db-1",
        body="Lag is **high**:\n\n- replica `db-2`",
        labels=("tb-1a2b3c", "ops"),
        assignees=("5b10a2844c20165700ede21g",),
        priority="High",
        issue_type="Bug",
        fields={"customfield_10010": 5},
    )
    issue = jira.create_issue(draft)
    sent = fake.body(0)["fields"]
    assert sent == {
        "project": {"key": "OPS"},
        "summary": "Replication lag on db-1",
        "issuetype": {"name": "Bug"},
        "description": markdown_to_adf(draft.body),
        "labels": ["tb-1a2b3c", "ops"],
        "assignee": {"accountId": "5b10a2844c20165700ede21g"},
        "priority": {"name": "High"},
        "customfield_10010": 5,
    }
    validate_adf(sent["description"])
    assert issue.key == "ED-24"


@pytest.mark.parametrize("project", ["OPS/../admin", "OPS AND 1", "1OPS", 'O"PS'])
def test_a_project_key_that_is_not_a_key_is_refused(fake: FakeTracker, project: str) -> None:
    adapter = JiraAdapter(
        TrackerConfig(SITE, {"project": project}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    with pytest.raises(ValidationFailed):
        list(adapter.iter_issue_pages())
    with pytest.raises(ValidationFailed):
        adapter.list_users()
    assert fake.requests == []


def test_create_issue_without_a_body_sends_no_description(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", "/rest/api/3/issue", json_response(201, {"id": "10", "key": "OPS-10"}))
    fake.on("GET", "/rest/api/3/issue/10", json_response(200, jira_issue(10, "OPS-10")))
    jira.create_issue(IssueDraft(title="t"))
    assert "description" not in fake.body(0)["fields"]
    assert fake.body(0)["fields"]["issuetype"] == {"name": "Task"}


def test_create_issue_needs_a_project_and_one_assignee(jira: JiraAdapter, fake: FakeTracker) -> None:
    with pytest.raises(ValidationFailed):
        jira.create_issue(IssueDraft(title="t", assignees=("a", "b")))
    scoped = JiraAdapter(
        TrackerConfig(SITE, {"jql": "labels = x"}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    with pytest.raises(ValidationFailed):
        scoped.create_issue(IssueDraft(title="t"))
    assert fake.requests == []


def test_create_issue_field_errors_come_back(jira: JiraAdapter, fake: FakeTracker) -> None:
    message = "You must specify a summary of the issue."
    fake.on(
        "POST", "/rest/api/3/issue", json_response(400, {"errorMessages": [], "errors": {"summary": message}})
    )
    with pytest.raises(InvalidRequestError) as caught:
        jira.create_issue(IssueDraft(title=""))
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert [(f.field, f.message) for f in caught.value.field_errors] == [("summary", message)]
    assert len(fake.requests) == 1  # a POST is never retried


def test_update_issue_puts_fields_and_label_edits(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("PUT", "/rest/api/3/issue/OPS-3", httpx.Response(204))
    fake.on("GET", "/rest/api/3/issue/OPS-3", json_response(200, jira_issue(3, "OPS-3")))
    changes = IssueChanges(
        title="New", body="", add_labels=("a",), remove_labels=("b",), assignees=(), priority="Low"
    )
    jira.update_issue("OPS-3", changes)
    assert fake.body(0) == {
        "fields": {"summary": "New", "description": None, "assignee": None, "priority": {"name": "Low"}},
        "update": {"labels": [{"add": "a"}, {"remove": "b"}]},
    }


def test_update_issue_rejects_set_and_edit_of_labels_together(jira: JiraAdapter, fake: FakeTracker) -> None:
    with pytest.raises(ValidationFailed):
        jira.update_issue("OPS-3", IssueChanges(labels=("x",), add_labels=("y",)))
    assert fake.requests == []


def test_update_with_nothing_to_change_only_reads(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-3", json_response(200, jira_issue(3, "OPS-3")))
    jira.update_issue("OPS-3", IssueChanges())
    assert [r.method for r in fake.requests] == ["GET"]


# ---- transitions -------------------------------------------------------------------------------------------

TRANSITIONS = {
    "transitions": [
        {"id": "11", "name": "Start", "to": status("In Progress", "indeterminate", 4)},
        {"id": "21", "name": "Resolve", "to": status("Resolved", "done", 3)},
        {"id": "31", "name": "Reopen", "to": status("Open", "new", 2)},
    ]
}


def test_spec_transitions_example_lists(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET", "/rest/api/3/issue/OPS-1/transitions", json_response(200, fixture("transitions_get.response"))
    )
    found = jira.list_transitions("OPS-1")
    assert [(t.id, t.name, t.to_status) for t in found] == [
        ("2", "Close Issue", "In Progress"),
        ("711", "QA Review", "Closed"),
    ]


@pytest.mark.parametrize(
    ("target", "transition_id"),
    [
        ("done", "21"),
        ("todo", "31"),
        ("21", "21"),
        ("resolve", "21"),
        ("Resolved", "21"),
        ("in progress", "11"),
    ],
)
def test_transition_by_category_id_name_or_status(
    jira: JiraAdapter, fake: FakeTracker, target: str, transition_id: str
) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(200, jira_issue(1, "OPS-1")))
    fake.on("GET", "/rest/api/3/issue/OPS-1/transitions", json_response(200, TRANSITIONS))
    fake.on("POST", "/rest/api/3/issue/OPS-1/transitions", httpx.Response(204))
    jira.transition_issue("OPS-1", target)
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [json.loads(r.content) for r in posts] == [{"transition": {"id": transition_id}}]


def test_transition_to_the_current_category_sends_nothing(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(200, jira_issue(1, "OPS-1")))  # in progress
    jira.transition_issue("OPS-1", "in_progress")
    assert [(r.method, r.url.path) for r in fake.requests] == [("GET", "/rest/api/3/issue/OPS-1")]


def test_impossible_transition_lists_what_is_possible(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-1/transitions", json_response(200, TRANSITIONS))
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(200, jira_issue(1, "OPS-1")))
    with pytest.raises(ValidationFailed) as caught:
        jira.transition_issue("OPS-1", "Archived")
    assert "21: Resolve -> Resolved" in caught.value.details["accepted"]
    assert not [r for r in fake.requests if r.method == "POST"]


# ---- comments ----------------------------------------------------------------------------------------------


def test_embedded_comments_cost_no_request(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", SEARCH, json_response(200, {"issues": [jira_issue(10010, "OPS-1")], "isLast": True}))
    list(jira.iter_issue_pages())
    comments = jira.list_issue_comments("OPS-1")
    assert len(fake.requests) == 1
    assert [(c.id, c.issue_ref, c.author) for c in comments] == [
        ("10000", f"{CONNECTION_ID}.10010", "5b10a2844c20165700ede21g")
    ]
    assert comments[0].body.startswith("Lorem ipsum dolor sit amet")
    assert comments[0].updated_at == datetime(2021, 1, 18, 23, 45, tzinfo=UTC)


def test_comments_are_fetched_when_more_exist_than_were_embedded(
    jira: JiraAdapter, fake: FakeTracker
) -> None:
    raw = jira_issue(10010, "OPS-1")
    raw["fields"]["comment"]["total"] = 3
    fake.on("POST", SEARCH, json_response(200, {"issues": [raw], "isLast": True}))
    comment = fixture("comment_add.response")
    page1 = {"startAt": 0, "maxResults": 2, "total": 3, "comments": [comment, {**comment, "id": "10001"}]}
    page2 = {"startAt": 2, "maxResults": 2, "total": 3, "comments": [{**comment, "id": "10002"}]}
    fake.on("GET", "/rest/api/3/issue/OPS-1/comment", json_response(200, page1), json_response(200, page2))
    list(jira.iter_issue_pages())
    comments = jira.list_issue_comments("OPS-1")
    assert [c.id for c in comments] == ["10000", "10001", "10002"]
    assert fake.params(1) == {"startAt": "0", "maxResults": "100", "orderBy": "created"}
    assert fake.params(2)["startAt"] == "2"
    assert {c.issue_ref for c in comments} == {f"{CONNECTION_ID}.10010"}  # from the comments' self URLs


def test_add_comment_sends_adf(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", "/rest/api/3/issue/OPS-1/comment", json_response(201, fixture("comment_add.response")))
    comment = jira.add_comment("OPS-1", "Seen again on **db-1**")
    assert fake.body() == {"body": markdown_to_adf("Seen again on **db-1**")}
    assert (comment.id, comment.issue_ref) == ("10000", f"{CONNECTION_ID}.10010")


def test_empty_comment_is_refused(jira: JiraAdapter, fake: FakeTracker) -> None:
    with pytest.raises(ValidationFailed):
        jira.add_comment("OPS-1", "  ")
    assert fake.requests == []


# ---- attachments, worklogs, sprints, users -----------------------------------------------------------------


def test_attachment_is_multipart_file_with_the_xsrf_header(jira: JiraAdapter, fake: FakeTracker) -> None:
    stored = [
        {
            "id": 10001,
            "filename": "log.txt",
            "size": 11,
            "mimeType": "text/plain",
            "content": f"{SITE}/a/10001",
        }
    ]
    fake.on("POST", "/rest/api/3/issue/OPS-1/attachments", json_response(200, stored))
    attachment = jira.attach_file("OPS-1", "log.txt", b"hello world", "text/plain")
    request = fake.last
    assert request.headers["x-atlassian-token"] == "no-check"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="log.txt"' in request.content
    assert b"hello world" in request.content
    assert (attachment.id, attachment.size, attachment.content_type) == ("10001", 11, "text/plain")


def test_attachment_too_large(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("POST", "/rest/api/3/issue/OPS-1/attachments", json_response(413, {"errorMessages": ["too big"]}))
    with pytest.raises(InvalidRequestError) as caught:
        jira.attach_file("OPS-1", "big.bin", b"x", "application/octet-stream")
    assert caught.value.code is ErrorCode.PAYLOAD_TOO_LARGE
    assert caught.value.http_status == 413


def _worklog(worklog_id: int, issue_id: int) -> dict[str, Any]:
    example = copy.deepcopy(fixture("issue_get.response")["fields"]["worklog"][0])
    example.update({"id": str(worklog_id), "issueId": str(issue_id)})
    return example


def test_issue_worklogs(jira: JiraAdapter, fake: FakeTracker) -> None:
    body = {"startAt": 0, "maxResults": 5000, "total": 1, "worklogs": [_worklog(100028, 10002)]}
    fake.on("GET", "/rest/api/3/issue/OPS-1/worklog", json_response(200, body))
    (worklog,) = jira.list_worklogs("OPS-1")
    assert (worklog.id, worklog.issue_ref, worklog.time_spent_s) == (
        "100028",
        f"{CONNECTION_ID}.10002",
        12000,
    )
    assert worklog.comment == "I did some work here."
    assert worklog.started_at == datetime(2021, 1, 17, 12, 34, tzinfo=UTC)


def test_worklog_change_feed(jira: JiraAdapter, fake: FakeTracker) -> None:
    since = datetime(2026, 2, 1, tzinfo=UTC)
    since_ms = int(since.timestamp() * 1000)
    page1 = {
        "values": [{"worklogId": 1, "updatedTime": since_ms}, {"worklogId": 2}],
        "since": since_ms,
        "until": since_ms + 10,
        "lastPage": False,
    }
    page2 = {"values": [{"worklogId": 3}], "since": since_ms + 10, "until": since_ms + 20, "lastPage": True}
    fake.on("GET", "/rest/api/3/worklog/updated", json_response(200, page1), json_response(200, page2))
    fake.on(
        "POST",
        "/rest/api/3/worklog/list",
        json_response(200, [_worklog(1, 10002), _worklog(2, 99999)]),
        json_response(200, [_worklog(3, 10002)]),
    )
    pages = list(jira.iter_updated_worklogs(since, issue_ids={"10002"}))
    assert [fake.params(i)["since"] for i in (0, 2)] == [str(since_ms), str(since_ms + 10)]
    assert fake.body(1) == {"ids": [1, 2]}
    assert [[w.id for w in p.worklogs] for p in pages] == [["1"], ["3"]]  # 2 belongs to another project
    assert pages[-1].last
    assert pages[-1].until == datetime.fromtimestamp((since_ms + 20) / 1000, tz=UTC)


def test_sprints_of_the_projects_scrum_boards(jira: JiraAdapter, fake: FakeTracker) -> None:
    boards = {
        "maxResults": 50,
        "startAt": 0,
        "total": 1,
        "isLast": True,
        "values": [{"id": 7, "type": "scrum"}],
    }
    sprint = {
        "id": 37,
        "state": "active",
        "name": "Sprint 1",
        "originBoardId": 7,
        "goal": "Ship",
        "startDate": "2015-04-11T15:22:00.000+10:00",
        "endDate": "2015-04-20T01:22:00.000+10:00",
    }
    fake.on("GET", "/rest/agile/1.0/board", json_response(200, boards))
    fake.on("GET", "/rest/agile/1.0/board/7/sprint", json_response(200, {"isLast": True, "values": [sprint]}))
    (found,) = jira.list_sprints()
    assert fake.params(0) == {"projectKeyOrId": "OPS", "type": "scrum", "startAt": "0", "maxResults": "50"}
    assert (found.id, found.state, found.board_id, found.goal) == ("37", "active", "7", "Ship")
    assert found.start_at == datetime(2015, 4, 11, 5, 22, tzinfo=UTC)


def test_sprints_of_a_jql_scope_need_board_ids(fake: FakeTracker) -> None:
    scoped = JiraAdapter(
        TrackerConfig(SITE, {"jql": "labels = x"}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    with pytest.raises(UnsupportedCapability):
        scoped.list_sprints()


def test_assignable_users_skip_apps(jira: JiraAdapter, fake: FakeTracker) -> None:
    people = [
        {"accountId": "a1", "accountType": "atlassian", "displayName": "Mia", "active": True},
        {"accountId": "bot", "accountType": "app", "displayName": "Automation"},
    ]
    fake.on("GET", "/rest/api/3/user/assignable/search", json_response(200, people))
    users = jira.list_users()
    assert fake.params() == {"project": "OPS", "startAt": "0", "maxResults": "1000"}
    assert [(u.id, u.display_name) for u in users] == [("a1", "Mia")]


# ---- search with a user's JQL ------------------------------------------------------------------------------


def test_search_ands_the_users_jql_with_the_scope_and_keeps_its_order(
    jira: JiraAdapter, fake: FakeTracker
) -> None:
    fake.on("POST", SEARCH, json_response(200, {"issues": [jira_issue(1, "OPS-1")], "isLast": True}))
    found = jira.search_issues("labels = tb-1a2b OR text ~ disk ORDER BY created DESC", limit=5)
    assert fake.body() == {
        "jql": 'project = "OPS" AND (labels = tb-1a2b OR text ~ disk) ORDER BY created DESC',
        "fields": list(ISSUE_FIELDS),
        "maxResults": 5,
    }
    assert [i.key for i in found] == ["OPS-1"]


def test_jiras_400_for_bad_jql_is_a_400_with_its_message(jira: JiraAdapter, fake: FakeTracker) -> None:
    message = "Field 'colour' does not exist or you do not have permission to view it."
    fake.on("POST", SEARCH, json_response(400, {"errorMessages": [message], "errors": {}}))
    with pytest.raises(InvalidInput) as caught:
        jira.search_issues("colour = red")
    assert caught.value.status == 400
    assert message in caught.value.message


def test_jql_that_would_escape_the_scope_never_reaches_jira(jira: JiraAdapter, fake: FakeTracker) -> None:
    with pytest.raises(InvalidInput) as caught:
        jira.search_issues("labels = x) OR (project = SECRET")
    assert caught.value.status == 400
    assert fake.requests == []


def test_search_stops_at_the_limit(jira: JiraAdapter, fake: FakeTracker) -> None:
    page = {
        "issues": [jira_issue(i, f"OPS-{i}") for i in range(1, 4)],
        "nextPageToken": "more",
        "isLast": False,
    }
    fake.on("POST", SEARCH, json_response(200, page))
    assert len(jira.search_issues("labels = x", limit=2)) == 2
    assert len(fake.requests) == 1


# ---- webhooks ----------------------------------------------------------------------------------------------


def test_admin_webhook_registration(jira: JiraAdapter, fake: FakeTracker) -> None:
    created = {
        "self": f"{SITE}/rest/webhooks/1.0/webhook/42",
        "name": "x",
        "url": "https://hooks.example/j",
        "enabled": True,
    }
    fake.on("POST", "/rest/webhooks/1.0/webhook", json_response(201, created))
    hook = jira.register_webhook("https://hooks.example/j", "hook-secret", events=["jira:issue_updated"])
    assert fake.body() == {
        "name": f"trackbridge {CONNECTION_ID}",
        "url": "https://hooks.example/j",
        "events": ["jira:issue_updated"],
        "filters": {"issue-related-events-section": 'project = "OPS"'},
        "excludeBody": False,
        "secret": "hook-secret",
    }
    assert (hook.id, hook.active) == ("42", True)
    fake.on(
        "DELETE",
        "/rest/webhooks/1.0/webhook/42",
        httpx.Response(204),
        json_response(404, {"errorMessages": ["gone"]}),
    )
    jira.unregister_webhook("42")
    jira.unregister_webhook("42")  # already gone: fine
    with pytest.raises(InvalidInput):
        jira.unregister_webhook("../42")


def test_webhook_signature_is_x_hub_signature() -> None:
    body = b'{"webhookEvent":"jira:issue_updated"}'
    headers = JiraAdapter.signature_schemes[0].sign(body, "s3cret")
    assert list(headers) == ["X-Hub-Signature"]
    assert JiraAdapter.verify_webhook(headers, body, ["old", "s3cret"])
    assert not JiraAdapter.verify_webhook(headers, body + b" ", ["s3cret"])


# ---- connection test ---------------------------------------------------------------------------------------


PERMISSIONS_OK = {
    "permissions": {
        name: {"havePermission": True}
        for name in ("BROWSE_PROJECTS", "CREATE_ISSUES", "EDIT_ISSUES", "ADD_COMMENTS", "TRANSITION_ISSUES")
    }
}


def test_connection_test_all_good(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/rest/api/3/myself", json_response(200, {"accountId": "a1", "displayName": "Bot"}))
    fake.on("GET", "/rest/api/3/project/OPS", json_response(200, {"key": "OPS", "name": "Operations"}))
    fake.on("GET", "/rest/api/3/mypermissions", json_response(200, PERMISSIONS_OK))
    report = jira.test_connection()
    assert report.ok
    assert report.identity == "Bot"
    assert [c.name for c in report.checks] == ["auth", "scope", "permissions"]


def test_connection_test_names_missing_permissions(jira: JiraAdapter, fake: FakeTracker) -> None:
    missing = copy.deepcopy(PERMISSIONS_OK)
    missing["permissions"]["TRANSITION_ISSUES"]["havePermission"] = False
    fake.on("GET", "/rest/api/3/myself", json_response(200, {"accountId": "a1"}))
    fake.on("GET", "/rest/api/3/project/OPS", json_response(200, {"key": "OPS"}))
    fake.on("GET", "/rest/api/3/mypermissions", json_response(200, missing))
    check = jira.test_connection().check("permissions")
    assert check is not None
    assert not check.ok
    assert "TRANSITION_ISSUES" in check.message
    assert check.code is ErrorCode.PERMISSION_DENIED


def test_connection_test_stops_after_bad_credentials(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET", "/rest/api/3/myself", json_response(401, {"errorMessages": ["Client must be authenticated"]})
    )
    report = jira.test_connection()
    assert [(c.name, c.ok) for c in report.checks] == [
        ("auth", False),
        ("scope", False),
        ("permissions", False),
    ]
    assert report.checks[0].code is ErrorCode.AUTH_INVALID
    assert len(fake.requests) == 1


def test_connection_test_of_a_jql_scope_runs_the_jql(fake: FakeTracker) -> None:
    scoped = JiraAdapter(
        TrackerConfig(SITE, {"jql": "labels = ops"}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    fake.on("GET", "/rest/api/3/myself", json_response(200, {"accountId": "a1"}))
    fake.on(
        "POST", SEARCH, json_response(200, {"issues": [{"id": "1"}], "isLast": False, "nextPageToken": "x"})
    )
    fake.on("GET", "/rest/api/3/mypermissions", json_response(200, PERMISSIONS_OK))
    assert scoped.test_connection().ok
    assert fake.body(1) == {"jql": "labels = ops", "fields": ["id"], "maxResults": 1}


# ---- errors ------------------------------------------------------------------------------------------------

QUOTA_HEADERS = {
    "Retry-After": "1847",
    "X-RateLimit-Limit": "100000",
    "X-RateLimit-Remaining": "0",
    "X-RateLimit-Reset": "2026-03-01T13:00:00Z",
    "RateLimit-Reason": "jira-quota-tenant-based",
}

ERRORS = {
    "bad credentials": (
        401,
        {},
        {"errorMessages": ["Client must be authenticated to access this resource."]},
        AuthenticationError,
        ErrorCode.AUTH_INVALID,
    ),
    "suspended for payment": (
        403,
        {},
        {"message": "Tenant is restricted: suspended-payment"},
        AccountSuspendedError,
        ErrorCode.SUSPENDED_PAYMENT,
    ),
    "site suspended": (
        503,
        {},
        {"errorMessages": ["Your Jira site is suspended."]},
        AccountSuspendedError,
        ErrorCode.SUSPENDED_PAYMENT,
    ),
    "scoped token on the site url": (
        401,
        {},
        {"message": "Unauthorized; scope does not match"},
        AuthenticationError,
        ErrorCode.AUTH_INVALID,
    ),
    "no permission": (
        403,
        {},
        {"errorMessages": ["You do not have permission to view this issue."]},
        PermissionDeniedError,
        ErrorCode.PERMISSION_DENIED,
    ),
    "not found": (
        404,
        {},
        {"errorMessages": ["Issue does not exist or you do not have permission to see it."]},
        NotFoundError,
        ErrorCode.NOT_FOUND,
    ),
    "removed api": (
        410,
        {},
        {
            "errorMessages": [
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
            ]
        },
        NotFoundError,
        ErrorCode.NOT_FOUND,
    ),
    "quota": (
        429,
        QUOTA_HEADERS,
        {"errorMessages": ["Rate limit exceeded"]},
        RateLimitedError,
        ErrorCode.QUOTA_EXHAUSTED,
    ),
    "long burst": (
        429,
        {"Retry-After": "120", "RateLimit-Reason": "jira-burst-based"},
        {},
        RateLimitedError,
        ErrorCode.RATE_LIMITED,
    ),
    "conflict": (409, {}, {"errorMessages": ["conflict"]}, TrackerError, ErrorCode.CONFLICT),
}


@pytest.mark.parametrize(
    ("status_code", "headers", "body", "cls", "code"), ERRORS.values(), ids=ERRORS.keys()
)
def test_error_table(
    jira: JiraAdapter,
    fake: FakeTracker,
    sleeps: Sleeps,
    status_code: int,
    headers: dict[str, str],
    body: Any,
    cls: type[TrackerError],
    code: ErrorCode,
) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(status_code, body, headers))
    with pytest.raises(cls) as caught:
        jira.get_issue("OPS-1")
    error: TrackerError = caught.value
    assert error.code is code
    assert error.provider == "jira"
    assert error.status == status_code
    assert API_TOKEN not in repr(error.to_dict())
    assert sleeps.calls == []  # nothing here is worth waiting for in-process


def test_quota_error_carries_the_reset(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(429, {}, QUOTA_HEADERS))
    with pytest.raises(RateLimitedError) as caught:
        jira.get_issue("OPS-1")
    assert caught.value.quota
    # Retry-After is the server's own word on when to come back; the sync engine parks until reset_at.
    assert caught.value.retry_after_s == 1847
    assert caught.value.reset_at == NOW + timedelta(seconds=1847)


def test_removed_api_says_what_to_do(jira: JiraAdapter, fake: FakeTracker) -> None:
    body = {
        "errorMessages": [
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
        ]
    }
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(410, body))
    with pytest.raises(NotFoundError) as caught:
        jira.get_issue("OPS-1")
    assert "removed this API" in caught.value.guidance


def test_a_short_burst_limit_is_waited_out(jira: JiraAdapter, fake: FakeTracker, sleeps: Sleeps) -> None:
    fake.on(
        "GET",
        "/rest/api/3/issue/OPS-1",
        json_response(429, {}, {"Retry-After": "2", "RateLimit-Reason": "jira-burst-based"}),
        json_response(200, jira_issue(1, "OPS-1")),
    )
    assert jira.get_issue("OPS-1").key == "OPS-1"
    assert len(sleeps.calls) == 1
    assert 2 <= sleeps.calls[0] <= 2.2


def test_server_errors_are_retried_for_reads_then_reported(
    jira: JiraAdapter, fake: FakeTracker, sleeps: Sleeps
) -> None:
    fake.on("GET", "/rest/api/3/issue/OPS-1", json_response(503, {"errorMessages": ["Service Unavailable"]}))
    with pytest.raises(TransientError) as caught:
        jira.get_issue("OPS-1")
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert len(fake.requests) == 3
    assert len(sleeps.calls) == 2


def test_the_token_never_shows(jira: JiraAdapter) -> None:
    assert API_TOKEN not in repr(jira)
    assert API_TOKEN not in repr(jira.__dict__)


# ---- webhook payloads (REST v2 shape: descriptions are strings) --------------------------------------------

WEBHOOK_ISSUES = sorted(p.name for p in FIXTURES.glob("jira_issue_*.json"))


@pytest.mark.parametrize("name", WEBHOOK_ISSUES)
def test_webhook_issues_normalize(jira: JiraAdapter, name: str) -> None:
    payload = json.loads((FIXTURES / name).read_text())
    issue = jira.normalize_issue(payload["issue"])
    fields = payload["issue"]["fields"]
    assert issue.key == payload["issue"]["key"]
    assert issue.body == (fields.get("description") or "")
    assert (
        issue.status_category
        == {"new": "todo", "indeterminate": "in_progress", "done": "done"}[
            fields["status"]["statusCategory"]["key"]
        ]
    )
    assert issue.updated_at.tzinfo is not None


def test_webhook_comment_and_worklog_normalize(jira: JiraAdapter) -> None:
    created = json.loads((FIXTURES / "comment_created.json").read_text())
    comment = jira.normalize_comment(created["comment"], created["issue"]["id"])
    assert (comment.id, comment.body) == ("10019", "Added a comment")
    worklog = jira.normalize_worklog(
        json.loads((FIXTURES / "worklog_created.zulip.json").read_text())["worklog"]
    )
    assert (worklog.id, worklog.issue_ref, worklog.time_spent_s) == (
        "10066",
        f"{CONNECTION_ID}.10014",
        144000,
    )
