"""The GitHub adapter's issue types, sub-issues and dependencies: what it reads from the issue itself, when it
asks for more (only when the issue's summaries say there is something), the pinned API version, and the
``since`` it never sends (GitHub answers ``since=1970-01-01T00:00:00Z`` with an empty list)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.issues import content_hash
from trackbridge.providers.errors import TrackerError
from trackbridge.providers.github import API_VERSION, GitHubAdapter

from .conftest import CONNECTION_ID, FakeTracker, gh_issue, json_response

REPO = "/repos/acme/widgets"
API = f"https://api.github.com{REPO}"


def _ref(number: int) -> str:
    return f"{CONNECTION_ID}.{number}"


def _summaries(children: int = 0, blockers: int = 0) -> dict[str, object]:
    return {
        "sub_issues_summary": {"total": children, "completed": 0, "percent_completed": 0},
        "issue_dependencies_summary": {
            "blocked_by": blockers,
            "blocking": 0,
            "total_blocked_by": blockers,
            "total_blocking": 0,
        },
    }


def test_type_and_parent_come_with_the_issue_at_no_extra_request(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    child = gh_issue(
        3,
        type={"id": 7, "node_id": "IT_7", "name": "Bug", "description": None},
        parent_issue_url=f"{API}/issues/2",
        **_summaries(),
    )
    fake.on("GET", f"{REPO}/issues", json_response(200, [child, gh_issue(4, type=None, **_summaries())]))
    [page] = list(github.iter_issue_pages())
    first, second = page.items
    assert (first.issue_type, first.parent_ref, first.sub_issue_refs, first.blocked_by_refs) == (
        "Bug",
        _ref(2),
        [],
        [],
    )
    assert (second.issue_type, second.parent_ref) == (None, None)
    assert github.stats.requests == 1


def test_children_and_blockers_are_listed_only_where_the_summaries_count_some(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    parent = gh_issue(2, **_summaries(children=2, blockers=1))
    plain = gh_issue(8, **_summaries())
    fake.on("GET", f"{REPO}/issues", json_response(200, [parent, plain]))
    other_repo = gh_issue(11, url="https://api.github.com/repos/acme/gadgets/issues/11")
    fake.on("GET", f"{REPO}/issues/2/sub_issues", json_response(200, [gh_issue(3), other_repo]))
    fake.on("GET", f"{REPO}/issues/2/dependencies/blocked_by", json_response(200, [gh_issue(6)]))
    [page] = list(github.iter_issue_pages())
    listed, unrelated = page.items
    # Another repository of the same owner is named owner/repo#number: it has no ref in this connection.
    assert listed.sub_issue_refs == [_ref(3), "acme/gadgets#11"]
    assert listed.blocked_by_refs == [_ref(6)]
    assert (unrelated.sub_issue_refs, unrelated.blocked_by_refs) == ([], [])
    # One listing page, one sub-issue listing and one blocker listing: nothing for #8.
    paths = [request.url.path for request in fake.requests]
    assert paths == [
        f"{REPO}/issues",
        f"{REPO}/issues/2/sub_issues",
        f"{REPO}/issues/2/dependencies/blocked_by",
    ]
    assert fake.params(1) == {"per_page": "100"}


def test_a_change_of_relations_alone_changes_the_content_hash(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    fake.on(
        "GET",
        f"{REPO}/issues",
        json_response(200, [gh_issue(3, **_summaries())]),
        json_response(200, [gh_issue(3, parent_issue_url=f"{API}/issues/2", **_summaries())]),
    )
    before = next(iter(github.iter_issue_pages())).items[0]
    after = next(iter(github.iter_issue_pages())).items[0]
    assert before.content_hash != after.content_hash


def test_an_issue_without_relations_keeps_the_hash_it_had_before_they_existed(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, [gh_issue(1)]))
    issue = next(iter(github.iter_issue_pages())).items[0]
    relations = {"issue_type", "parent_ref", "sub_issue_refs", "blocked_by_refs", "sprint_ids"}
    legacy = issue.model_dump(mode="json", exclude={*issue.unhashed_fields, *relations})
    assert issue.content_hash == content_hash(legacy)


def test_a_malformed_parent_url_is_a_normalization_failure_not_a_guess(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    fake.on(
        "GET", f"{REPO}/issues", json_response(200, [gh_issue(3, parent_issue_url="https://x.test/nope")])
    )
    with pytest.raises(TrackerError) as caught:
        list(github.iter_issue_pages())
    assert caught.value.code == ErrorCode.MALFORMED_RESPONSE


@pytest.mark.parametrize("epoch", [datetime(1970, 1, 1, tzinfo=UTC), datetime(2001, 5, 4, tzinfo=UTC)])
def test_a_since_before_github_existed_is_never_sent(
    github: GitHubAdapter, fake: FakeTracker, epoch: datetime
) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, []))
    fake.on("GET", f"{REPO}/issues/comments", json_response(200, []))
    list(github.iter_issue_pages(since=epoch))
    list(github.iter_comment_pages(since=epoch))
    # The same update-ordered listings, without the since GitHub would answer with an empty list.
    assert fake.params(0) == {"state": "all", "per_page": "100", "sort": "updated", "direction": "asc"}
    assert fake.params(1) == {"per_page": "100", "direction": "asc", "sort": "updated"}
    assert all("since" not in request.url.params for request in fake.requests)


def test_a_real_since_is_still_sent_and_a_naive_one_refused(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, []))
    list(github.iter_issue_pages(since=datetime(2026, 2, 1, 8, 30, tzinfo=UTC)))
    assert fake.params()["since"] == "2026-02-01T08:30:00Z"
    with pytest.raises(InvalidInput):
        list(github.iter_issue_pages(since=datetime(2026, 2, 1)))


def test_every_request_pins_the_api_version(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", f"{REPO}/issues", json_response(200, [gh_issue(2, **_summaries(children=1))]))
    fake.on("GET", f"{REPO}/issues/2/sub_issues", json_response(200, [gh_issue(3)]))
    list(github.iter_issue_pages())
    assert API_VERSION == "2022-11-28"
    assert [r.headers["X-GitHub-Api-Version"] for r in fake.requests] == [API_VERSION, API_VERSION]
