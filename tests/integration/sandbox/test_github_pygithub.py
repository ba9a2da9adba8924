"""Fidelity: drive the GitHub sandbox with PyGithub, the client users already script with.

Where PyGithub's expectations and the sandbox disagree, the sandbox is wrong: these tests use PyGithub's
public API only, never raw requests, except to read the sandbox's own counters.
"""

from __future__ import annotations

from collections.abc import Iterator

import github as pygithub
import pytest

from infra.local.trackers.github import GitHubSandbox

pytestmark = pytest.mark.integration


def _client(github: GitHubSandbox, token: str, **options: int) -> pygithub.Github:
    # retry=None: a test about limits must see the 403 itself, not PyGithub sleeping until the reset.
    # PyGithub spaces requests out by default (0.25 s, 1 s for writes): politeness, not protocol.
    return pygithub.Github(
        base_url=github.url,
        auth=pygithub.Auth.Token(token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        **options,
    )


@pytest.fixture
def client(github: GitHubSandbox) -> Iterator[pygithub.Github]:
    gh = _client(github, github.token, per_page=50)
    try:
        yield gh
    finally:
        gh.close()


def test_lists_every_issue_and_pull_request_across_pages(
    github: GitHubSandbox, client: pygithub.Github
) -> None:
    repo = client.get_repo(github.state.full_name)

    seen = [issue.number for issue in repo.get_issues(state="all", sort="created", direction="asc")]

    truth = [issue.number for issue in github.state.live_issues()]
    assert seen == truth
    assert github.requests()["by_route"]["GET /repos/{owner}/{repo}/issues"] == 3  # 120 issues, 50 a page
    # raw_data: PyGithub's ``pull_request`` property would GET every plain issue to "complete" it.
    pulls = [issue for issue in repo.get_issues(state="all") if "pull_request" in issue.raw_data]
    assert {p.number for p in pulls} == {i.number for i in github.state.live_issues() if i.pull}
    assert repo.get_issues(state="all").totalCount == len(truth)


def test_open_is_the_default_state(github: GitHubSandbox, client: pygithub.Github) -> None:
    repo = client.get_repo(github.state.full_name)

    numbers = {issue.number for issue in repo.get_issues()}

    assert numbers == {i.number for i in github.state.live_issues() if i.state == "open"}


def test_create_comment_and_close(github: GitHubSandbox, client: pygithub.Github) -> None:
    repo = client.get_repo(github.state.full_name)
    github.clock.freeze(1_800_000_000)

    created = repo.create_issue(title="Disk full on db-1", body="Alarm fired", labels=["bug"])
    assert created.number == len(github.state.issues)
    assert created.state == "open"
    assert [label.name for label in created.labels] == ["bug"]

    github.clock.advance(60)
    comment = created.create_comment("Investigating")
    fetched = repo.get_issue(created.number)
    assert comment.body == "Investigating"
    assert fetched.comments == 1
    assert fetched.updated_at.timestamp() == 1_800_000_060  # a comment bumps the issue's updated_at

    github.clock.advance(60)
    fetched.edit(state="closed", state_reason="not_planned")
    closed = repo.get_issue(created.number)
    assert closed.state == "closed"
    assert closed.state_reason == "not_planned"
    assert closed.closed_at is not None
    assert closed.closed_by is not None
    assert [c.body for c in closed.get_comments()] == ["Investigating"]

    closed.edit(state="open")
    assert repo.get_issue(created.number).state_reason == "reopened"


def test_rate_limit_overview(github: GitHubSandbox, client: pygithub.Github) -> None:
    client.get_repo(github.state.full_name).get_issue(1)

    overview = client.get_rate_limit()

    assert overview.resources.core.limit == 5000
    assert overview.resources.core.remaining == 5000 - 2  # the repo and the issue; /rate_limit is free
    assert overview.resources.search.limit == 30


def test_conditional_request_is_304_and_free(github: GitHubSandbox, client: pygithub.Github) -> None:
    issue = client.get_repo(github.state.full_name).get_issue(3)
    before = client.get_rate_limit().resources.core.remaining

    changed = issue.update()  # PyGithub sends If-None-Match with the ETag it holds

    assert changed is False
    assert github.requests()["not_modified"] == 1
    assert client.get_rate_limit().resources.core.remaining == before

    github.mutate("update", number=3, fields={"title": "Renamed behind the client's back"})
    assert issue.update() is True
    assert issue.title == "Renamed behind the client's back"


def test_primary_limit_exhaustion_is_a_403_pygithub_understands(github: GitHubSandbox) -> None:
    github.reset(rate_limit=2)
    gh = _client(github, github.token)
    repo = gh.get_repo(github.state.full_name)
    repo.get_issue(1)

    with pytest.raises(pygithub.RateLimitExceededException) as caught:
        repo.get_issue(2)

    assert caught.value.status == 403
    assert caught.value.headers is not None
    assert caught.value.headers["x-ratelimit-remaining"] == "0"
    gh.close()


def test_bad_token_and_unknown_repo(github: GitHubSandbox) -> None:
    bad = _client(github, "not-a-real-token")
    with pytest.raises(pygithub.BadCredentialsException):
        bad.get_repo(github.state.full_name)
    bad.close()

    outsider = _client(github, github.outsider_token)
    with pytest.raises(pygithub.UnknownObjectException):
        outsider.get_repo(github.state.full_name)
    outsider.close()
