"""Fidelity: PyGithub drives the GitHub sandbox's sub-issues, issue types and repository advisories through
its public API only (where it and the sandbox disagree, the sandbox is wrong)."""

from __future__ import annotations

from collections.abc import Iterator

import github as pygithub
import pytest

from infra.local.trackers.github import GitHubSandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def client(github: GitHubSandbox) -> Iterator[pygithub.Github]:
    gh = pygithub.Github(
        base_url=github.url,
        auth=pygithub.Auth.Token(github.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        timeout=60,
    )
    try:
        yield gh
    finally:
        gh.close()


def test_sub_issues_added_listed_summarised_and_removed(
    github: GitHubSandbox, client: pygithub.Github
) -> None:
    repo = client.get_repo(github.state.full_name)
    parent, first, second = repo.get_issue(2), repo.get_issue(3), repo.get_issue(4)
    assert parent.sub_issues_summary.total == 0

    for child in (first, second):
        child.edit(state="open")  # the seed closes some issues: start from two open ones
    parent.add_sub_issue(first)  # by the Issue object: PyGithub sends its id, not its number
    parent.add_sub_issue(second.id)

    assert [sub.number for sub in parent.get_sub_issues()] == [3, 4]
    fresh = repo.get_issue(2)
    assert (fresh.sub_issues_summary.total, fresh.sub_issues_summary.completed) == (2, 0)
    assert repo.get_issue(3).raw_data["parent_issue_url"].endswith("/repos/acme/widgets/issues/2")

    second.edit(state="closed")
    assert repo.get_issue(2).sub_issues_summary.percent_completed == 50

    parent.remove_sub_issue(first)
    assert [sub.number for sub in parent.get_sub_issues()] == [4]
    assert repo.get_issue(3).raw_data["parent_issue_url"] is None
    with pytest.raises(pygithub.GithubException) as refused:
        parent.add_sub_issue(parent)  # an issue cannot be its own sub-issue
    assert refused.value.status == 422


def test_issue_types_are_typed_objects(github: GitHubSandbox, client: pygithub.Github) -> None:
    repo = client.get_repo(github.state.full_name)
    issue = repo.get_issue(1)
    seeded = github.state.issue(1)
    assert seeded is not None
    assert issue.type.name == seeded.issue_type
    assert issue.type.id in {t.id for t in github.state.issue_types}


def test_repository_advisories_page_through(github: GitHubSandbox, client: pygithub.Github) -> None:
    repo = client.get_repo(github.state.full_name)
    listed = list(repo.get_repository_advisories())
    assert sorted(a.ghsa_id for a in listed) == sorted(a.ghsa_id for a in github.state.advisories)
    assert {a.severity for a in listed} <= {"low", "medium", "high", "critical"}
