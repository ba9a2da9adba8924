"""The Jira sandbox's REST v3 and agile routes over HTTP: issues, workflow, comments, worklogs, people,
projects, sprints, limits, conditional requests and Jira's error shapes for bad input."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from infra.local.trackers import start_sandboxes
from infra.local.trackers.jira import JiraSandbox

pytestmark = pytest.mark.integration

API = "/rest/api/3"


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def new_issue(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "project": {"key": "ACME"},
        "issuetype": {"name": "Task"},
        "summary": "Created by a test",
        **fields,
    }
    response = http.post(f"{API}/issue", json={"fields": body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorMessages", "errors"}, body
    return dict(body)


# ------------------------------------------------------------------------------------------- issues


def test_get_issue_by_key_in_any_case_with_every_field(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    issue = jira_http.get(f"{API}/issue/acme-12").json()

    assert issue["key"] == "ACME-12"
    assert issue["self"] == f"{jira.url}{API}/issue/{issue['id']}"
    fields = issue["fields"]
    assert fields["description"]["type"] == "doc" or fields["description"] is None
    assert fields["status"]["statusCategory"]["key"] in ("new", "indeterminate", "done")
    assert fields["project"]["key"] == "ACME"
    assert fields["comment"]["total"] == 3
    assert fields["worklog"]["total"] == 2
    assert fields["created"].endswith(("-0800", "-0700"))


def test_get_issue_fields_expand_and_properties(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    assert jira_http.put(f"{API}/issue/ACME-2/properties/tb.marker", json={"rule": "r1"}).status_code == 201

    issue = jira_http.get(
        f"{API}/issue/ACME-2",
        params={
            "fields": "summary,status",
            "expand": "names,transitions,renderedFields",
            "properties": "tb.marker",
        },
    ).json()

    assert set(issue["fields"]) == {"summary", "status"}
    assert issue["names"] == {"summary": "Summary", "status": "Status"}
    assert {t["name"] for t in issue["transitions"]} <= {"To Do", "In Progress", "Done"}
    assert issue["properties"] == {"tb.marker": {"rule": "r1"}}
    assert jira_http.get(f"{API}/issue/ACME-2/properties/tb.marker").json() == {
        "key": "tb.marker",
        "value": {"rule": "r1"},
    }


def test_missing_issue_is_404_in_jiras_words(jira_http: httpx.Client) -> None:
    body = error(jira_http.get(f"{API}/issue/ACME-9999"), 404)

    assert body["errorMessages"] == ["Issue does not exist or you do not have permission to see it."]


def test_create_answers_201_with_id_key_and_self(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    created = new_issue(
        jira_http, description=adf("Steps: none"), labels=["tb-abc123"], priority={"name": "High"}
    )

    assert set(created) == {"id", "key", "self"}
    assert created["key"] == "ACME-121"
    issue = jira_http.get(created["self"]).json()
    assert issue["fields"]["description"] == adf("Steps: none")
    assert issue["fields"]["labels"] == ["tb-abc123"]
    assert issue["fields"]["priority"]["name"] == "High"
    assert issue["fields"]["status"]["name"] == "To Do"
    assert issue["fields"]["reporter"]["accountId"] == jira.state.api_user


def test_create_validates_every_field_in_one_answer(jira_http: httpx.Client) -> None:
    response = jira_http.post(
        f"{API}/issue",
        json={
            "fields": {
                "project": {"key": "NOPE"},
                "description": "plain text",
                "labels": ["has space"],
                "foo": 1,
            }
        },
    )

    errors = error(response, 400)["errors"]
    assert errors == {
        "project": "Specify a valid project ID or key",
        "issuetype": "Specify an issue type",
        "summary": "You must specify a summary of the issue.",
        "description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        "labels": "The label 'has space' contains spaces which is invalid.",
        "foo": "Field 'foo' cannot be set. It is not on the appropriate screen, or unknown.",
    }


def test_edit_applies_fields_and_update_operations_and_ignores_status(
    jira: JiraSandbox, jira_http: httpx.Client
) -> None:
    before = jira_http.get(f"{API}/issue/ACME-3").json()["fields"]
    jira.clock.freeze(jira.clock.now() + 120)

    response = jira_http.put(
        f"{API}/issue/ACME-3",
        json={
            "fields": {"summary": "Renamed", "status": {"name": "Done"}},
            "update": {"labels": [{"add": "triaged"}, {"remove": "nonexistent"}]},
        },
    )

    assert response.status_code == 204
    after = jira_http.get(f"{API}/issue/ACME-3", params={"expand": "changelog"}).json()
    assert after["fields"]["summary"] == "Renamed"
    assert "triaged" in after["fields"]["labels"]
    assert after["fields"]["status"] == before["status"]  # status changes go through transitions only
    assert after["fields"]["updated"] > before["updated"]
    changed = {item["field"] for item in after["changelog"]["histories"][0]["items"]}
    assert changed == {"summary", "labels"}


def test_edit_rejects_plain_text_and_unknown_fields(jira_http: httpx.Client) -> None:
    errors = error(jira_http.put(f"{API}/issue/ACME-3", json={"fields": {"description": "x", "zap": 1}}), 400)

    assert set(errors["errors"]) == {"description", "zap"}


def test_delete_needs_delete_subtasks_when_the_issue_has_them(jira_http: httpx.Client) -> None:
    refused = jira_http.delete(f"{API}/issue/ACME-9")  # ACME-10 is its sub-task

    assert error(refused, 400)["errorMessages"][0].startswith("The issue ACME-9 has sub-tasks")
    assert jira_http.delete(f"{API}/issue/ACME-9", params={"deleteSubtasks": "true"}).status_code == 204
    assert jira_http.get(f"{API}/issue/ACME-9").status_code == 404
    assert jira_http.get(f"{API}/issue/ACME-10").status_code == 404
    searched = jira_http.get(f"{API}/search/jql", params={"jql": "key = ACME-9"})
    assert error(searched, 400)["errorMessages"] == [
        "An issue with key 'ACME-9' does not exist for field 'key'."
    ]


# ------------------------------------------------------------------------------------------ workflow


def test_transitions_move_through_the_workflow_and_set_the_resolution(jira_http: httpx.Client) -> None:
    key = new_issue(jira_http)["key"]
    listed = jira_http.get(f"{API}/issue/{key}/transitions").json()["transitions"]
    assert {(t["id"], t["to"]["name"]) for t in listed} == {("21", "In Progress"), ("31", "Done")}

    assert (
        jira_http.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "21"}}).status_code == 204
    )
    assert (
        jira_http.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "31"}}).status_code == 204
    )
    done = jira_http.get(f"{API}/issue/{key}").json()["fields"]
    assert done["status"]["statusCategory"]["key"] == "done"
    assert done["resolution"]["name"] == "Done"
    assert done["resolutiondate"] is not None

    assert (
        jira_http.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "11"}}).status_code == 204
    )
    reopened = jira_http.get(f"{API}/issue/{key}").json()["fields"]
    assert reopened["status"]["name"] == "To Do"
    assert reopened["resolution"] is None


def test_an_impossible_transition_is_400(jira_http: httpx.Client) -> None:
    key = new_issue(jira_http)["key"]

    invalid = jira_http.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "11"}})
    missing = jira_http.post(f"{API}/issue/{key}/transitions", json={})

    assert error(invalid, 400)["errorMessages"] == ["Transition id '11' is not valid for this issue."]
    assert error(missing, 400)["errorMessages"] == ["Missing 'transition' identifier"]


# ------------------------------------------------------------------------------------------ comments


def test_comment_pages_order_and_embedded_truncation(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    for n in range(22):
        jira.mutate("comment", key="ACME-4", body=f"note {n}")

    first = jira_http.get(f"{API}/issue/ACME-4/comment", params={"maxResults": 10}).json()
    newest = jira_http.get(
        f"{API}/issue/ACME-4/comment", params={"orderBy": "-created", "maxResults": 1}
    ).json()
    embedded = jira_http.get(f"{API}/issue/ACME-4", params={"fields": "comment"}).json()["fields"]["comment"]

    assert (first["startAt"], first["maxResults"], first["total"], len(first["comments"])) == (0, 10, 25, 10)
    assert newest["comments"][0]["body"] == adf("note 21")
    assert len(embedded["comments"]) == 20
    assert embedded["total"] == 25  # a sync must fetch the rest through /comment
    bad_order = jira_http.get(f"{API}/issue/ACME-4/comment", params={"orderBy": "updated"})
    assert error(bad_order, 400)["errorMessages"][0].startswith("Invalid orderBy value 'updated'")


def test_comment_crud_needs_adf_and_bumps_the_issue(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    key = new_issue(jira_http)["key"]
    created_at = jira_http.get(f"{API}/issue/{key}").json()["fields"]["updated"]
    jira.clock.freeze(jira.clock.now() + 60)

    plain = jira_http.post(f"{API}/issue/{key}/comment", json={"body": "plain text"})
    empty = jira_http.post(f"{API}/issue/{key}/comment", json={"body": adf("")})
    added = jira_http.post(f"{API}/issue/{key}/comment", json={"body": adf("Looks good")})

    assert error(plain, 400)["errors"] == {
        "comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    }
    assert error(empty, 400)["errors"] == {"comment": "Comment body can not be empty!"}
    assert added.status_code == 201
    comment = added.json()
    assert {"id", "author", "body", "created", "updated", "jsdPublic", "self", "updateAuthor"} <= set(comment)
    assert jira_http.get(f"{API}/issue/{key}").json()["fields"]["updated"] > created_at
    url = f"{API}/issue/{key}/comment/{comment['id']}"
    assert jira_http.put(url, json={"body": adf("Edited")}).json()["body"] == adf("Edited")
    assert jira_http.delete(url).status_code == 204
    assert error(jira_http.get(url), 404)["errorMessages"] == [
        f"Can not find a comment for the id: {comment['id']}."
    ]


# ------------------------------------------------------------------------------------------ worklogs


def test_worklogs_on_an_issue(jira_http: httpx.Client) -> None:
    key = new_issue(jira_http)["key"]

    added = jira_http.post(
        f"{API}/issue/{key}/worklog",
        json={"timeSpent": "1h 30m", "started": "2026-01-05T09:00:00.000+0000", "comment": adf("pairing")},
    )
    bad = jira_http.post(f"{API}/issue/{key}/worklog", json={"timeSpentSeconds": 0, "started": "yesterday"})

    assert added.status_code == 201
    assert added.json()["timeSpentSeconds"] == 5400
    assert set(error(bad, 400)["errors"]) == {"timeLogged", "started"}
    page = jira_http.get(f"{API}/issue/{key}/worklog").json()
    assert page["total"] == 1
    tracking = jira_http.get(f"{API}/issue/{key}", params={"fields": "timetracking"}).json()["fields"]
    assert tracking["timetracking"]["timeSpentSeconds"] == 5400


def test_changed_worklogs_page_by_a_thousand_and_skip_the_last_minute(
    jira: JiraSandbox, jira_http: httpx.Client
) -> None:
    jira.reset(worklogs_per_issue=10)  # 1200 worklogs
    jira.clock.freeze()

    first = jira_http.get(f"{API}/worklog/updated", params={"since": 0}).json()
    second = jira_http.get(first["nextPage"]).json()
    ids = [v["worklogId"] for v in first["values"] + second["values"]]

    assert len(first["values"]) == 1000
    assert first["lastPage"] is False
    assert second["lastPage"] is True
    assert sorted(ids) == sorted(jira.state.worklogs)
    assert first["until"] == first["values"][-1]["updatedTime"]
    recent = jira.mutate("worklog", key="ACME-1", seconds=600)["worklog_id"]
    fresh = jira_http.get(f"{API}/worklog/updated", params={"since": second["until"]}).json()
    assert fresh["values"] == []  # still inside the last minute
    jira.clock.advance(61)
    later = jira_http.get(f"{API}/worklog/updated", params={"since": second["until"]}).json()
    assert [v["worklogId"] for v in later["values"]] == [int(recent)]


def test_worklog_list_and_deleted(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    ids = sorted(jira.state.worklogs)[:3]

    listed = jira_http.post(f"{API}/worklog/list", json={"ids": ids}).json()
    too_many = jira_http.post(f"{API}/worklog/list", json={"ids": list(range(1001))})
    jira.clock.freeze()
    worklog = jira.state.worklogs[ids[0]]
    issue_key = jira.state.key(jira.state.issue(worklog.issue_id))  # type: ignore[arg-type]
    assert jira_http.delete(f"{API}/issue/{issue_key}/worklog/{ids[0]}").status_code == 204
    jira.clock.advance(61)
    deleted = jira_http.get(f"{API}/worklog/deleted", params={"since": 0}).json()

    assert [w["id"] for w in listed] == [str(i) for i in ids]
    assert error(too_many, 400)["errorMessages"] == ["The number of worklog ids must be between 1 and 1000."]
    assert [v["worklogId"] for v in deleted["values"]] == [ids[0]]


# --------------------------------------------------------------------------------- people, projects


def test_users_and_myself(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    me = jira_http.get(f"{API}/myself").json()
    everyone = jira_http.get(f"{API}/users/search", params={"maxResults": 1000}).json()
    found = jira_http.get(f"{API}/user/search", params={"query": "sandbox"}).json()

    assert me["accountId"] == jira.state.api_user
    assert me["emailAddress"] == jira.email
    assert me["timeZone"] == "America/Los_Angeles"
    assert isinstance(everyone, list)
    assert len(everyone) == len(jira.state.users)
    assert [u["accountId"] for u in found] == [jira.state.api_user]
    assert error(jira_http.get(f"{API}/user/search"), 400)["errorMessages"]


def test_permissions_and_assignable_people(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    needed = "BROWSE_PROJECTS,CREATE_ISSUES,EDIT_ISSUES,ADD_COMMENTS,TRANSITION_ISSUES"
    mine = jira_http.get(f"{API}/mypermissions", params={"permissions": needed, "projectKey": "ACME"}).json()
    assignable = jira_http.get(f"{API}/user/assignable/search", params={"project": "ACME"}).json()
    auth = (jira.outsider_email, jira.outsider_token)
    theirs = httpx.get(
        f"{jira.url}{API}/mypermissions", params={"permissions": needed}, auth=auth, trust_env=False
    )

    assert all(p["havePermission"] for p in mine["permissions"].values())
    assert set(mine["permissions"]) == set(needed.split(","))
    assert not any(p["havePermission"] for p in theirs.json()["permissions"].values())
    assert jira.state.outsider not in {u["accountId"] for u in assignable}
    assert jira.state.api_user in {u["accountId"] for u in assignable}
    assert error(jira_http.get(f"{API}/mypermissions"), 400)
    assert error(jira_http.get(f"{API}/user/assignable/search"), 400)


def test_projects_fields_and_server_info(jira_http: httpx.Client) -> None:
    page = jira_http.get(f"{API}/project/search", params={"maxResults": 1}).json()
    project = jira_http.get(f"{API}/project/ACME").json()
    fields = jira_http.get(f"{API}/field").json()
    info = jira_http.get(f"{API}/serverInfo").json()

    assert (page["total"], page["isLast"], len(page["values"])) == (2, False, 1)
    assert "nextPage" in page
    assert project["key"] == "ACME"
    assert error(jira_http.get(f"{API}/project/NOPE"), 404)["errorMessages"] == [
        "No project could be found with key 'NOPE'."
    ]
    sprint = next(f for f in fields if f["name"] == "Sprint")
    assert sprint["schema"]["customId"] == 10020
    assert info["deploymentType"] == "Cloud"


def test_boards_sprints_and_sprint_issues(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    boards = jira_http.get("/rest/agile/1.0/board").json()
    board_id = boards["values"][0]["id"]
    sprints = jira_http.get(f"/rest/agile/1.0/board/{board_id}/sprint", params={"maxResults": 2}).json()
    active = jira_http.get(f"/rest/agile/1.0/board/{board_id}/sprint", params={"state": "active"}).json()
    sprint_id = active["values"][0]["id"]
    issues = jira_http.get(f"/rest/agile/1.0/sprint/{sprint_id}/issue", params={"maxResults": 100}).json()

    assert boards["values"][0]["location"]["projectKey"] == "ACME"
    assert (len(sprints["values"]), sprints["isLast"]) == (2, False)
    assert {s["state"] for s in active["values"]} == {"active"}
    expected = {str(i.id) for i in jira.state.live_issues() if i.sprint_id == sprint_id}
    assert {i["id"] for i in issues["issues"]} == expected
    assert issues["total"] == len(expected)
    bad_state = jira_http.get(f"/rest/agile/1.0/board/{board_id}/sprint", params={"state": "open"})
    assert bad_state.status_code == 400
    assert jira_http.get("/rest/agile/1.0/sprint/999").status_code == 404


# -------------------------------------------------------------------------------------------- auth


def test_bad_credentials_get_jiras_401(jira: JiraSandbox) -> None:
    for auth in ((jira.email, "wrong"), ("someone@example.com", jira.token)):
        response = httpx.get(f"{jira.url}{API}/myself", auth=auth, trust_env=False)
        assert response.status_code == 401
        assert response.text == "Client must be authenticated to access this resource."
        assert response.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    bearer = httpx.get(f"{jira.url}{API}/myself", headers={"Authorization": "Bearer abc"}, trust_env=False)
    assert bearer.status_code == 401  # 3LO tokens only work through the api.atlassian.com gateway
    anonymous = httpx.get(f"{jira.url}{API}/serverInfo", trust_env=False)
    assert anonymous.status_code == 200


def test_a_user_without_project_access_sees_nothing(jira: JiraSandbox) -> None:
    with httpx.Client(
        base_url=jira.url, auth=(jira.outsider_email, jira.outsider_token), trust_env=False
    ) as http:
        assert http.get(f"{API}/myself").status_code == 200
        assert http.get(f"{API}/issue/ACME-1").status_code == 404
        project_search = http.get(f"{API}/search/jql", params={"jql": "project = ACME"})
        assert error(project_search, 400)["errorMessages"] == [
            "The value 'ACME' does not exist for the field 'project'."
        ]
        mine = http.get(f"{API}/search/jql", params={"jql": "assignee = currentUser()"}).json()
        assert mine == {"issues": [], "isLast": True}
        assert http.get(f"{API}/project/search").json()["total"] == 0


# ---------------------------------------------------------------------------- limits and conditions


def test_rate_limit_headers_and_the_429(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    jira.reset(rate_limit=10)
    headers = [jira_http.get(f"{API}/myself").headers for _ in range(9)]

    assert headers[0]["X-RateLimit-Limit"] == "10"
    assert headers[0]["X-RateLimit-Remaining"] == "9"
    assert "X-RateLimit-NearLimit" not in headers[0]
    assert headers[-1]["X-RateLimit-NearLimit"] == "true"  # under 20% left
    assert "X-RateLimit-Reset" not in headers[0]  # only on 429
    jira_http.get(f"{API}/myself")
    limited = jira_http.get(f"{API}/myself")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
    assert limited.headers["X-RateLimit-Reset"].endswith("Z")
    assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_fault_rules_can_name_the_limit_that_fired(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    jira.add_faults(
        [
            {
                "route": f"GET {API}/myself",
                "status": 429,
                "retry_after_s": 7,
                "message": "jira-quota-tenant-based",
                "times": 1,
            }
        ]
    )

    limited = jira_http.get(f"{API}/myself")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert jira_http.get(f"{API}/myself").status_code == 200


def test_writes_to_one_issue_are_limited(jira_http: httpx.Client) -> None:
    key = new_issue(jira_http)["key"]
    statuses = [
        jira_http.post(f"{API}/issue/{key}/comment", json={"body": adf(f"c{n}")}).status_code
        for n in range(21)
    ]

    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
    limited = jira_http.post(f"{API}/issue/{key}/comment", json={"body": adf("again")})
    assert limited.headers["RateLimit-Reason"] == "jira-per-issue-on-write"
    assert (
        jira_http.post(f"{API}/issue/ACME-1/comment", json={"body": adf("another issue")}).status_code == 201
    )


def test_etag_and_304(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    first = jira_http.get(f"{API}/issue/ACME-5")
    again = jira_http.get(f"{API}/issue/ACME-5", headers={"If-None-Match": first.headers["ETag"]})
    jira.mutate("comment", key="ACME-5", body="changed")
    changed = jira_http.get(f"{API}/issue/ACME-5", headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304
    assert again.content == b""
    assert changed.status_code == 200
    assert jira.requests()["not_modified"] == 1


# ------------------------------------------------------------------------------------- bad requests


def test_malformed_bodies_and_content_types(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    broken = jira_http.post(
        f"{API}/issue", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    form = jira_http.post(f"{API}/issue", data={"fields": "x"})
    text = jira_http.post(
        f"{API}/issue", content=b"{}", headers={"Content-Type": "text/csv", "X-Atlassian-Token": "no-check"}
    )

    assert error(broken, 400)["errorMessages"]
    assert error(form, 403)["errorMessages"] == ["XSRF check failed"]
    assert error(text, 415)["errorMessages"] == ["Unsupported Media Type"]
    assert error(jira_http.get(f"{API}/nothing-here"), 404)["errorMessages"][0].startswith("null for uri")
    assert jira_http.patch(f"{API}/issue/ACME-1").status_code == 405
    assert error(jira_http.get(f"{API}/issue/ACME-1/comment", params={"maxResults": "many"}), 400)


def test_random_bodies_get_jiras_4xx_never_a_crash(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    rng = random.Random(4)
    jira.per_issue_write_limits = ((10**9, 1.0),)  # this test is about input, not about the write limit
    values: list[Any] = [None, 1, -1, True, "x", "", [], {}, [1], ["a b"], {"id": "1"}, {"key": "ACME-1"}]
    values += [
        {"name": "Task"},
        {"accountId": "nope"},
        adf(""),
        1e308,
        "ACME-1",
        [{"add": "x"}],
        {"type": "doc"},
    ]
    keys = [
        "fields",
        "update",
        "summary",
        "description",
        "labels",
        "assignee",
        "priority",
        "issuetype",
        "project",
    ]
    keys += [
        "parent",
        "duedate",
        "customfield_10020",
        "timetracking",
        "transition",
        "body",
        "visibility",
        "jql",
    ]
    keys += [
        "timeSpent",
        "timeSpentSeconds",
        "started",
        "comment",
        "maxResults",
        "nextPageToken",
        "expand",
        "ids",
    ]
    routes = [
        ("POST", f"{API}/issue"),
        ("PUT", f"{API}/issue/ACME-2"),
        ("POST", f"{API}/issue/ACME-3/transitions"),
        ("POST", f"{API}/issue/ACME-4/comment"),
        ("POST", f"{API}/issue/ACME-5/worklog"),
        ("POST", f"{API}/search/jql"),
        ("POST", f"{API}/worklog/list"),
        ("POST", "/rest/webhooks/1.0/webhook"),
    ]

    def body(depth: int = 0) -> Any:
        if rng.random() < 0.1:
            return rng.choice(values)
        picked = (rng.choice(keys) for _ in range(rng.randint(0, 4)))
        return {
            k: body(depth + 1) if depth < 2 and rng.random() < 0.3 else rng.choice(values) for k in picked
        }

    try:
        for _ in range(400):
            method, path = rng.choice(routes)
            response = jira_http.request(method, path, json=body())
            assert response.status_code < 500, (method, path, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"errorMessages", "errors"}
    finally:
        del jira.per_issue_write_limits


def test_the_registry_starts_jira_and_describes_it() -> None:
    with start_sandboxes(providers=["jira"], issues=5, comments_per_issue=1) as cluster:
        described = cluster.describe()["jira"]
        jira = cluster["jira"]
        me = httpx.get(
            f"{described['url']}{API}/myself", auth=(described["email"], described["token"]), trust_env=False
        )

    assert me.status_code == 200
    assert described["project"] == "ACME"
    assert described["oauth_url"] == jira.oauth_url != described["url"]
    assert {"client_id", "client_secret", "cloud_id", "webhook_secret", "account_id"} <= set(described)
