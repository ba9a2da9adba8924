"""Fidelity of the sandboxes' releases and languages, read by PyGithub and python-gitlab as the real services.

GitHub: ``GET /repos/{o}/{r}/languages`` (bytes per language) and ``/releases`` (newest first, numbered
``Link`` pages, ``tag_name``, ``published_at``, ``draft``, ``prerelease``); the response shapes are checked
against GitHub's OpenAPI description in ``test_github_schema.py``. GitLab: ``/projects/:id/languages``
(percentages) and ``/projects/:id/releases`` (``order_by`` released_at|created_at, ``sort``, offset pages).
"""

from __future__ import annotations

import github as pygithub
import gitlab as python_gitlab
import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.gitlab._releases import LANGUAGES, seeded_releases

pytestmark = pytest.mark.integration


def test_pygithub_reads_languages_and_releases(github: GitHubSandbox) -> None:
    client = pygithub.Github(
        auth=pygithub.Auth.Token(github.token), base_url=github.url, per_page=2, timeout=60, retry=None
    )
    repo = client.get_repo("acme/widgets")
    # PyGithub adds the URL it read them from to the answer's object of language -> bytes.
    languages = {k: v for k, v in repo.get_languages().items() if k != "url"}
    assert languages == github.state.languages
    assert all(isinstance(size, int) and size > 0 for size in languages.values())
    releases = list(repo.get_releases())  # three pages of two
    truth = github.state.releases
    assert [r.tag_name for r in releases] == [r.tag_name for r in truth]
    assert [int(r.published_at.timestamp()) for r in releases] == [r.published_at for r in truth]
    assert [r.prerelease for r in releases] == [r.prerelease for r in truth]
    assert not any(r.draft for r in releases)


def test_github_releases_page_with_link_headers(github: GitHubSandbox, github_http: httpx.Client) -> None:
    first = github_http.get("/repos/acme/widgets/releases", params={"per_page": 4})
    assert first.status_code == 200
    assert len(first.json()) == 4
    assert 'rel="next"' in first.headers["Link"]
    published = [item["published_at"] for item in first.json()]
    assert published == sorted(published, reverse=True)
    assert github_http.get("/repos/acme/nothing/releases").status_code == 404


def test_python_gitlab_reads_languages_and_releases(gitlab: GitLabSandbox) -> None:
    client = python_gitlab.Gitlab(gitlab.url, private_token=gitlab.token, timeout=60)
    project = client.projects.get("acme/widgets")
    assert project.languages() == LANGUAGES
    assert round(sum(LANGUAGES.values()), 2) == 100.0
    releases = project.releases.list(get_all=True, per_page=2)
    truth = sorted(seeded_releases(gitlab.state), key=lambda r: r.released_at, reverse=True)
    assert len(truth) >= 4
    assert [r.tag_name for r in releases] == [r.tag_name for r in truth]
    assert all(r.released_at > r.created_at for r in releases)
    assert releases[0].commit["id"] == truth[0].commit.sha


def test_gitlab_releases_order_sort_and_paging(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    listed = gitlab_http.get("/projects/4242/releases", params={"per_page": 2})
    assert listed.status_code == 200
    assert listed.headers["X-Next-Page"] == "2"
    assert set(listed.json()[0]) >= {
        "tag_name",
        "name",
        "released_at",
        "created_at",
        "upcoming_release",
        "_links",
    }
    oldest = gitlab_http.get("/projects/4242/releases", params={"sort": "asc", "order_by": "created_at"})
    tags = [r["tag_name"] for r in oldest.json()]
    assert tags[0] == "v1.0.0"
    assert tags == [r.tag_name for r in seeded_releases(gitlab.state)]
    bad = gitlab_http.get("/projects/4242/releases", params={"order_by": "tag"})
    assert bad.status_code == 400
    assert "order_by" in bad.json()["error"]
    assert gitlab_http.get("/projects/9999/languages").status_code == 404
