"""Fidelity: drive the GitLab sandbox with python-gitlab, the client users already script with.

Where python-gitlab's expectations and the sandbox disagree, the sandbox is wrong. These tests use
python-gitlab's public API; httpx appears only where python-gitlab cannot say what is being tested (a 304 with
``If-None-Match``, a body python-gitlab refuses to send) and to read the sandbox's own counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gitlab as pygitlab
import httpx
import pytest

from infra.local.trackers.gitlab import GitLabSandbox

pytestmark = pytest.mark.integration

ISSUES_ROUTE = "GET /api/v4/projects/{id}/issues"


@pytest.fixture
def client(gitlab: GitLabSandbox) -> Iterator[pygitlab.Gitlab]:
    gl = pygitlab.Gitlab(gitlab.url, private_token=gitlab.token, per_page=50)
    try:
        yield gl
    finally:
        gl.session.close()


def test_lists_every_issue_across_offset_pages(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    project = client.projects.get("acme/widgets")

    seen = [issue.iid for issue in project.issues.list(get_all=True, order_by="created_at", sort="asc")]

    assert seen == list(range(1, 121))
    assert gitlab.requests()["by_route"][ISSUES_ROUTE] == 3  # 120 issues, 50 a page
    walk = project.issues.list(iterator=True)
    assert walk.total == 120
    assert walk.total_pages == 3
    assert walk.per_page == 50
    assert [issue.iid for issue in walk][:3] == [120, 119, 118]  # default order: created_at desc


def test_keyset_pagination_walks_every_issue_once(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    project = client.projects.get(4242, lazy=True)

    walk = project.issues.list(iterator=True, pagination="keyset", order_by="id", sort="asc")
    seen = [issue.iid for issue in walk]

    assert seen == list(range(1, 121))
    assert walk.total is None
    assert walk.total_pages is None
    assert gitlab.requests()["by_route"][ISSUES_ROUTE] == 3  # 50 + 50 + 20; the last page has no next link


def test_issues_are_addressed_by_iid_not_id(client: pygitlab.Gitlab) -> None:
    project = client.projects.get("acme/widgets")

    issue = project.issues.get(5)

    assert issue.iid == 5
    assert issue.id != 5
    assert issue.project_id == project.id
    assert issue.references["full"] == "acme/widgets#5"
    with pytest.raises(pygitlab.GitlabGetError) as caught:
        project.issues.get(issue.id)
    assert caught.value.response_code == 404


def test_create_note_and_close(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    project = client.projects.get("acme/widgets")
    gitlab.clock.freeze(1_800_000_000)

    created = project.issues.create(
        {"title": "Disk full on db-1", "description": "Alarm fired", "labels": "bug"}
    )
    assert created.iid == 121
    assert created.state == "opened"
    assert created.labels == ["bug"]
    assert created.created_at == "2027-01-15T08:00:00.000Z"

    gitlab.clock.advance(30)
    created.notes.create({"body": "Investigating"})
    # Issue has ThrottledTouch: a note within a minute of the last update leaves updated_at alone ...
    assert project.issues.get(created.iid).updated_at == "2027-01-15T08:00:00.000Z"
    gitlab.clock.advance(90)
    created.notes.create({"body": "Root cause found"})
    # ... and a later one moves it (Note after_save :touch_noteable).
    fetched = project.issues.get(created.iid)
    assert fetched.updated_at == "2027-01-15T08:02:00.000Z"
    assert fetched.user_notes_count == 2

    gitlab.clock.advance(60)
    fetched.state_event = "close"
    fetched.save()
    closed = project.issues.get(created.iid)
    assert closed.state == "closed"
    assert closed.closed_at == "2027-01-15T08:03:00.000Z"
    assert closed.attributes["closed_by"]["username"] == "sandbox-bot"
    # Closing writes a resource state event, not a note.
    assert [note.body for note in closed.notes.list(get_all=True, sort="asc")] == [
        "Investigating",
        "Root cause found",
    ]
    states = client.http_list(f"/projects/4242/issues/{created.iid}/resource_state_events", get_all=True)
    assert [event["state"] for event in states] == ["closed"]

    closed.state_event = "reopen"
    closed.save()
    assert project.issues.get(created.iid).state == "opened"


def test_notes_list_includes_system_notes(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    project = client.projects.get("acme/widgets")
    iid = next(i.iid for i in gitlab.state.live_issues() if not i.assignees)
    issue = project.issues.get(iid)
    assignee = gitlab.state.users["ada.stone"]

    issue.title = "Renamed by a script"
    issue.assignee_ids = [assignee.id]
    issue.save()

    notes = issue.notes.list(get_all=True, sort="asc")
    system = [note.body for note in notes if note.system]
    assert "changed title from **" in system[-2]
    assert system[-2].endswith("** to **Renamed by a script**")
    assert system[-1] == "assigned to @ada.stone"
    refreshed = project.issues.get(iid)
    assert refreshed.user_notes_count == sum(1 for note in notes if not note.system)
    only_comments = issue.notes.list(get_all=True, activity_filter="only_comments")
    assert all(not note.system for note in only_comments)
    assert len(only_comments) == 3


def test_rate_limit_headers_on_every_response(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    first = client.http_request("get", "/projects/4242")
    second = client.http_request("get", "/projects/4242/issues")

    assert first.headers["RateLimit-Name"] == "throttle_authenticated_api"
    assert first.headers["RateLimit-Limit"] == "120"  # 7,200 per hour, normalised to a minute
    assert int(second.headers["RateLimit-Observed"]) == int(first.headers["RateLimit-Observed"]) + 1
    assert int(second.headers["RateLimit-Remaining"]) == 7200 - int(second.headers["RateLimit-Observed"])
    reset = int(second.headers["RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 3600  # an absolute epoch, not a delta


def test_python_gitlab_obeys_retry_after_on_429(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    gitlab.add_faults([{"route": ISSUES_ROUTE, "status": 429, "times": 1, "retry_after_s": 1}])
    project = client.projects.get(4242, lazy=True)
    started = time.monotonic()

    issues = project.issues.list(per_page=5, get_all=False)

    assert len(issues) == 5
    assert time.monotonic() - started >= 1.0  # python-gitlab slept for Retry-After, then retried
    assert gitlab.requests()["by_route"][ISSUES_ROUTE] == 2


def test_primary_limit_is_a_plain_text_429(gitlab: GitLabSandbox) -> None:
    gitlab.reset(rate_limit=2)
    gl = pygitlab.Gitlab(gitlab.url, private_token=gitlab.token)
    gl.projects.get(4242)
    gl.projects.get(4242)

    with pytest.raises(pygitlab.GitlabGetError) as caught:
        gl.projects.get(4242, obey_rate_limit=False)

    assert caught.value.response_code == 429
    assert caught.value.response_body == b"Retry later\n"
    gl.session.close()


def test_conditional_request_is_304_and_still_counted(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    first = gitlab_http.get("/projects/4242/issues", params={"per_page": 5})
    etag = first.headers["ETag"]

    again = gitlab_http.get("/projects/4242/issues", params={"per_page": 5}, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert gitlab.requests()["not_modified"] == 1
    # Rack::Attack counts every request: unlike GitHub, a GitLab 304 is not free.
    assert int(again.headers["RateLimit-Observed"]) == int(first.headers["RateLimit-Observed"]) + 1
    gitlab.mutate("update", iid=120, fields={"title": "Changed behind the client's back"})
    changed = gitlab_http.get(
        "/projects/4242/issues", params={"per_page": 5}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()[0]["title"] == "Changed behind the client's back"


def test_bad_token_unknown_project_and_outsider(gitlab: GitLabSandbox, client: pygitlab.Gitlab) -> None:
    bad = pygitlab.Gitlab(gitlab.url, private_token="not-a-real-token")
    with pytest.raises(pygitlab.GitlabAuthenticationError) as unauthorized:
        bad.projects.get("acme/widgets")
    assert unauthorized.value.response_code == 401
    assert unauthorized.value.error_message == "401 Unauthorized"
    bad.session.close()

    with pytest.raises(pygitlab.GitlabGetError) as unknown:
        client.projects.get("acme/nothing-here")
    assert unknown.value.response_code == 404
    assert unknown.value.error_message == "404 Project Not Found"

    outsider = pygitlab.Gitlab(gitlab.url, private_token=gitlab.outsider_token)
    with pytest.raises(pygitlab.GitlabGetError) as hidden:
        outsider.projects.get("acme/widgets")
    assert hidden.value.response_code == 404  # a private project is hidden, not forbidden
    outsider.session.close()


def test_bad_issue_input_gets_gitlab_error_shapes(client: pygitlab.Gitlab, gitlab_http: httpx.Client) -> None:
    project = client.projects.get("acme/widgets")

    # python-gitlab checks required attributes itself, so the missing title goes over httpx.
    with pytest.raises(AttributeError):
        project.issues.create({})
    missing = gitlab_http.post("/projects/4242/issues", json={"description": "no title"})
    assert missing.status_code == 400
    assert missing.json() == {"error": "title is missing"}

    with pytest.raises(pygitlab.GitlabCreateError) as blank:
        project.issues.create({"title": "   "})
    assert blank.value.response_code == 400
    assert blank.value.error_message == {"title": ["can't be blank"]}

    issue = project.issues.get(1)
    issue.state_event = "archive"
    with pytest.raises(pygitlab.GitlabUpdateError) as bad_event:
        issue.save()
    assert bad_event.value.error_message == "state_event does not have a valid value"
