"""A scripted tracker behind ``httpx.MockTransport``: routes answer from queues, every request is recorded.

Unit tests assert the exact request shape (method, path, params, headers, body) an operation sends and feed
it real error bodies; nothing leaves the process and nothing sleeps (the adapters get a fake clock and a
sleep that only records).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from trackbridge.providers.auth import BearerTokenAuth, HeaderTokenAuth
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

CONNECTION_ID = "conn_abcdefghijklmnopqrst"
GITHUB_TOKEN = "ghp_fake.unit.test.token.must.never.leak.0001"
GITLAB_TOKEN = "glpat-fake.unit.test.token.must.never.leak.0002"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


@dataclass
class FakeTracker:
    """Route key ``"GET /repos/acme/widgets/issues"`` (raw path, no query) -> queue of answers.

    The last answer of a queue repeats, so a route scripted once serves any number of calls.
    """

    routes: dict[str, deque[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> FakeTracker:
        self.routes.setdefault(f"{method} {path}", deque()).extend(answers)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        key = f"{request.method} {request.url.raw_path.decode().split('?')[0]}"
        queue = self.routes.get(key)
        if not queue:
            return json_response(404, {"message": f"no route for {key}"})
        answer = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(self.requests[index].url.params)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@dataclass
class Sleeps:
    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def clock_at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


@pytest.fixture
def github(fake: FakeTracker, sleeps: Sleeps) -> Iterator[GitHubAdapter]:
    config = TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID)
    adapter = GitHubAdapter(
        config,
        BearerTokenAuth(GITHUB_TOKEN),
        client=fake.client(),
        clock=clock_at(NOW),
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.5, max_wait_s=30.0, max_rate_limit_waits=2),
    )
    yield adapter
    adapter.client.close()


@pytest.fixture
def gitlab(fake: FakeTracker, sleeps: Sleeps) -> Iterator[GitLabAdapter]:
    config = TrackerConfig("https://gitlab.example.com", {"project": "acme/widgets"}, CONNECTION_ID)
    adapter = GitLabAdapter(
        config,
        HeaderTokenAuth(GITLAB_TOKEN, header="PRIVATE-TOKEN"),
        client=fake.client(),
        clock=clock_at(NOW),
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.5, max_wait_s=30.0, max_rate_limit_waits=2),
    )
    yield adapter
    adapter.client.close()


def gh_issue(number: int, **overrides: Any) -> dict[str, Any]:
    """A GitHub issue as ``GET /repos/{o}/{r}/issues`` returns it (trimmed to the fields that matter)."""
    created = (NOW - timedelta(days=30) + timedelta(hours=number)).strftime("%Y-%m-%dT%H:%M:%SZ")
    issue: dict[str, Any] = {
        "id": 1000 + number,
        "number": number,
        "title": f"Issue {number}",
        "body": f"Body of issue {number}",
        "state": "open",
        "state_reason": None,
        "user": {"login": "octocat", "id": 1},
        "assignee": None,
        "assignees": [],
        "labels": [{"id": 1, "name": "bug", "color": "d73a4a"}],
        "comments": 0,
        "html_url": f"https://github.com/acme/widgets/issues/{number}",
        "url": f"https://api.github.com/repos/acme/widgets/issues/{number}",
        "created_at": created,
        "updated_at": created,
        "closed_at": None,
    }
    issue.update(overrides)
    return issue


def gh_comment(comment_id: int, number: int, **overrides: Any) -> dict[str, Any]:
    comment: dict[str, Any] = {
        "id": comment_id,
        "body": f"comment {comment_id}",
        "user": {"login": "hubot", "id": 2},
        "issue_url": f"https://api.github.com/repos/acme/widgets/issues/{number}",
        "html_url": f"https://github.com/acme/widgets/issues/{number}#issuecomment-{comment_id}",
        "created_at": "2026-02-01T10:00:00Z",
        "updated_at": "2026-02-02T10:00:00Z",
    }
    comment.update(overrides)
    return comment


def gl_issue(iid: int, **overrides: Any) -> dict[str, Any]:
    """A GitLab issue as ``GET /projects/:id/issues`` returns it (trimmed)."""
    created = (NOW - timedelta(days=30) + timedelta(hours=iid)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    issue: dict[str, Any] = {
        "id": 5000 + iid,
        "iid": iid,
        "project_id": 42,
        "title": f"Issue {iid}",
        "description": f"Description {iid}",
        "state": "opened",
        "labels": ["bug", "priority::high"],
        "assignees": [{"id": 7, "username": "jdoe", "name": "J. Doe"}],
        "assignee": {"id": 7, "username": "jdoe", "name": "J. Doe"},
        "author": {"id": 1, "username": "root"},
        "user_notes_count": 1,
        "web_url": f"https://gitlab.example.com/acme/widgets/-/issues/{iid}",
        "created_at": created,
        "updated_at": created,
    }
    issue.update(overrides)
    return issue


def gl_note(note_id: int, *, system: bool = False, **overrides: Any) -> dict[str, Any]:
    note: dict[str, Any] = {
        "id": note_id,
        "body": f"note {note_id}",
        "author": {"id": 7, "username": "jdoe"},
        "system": system,
        "noteable_type": "Issue",
        "created_at": "2026-02-01T10:00:00.000Z",
        "updated_at": "2026-02-01T11:00:00.000Z",
    }
    note.update(overrides)
    return note
