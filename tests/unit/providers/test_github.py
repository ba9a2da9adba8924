"""The GitHub adapter: request shapes, pagination, conditional requests and normalization."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from trackbridge.domain.connections import Connection, Scope
from trackbridge.domain.errors import InvalidInput, UnsupportedCapability, ValidationFailed
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.etags import ETagCache
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import IssueChanges, IssueDraft, TrackerConfig

from .conftest import CONNECTION_ID, NOW, FakeTracker, gh_comment, gh_issue, json_response

REPO = "/repos/acme/widgets"
API = "https://api.github.com"


def _link(path: str, page: int) -> dict[str, str]:
    return {"link": f'<{API}{path}?page={page}>; rel="next"'}


def test_full_sync_pages_in_creation_order_and_skips_pull_requests(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    # Given two pages, the first holding a pull request
    first = [
        gh_issue(1),
        gh_issue(2, pull_request={"url": "https://api.github.com/repos/acme/widgets/pulls/2"}),
    ]
    fake.on(
        "GET",
        f"{REPO}/issues",
        json_response(200, first, _link(f"{REPO}/issues", 2)),
        json_response(200, [gh_issue(3)]),
    )
    # When the adapter pages through without a since
    pages = list(github.iter_issue_pages(include_closed=True))
    # Then the first request asks for every state, the largest page, oldest created first
    assert fake.params(0) == {"state": "all", "per_page": "100", "sort": "created", "direction": "asc"}
    # And the second follows the Link URL verbatim
    assert str(fake.requests[1].url) == f"{API}{REPO}/issues?page=2"
    assert [i.key for p in pages for i in p.items] == ["#1", "#3"]
    assert (pages[0].raw_count, pages[0].skipped) == (2, 1)
    assert pages[0].next_cursor == PageCursor(url=f"{API}{REPO}/issues?page=2")
    assert pages[1].next_cursor is None
    assert github.stats.requests == 2


def test_incremental_sync_uses_since_and_update_order(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, []))
    since = datetime(2026, 2, 1, 8, 30, 15, 999_000, tzinfo=UTC)
    pages = list(github.iter_issue_pages(since=since, include_closed=False))
    assert fake.params() == {
        "state": "open",
        "per_page": "100",
        "since": "2026-02-01T08:30:15Z",
        "sort": "updated",
        "direction": "asc",
    }
    assert len(pages) == 1
    assert pages[0].items == ()
    assert pages[0].next_cursor is None


def test_resuming_from_a_stored_cursor(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, [gh_issue(7)]))
    cursor = PageCursor.from_dict({"url": f"{API}{REPO}/issues?state=all&per_page=100&page=4"})
    pages = list(github.iter_issue_pages(cursor=cursor))
    assert str(fake.last.url) == f"{API}{REPO}/issues?state=all&per_page=100&page=4"
    assert [i.key for i in pages[0].items] == ["#7"]


def _adapter(fake: FakeTracker, cache: ETagCache) -> GitHubAdapter:
    config = TrackerConfig(API, {"repo": "acme/widgets"}, CONNECTION_ID)
    return GitHubAdapter(config, httpx.BasicAuth("u", "p"), client=fake.client(), etag_cache=cache)


def test_conditional_requests_turn_an_idle_sync_into_304s(fake: FakeTracker) -> None:
    # Given a first run that stored each page's ETag with the cursor that follows it
    first = _adapter(fake, ETagCache())
    page1 = json_response(200, [gh_issue(1)], {"etag": 'W/"p1"', **_link(f"{REPO}/issues", 2)})
    page2 = json_response(200, [gh_issue(2)], {"etag": 'W/"p2"'})
    fake.on("GET", f"{REPO}/issues", page1, page2)
    assert [len(p.items) for p in first.iter_issue_pages()] == [1, 1]
    assert first.etag_cache is not None
    stored = first.etag_cache.to_dict()  # what the sync engine keeps in its SyncState
    assert len(stored) == 2
    # When a later run, with the cache loaded back, asks again and nothing changed
    fake.routes.clear()
    fake.on("GET", f"{REPO}/issues", httpx.Response(304))
    second = _adapter(fake, ETagCache.from_dict(stored))
    pages = list(second.iter_issue_pages())
    # Then each page went out with its ETag, came back 304, and the remembered cursor led past the first
    assert [r.headers.get("if-none-match") for r in fake.requests[-2:]] == ['W/"p1"', 'W/"p2"']
    assert [p.not_modified for p in pages] == [True, True]
    assert all(p.items == () for p in pages)
    assert (second.stats.requests, second.stats.not_modified) == (2, 2)


def test_a_changed_page_after_a_304_is_fetched_in_full(fake: FakeTracker) -> None:
    cache = ETagCache()
    adapter = _adapter(fake, cache)
    fake.on(
        "GET",
        f"{REPO}/issues",
        json_response(200, [gh_issue(1)], {"etag": 'W/"p1"', **_link(f"{REPO}/issues", 2)}),
        json_response(200, [gh_issue(2)], {"etag": 'W/"p2"'}),
        httpx.Response(304),
        json_response(200, [gh_issue(2, title="changed")], {"etag": 'W/"p2b"'}),
    )
    list(adapter.iter_issue_pages())
    pages = list(adapter.iter_issue_pages())
    assert [p.not_modified for p in pages] == [True, False]
    assert pages[1].items[0].title == "changed"
    assert cache.get(str(fake.requests[-1].url)) is not None


def test_without_a_cache_no_conditional_header_is_sent(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, [], {"etag": 'W/"x"'}))
    list(github.iter_issue_pages())
    assert "if-none-match" not in fake.last.headers


def test_normalization(github: GitHubAdapter) -> None:
    raw = gh_issue(
        12,
        state="closed",
        state_reason="not_planned",
        body=None,
        assignees=[{"login": "octocat"}, {"login": "hubot"}],
        labels=[{"name": "bug"}, {"name": "p1"}],
    )
    issue = github.normalize_issue(raw)
    assert issue.ref == f"{CONNECTION_ID}.12"
    assert issue.external_id == f"github:{API}/repos/acme/widgets:12"
    assert issue.key == "#12"
    assert (issue.status, issue.status_category) == ("closed", "done")
    assert issue.body == ""
    assert issue.assignees == ["octocat", "hubot"]
    assert issue.labels == ["bug", "p1"]
    assert issue.priority is None
    assert issue.url == "https://github.com/acme/widgets/issues/12"
    assert issue.content_hash == issue.compute_hash()
    assert len(issue.content_hash) == 64
    assert github.normalize_issue(gh_issue(1, state="open")).status_category == "todo"
    # The hash moves with content, not with bookkeeping
    assert github.normalize_issue({**raw, "title": "other"}).content_hash != issue.content_hash
    assert github.normalize_issue({**raw, "id": 999}).content_hash == issue.content_hash


def test_external_id_matches_the_domain_connection_rule(github: GitHubAdapter) -> None:
    connection = Connection(
        id=CONNECTION_ID,
        name="w",
        provider="github",
        base_url=API,
        scope=Scope(repo="acme/widgets"),
        created_at=NOW,
        updated_at=NOW,
    )
    assert (
        GitHubAdapter(TrackerConfig.from_connection(connection), httpx.BasicAuth("u", "p")).locator
        == connection.locator
    )
    assert github.normalize_issue(gh_issue(5)).external_id == connection.external_id(5)


def test_malformed_issue_is_a_malformed_response(github: GitHubAdapter, fake: FakeTracker) -> None:
    from trackbridge.providers.errors import MalformedResponseError

    fake.on("GET", f"{REPO}/issues", json_response(200, [{"number": 1}]))
    with pytest.raises(MalformedResponseError):
        list(github.iter_issue_pages())
    fake.routes.clear()
    fake.on("GET", f"{REPO}/issues", json_response(200, {"not": "a list"}))
    with pytest.raises(MalformedResponseError):
        list(github.iter_issue_pages())


def test_repo_wide_comments_skip_pull_request_comments(github: GitHubAdapter, fake: FakeTracker) -> None:
    pr_comment = gh_comment(11, 2, html_url="https://github.com/acme/widgets/pull/2#issuecomment-11")
    fake.on("GET", f"{REPO}/issues/comments", json_response(200, [gh_comment(10, 1), pr_comment]))
    since = datetime(2026, 2, 1, tzinfo=UTC)
    pages = list(github.iter_comment_pages(since=since))
    assert fake.params() == {
        "per_page": "100",
        "direction": "asc",
        "since": "2026-02-01T00:00:00Z",
        "sort": "updated",
    }
    comment = pages[0].items[0]
    assert (comment.id, comment.issue_ref, comment.author) == ("10", f"{CONNECTION_ID}.1", "hubot")
    assert (pages[0].raw_count, pages[0].skipped) == (2, 1)
    list(github.iter_comment_pages())
    assert fake.params()["sort"] == "created"


def test_issue_comments_users_and_get(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues/3/comments", json_response(200, [gh_comment(1, 3), gh_comment(2, 3)]))
    comments = github.list_issue_comments("#3", since=datetime(2026, 1, 1, tzinfo=UTC))
    assert [c.id for c in comments] == ["1", "2"]
    assert fake.params() == {"per_page": "100", "since": "2026-01-01T00:00:00Z"}
    fake.on("GET", f"{REPO}/assignees", json_response(200, [{"login": "octocat", "id": 1}]))
    users = github.list_users()
    assert (users[0].id, users[0].login, users[0].connection_id) == ("1", "octocat", CONNECTION_ID)
    fake.on("GET", f"{REPO}/issues/3", json_response(200, gh_issue(3)))
    assert github.get_issue("3").key == "#3"
    fake.on("GET", f"{REPO}/issues/4", json_response(200, gh_issue(4, pull_request={})))
    with pytest.raises(NotFoundError, match="pull request"):
        github.get_issue("#4")
    with pytest.raises(InvalidInput):
        github.get_issue("OPS-4")
    assert len(fake.requests) == 4  # the bad key never reached the tracker


def test_create_issue(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "POST", f"{REPO}/issues", json_response(201, gh_issue(9, title="Disk full", labels=[{"name": "ops"}]))
    )
    draft = IssueDraft(
        "Disk full",
        "**db1** at 95%",
        labels=("ops",),
        assignees=("octocat",),
        priority="high",
        fields={"milestone": 3},
    )
    issue = github.create_issue(draft)
    assert fake.last.method == "POST"
    assert fake.body() == {
        "milestone": 3,
        "title": "Disk full",
        "body": "**db1** at 95%",
        "labels": ["ops"],
        "assignees": ["octocat"],
    }
    assert issue.key == "#9"


def test_update_issue_with_label_edits(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("POST", f"{REPO}/issues/9/labels", json_response(200, [{"name": "ops"}, {"name": "urgent"}]))
    fake.on(
        "DELETE",
        f"{REPO}/issues/9/labels/needs%20triage",
        json_response(404, {"message": "Label does not exist"}),
    )
    fake.on("PATCH", f"{REPO}/issues/9", json_response(200, gh_issue(9, title="New")))
    issue = github.update_issue(
        "#9", IssueChanges(title="New", add_labels=("urgent",), remove_labels=("needs triage",))
    )
    assert [(r.method, r.url.raw_path.decode()) for r in fake.requests] == [
        ("POST", f"{REPO}/issues/9/labels"),
        ("DELETE", f"{REPO}/issues/9/labels/needs%20triage"),
        ("PATCH", f"{REPO}/issues/9"),
    ]
    assert fake.body(0) == {"labels": ["urgent"]}
    assert fake.body(2) == {"title": "New"}
    assert issue.title == "New"


def test_update_with_nothing_to_change_reads_the_issue(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues/9", json_response(200, gh_issue(9)))
    assert github.update_issue("9", IssueChanges()).key == "#9"
    assert [r.method for r in fake.requests] == ["GET"]


@pytest.mark.parametrize(
    ("target", "payload"),
    [
        ("done", {"state": "closed", "state_reason": "completed"}),
        ("not_planned", {"state": "closed", "state_reason": "not_planned"}),
        ("Close_Duplicate", {"state": "closed", "state_reason": "duplicate"}),
        ("todo", {"state": "open"}),
        ("reopen", {"state": "open"}),
    ],
)
def test_transitions(github: GitHubAdapter, fake: FakeTracker, target: str, payload: dict[str, str]) -> None:
    state = "closed" if payload["state"] == "closed" else "open"
    fake.on("PATCH", f"{REPO}/issues/5", json_response(200, gh_issue(5, state=state)))
    issue = github.transition_issue("#5", target)
    assert fake.body() == payload
    assert issue.status == state


def test_unknown_transition_is_bad_input(github: GitHubAdapter, fake: FakeTracker) -> None:
    with pytest.raises(ValidationFailed) as caught:
        github.transition_issue("#5", "in_progress")
    assert "todo" in caught.value.details["accepted"]
    assert fake.requests == []


def test_list_transitions_depends_on_state(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        f"{REPO}/issues/5",
        json_response(200, gh_issue(5)),
        json_response(200, gh_issue(5, state="closed")),
    )
    assert [t.id for t in github.list_transitions("5")] == ["close", "close_not_planned", "close_duplicate"]
    assert [(t.id, t.to_category) for t in github.list_transitions("5")] == [("reopen", "todo")]


def test_add_comment(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("POST", f"{REPO}/issues/5/comments", json_response(201, gh_comment(77, 5, body="Seen again")))
    comment = github.add_comment("#5", "Seen again")
    assert fake.body() == {"body": "Seen again"}
    assert (comment.id, comment.issue_ref, comment.body) == ("77", f"{CONNECTION_ID}.5", "Seen again")


def test_search(github: GitHubAdapter, fake: FakeTracker) -> None:
    body = {
        "total_count": 2,
        "incomplete_results": False,
        "items": [gh_issue(1), gh_issue(2, pull_request={})],
    }
    fake.on("GET", "/search/issues", json_response(200, body))
    found = github.search_issues("label:tb-1a2b3c", limit=10)
    assert fake.params() == {"q": "repo:acme/widgets is:issue label:tb-1a2b3c", "per_page": "10"}
    assert [i.key for i in found] == ["#1"]


def test_webhook_registration(github: GitHubAdapter, fake: FakeTracker) -> None:
    created = {
        "id": 321,
        "active": True,
        "events": ["issues", "issue_comment"],
        "config": {"url": "https://hooks.example.com/x", "content_type": "json"},
    }
    fake.on("POST", f"{REPO}/hooks", json_response(201, created))
    hook = github.register_webhook("https://hooks.example.com/x", "hook-secret")
    assert fake.body() == {
        "name": "web",
        "active": True,
        "events": ["issues", "issue_comment", "push", "pull_request"],
        "config": {
            "url": "https://hooks.example.com/x",
            "content_type": "json",
            "secret": "hook-secret",
            "insecure_ssl": "0",
        },
    }
    assert (hook.id, hook.url, hook.events) == (
        "321",
        "https://hooks.example.com/x",
        ("issues", "issue_comment"),
    )
    fake.on("DELETE", f"{REPO}/hooks/321", httpx.Response(204), json_response(404, {"message": "Not Found"}))
    github.unregister_webhook("321")
    github.unregister_webhook("321")  # already gone: fine
    assert [r.method for r in fake.requests[-2:]] == ["DELETE", "DELETE"]


def test_security_advisories(github: GitHubAdapter, fake: FakeTracker) -> None:
    advisory = {
        "ghsa_id": "GHSA-abcd-efgh-ijkl",
        "cve_id": "CVE-2026-0001",
        "summary": "XSS",
        "severity": "high",
        "state": "published",
        "html_url": "https://github.com/acme/widgets/security/advisories/GHSA-abcd-efgh-ijkl",
        "published_at": "2026-02-01T00:00:00Z",
        "updated_at": "2026-02-02T00:00:00Z",
    }
    fake.on("GET", f"{REPO}/security-advisories", json_response(200, [advisory]))
    found = github.list_security_advisories(state="published")
    assert fake.params() == {"per_page": "100", "sort": "updated", "direction": "asc", "state": "published"}
    assert found[0]["id"] == "GHSA-abcd-efgh-ijkl"
    assert found[0]["severity"] == "high"


def test_unsupported_operations_say_so(github: GitHubAdapter) -> None:
    for call in (
        lambda: github.list_worklogs("#1"),
        lambda: github.list_sprints(),
        lambda: github.attach_file("#1", "a.txt", b"x", "text/plain"),
    ):
        with pytest.raises(UnsupportedCapability) as caught:
            call()
        assert caught.value.details["provider"] == "github"


def test_web_address_maps_to_the_api_host(fake: FakeTracker) -> None:
    adapter = GitHubAdapter(
        TrackerConfig("https://github.com", {"repo": "acme/widgets"}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
    )
    fake.on("GET", f"{REPO}/issues/1", json_response(200, gh_issue(1)))
    adapter.get_issue("1")
    assert fake.last.url.host == "api.github.com"


def test_connection_test_all_good(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        "/user",
        json_response(200, {"login": "octocat", "id": 1}, {"x-oauth-scopes": "repo, read:org"}),
    )
    fake.on(
        "GET",
        REPO,
        json_response(
            200,
            {
                "full_name": "acme/widgets",
                "private": True,
                "has_issues": True,
                "permissions": {"admin": True, "push": True, "pull": True},
            },
        ),
    )
    fake.on("GET", f"{REPO}/hooks", json_response(200, []))
    report = github.test_connection()
    assert report.ok
    assert report.identity == "octocat"
    assert [c.name for c in report.checks] == ["auth", "scopes", "repository", "webhooks"]
    assert "admin" in (report.check("repository") or object()).message  # type: ignore[union-attr]
    assert report.to_dict()["ok"] is True


def test_connection_test_reports_each_problem_with_guidance(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/user", json_response(200, {"login": "octocat"}, {"x-oauth-scopes": "read:user"}))
    fake.on("GET", REPO, json_response(200, {"full_name": "acme/widgets", "has_issues": False}))
    fake.on("GET", f"{REPO}/hooks", json_response(403, {"message": "Must have admin rights to Repository."}))
    report = github.test_connection()
    assert not report.ok
    failed = {c.name: c for c in report.checks if not c.ok}
    assert set(failed) == {"scopes", "repository", "webhooks"}
    assert all(c.guidance for c in failed.values())


def test_connection_test_stops_after_bad_credentials(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/user", json_response(401, {"message": "Bad credentials"}))
    report = github.test_connection()
    auth = report.check("auth")
    assert auth is not None
    assert not auth.ok
    assert auth.code == "AUTH_INVALID"
    assert auth.guidance
    assert "token" in auth.guidance
    assert [c.message for c in report.checks[1:]] == ["skipped: authentication failed"] * 3
    assert len(fake.requests) == 1
