"""Fidelity: drive the Jira sandbox with ``jira`` (pycontribs), the client people already script Jira with.

``rest_api_version`` 3 is what Jira Cloud wants today (rich text as ADF). At start-up the client reads
``/serverInfo`` (``deploymentType: Cloud`` routes its ``search_issues`` to ``/search/jql``), and it learns
field names from ``/field``. Where the client's expectations and the sandbox disagree, the sandbox is
wrong: these tests use the client's public API, plus the sandbox's own counters and its session for raw
headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jira import JIRA, JIRAError

from infra.local.trackers.jira import JiraSandbox

pytestmark = pytest.mark.integration


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def connect(jira: JiraSandbox, token: str | None = None) -> JIRA:
    client = JIRA(
        server=jira.url,
        basic_auth=(jira.email, token or jira.token),
        options={"rest_api_version": "3", "check_update": False},
        max_retries=2,
        timeout=60,
    )
    # Honour Retry-After without the library's 60 s ceiling: a test waits at most a second.
    client._session.max_retry_delay = 1
    return client


@pytest.fixture
def client(jira: JiraSandbox) -> Iterator[JIRA]:
    connected = connect(jira)
    try:
        yield connected
    finally:
        connected.close()


def test_start_up_sees_a_cloud_site(jira: JiraSandbox, client: JIRA) -> None:
    assert client.deploymentType == "Cloud"
    assert client.myself()["accountId"] == jira.state.api_user
    assert client.server_info()["versionNumbers"][0] == 1001


def test_lists_every_issue_across_pages(jira: JiraSandbox, client: JIRA) -> None:
    jira.reset_requests()

    issues = client.search_issues(
        "project = ACME ORDER BY key ASC", maxResults=False, fields="summary,status"
    )

    assert [issue.key for issue in issues] == [jira.state.key(i) for i in jira.state.live_issues()]
    assert issues[0].fields.summary == jira.state.live_issues()[0].summary
    # The client asks for 100 a page; 120 issues take two pages through the enhanced search.
    assert jira.requests()["by_route"]["GET /rest/api/3/search/jql"] == 2


def test_post_search_and_approximate_count(jira: JiraSandbox, client: JIRA) -> None:
    issues = client.enhanced_search_issues(
        "statusCategory = Done", maxResults=False, fields=["summary"], use_post=True
    )
    done = [i for i in jira.state.live_issues() if i.status_id == "10001"]

    assert len(issues) == len(done)
    assert client.approximate_issue_count("statusCategory = Done") == len(done)


def test_create_comment_and_close(jira: JiraSandbox, client: JIRA) -> None:
    issue = client.create_issue(
        fields={
            "project": {"key": "ACME"},
            "summary": "Replication lag on orders-db",
            "issuetype": {"name": "Bug"},
            "description": adf("Lag above 60 s for 5 minutes."),
            "labels": ["tb-7f3a"],
        }
    )
    client.add_comment(issue, adf("Still lagging after the failover."))
    client.transition_issue(issue, "Done")

    reloaded = client.issue(issue.key)
    assert reloaded.fields.summary == "Replication lag on orders-db"
    assert reloaded.fields.issuetype.name == "Bug"
    assert reloaded.fields.status.statusCategory.key == "done"
    assert reloaded.fields.resolution.name == "Done"
    comments = client.comments(issue.key)
    assert [c.raw["body"] for c in comments] == [adf("Still lagging after the failover.")]
    assert [i.key for i in client.search_issues("labels = tb-7f3a")] == [issue.key]


def test_updates_through_the_issue_resource(client: JIRA) -> None:
    issue = client.issue("ACME-6")

    issue.update(summary="Renamed by the jira client", fields={"labels": ["triaged"]})

    reloaded = client.issue("ACME-6")
    assert reloaded.fields.summary == "Renamed by the jira client"
    assert reloaded.fields.labels == ["triaged"]


def test_recovers_from_a_429_and_reads_the_limit_headers(jira: JiraSandbox, client: JIRA) -> None:
    jira.add_faults(
        [{"route": "GET /rest/api/3/issue/{issueIdOrKey}", "status": 429, "retry_after_s": 1, "times": 1}]
    )
    jira.reset_requests()

    issue = client.issue("ACME-1")

    assert issue.key == "ACME-1"
    counted = jira.requests()
    assert counted["by_route"]["GET /rest/api/3/issue/{issueIdOrKey}"] == 2  # the 429, then the retry
    assert counted["faulted"] == 1
    response = client._session.get(f"{jira.url}/rest/api/3/myself")
    assert int(response.headers["X-RateLimit-Remaining"]) < int(response.headers["X-RateLimit-Limit"])


def test_errors_surface_as_jira_errors(jira: JiraSandbox, client: JIRA) -> None:
    with pytest.raises(JIRAError) as missing:
        client.issue("ACME-99999")
    with pytest.raises(JIRAError) as bad_jql:
        client.search_issues("project = ACME AND", maxResults=10)

    assert missing.value.status_code == 404
    assert "Issue does not exist" in missing.value.text
    assert bad_jql.value.status_code == 400
    assert "Error in the JQL Query" in bad_jql.value.text
    with pytest.raises(JIRAError) as unauthorised:
        connect(jira, token="wrong")
    assert unauthorised.value.status_code == 401
