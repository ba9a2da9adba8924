"""The GitLab adapter: keyset pagination (and its fallback), notes, writes, uploads, webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from trackbridge.domain.connections import Connection, Scope
from trackbridge.domain.errors import UnsupportedCapability, ValidationFailed
from trackbridge.providers.errors import InvalidRequestError, RateLimitedError
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import IssueChanges, IssueDraft, TrackerConfig

from .conftest import CONNECTION_ID, NOW, FakeTracker, Sleeps, gl_issue, gl_note, json_response

BASE = "https://gitlab.example.com"
PROJECT = "/api/v4/projects/acme%2Fwidgets"


def test_full_sync_uses_keyset_by_id(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    next_url = f"{BASE}{PROJECT}/issues?id_after=2&order_by=id&pagination=keyset&per_page=100&sort=asc"
    fake.on(
        "GET",
        f"{PROJECT}/issues",
        json_response(200, [gl_issue(1), gl_issue(2)], {"link": f'<{next_url}>; rel="next"'}),
        json_response(200, [gl_issue(3)]),
    )
    pages = list(gitlab.iter_issue_pages())
    assert fake.params(0) == {"per_page": "100", "sort": "asc", "order_by": "id", "pagination": "keyset"}
    assert str(fake.requests[1].url) == next_url
    assert [i.key for p in pages for i in p.items] == ["#1", "#2", "#3"]
    assert pages[0].next_cursor == PageCursor(url=next_url)
    assert fake.requests[0].headers["PRIVATE-TOKEN"].startswith("glpat-")
    assert "authorization" not in fake.requests[0].headers


def test_incremental_sync_uses_updated_after(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{PROJECT}/issues", json_response(200, []))
    list(gitlab.iter_issue_pages(since=datetime(2026, 2, 1, 9, 0, tzinfo=UTC), include_closed=False))
    assert fake.params() == {
        "per_page": "100",
        "sort": "asc",
        "state": "opened",
        "updated_after": "2026-02-01T09:00:00Z",
        "order_by": "updated_at",
        "pagination": "keyset",
    }


def test_falls_back_to_offset_when_keyset_is_refused(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    refused = json_response(405, {"error": "Keyset pagination is not yet available for this type of request"})
    fake.on("GET", f"{PROJECT}/issues", refused, json_response(200, [gl_issue(1)]))
    pages = list(gitlab.iter_issue_pages())
    assert fake.params(1) == {"per_page": "100", "sort": "asc", "order_by": "created_at"}
    assert [i.key for i in pages[0].items] == ["#1"]
    # The answer is remembered: the next listing goes straight to offset pagination
    list(gitlab.iter_issue_pages())
    assert "pagination" not in fake.params()
    assert len(fake.requests) == 3


def test_other_errors_on_the_first_page_are_not_swallowed(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{PROJECT}/issues", json_response(400, {"error": "state does not have a valid value"}))
    with pytest.raises(InvalidRequestError):
        list(gitlab.iter_issue_pages())
    assert len(fake.requests) == 1


def test_a_throttled_listing_waits_retry_after(
    gitlab: GitLabAdapter, fake: FakeTracker, sleeps: Sleeps
) -> None:
    throttled = httpx.Response(
        429, text="Retry later\n", headers={"Retry-After": "2", "RateLimit-Remaining": "0"}
    )
    fake.on("GET", f"{PROJECT}/issues", throttled, json_response(200, [gl_issue(1)]))
    pages = list(gitlab.iter_issue_pages())
    assert len(pages[0].items) == 1
    assert 2.0 <= sleeps.calls[0] <= 2.2
    fake.routes.clear()
    fake.on(
        "GET", f"{PROJECT}/issues", httpx.Response(429, text="Retry later\n", headers={"Retry-After": "600"})
    )
    with pytest.raises(RateLimitedError) as caught:
        list(gitlab.iter_issue_pages())
    assert caught.value.retry_after_s == 600
    assert caught.value.message == "Retry later"


def test_normalization(gitlab: GitLabAdapter) -> None:
    issue = gitlab.normalize_issue(gl_issue(4, state="closed", description=None))
    assert issue.ref == f"{CONNECTION_ID}.4"
    assert issue.external_id == f"gitlab:{BASE}/projects/acme/widgets:4"
    assert (issue.key, issue.status, issue.status_category) == ("#4", "closed", "done")
    assert issue.body == ""
    assert issue.assignees == ["jdoe"]
    assert issue.labels == ["bug", "priority::high"]
    assert issue.priority == "high"
    assert issue.url == f"{BASE}/acme/widgets/-/issues/4"
    assert gitlab.normalize_issue(gl_issue(5)).status_category == "todo"
    detailed = gitlab.normalize_issue(gl_issue(6, labels=[{"name": "bug", "color": "#f00"}]))
    assert detailed.labels == ["bug"]
    assert detailed.priority is None


def test_external_id_matches_the_domain_connection_rule(gitlab: GitLabAdapter) -> None:
    connection = Connection(
        id=CONNECTION_ID,
        name="w",
        provider="gitlab",
        base_url=BASE,
        scope=Scope(project="acme/widgets"),
        created_at=NOW,
        updated_at=NOW,
    )
    assert gitlab.locator == connection.locator
    assert gitlab.normalize_issue(gl_issue(8)).external_id == connection.external_id(8)


def test_api_prefix_is_added_once(fake: FakeTracker) -> None:
    for base in (BASE, f"{BASE}/", f"{BASE}/api/v4"):
        adapter = GitLabAdapter(
            TrackerConfig(base, {"project": "42"}, CONNECTION_ID),
            httpx.BasicAuth("u", "p"),
            client=fake.client(),
        )
        assert adapter.api_base == f"{BASE}/api/v4"
        assert adapter.project_path == "/projects/42"


def test_notes_drop_system_notes_and_filter_by_since(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    notes = [
        gl_note(1),
        gl_note(2, system=True, body="changed the description"),
        gl_note(3, updated_at="2026-02-03T00:00:00.000Z"),
    ]
    fake.on("GET", f"{PROJECT}/issues/4/notes", json_response(200, notes))
    comments = gitlab.list_issue_comments("#4")
    assert fake.params() == {"per_page": "100", "sort": "asc", "order_by": "created_at"}
    assert [c.id for c in comments] == ["1", "3"]
    assert comments[0].issue_ref == f"{CONNECTION_ID}.4"
    assert comments[0].author == "jdoe"
    recent = gitlab.list_issue_comments("4", since=datetime(2026, 2, 2, tzinfo=UTC))
    assert [c.id for c in recent] == ["3"]


def test_repo_wide_comments_are_not_offered(gitlab: GitLabAdapter) -> None:
    with pytest.raises(UnsupportedCapability):
        gitlab.iter_comment_pages()


def test_users_are_project_members(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    members = [
        {"id": 7, "username": "jdoe", "name": "J. Doe", "state": "active"},
        {"id": 8, "username": "gone", "state": "blocked"},
    ]
    fake.on("GET", f"{PROJECT}/members/all", json_response(200, members))
    users = gitlab.list_users()
    assert [(u.id, u.login, u.display_name, u.active) for u in users] == [
        ("7", "jdoe", "J. Doe", True),
        ("8", "gone", None, False),
    ]


def test_create_issue_resolves_assignees_and_priority(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/api/v4/users", json_response(200, [{"id": 7, "username": "jdoe"}]))
    fake.on("POST", f"{PROJECT}/issues", json_response(201, gl_issue(10, title="Disk full")))
    issue = gitlab.create_issue(
        IssueDraft("Disk full", "db1 at 95%", labels=("ops",), assignees=("jdoe",), priority="high")
    )
    assert fake.params(0) == {"username": "jdoe"}
    assert fake.body() == {
        "title": "Disk full",
        "description": "db1 at 95%",
        "labels": "ops,priority::high",
        "assignee_ids": [7],
    }
    assert issue.key == "#10"


def test_unknown_assignee_is_bad_input(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/api/v4/users", json_response(200, []))
    with pytest.raises(ValidationFailed, match="nobody"):
        gitlab.create_issue(IssueDraft("t", assignees=("nobody",)))
    assert [r.method for r in fake.requests] == ["GET"]


def test_update_issue(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("PUT", f"{PROJECT}/issues/10", json_response(200, gl_issue(10, title="New")))
    gitlab.update_issue(
        "#10", IssueChanges(title="New", body="b", add_labels=("x",), remove_labels=("y",), priority="low")
    )
    assert fake.body() == {
        "title": "New",
        "description": "b",
        "add_labels": "x,priority::low",
        "remove_labels": "y",
    }
    gitlab.update_issue("#10", IssueChanges(labels=("a", "b")))
    assert fake.body() == {"labels": "a,b"}


@pytest.mark.parametrize(
    ("target", "event"), [("done", "close"), ("closed", "close"), ("todo", "reopen"), ("Reopen", "reopen")]
)
def test_transitions(gitlab: GitLabAdapter, fake: FakeTracker, target: str, event: str) -> None:
    fake.on(
        "PUT",
        f"{PROJECT}/issues/3",
        json_response(200, gl_issue(3, state="closed" if event == "close" else "opened")),
    )
    gitlab.transition_issue("3", target)
    assert fake.body() == {"state_event": event}


def test_list_transitions(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        f"{PROJECT}/issues/3",
        json_response(200, gl_issue(3)),
        json_response(200, gl_issue(3, state="closed")),
    )
    assert [t.id for t in gitlab.list_transitions("3")] == ["close"]
    assert [t.id for t in gitlab.list_transitions("3")] == ["reopen"]
    with pytest.raises(ValidationFailed):
        gitlab.transition_issue("3", "in_progress")


def test_add_comment(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("POST", f"{PROJECT}/issues/3/notes", json_response(201, gl_note(99, body="again")))
    comment = gitlab.add_comment("#3", "again")
    assert fake.body() == {"body": "again"}
    assert (comment.id, comment.body) == ("99", "again")


def test_attach_uploads_then_posts_the_markdown(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    upload = {
        "alt": "report",
        "url": "/uploads/66dbcd21ec5d24ed6ea225176098d52b/report.txt",
        "full_path": "/acme/widgets/uploads/66dbcd21ec5d24ed6ea225176098d52b/report.txt",
        "markdown": "[report.txt](/uploads/66dbcd21ec5d24ed6ea225176098d52b/report.txt)",
    }
    fake.on("POST", f"{PROJECT}/uploads", json_response(201, upload))
    fake.on("POST", f"{PROJECT}/issues/3/notes", json_response(201, gl_note(5, body=upload["markdown"])))
    attachment = gitlab.attach_file("#3", "report.txt", b"hello", "text/plain")
    assert b'name="file"; filename="report.txt"' in fake.requests[0].content
    assert fake.requests[0].headers["content-type"].startswith("multipart/form-data")
    assert json.loads(fake.requests[1].content) == {"body": upload["markdown"]}
    assert attachment.url == f"{BASE}{upload['full_path']}"
    assert (attachment.filename, attachment.size) == ("report.txt", 5)


def test_search(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{PROJECT}/issues", json_response(200, [gl_issue(1), gl_issue(2)]))
    found = gitlab.search_issues("tb-1a2b", limit=1)
    assert fake.params() == {"search": "tb-1a2b", "per_page": "1", "order_by": "updated_at", "sort": "desc"}
    assert [i.key for i in found] == ["#1"]


def test_webhooks(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("POST", f"{PROJECT}/hooks", json_response(201, {"id": 12, "url": "https://hooks.example.com/g"}))
    hook = gitlab.register_webhook("https://hooks.example.com/g", "tok")
    assert fake.body() == {
        "url": "https://hooks.example.com/g",
        "token": "tok",
        "push_events": True,  # pushes and merge requests: link detection (runtime.link_detection)
        "enable_ssl_verification": True,
        "issues_events": True,
        "confidential_issues_events": True,
        "note_events": True,
        "confidential_note_events": True,
        "merge_requests_events": True,
    }
    assert (hook.id, hook.events) == ("12", ("issues", "notes", "push", "merge_requests"))
    with pytest.raises(ValidationFailed):
        gitlab.register_webhook("https://hooks.example.com/g", "tok", events=["pushes"])
    fake.on(
        "DELETE", f"{PROJECT}/hooks/12", httpx.Response(204), json_response(404, {"message": "404 Not found"})
    )
    gitlab.unregister_webhook("12")
    gitlab.unregister_webhook("12")


def test_connection_test(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    fake.on("GET", "/api/v4/user", json_response(200, {"id": 7, "username": "jdoe"}))
    fake.on(
        "GET",
        "/api/v4/personal_access_tokens/self",
        json_response(200, {"scopes": ["read_api"], "expires_at": "2026-03-05"}),
    )
    fake.on(
        "GET",
        PROJECT,
        json_response(
            200,
            {
                "path_with_namespace": "acme/widgets",
                "issues_enabled": True,
                "permissions": {"project_access": {"access_level": 30}, "group_access": None},
            },
        ),
    )
    fake.on("GET", f"{PROJECT}/hooks", json_response(403, {"message": "403 Forbidden"}))
    report = gitlab.test_connection()
    checks = {c.name: c for c in report.checks}
    assert report.identity == "jdoe"
    assert checks["auth"].ok
    assert checks["scopes"].ok
    assert "read only" in checks["scopes"].message
    assert "api scope" in (checks["scopes"].guidance or "")
    assert "2026-03-05" in (checks["scopes"].guidance or "")
    assert checks["project"].ok
    assert "Developer" in checks["project"].message
    assert not checks["webhooks"].ok
    assert "Maintainer" in (checks["webhooks"].guidance or "")
    assert not report.ok


def test_connection_test_tolerates_tokens_that_cannot_describe_themselves(
    gitlab: GitLabAdapter, fake: FakeTracker
) -> None:
    fake.on("GET", "/api/v4/user", json_response(200, {"username": "jdoe"}))
    fake.on("GET", "/api/v4/personal_access_tokens/self", json_response(404, {"message": "404 Not Found"}))
    fake.on(
        "GET",
        PROJECT,
        json_response(
            200,
            {"path_with_namespace": "acme/widgets", "permissions": {"project_access": {"access_level": 40}}},
        ),
    )
    fake.on("GET", f"{PROJECT}/hooks", json_response(200, []))
    report = gitlab.test_connection()
    assert report.ok
    assert "Maintainer" in (report.check("project") or object()).message  # type: ignore[union-attr]


def test_expired_token_is_reported_as_expired(gitlab: GitLabAdapter, fake: FakeTracker) -> None:
    body = {
        "error": "invalid_token",
        "error_description": "Token is expired. You can either do re-authorization or token refresh.",
    }
    fake.on("GET", "/api/v4/user", json_response(401, body))
    report = gitlab.test_connection()
    assert report.checks[0].code == "AUTH_EXPIRED"
    assert len(fake.requests) == 1


def test_conditional_listing_with_a_cache(fake: FakeTracker) -> None:
    from trackbridge.providers.etags import ETagCache

    cache = ETagCache()
    adapter = GitLabAdapter(
        TrackerConfig(BASE, {"project": "acme/widgets"}, CONNECTION_ID),
        httpx.BasicAuth("u", "p"),
        client=fake.client(),
        etag_cache=cache,
    )
    fake.on(
        "GET", f"{PROJECT}/issues", json_response(200, [gl_issue(1)], {"etag": 'W/"a"'}), httpx.Response(304)
    )
    assert [len(p.items) for p in adapter.iter_issue_pages()] == [1]
    pages = list(adapter.iter_issue_pages())
    assert fake.last.headers["if-none-match"] == 'W/"a"'
    assert [p.not_modified for p in pages] == [True]
    assert adapter.stats.not_modified == 1
