"""Every route the GitHub sandbox serves answers in the shape GitHub's OpenAPI description documents.

The description is GitHub's own (``shared/specs/github.rest.octokit-openapi-23.0.2.json``); each route is
called once with realistic input and its body validated against the documented schema for the status it
returned. A route added to the sandbox without a case here fails ``test_every_route_is_covered``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.github._state import ISSUE_ID_BASE

from .conftest import HookReceiver
from .openapi import OpenApi

pytestmark = pytest.mark.integration

SPEC = "specs/github.rest.octokit-openapi-23.0.2.json"


@pytest.fixture(scope="session")
def github_openapi(shared_dir: Path) -> OpenApi:
    return OpenApi(shared_dir / SPEC)


@dataclass
class Case:
    method: str
    template: str
    status: int
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    # prepares state and returns path values that differ from the defaults
    setup: Callable[[GitHubSandbox, httpx.Client, HookReceiver], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _with_hook(github: GitHubSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    created = http.post(
        "/repos/acme/widgets/hooks",
        json={"config": {"url": receiver.url, "content_type": "json", "secret": "s3"}, "events": ["issues"]},
    )
    assert created.status_code == 201, created.text
    assert github.wait_for_deliveries()
    return {"hook_id": created.json()["id"]}


def _labelled(github: GitHubSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    assert http.post("/repos/acme/widgets/issues/2/labels", json={"labels": ["bug"]}).status_code == 200
    return {"issue_number": 2, "name": "bug"}


def _a_comment(github: GitHubSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
    return {"comment_id": github.state.comment_ids[0]}


def _related(
    number: int, **values: Any
) -> Callable[[GitHubSandbox, httpx.Client, HookReceiver], dict[str, Any]]:
    """A setup making #2 the parent of #3 and #4 and #6 a blocker of #5, then naming issue ``number``."""

    def setup(github: GitHubSandbox, http: httpx.Client, receiver: HookReceiver) -> dict[str, Any]:
        github.mutate("sub_issue", number=2, child=3)
        github.mutate("sub_issue", number=2, child=4)
        github.mutate("block", number=5, blocker=6)
        return {"issue_number": number, **values}

    return setup


def _issue_id(number: int) -> int:
    """The ``id`` GitHub's sub-issue and dependency writes take (not the number)."""
    return ISSUE_ID_BASE + number


REPO = "/repos/{owner}/{repo}"
ISSUE = REPO + "/issues/{issue_number}"
CASES = [
    Case("GET", "/rate_limit", 200),
    Case("GET", "/user", 200),
    Case("GET", "/users/{username}", 200),
    Case("GET", REPO, 200),
    Case("GET", REPO + "/languages", 200),
    Case("GET", REPO + "/commits", 200, params={"per_page": "5"}),
    Case("GET", REPO + "/commits", 200, params={"sha": "main", "since": "2024-01-01T00:00:00Z"}),
    Case("GET", REPO + "/pulls", 200, params={"state": "all", "sort": "updated", "direction": "desc"}),
    Case("GET", REPO + "/releases", 200),
    Case("GET", REPO + "/security-advisories", 200),
    Case("GET", REPO + "/issues", 200, params={"state": "all", "per_page": "100"}),
    Case(
        "POST",
        REPO + "/issues",
        201,
        json={"title": "t", "body": "b", "labels": ["bug"], "assignees": ["ada-stone"]},
    ),
    Case("GET", ISSUE, 200),
    Case("PATCH", ISSUE, 200, json={"state": "closed", "state_reason": "not_planned"}),
    Case("GET", REPO + "/issues/comments", 200, params={"sort": "updated", "since": "2020-01-01T00:00:00Z"}),
    Case("GET", REPO + "/issues/comments/{comment_id}", 200, setup=_a_comment),
    Case("PATCH", REPO + "/issues/comments/{comment_id}", 200, json={"body": "edited"}, setup=_a_comment),
    Case("DELETE", REPO + "/issues/comments/{comment_id}", 204, setup=_a_comment),
    Case("GET", ISSUE + "/comments", 200),
    Case("POST", ISSUE + "/comments", 201, json={"body": "hello"}),
    Case("GET", REPO + "/labels", 200),
    Case(
        "POST", REPO + "/labels", 201, json={"name": "tb-1a2b3c", "color": "ff0000", "description": "marker"}
    ),
    Case("GET", REPO + "/labels/{name}", 200),
    Case("GET", ISSUE + "/labels", 200, setup=_labelled),
    Case("POST", ISSUE + "/labels", 200, json={"labels": ["question"]}),
    Case("PUT", ISSUE + "/labels", 200, json={"labels": ["enhancement"]}),
    Case("DELETE", ISSUE + "/labels", 204),
    Case("DELETE", ISSUE + "/labels/{name}", 200, setup=_labelled),
    Case("GET", REPO + "/assignees", 200),
    Case("GET", REPO + "/assignees/{assignee}", 204, setup=lambda g, h, r: {"assignee": "ada-stone"}),
    Case("GET", REPO + "/assignees/{assignee}", 404, setup=lambda g, h, r: {"assignee": "nobody-here"}),
    Case("POST", ISSUE + "/assignees", 201, json={"assignees": ["ada-stone"]}),
    Case("DELETE", ISSUE + "/assignees", 200, json={"assignees": ["ada-stone"]}),
    Case("GET", REPO + "/pulls", 200, params={"state": "all"}),
    Case("GET", REPO + "/pulls/{pull_number}", 200),
    # in:body: GitHub's search item schema declares body a non-null string, yet an issue without a body is
    # listed with "body": null (as the issue schema allows), so the case searches bodies that exist.
    Case(
        "GET",
        "/search/issues",
        200,
        params={"q": "repo:acme/widgets the in:body", "sort": "updated", "per_page": "50"},
    ),
    Case("GET", REPO + "/hooks", 200, setup=_with_hook),
    Case(
        "POST", REPO + "/hooks", 201, json={"config": {"url": "http://127.0.0.1:9/x", "content_type": "json"}}
    ),
    Case("GET", REPO + "/hooks/{hook_id}", 200, setup=_with_hook),
    Case("PATCH", REPO + "/hooks/{hook_id}", 200, json={"add_events": ["issue_comment"]}, setup=_with_hook),
    Case("DELETE", REPO + "/hooks/{hook_id}", 204, setup=_with_hook),
    Case("POST", REPO + "/hooks/{hook_id}/pings", 204, setup=_with_hook),
    # Sub-issues, dependencies and issue types (the setup links #2 -> #3, #4 and #5 <- #6).
    Case("GET", ISSUE + "/sub_issues", 200, setup=_related(2)),
    Case("GET", ISSUE + "/parent", 200, setup=_related(3)),
    Case("POST", ISSUE + "/sub_issues", 201, json={"sub_issue_id": _issue_id(8)}),
    Case("DELETE", ISSUE + "/sub_issue", 200, json={"sub_issue_id": _issue_id(4)}, setup=_related(2)),
    Case("GET", ISSUE + "/dependencies/blocked_by", 200, setup=_related(5)),
    Case("GET", ISSUE + "/dependencies/blocking", 200, setup=_related(6)),
    Case("POST", ISSUE + "/dependencies/blocked_by", 201, json={"issue_id": _issue_id(9)}),
    Case(
        "DELETE",
        ISSUE + "/dependencies/blocked_by/{issue_id}",
        200,
        setup=_related(5, issue_id=_issue_id(6)),
    ),
    Case("GET", "/orgs/{org}/issue-types", 200, setup=lambda g, h, r: {"org": "acme"}),
    Case("GET", REPO + "/issue-types", 200),
]

# Error answers are documented too; their bodies must match GitHub's basic-error / validation-error shapes.
ERROR_CASES = [
    Case("GET", REPO + "/issues", 404, params={}, setup=lambda g, h, r: {"repo": "missing"}),
    Case("GET", REPO + "/issues", 422, params={"per_page": "abc"}),
    Case("POST", REPO + "/issues", 422, json={"body": "no title"}),
    Case("POST", REPO + "/issues", 400, json=None, setup=lambda g, h, r: {"raw": b"{not json"}),
    Case("GET", ISSUE, 404, setup=lambda g, h, r: {"issue_number": 99_999}),
    Case("PATCH", ISSUE, 422, json={"state": "resolved"}),
    Case("POST", ISSUE + "/comments", 422, json={"body": ""}),
    Case("POST", REPO + "/hooks", 422, json={"config": {"content_type": "json"}}),
    Case("GET", REPO + "/hooks/{hook_id}", 404, setup=lambda g, h, r: {"hook_id": 1}),
    Case("GET", "/users/{username}", 404, setup=lambda g, h, r: {"username": "nobody-here"}),
    Case("GET", "/search/issues", 422, params={"q": ""}),
    Case("GET", "/search/issues", 422, params={"q": "repo:acme/other is:issue"}),
    Case("GET", "/search/issues", 422, params={"q": "repo:acme/widgets", "per_page": "100", "page": "11"}),
    Case("POST", ISSUE + "/sub_issues", 422, json={"sub_issue_id": _issue_id(3)}, setup=_related(1)),
    Case("POST", ISSUE + "/sub_issues", 422, json={}),
    Case("POST", ISSUE + "/sub_issues", 404, json={"sub_issue_id": _issue_id(99_999)}),
    Case("GET", ISSUE + "/parent", 404),  # #1 has no parent
    Case("POST", ISSUE + "/dependencies/blocked_by", 422, json={"issue_id": _issue_id(1)}),  # itself
    Case(
        "DELETE",
        ISSUE + "/dependencies/blocked_by/{issue_id}",
        404,
        setup=lambda g, h, r: {"issue_id": _issue_id(6)},  # #1 is not blocked by #6
    ),
]

# Routes GitHub serves that the spec here (octokit 23.0.2) predates -> the documented route whose answers
# they share (the parent of a sub-issue is an issue, as the issue GET answers it).
NEWER_THAN_SPEC: dict[str, tuple[str, str]] = {"GET " + ISSUE + "/parent": ("GET", ISSUE)}

DEFAULTS = {
    "owner": "acme",
    "repo": "widgets",
    "issue_number": 1,
    "pull_number": 7,
    "username": "ada-stone",
    "name": "bug",
}


def _call(case: Case, github: GitHubSandbox, http: httpx.Client, receiver: HookReceiver) -> httpx.Response:
    values = dict(DEFAULTS)
    if case.setup is not None:
        values.update(case.setup(github, http, receiver))
    raw = values.pop("raw", None)
    path = case.template.format(**values)
    if raw is not None:
        return http.request(case.method, path, content=raw, params=case.params)
    return http.request(case.method, path, json=case.json, params=case.params)


def _check(case: Case, response: httpx.Response, api: OpenApi) -> None:
    assert response.status_code == case.status, response.text
    method, template = NEWER_THAN_SPEC.get(case.key, (case.method, case.template))
    assert case.status in api.documented_statuses(method, template) or case.status in (
        400,
        404,
        422,
    )
    body = response.json() if response.content else None
    if case.status in api.documented_statuses(method, template):
        problems = api.errors(method, template, case.status, body)
        assert not problems, "\n".join(problems[:10])
    else:
        # Not declared for this route, but GitHub answers it with its generic error shape.
        assert set(body) >= {"message", "documentation_url"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
def test_route_matches_github_schema(
    case: Case,
    github: GitHubSandbox,
    github_http: httpx.Client,
    hook_receiver: HookReceiver,
    github_openapi: OpenApi,
) -> None:
    _check(case, _call(case, github, github_http, hook_receiver), github_openapi)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: f"{c.key} -> {c.status}")
def test_error_matches_github_schema(
    case: Case,
    github: GitHubSandbox,
    github_http: httpx.Client,
    hook_receiver: HookReceiver,
    github_openapi: OpenApi,
) -> None:
    _check(case, _call(case, github, github_http, hook_receiver), github_openapi)


def test_every_route_is_covered_and_documented(github_openapi: OpenApi) -> None:
    served = {spec.key for spec in GitHubSandbox.routes}
    covered = {case.key for case in CASES}

    assert served == covered
    assert all(github_openapi.has(*key.split(" ", 1)) for key in served - set(NEWER_THAN_SPEC))
