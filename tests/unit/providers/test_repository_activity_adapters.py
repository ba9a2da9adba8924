"""The forges' repository activity records (capability ``repository_activity``): requests' states, releases
without drafts, languages as percentages, and the full read's page bound."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from trackbridge.providers.etags import ETagCache
from trackbridge.providers.forge import ACTIVITY_FULL_PAGES
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter

from .conftest import FakeTracker, json_response

REPO = "/repos/acme/widgets"
PROJECT = "/api/v4/projects/acme%2Fwidgets"
API = "https://api.github.com"
NOW = datetime(2026, 3, 6, tzinfo=UTC)


def _pull(number: int, state: str, merged_at: str | None = None) -> dict[str, Any]:
    return {
        "number": number,
        "state": state,
        "title": f"Pull {number}",
        "user": {"login": "ada"},
        "draft": number == 2,
        "head": {"ref": "main"},
        "created_at": "2026-03-01T10:00:00Z",
        "updated_at": "2026-03-05T10:00:00Z",
        "closed_at": "2026-03-05T10:00:00Z" if state == "closed" else None,
        "merged_at": merged_at,
        "html_url": f"https://github.com/acme/widgets/pull/{number}",
    }


def test_github_requests_are_open_merged_or_closed(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        f"{REPO}/pulls",
        json_response(
            200, [_pull(1, "closed", "2026-03-05T10:00:00Z"), _pull(2, "open"), _pull(3, "closed")]
        ),
    )

    (page,) = list(github.iter_repo_requests(since=None))

    assert [(r.number, r.state, r.draft, r.author) for r in page] == [
        (1, "merged", False, "ada"),
        (2, "open", True, "ada"),
        (3, "closed", False, "ada"),
    ]
    assert page[0].merged_at == datetime(2026, 3, 5, 10, tzinfo=UTC)
    assert page[1].closed_at is None
    assert all(r.content_hash for r in page)


def test_gitlab_locked_is_open_and_merged_without_a_time_uses_the_update(
    gitlab: GitLabAdapter, fake: FakeTracker
) -> None:
    def mr(iid: int, state: str) -> dict[str, Any]:
        return {
            "iid": iid,
            "state": state,
            "title": "t",
            "author": {"username": "grace"},
            "source_branch": "b",
            "created_at": "2026-03-01T10:00:00.000Z",
            "updated_at": "2026-03-04T10:00:00.000Z",
            "merged_at": None,
            "closed_at": None,
        }

    fake.on("GET", f"{PROJECT}/merge_requests", json_response(200, [mr(1, "locked"), mr(2, "merged")]))

    (page,) = list(gitlab.iter_repo_requests(since=None))

    assert [(r.state, r.author) for r in page] == [("open", "grace"), ("merged", "grace")]
    assert page[1].merged_at == datetime(2026, 3, 4, 10, tzinfo=UTC)
    assert "updated_after" not in fake.params(0)


def test_github_drafts_are_not_releases_and_incremental_reads_one_page(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    def release(tag: str, published: str | None, draft: bool = False) -> dict[str, Any]:
        return {
            "tag_name": tag,
            "name": tag,
            "draft": draft,
            "prerelease": tag.endswith("rc1"),
            "created_at": "2026-03-01T00:00:00Z",
            "published_at": published,
            "html_url": f"https://github.com/acme/widgets/releases/tag/{tag}",
        }

    more = {"link": f'<{API}{REPO}/releases?page=2>; rel="next"'}
    fake.on(
        "GET",
        f"{REPO}/releases",
        json_response(
            200,
            [release("v2.0.0", None, draft=True), release("v1.1.0rc1", "2026-03-03T00:00:00Z")],
            more,
        ),
    )

    pages = list(github.iter_repo_releases(full=False))

    assert [[(r.tag, r.prerelease) for r in page] for page in pages] == [[("v1.1.0rc1", True)]]
    assert github.stats.requests == 1  # the next page is left for a full read


def test_full_reads_stop_after_their_page_bound(github: GitHubAdapter, fake: FakeTracker) -> None:
    def commit(n: int) -> dict[str, Any]:
        signature = {"name": "Ada", "email": "ada@example.test", "date": "2026-03-05T10:00:00Z"}
        return {"sha": f"{n:040x}", "commit": {"message": f"Commit {n}\n\nbody", "committer": signature}}

    fake.on(
        "GET",
        f"{REPO}/commits",
        *[
            json_response(200, [commit(n)], {"link": f'<{API}{REPO}/commits?page={n + 2}>; rel="next"'})
            for n in range(ACTIVITY_FULL_PAGES + 3)
        ],
    )

    pages = list(github.iter_repo_commits(since=None))

    assert len(pages) == ACTIVITY_FULL_PAGES
    assert fake.params(0) == {"per_page": "100"}  # no since: the newest pages
    assert pages[0][0].title == "Commit 0"


def test_languages_become_percentages(
    github: GitHubAdapter, gitlab: GitLabAdapter, fake: FakeTracker
) -> None:
    fake.on("GET", f"{REPO}/languages", json_response(200, {"Python": 300, "Shell": 100}))
    fake.on("GET", f"{PROJECT}/languages", json_response(200, {"Ruby": 66.69, "JavaScript": 33.31}))

    from_github = github.repo_languages(seen_at=NOW)
    from_gitlab = gitlab.repo_languages(seen_at=NOW)

    assert from_github is not None
    assert from_github.shares == {"Python": 75.0, "Shell": 25.0}
    assert from_gitlab is not None
    assert from_gitlab.shares == {"Ruby": 66.69, "JavaScript": 33.31}
    assert from_github.updated_at == NOW


def test_unchanged_languages_answer_304_and_give_no_snapshot(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    etag = 'W/"languages-1"'
    fake.on(
        "GET",
        f"{REPO}/languages",
        json_response(200, {"Python": 1}, {"etag": etag}),
        lambda request: httpx.Response(304 if request.headers.get("if-none-match") == etag else 500),
    )
    github.etag_cache = ETagCache()

    assert github.repo_languages(seen_at=NOW) is not None
    assert github.repo_languages(seen_at=NOW) is None
    assert fake.requests[1].headers["if-none-match"] == etag
