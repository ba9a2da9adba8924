"""The Jira sandbox's create screens: the paginated createmeta endpoints and the create route agree.

OPS's Task screen has no priority and its Bug screen requires the select field *Affected service*
(``customfield_10050``); ACME keeps the full default screen. What createmeta lists is what a create accepts,
and a create outside the screen fails with Jira's own error body.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infra.local.trackers.jira import JiraSandbox

pytestmark = pytest.mark.integration

API = "/rest/api/3"
META = API + "/issue/createmeta/{project}/issuetypes"


def create(http: httpx.Client, project: str, issue_type: str, **fields: Any) -> httpx.Response:
    body = {
        "project": {"key": project},
        "issuetype": {"name": issue_type},
        "summary": "From a test",
        **fields,
    }
    return http.post(f"{API}/issue", json={"fields": body})


def screen(http: httpx.Client, project: str, type_id: str) -> dict[str, dict[str, Any]]:
    fields: dict[str, dict[str, Any]] = {}
    for start in range(0, 200, 5):  # paged five at a time, bounded
        page = http.get(
            f"{META.format(project=project)}/{type_id}", params={"startAt": start, "maxResults": 5}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert (body["startAt"], body["maxResults"]) == (start, 5)
        fields.update({f["fieldId"]: f for f in body["fields"]})
        if start + 5 >= body["total"]:
            assert len(fields) == body["total"]
            return fields
    raise AssertionError("createmeta never ended")


def test_issue_types_page_with_start_max_and_total(jira_http: httpx.Client) -> None:
    first = jira_http.get(META.format(project="OPS"), params={"maxResults": 2}).json()
    rest = jira_http.get(META.format(project="10001"), params={"startAt": 2}).json()

    assert (first["startAt"], first["maxResults"], first["total"]) == (0, 2, 5)
    assert [t["name"] for t in first["issueTypes"] + rest["issueTypes"]] == [
        "Task",
        "Bug",
        "Story",
        "Sub-task",
        "Epic",
    ]
    assert "isLast" not in first


def test_the_screens_differ_by_project_and_type(jira_http: httpx.Client) -> None:
    ops_task, ops_bug, acme_task = (
        screen(jira_http, "OPS", "10001"),
        screen(jira_http, "OPS", "10002"),
        screen(jira_http, "ACME", "10001"),
    )

    assert "priority" not in ops_task
    assert "priority" in acme_task
    assert acme_task["priority"]["allowedValues"][0]["name"] == "Highest"
    assert ops_bug["customfield_10050"]["required"] is True
    assert [v["value"] for v in ops_bug["customfield_10050"]["allowedValues"]] == ["api", "billing", "web"]
    assert {k for k, f in ops_task.items() if f["required"]} == {"summary", "issuetype", "project"}
    assert ops_task["labels"]["operations"] == ["add", "set", "remove"]


def test_createmeta_refuses_what_does_not_exist(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    missing = jira_http.get(META.format(project="NOPE"))
    bad_type = jira_http.get(f"{META.format(project='OPS')}/999")
    outsider = httpx.get(
        jira.url + META.format(project="OPS"), auth=(jira.outsider_email, jira.outsider_token), timeout=60
    )

    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == ["No project could be found with key 'NOPE'."]
    assert bad_type.status_code == 400
    assert outsider.status_code == 404


def test_a_create_outside_the_screen_fails_as_jira_fails_it(jira_http: httpx.Client) -> None:
    off_screen = create(jira_http, "OPS", "Task", priority={"name": "High"})
    required = create(jira_http, "OPS", "Bug")
    bad_option = create(jira_http, "OPS", "Bug", customfield_10050={"value": "mainframe"})

    assert off_screen.status_code == 400
    assert off_screen.json() == {
        "errorMessages": [],
        "errors": {
            "priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
        },
    }
    assert required.json() == {
        "errorMessages": [],
        "errors": {"customfield_10050": "Affected service is required."},
    }
    assert bad_option.status_code == 400
    assert "customfield_10050" in bad_option.json()["errors"]
    # ACME's Task screen takes a priority
    assert create(jira_http, "ACME", "Task", priority={"name": "High"}).status_code == 201


def test_a_select_field_on_the_screen_is_stored_and_shown(jira_http: httpx.Client) -> None:
    created = create(jira_http, "OPS", "Bug", customfield_10050={"value": "billing"})
    assert created.status_code == 201, created.text

    issue = jira_http.get(
        f"{API}/issue/{created.json()['key']}", params={"fields": "customfield_10050"}
    ).json()

    assert issue["fields"]["customfield_10050"]["value"] == "billing"
    assert issue["fields"]["customfield_10050"]["id"] == "10101"
