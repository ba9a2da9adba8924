"""Every route the Jira sandbox serves answers in the shape Atlassian's OpenAPI descriptions document.

The descriptions are Atlassian's own (``shared/specs/jira-cloud-platform.swagger-v3.json`` and, for agile
boards and sprints, ``jira-software.swagger-v3.2022-07.json``). Each route is called with realistic input and
its body validated against the schema documented for the status it returned; where the agile description
gives only an example (sprints), the body is validated against its ``SprintBean`` component. Issue fields are
free-form in ``IssueBean``, so the common ones are validated against their own components too. Error bodies
are validated against ``ErrorCollection``. A route added without a case fails ``test_every_route_is_covered``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator

from infra.local.trackers.jira import JiraSandbox
from infra.local.trackers.jira._state import BOARD_ID

from .conftest import HookReceiver
from .openapi import OpenApi

pytestmark = pytest.mark.integration

API = "/rest/api/3"
ISSUE = API + "/issue/{issueIdOrKey}"
AGILE = "/rest/agile/1.0"
HOOKS = "/rest/webhooks/1.0/webhook"
# Routes Atlassian does not describe (admin webhooks) or answers outside the description (removed search).
UNDESCRIBED = {
    f"POST {API}/search/id",
    "GET /rest/api/2/search",
    "POST /rest/api/2/search",
    f"POST {HOOKS}",
    f"GET {HOOKS}",
    f"GET {HOOKS}/{{webhookId}}",
    f"PUT {HOOKS}/{{webhookId}}",
    f"DELETE {HOOKS}/{{webhookId}}",
}


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture(scope="session")
def platform(shared_dir: Path) -> OpenApi:
    return OpenApi(shared_dir / "specs/jira-cloud-platform.swagger-v3.json")


@pytest.fixture(scope="session")
def agile(shared_dir: Path) -> OpenApi:
    return OpenApi(shared_dir / "specs/jira-software.swagger-v3.2022-07.json")


def component_errors(api: OpenApi, name: str, value: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": api.components})
    return [
        f"{name}/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(value)
    ]


@dataclass
class Case:
    method: str
    template: str
    status: int
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    oauth: bool = False
    # prepares state; returns path values that differ from the defaults
    setup: Callable[[JiraSandbox, httpx.Client, HookReceiver], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _comment(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    issue = jira.state.find("ACME-12")
    assert issue is not None
    return {"id": issue.comments[0]}


def _worklog(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    issue = jira.state.find("ACME-12")
    assert issue is not None
    return {"id": issue.worklogs[0]}


def _property(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    assert http.put(f"{API}/issue/ACME-12/properties/tb.marker", json={"v": 1}).status_code == 201
    return {}


def _history(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    jira.mutate("update", key="ACME-12", fields={"summary": "with a changelog entry"})
    return {}


def _admin_hook(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    created = http.post(HOOKS, json={"name": "n", "url": receiver.url, "events": ["jira:issue_created"]})
    assert created.status_code == 201, created.text
    return {"webhookId": created.json()["self"].rsplit("/", 1)[-1]}


def _app_hook(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    response = http.post(
        f"{API}/webhook",
        json={
            "url": receiver.url,
            "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = ACME"}],
        },
    )
    assert response.status_code == 200, response.text
    return {}


def _failed_app_delivery(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    _app_hook(jira, http, receiver)
    receiver.status = 400
    jira.mutate("create", fields={"summary": "for a failed delivery"})
    assert jira.wait_for_deliveries()
    return {}


def _sprint(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    return {"sprintId": next(s.id for s in jira.state.sprints.values() if s.state == "active")}


def _future_sprint(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    created = http.post(AGILE + "/sprint", json={"name": "Future probe", "originBoardId": BOARD_ID})
    assert created.status_code == 201, created.text
    return {"sprintId": created.json()["id"]}


def _attachment(jira: JiraSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    uploaded = http.post(
        f"{API}/issue/ACME-12/attachments",
        files={"file": ("log.txt", b"disk usage: 95%", "text/plain")},
        headers={"X-Atlassian-Token": "no-check"},
    )
    assert uploaded.status_code == 200, uploaded.text
    return {"id": uploaded.json()[0]["id"]}


def _removed(method: str, template: str) -> Case:
    return Case(
        method, template, 410, params={"jql": "project = ACME"}, json={} if method == "POST" else None
    )


CASES = [
    Case("GET", API + "/search/jql", 200, params={"jql": "project = ACME ORDER BY key", "fields": "*all"}),
    Case(
        "GET", API + "/search/jql", 200, params={"jql": "project = ACME", "expand": "names,schema,changelog"}
    ),
    Case("GET", API + "/search/jql", 400, params={"jql": "order by key"}),
    Case("POST", API + "/search/jql", 200, json={"jql": "project = ACME", "fields": ["summary", "comment"]}),
    Case("POST", API + "/search/jql", 400, json={"jql": "project = ACME", "startAt": 0}),
    Case("POST", API + "/search/approximate-count", 200, json={"jql": "project = ACME"}),
    Case("POST", API + "/search/approximate-count", 400, json={"jql": "status = Nope"}),
    _removed("GET", API + "/search"),
    _removed("POST", API + "/search"),
    _removed("GET", "/rest/api/2/search"),
    _removed("POST", "/rest/api/2/search"),
    _removed("POST", API + "/search/id"),
    Case(
        "GET",
        ISSUE,
        200,
        params={"expand": "renderedFields,names,schema,transitions,changelog"},
        setup=_history,
    ),
    Case("GET", ISSUE, 404, setup=lambda j, h, r: {"issueIdOrKey": "ACME-999"}),
    Case(
        "POST",
        API + "/issue",
        201,
        json={
            "fields": {
                "project": {"key": "ACME"},
                "issuetype": {"id": "10002"},
                "summary": "s",
                "description": adf("d"),
            }
        },
    ),
    Case("POST", API + "/issue", 400, json={"fields": {"summary": "s", "description": "plain"}}),
    Case("PUT", ISSUE, 204, json={"fields": {"summary": "renamed"}, "update": {"labels": [{"add": "x"}]}}),
    Case("PUT", ISSUE, 200, params={"returnIssue": "true"}, json={"fields": {"summary": "renamed"}}),
    Case("PUT", ISSUE, 400, json={"fields": {"nonsense": 1}}),
    Case("DELETE", ISSUE, 204),
    Case("DELETE", ISSUE, 400, setup=lambda j, h, r: {"issueIdOrKey": "ACME-9"}),
    Case("GET", ISSUE + "/transitions", 200),
    Case(
        "POST",
        ISSUE + "/transitions",
        204,
        setup=lambda j, h, r: {"issueIdOrKey": j.mutate("create")["key"]},
        json={"transition": {"id": "21"}},
    ),
    Case("POST", ISSUE + "/transitions", 400, json={"transition": {"id": "99"}}),
    Case("GET", ISSUE + "/comment", 200, params={"expand": "renderedBody"}),
    Case(
        "POST",
        ISSUE + "/comment",
        201,
        json={"body": adf("hello"), "visibility": {"type": "role", "value": "Developers"}},
    ),
    Case("POST", ISSUE + "/comment", 400, json={"body": "plain"}),
    Case("GET", ISSUE + "/comment/{id}", 200, setup=_comment),
    Case("PUT", ISSUE + "/comment/{id}", 200, json={"body": adf("edited")}, setup=_comment),
    Case("DELETE", ISSUE + "/comment/{id}", 204, setup=_comment),
    Case("GET", ISSUE + "/worklog", 200),
    Case(
        "POST",
        ISSUE + "/worklog",
        201,
        json={"timeSpentSeconds": 600, "started": "2026-01-01T10:00:00.000+0000"},
    ),
    Case("GET", ISSUE + "/worklog/{id}", 200, setup=_worklog),
    Case("PUT", ISSUE + "/worklog/{id}", 200, json={"timeSpent": "2h"}, setup=_worklog),
    Case("DELETE", ISSUE + "/worklog/{id}", 204, setup=_worklog),
    Case("GET", API + "/worklog/updated", 200, params={"since": 0}),
    Case("GET", API + "/worklog/deleted", 200, params={"since": 0}),
    Case("POST", API + "/worklog/list", 200, json={"ids": [10001, 10002, 10003]}),
    Case("GET", ISSUE + "/properties", 200, setup=_property),
    Case("PUT", ISSUE + "/properties/{propertyKey}", 201, json={"marker": "tb-1"}),
    Case("GET", ISSUE + "/properties/{propertyKey}", 200, setup=_property),
    Case("DELETE", ISSUE + "/properties/{propertyKey}", 204, setup=_property),
    Case("GET", ISSUE + "/changelog", 200, setup=_history),
    Case(
        "POST",
        API + "/changelog/bulkfetch",
        200,
        json={"issueIdsOrKeys": ["ACME-12", "10003", "ACME-20"], "fieldIds": ["status", "assignee"]},
        setup=_history,
    ),
    Case("POST", API + "/changelog/bulkfetch", 400, json={"issueIdsOrKeys": []}),
    Case("GET", API + "/myself", 200),
    Case(
        "GET",
        API + "/mypermissions",
        200,
        params={"permissions": "BROWSE_PROJECTS,ADMINISTER", "projectKey": "ACME"},
    ),
    Case("GET", API + "/mypermissions", 400, params={"permissions": "FLY"}),
    Case("GET", API + "/user/assignable/search", 200, params={"project": "ACME"}),
    Case("GET", API + "/attachment/{id}", 200, setup=_attachment),
    Case("DELETE", API + "/attachment/{id}", 204, setup=_attachment),
    Case(
        "GET",
        ISSUE,
        200,
        params={"fields": "attachment"},
        setup=_attachment,
    ),
    Case("GET", API + "/user", 200, setup=lambda j, h, r: {}, params={"accountId": "{account}"}),
    Case("GET", API + "/users/search", 200),
    Case("GET", API + "/users", 200),
    Case("GET", API + "/user/search", 200, params={"query": "a"}),
    Case("GET", API + "/project/search", 200, params={"expand": "insight"}),
    Case("GET", API + "/project", 200),
    Case("GET", API + "/project/{projectIdOrKey}", 200),
    Case("GET", API + "/project/{projectIdOrKey}", 404, setup=lambda j, h, r: {"projectIdOrKey": "NOPE"}),
    Case("GET", API + "/issue/createmeta/{projectIdOrKey}/issuetypes", 200, params={"maxResults": 2}),
    Case(
        "GET",
        API + "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        200,
        setup=lambda j, h, r: {"projectIdOrKey": "OPS", "issueTypeId": "10002"},
    ),
    Case(
        "GET",
        API + "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        400,
        setup=lambda j, h, r: {"projectIdOrKey": "OPS", "issueTypeId": "99"},
    ),
    Case("GET", API + "/field", 200),
    Case("GET", API + "/serverInfo", 200),
    Case("GET", API + "/status", 200),
    Case("GET", API + "/statuscategory", 200),
    Case("GET", API + "/priority", 200),
    Case("GET", API + "/issuetype", 200),
    Case("GET", API + "/resolution", 200),
    Case("GET", API + "/label", 200),
    Case("GET", AGILE + "/board", 200),
    Case("GET", AGILE + "/board/{boardId}", 200),
    Case("GET", AGILE + "/board/{boardId}/sprint", 200),
    Case("GET", AGILE + "/sprint/{sprintId}", 200, setup=_sprint),
    Case("GET", AGILE + "/sprint/{sprintId}/issue", 200, setup=_sprint),
    Case("POST", AGILE + "/sprint", 201, json={"name": "Sprint probe", "originBoardId": BOARD_ID}),
    Case("POST", AGILE + "/sprint/{sprintId}", 200, json={"goal": "ship the probe"}, setup=_sprint),
    Case("PUT", AGILE + "/sprint/{sprintId}", 200, json={"name": "Renamed probe"}, setup=_future_sprint),
    Case("POST", AGILE + "/sprint/{sprintId}/issue", 204, json={"issues": ["ACME-3"]}, setup=_sprint),
    Case("DELETE", AGILE + "/sprint/{sprintId}", 204, setup=_future_sprint),
    Case(
        "POST",
        HOOKS,
        201,
        json={"name": "n", "url": "{receiver}", "events": ["jira:issue_created"], "secret": "s"},
    ),
    Case("GET", HOOKS, 200, setup=_admin_hook),
    Case("GET", HOOKS + "/{webhookId}", 200, setup=_admin_hook),
    Case("PUT", HOOKS + "/{webhookId}", 200, json={"name": "renamed"}, setup=_admin_hook),
    Case("DELETE", HOOKS + "/{webhookId}", 204, setup=_admin_hook),
    Case(
        "POST",
        API + "/webhook",
        200,
        oauth=True,
        json={
            "url": "{receiver}",
            "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = ACME"}],
        },
    ),
    Case("POST", API + "/webhook", 403, json={"url": "{receiver}", "webhooks": []}),
    Case("GET", API + "/webhook", 200, oauth=True, setup=_app_hook),
    Case("DELETE", API + "/webhook", 202, oauth=True, json={"webhookIds": [1001]}, setup=_app_hook),
    Case("PUT", API + "/webhook/refresh", 200, oauth=True, json={"webhookIds": [1001]}, setup=_app_hook),
    Case("GET", API + "/webhook/failed", 200, oauth=True, setup=_failed_app_delivery),
]


@pytest.fixture
def oauth_http(jira: JiraSandbox) -> Iterator[httpx.Client]:
    callback = "http://127.0.0.1:9/callback"
    with httpx.Client(base_url=jira.oauth_url, trust_env=False, follow_redirects=False, timeout=60) as auth:
        location = auth.get(
            "/authorize",
            params={
                "client_id": jira.client_id,
                "scope": "read:jira-work write:jira-work read:jira-user manage:jira-webhook",
                "redirect_uri": callback,
                "response_type": "code",
            },
        ).headers["Location"]
        token = auth.post(
            "/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": jira.client_id,
                "client_secret": jira.client_secret,
                "code": parse_qs(urlsplit(location).query)["code"][0],
                "redirect_uri": callback,
            },
        ).json()["access_token"]
    with httpx.Client(
        base_url=jira.gateway_url, headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=60
    ) as client:
        yield client


# Multipart in, bytes out: checked in ``test_attachments_upload_and_download`` below.
NON_JSON = {f"POST {ISSUE}/attachments", f"GET {API}/attachment/content/{{id}}"}


def test_every_route_is_covered() -> None:
    covered = {case.key for case in CASES} | NON_JSON

    assert {spec.key for spec in JiraSandbox.routes} - covered == set()


def _fill(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, dict):
        return {k: _fill(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, replacements) for v in value]
    return value


def _check_issue_fields(api: OpenApi, issue: dict[str, Any]) -> list[str]:
    """``IssueBean.fields`` is free-form: validate the common fields against their own components."""
    fields = issue.get("fields", {})
    problems: list[str] = []
    schemas = {
        "status": "StatusDetails",
        "priority": "Priority",
        "issuetype": "IssueTypeDetails",
        "resolution": "Resolution",
        "comment": "PageOfComments",
        "worklog": "PageOfWorklogs",
        "timetracking": "TimeTrackingDetails",
        "assignee": "UserDetails",
        "reporter": "UserDetails",
        "creator": "UserDetails",
    }
    for name, schema in schemas.items():
        if fields.get(name) is not None:
            problems += component_errors(api, schema, fields[name])
    for change in issue.get("changelog", {}).get("histories", []):
        problems += component_errors(api, "Changelog", change)
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.key} -> {c.status}")
def test_responses_match_the_description(
    case: Case,
    jira: JiraSandbox,
    jira_http: httpx.Client,
    hook_receiver: HookReceiver,
    platform: OpenApi,
    agile: OpenApi,
    request: pytest.FixtureRequest,
) -> None:
    http: httpx.Client = request.getfixturevalue("oauth_http") if case.oauth else jira_http
    values: dict[str, Any] = {"issueIdOrKey": "ACME-12", "propertyKey": "tb.marker", "projectIdOrKey": "ACME"}
    values.update(boardId=1, sprintId=1)
    if case.setup is not None:
        values.update(case.setup(jira, http, hook_receiver))
    replacements = {"{receiver}": hook_receiver.url, "{account}": jira.state.api_user}
    path = case.template.format(**values)

    response = http.request(
        case.method, path, params=_fill(case.params, replacements), json=_fill(case.json, replacements)
    )

    assert response.status_code == case.status, response.text
    body = response.json() if response.content else None
    if case.status >= 400:
        assert set(body) <= {"errorMessages", "errors"}
        assert component_errors(platform, "ErrorCollection", body) == []
        return
    if case.key in UNDESCRIBED:
        assert body is None or isinstance(body, dict | list)
        return
    if case.template.startswith(AGILE):
        _check_agile(agile, platform, case, body)
        return
    assert case.status in platform.documented_statuses(case.method, case.template)
    assert platform.errors(case.method, case.template, case.status, body) == []
    issues = body.get("issues", []) if isinstance(body, dict) else []
    if isinstance(body, dict) and isinstance(body.get("fields"), dict):  # createmeta's "fields" is a list
        issues = [body]
    for issue in issues:
        assert _check_issue_fields(platform, issue) == []


def _check_agile(agile: OpenApi, platform: OpenApi, case: Case, body: Any) -> None:
    if case.status == 204:
        assert body is None
    elif case.method != "GET" and "/sprint" in case.template:
        # Sprint writes answer the sprint as it is now (the description gives only an example)
        assert component_errors(agile, "SprintBean", body) == []
    elif case.template.endswith("/sprint"):
        assert {"maxResults", "startAt", "isLast", "values"} <= set(body)
        for sprint in body["values"]:
            assert component_errors(agile, "SprintBean", sprint) == []
    elif case.template.endswith("{sprintId}"):
        assert component_errors(agile, "SprintBean", body) == []
    elif case.template.endswith("/issue"):
        assert component_errors(agile, "SearchResults", body) == []
        for issue in body["issues"]:
            assert _check_issue_fields(platform, issue) == []
    else:
        assert agile.errors(case.method, case.template, case.status, body) == []


def test_attachments_upload_and_download(
    jira: JiraSandbox, jira_http: httpx.Client, platform: OpenApi
) -> None:
    uploaded = jira_http.post(
        f"{API}/issue/ACME-12/attachments",
        files=[
            ("file", ("a.txt", b"first", "text/plain")),
            ("file", ("b.bin", b"\x00\x01", "application/octet-stream")),
        ],
        headers={"X-Atlassian-Token": "no-check"},
    )
    without_token = jira_http.post(
        f"{API}/issue/ACME-12/attachments", files={"file": ("a.txt", b"x", "text/plain")}
    )

    assert uploaded.status_code == 200
    assert platform.errors("POST", f"{ISSUE}/attachments", 200, uploaded.json()) == []
    assert [(a["filename"], a["size"]) for a in uploaded.json()] == [("a.txt", 5), ("b.bin", 2)]
    content = jira_http.get(uploaded.json()[0]["content"])
    assert (content.status_code, content.content, content.headers["content-type"]) == (
        200,
        b"first",
        "text/plain",
    )
    assert without_token.status_code == 403
    assert component_errors(platform, "ErrorCollection", without_token.json()) == []
