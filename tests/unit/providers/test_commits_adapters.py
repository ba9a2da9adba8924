"""The forges' development activity (capability ``dev_activity``): commit and pull/merge request pages since a
time, counted requests, and the push / request webhooks read as activity."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.registry import PROVIDERS
from trackbridge.providers.types import DeliveryKind
from trackbridge.providers.webhooks import WebhookPayloadError

from .conftest import FakeTracker, json_response

REPO = "/repos/acme/widgets"
API = "https://api.github.com"
SINCE = datetime(2026, 3, 1, tzinfo=UTC)


def _pull(number: int, updated: str, branch: str = "main") -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Pull {number}",
        "body": f"Fixes #{number}",
        "head": {"ref": branch},
        "updated_at": updated,
        "html_url": f"https://github.com/acme/widgets/pull/{number}",
    }


def _commit(sha: str, message: str, date: str) -> dict[str, Any]:
    signature = {"name": "Ada", "email": "ada@example.test", "date": date}
    return {
        "sha": sha,
        "commit": {"message": message, "author": signature, "committer": signature},
        "html_url": f"https://github.com/acme/widgets/commit/{sha}",
    }


def test_github_commits_ask_since_and_follow_pages(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        f"{REPO}/commits",
        json_response(
            200,
            [_commit("a" * 40, "Fixes #1", "2026-03-05T10:00:00Z")],
            {"link": f'<{API}{REPO}/commits?page=2>; rel="next"'},
        ),
        json_response(200, [_commit("b" * 40, "Add CSV export", "2026-03-02T10:00:00Z")]),
    )

    pages = list(github.iter_activity_pages("commits", since=SINCE))

    assert fake.params(0) == {"since": "2026-03-01T00:00:00Z", "per_page": "100"}
    assert [[item.id for item in page] for page in pages] == [["a" * 40], ["b" * 40]]
    first = pages[0][0]
    assert (first.kind, first.text, first.at) == ("commit", "Fixes #1", datetime(2026, 3, 5, 10, tzinfo=UTC))
    assert github.stats.requests == 2


def test_github_pulls_stop_at_the_first_page_reaching_before_since(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    recent, old = _pull(9, "2026-03-04T00:00:00Z", "feature/ACME-2-x"), _pull(3, "2026-02-01T00:00:00Z")
    fake.on(
        "GET",
        f"{REPO}/pulls",
        json_response(200, [recent, old], {"link": f'<{API}{REPO}/pulls?page=2>; rel="next"'}),
        json_response(200, [_pull(1, "2026-01-01T00:00:00Z")]),
    )

    pages = list(github.iter_activity_pages("requests", since=SINCE))

    assert fake.params(0) == {"state": "all", "sort": "updated", "direction": "desc", "per_page": "100"}
    assert [[item.id for item in page] for page in pages] == [["9"]]
    assert (pages[0][0].kind, pages[0][0].branch, pages[0][0].title) == (
        "pull_request",
        "feature/ACME-2-x",
        "Pull 9",
    )
    assert github.stats.requests == 1  # the second page is never asked for


def test_gitlab_activity_uses_since_and_updated_after(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    project = "/api/v4/projects/acme%2Fwidgets"
    fake.on(
        "GET",
        f"{project}/repository/commits",
        json_response(
            200,
            [
                {
                    "id": "c" * 40,
                    "message": "Refs ACME-1",
                    "committed_date": "2026-03-03T10:00:00.000Z",
                    "web_url": "w",
                }
            ],
        ),
    )
    fake.on(
        "GET",
        f"{project}/merge_requests",
        json_response(
            200,
            [
                {
                    "iid": 4,
                    "title": "T",
                    "description": None,
                    "source_branch": "12-x",
                    "updated_at": "2026-03-02T00:00:00.000Z",
                    "web_url": "u",
                }
            ],
        ),
    )

    (commits,) = gitlab.iter_activity_pages("commits", since=SINCE)
    (requests,) = gitlab.iter_activity_pages("requests", since=SINCE)

    assert fake.params(0) == {"since": "2026-03-01T00:00:00Z", "per_page": "100"}
    assert fake.params(1) == {
        "state": "all",
        "updated_after": "2026-03-01T00:00:00Z",
        "order_by": "updated_at",
        "sort": "desc",
        "per_page": "100",
    }
    assert (commits[0].kind, commits[0].text) == ("commit", "Refs ACME-1")
    assert (requests[0].kind, requests[0].id, requests[0].text, requests[0].branch) == (
        "merge_request",
        "4",
        "",
        "12-x",
    )


def test_only_forges_declare_dev_activity() -> None:
    assert {name for name, adapter in PROVIDERS.items() if adapter.capabilities.dev_activity} == {
        "github",
        "gitlab",
    }


# ---- webhooks ---------------------------------------------------------------------------------------------


def _github_hook(github: GitHubAdapter, event: str, payload: dict[str, Any]) -> Any:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": "d-1"}
    return github.parse_webhook(headers, json.dumps(payload).encode())


def test_a_github_push_is_activity_of_its_commits(github: GitHubAdapter) -> None:
    commit = {"id": "d" * 40, "message": "Fixes #2", "timestamp": "2026-03-01T12:00:00+01:00", "url": "u"}
    payload = {"ref": "refs/heads/main", "commits": [commit], "repository": {"full_name": "acme/widgets"}}

    delivery = _github_hook(github, "push", payload)

    assert delivery.kind is DeliveryKind.ACTIVITY
    (item,) = delivery.activity
    assert (item.kind, item.id, item.text, item.at) == (
        "commit",
        "d" * 40,
        "Fixes #2",
        datetime(2026, 3, 1, 11, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            {"ref": "refs/heads/x", "commits": [], "repository": {"full_name": "acme/widgets"}},
            "a push without commits",
        ),
        (
            {"ref": "refs/heads/x", "commits": [{"id": "e"}], "repository": {"full_name": "other/repo"}},
            "about other/repo, not acme/widgets",
        ),
    ],
)
def test_pushes_without_commits_or_of_another_repository_are_ignored(
    github: GitHubAdapter, payload: dict[str, Any], reason: str
) -> None:
    delivery = _github_hook(github, "push", payload)
    assert (delivery.kind, delivery.reason) == (DeliveryKind.IGNORED, reason)


def test_a_github_pull_request_opened_is_activity_and_a_malformed_one_a_400(github: GitHubAdapter) -> None:
    pull = _pull(5, "2026-03-01T00:00:00Z", "5-x")
    opened = _github_hook(github, "pull_request", {"action": "opened", "pull_request": pull, "number": 5})
    assert [(a.kind, a.id, a.branch) for a in opened.activity] == [("pull_request", "5", "5-x")]
    closed = _github_hook(github, "pull_request", {"action": "closed", "pull_request": pull, "number": 5})
    assert closed.kind is DeliveryKind.IGNORED
    with pytest.raises(WebhookPayloadError):
        _github_hook(github, "pull_request", {"action": "opened", "pull_request": {"number": 5}})
    with pytest.raises(WebhookPayloadError):
        _github_hook(github, "push", {"commits": "not a list", "repository": {"full_name": "acme/widgets"}})


def test_a_gitlab_merge_request_hook_is_activity(gitlab: GitLabAdapter) -> None:
    attributes = {
        "iid": 3,
        "title": "Importer",
        "description": "Closes #2",
        "source_branch": "feature/ACME-1-x",
        "updated_at": "2026-03-01 12:00:00 UTC",
        "url": "https://gitlab.example.test/acme/widgets/-/merge_requests/3",
        "action": "open",
    }
    payload = {
        "object_kind": "merge_request",
        "project": {"id": 4242, "path_with_namespace": "acme/widgets"},
        "object_attributes": attributes,
    }
    delivery = gitlab.parse_webhook({"X-Gitlab-Event": "Merge Request Hook"}, json.dumps(payload).encode())
    assert delivery.kind is DeliveryKind.ACTIVITY
    (item,) = delivery.activity
    assert (item.kind, item.id, item.text, item.branch, item.url) == (
        "merge_request",
        "3",
        "Closes #2",
        "feature/ACME-1-x",
        attributes["url"],
    )
    merged = {**payload, "object_attributes": {**attributes, "action": "merge"}}
    assert gitlab.parse_webhook({}, json.dumps(merged).encode()).kind is DeliveryKind.IGNORED
