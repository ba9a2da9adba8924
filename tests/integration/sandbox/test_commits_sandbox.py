"""Fidelity of the sandboxes' development activity: commits, pull and merge requests, push and request hooks.

GitHub: ``GET /repos/{o}/{r}/commits`` (newest first, ``since``/``until``/``sha``, numbered ``Link`` pages)
and ``/pulls``; GitLab: ``/projects/:id/repository/commits`` (``ref_name``, ``since``, ``X-Next-Page``) and
``/merge_requests`` (``updated_after``, ``state``, ``order_by``). PyGithub and python-gitlab read them as
they read the real services; the hooks carry the documented payloads, signed the provider's way.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import github as pygithub
import gitlab as python_gitlab
import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from tests.support.hooks import HookReceiver
from trackbridge.domain.dev_refs import extract_refs

pytestmark = pytest.mark.integration


# ---- GitHub -----------------------------------------------------------------------------------------------


def test_github_commits_page_newest_first_with_link_headers(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    truth = [commit.sha for commit in github.state.commits]
    first = github_http.get("/repos/acme/widgets/commits", params={"per_page": 25})
    assert first.status_code == 200
    assert [c["sha"] for c in first.json()] == truth[:25]
    assert 'rel="next"' in first.headers["Link"]
    item = first.json()[0]
    assert set(item) >= {"sha", "commit", "html_url", "author", "committer", "parents"}
    assert set(item["commit"]) >= {"message", "author", "committer"}
    assert item["html_url"].endswith(f"/commit/{item['sha']}")
    last = github_http.get("/repos/acme/widgets/commits", params={"per_page": 25, "page": 3})
    assert [c["sha"] for c in last.json()] == truth[50:75]


def test_github_commits_since_until_and_sha(github: GitHubSandbox, github_http: httpx.Client) -> None:
    commits = github.state.commits
    middle = commits[len(commits) // 2]
    since = github_http.get(
        "/repos/acme/widgets/commits", params={"since": _iso(middle.date), "per_page": 100}
    )
    assert [c["sha"] for c in since.json()] == [c.sha for c in commits if c.date >= middle.date]
    until = github_http.get(
        "/repos/acme/widgets/commits", params={"until": _iso(middle.date), "per_page": 100}
    )
    assert [c["sha"] for c in until.json()] == [c.sha for c in commits if c.date <= middle.date]
    from_sha = github_http.get(
        "/repos/acme/widgets/commits", params={"sha": middle.sha[:10], "per_page": 100}
    )
    assert from_sha.json()[0]["sha"] == middle.sha
    main = github_http.get("/repos/acme/widgets/commits", params={"sha": "main", "per_page": 100})
    assert len(main.json()) == len(commits)
    unknown = github_http.get("/repos/acme/widgets/commits", params={"sha": "0123456789abc"})
    assert unknown.status_code == 404
    assert github_http.get("/repos/acme/widgets/commits", params={"since": "yesterday"}).status_code == 422


def test_github_seeded_commits_and_branches_name_issues(github: GitHubSandbox) -> None:
    messages = [commit.message for commit in github.state.commits]
    named = [m for m in messages if extract_refs(m, jira_projects={"ACME"})]
    assert len(named) == len(messages) // 3
    assert any(m.startswith("Fixes #") for m in messages)
    assert any("ACME-" in m for m in messages)
    branches = [issue.head_ref for issue in github.state.live_issues() if issue.pull]
    assert all(branches)


def test_pygithub_reads_commits_and_pulls(github: GitHubSandbox) -> None:
    client = pygithub.Github(
        base_url=github.url,
        auth=pygithub.Auth.Token(github.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        per_page=30,
    )
    try:
        repo = client.get_repo(github.state.full_name)
        assert [c.sha for c in repo.get_commits()] == [c.sha for c in github.state.commits]
        assert repo.get_commits()[0].commit.message == github.state.commits[0].message
        pulls = list(repo.get_pulls(state="all", sort="updated", direction="desc"))
        truth = sorted(
            (i for i in github.state.live_issues() if i.pull),
            key=lambda i: (i.updated_at, i.number),
            reverse=True,
        )
        assert [p.number for p in pulls] == [i.number for i in truth]
        assert pulls[0].head.ref == truth[0].head_ref
    finally:
        client.close()


def test_github_push_and_pull_request_hooks(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    secret = "sandbox-test-" + "secret"
    created = github_http.post(
        "/repos/acme/widgets/hooks",
        json={
            "events": ["push", "pull_request"],
            "config": {"url": hook_receiver.url, "content_type": "json", "secret": secret},
        },
    )
    assert created.status_code == 201
    hook_receiver.wait_for(1)  # ping

    pushed = github.mutate("push", message="Fixes #3: tidy the importer", branch="3-importer")
    github.mutate("create", fields={"title": "Importer", "pull": True, "head": "feature/ACME-2-importer"})

    push, pull = hook_receiver.wait_for(3)[1:]
    assert push.headers["X-GitHub-Event"] == "push"
    assert (
        push.headers["X-Hub-Signature-256"]
        == "sha256=" + hmac.new(secret.encode(), push.body, hashlib.sha256).hexdigest()
    )
    payload = json.loads(push.body)
    assert payload["ref"] == "refs/heads/3-importer"
    assert payload["after"] == pushed["sha"] == payload["head_commit"]["id"]
    assert [c["message"] for c in payload["commits"]] == ["Fixes #3: tidy the importer"]
    assert payload["repository"]["full_name"] == "acme/widgets"
    assert pull.headers["X-GitHub-Event"] == "pull_request"
    opened = json.loads(pull.body)
    assert opened["action"] == "opened"
    assert opened["pull_request"]["head"]["ref"] == "feature/ACME-2-importer"
    assert opened["number"] == opened["pull_request"]["number"]
    # And: the pushed commit heads the history the REST API lists
    assert github_http.get("/repos/acme/widgets/commits").json()[0]["sha"] == pushed["sha"]


# ---- GitLab -----------------------------------------------------------------------------------------------


def test_gitlab_commits_offset_pages_and_filters(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    commits = gitlab.state.commits
    first = gitlab_http.get("/projects/acme%2Fwidgets/repository/commits", params={"per_page": 20})
    assert first.status_code == 200
    assert [c["id"] for c in first.json()] == [c.sha for c in commits[:20]]
    assert first.headers["X-Next-Page"] == "2"
    assert first.headers["X-Total"] == str(len(commits))
    item = first.json()[0]
    assert set(item) >= {"id", "short_id", "title", "message", "committed_date", "web_url", "parent_ids"}
    middle = commits[len(commits) // 2]
    since = gitlab_http.get(
        "/projects/4242/repository/commits", params={"since": _iso(middle.date // 1000), "per_page": 100}
    )
    assert [c["id"] for c in since.json()] == [c.sha for c in commits if c.date >= middle.date // 1000 * 1000]
    ref = gitlab_http.get(
        "/projects/4242/repository/commits", params={"ref_name": middle.sha, "per_page": 100}
    )
    assert ref.json()[0]["id"] == middle.sha
    assert (
        gitlab_http.get("/projects/4242/repository/commits", params={"ref_name": "nope"}).status_code == 404
    )
    bad = gitlab_http.get("/projects/4242/repository/commits", params={"since": "yesterday"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "since is invalid"}


def test_gitlab_merge_requests_filters_and_shape(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    requests = gitlab.state.merge_requests
    listed = gitlab_http.get("/projects/4242/merge_requests", params={"per_page": 5})
    assert listed.status_code == 200
    assert [m["iid"] for m in listed.json()] == sorted((m.iid for m in requests), reverse=True)[:5]
    assert listed.headers["X-Next-Page"] == "2"
    item = listed.json()[0]
    assert set(item) >= {"iid", "title", "description", "source_branch", "web_url", "updated_at", "state"}
    merged = gitlab_http.get("/projects/4242/merge_requests", params={"state": "merged", "per_page": 100})
    assert {m["iid"] for m in merged.json()} == {m.iid for m in requests if m.state == "merged"}
    cut = requests[len(requests) // 2].updated_at
    recent = gitlab_http.get(
        "/projects/4242/merge_requests",
        params={
            "updated_after": _iso(cut // 1000 + 1),
            "order_by": "updated_at",
            "sort": "asc",
            "per_page": 100,
        },
    )
    assert [m["iid"] for m in recent.json()] == [
        m.iid for m in requests if m.updated_at >= (cut // 1000 + 1) * 1000
    ]
    assert gitlab_http.get("/projects/4242/merge_requests", params={"state": "maybe"}).status_code == 400


def test_python_gitlab_reads_commits_and_merge_requests(gitlab: GitLabSandbox) -> None:
    client = python_gitlab.Gitlab(gitlab.url, private_token=gitlab.token, timeout=60)
    project = client.projects.get("acme/widgets")
    commits = project.commits.list(get_all=True, per_page=20)
    assert [c.id for c in commits] == [c.sha for c in gitlab.state.commits]
    merge_requests = project.mergerequests.list(state="all", get_all=True, per_page=5)
    assert sorted(m.iid for m in merge_requests) == [m.iid for m in gitlab.state.merge_requests]
    assert {m.source_branch for m in merge_requests} == {m.source_branch for m in gitlab.state.merge_requests}


def test_gitlab_push_and_merge_request_hooks(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    token = "sandbox-test-" + "token"
    created = gitlab_http.post(
        "/projects/4242/hooks",
        json={"url": hook_receiver.url, "token": token, "push_events": True, "merge_requests_events": True},
    )
    assert created.status_code == 201

    pushed = gitlab.mutate("push", message="Closes #2\n\nand more")
    gitlab.mutate("merge_request", title="Importer", description="Fixes ACME-1", source_branch="2-importer")

    push, merge_request = hook_receiver.wait_for(2)
    assert (push.headers["X-Gitlab-Event"], push.headers["X-Gitlab-Token"]) == ("Push Hook", token)
    payload = json.loads(push.body)
    assert (payload["object_kind"], payload["after"], payload["total_commits_count"]) == (
        "push",
        pushed["sha"],
        1,
    )
    assert payload["commits"][0]["message"] == "Closes #2\n\nand more"
    assert payload["project"]["path_with_namespace"] == "acme/widgets"
    assert merge_request.headers["X-Gitlab-Event"] == "Merge Request Hook"
    attributes = json.loads(merge_request.body)["object_attributes"]
    assert (attributes["action"], attributes["source_branch"]) == ("open", "2-importer")
    # And: a hook without push events gets no Push Hook
    hook_receiver.clear()
    gitlab_http.put(f"/projects/4242/hooks/{created.json()['id']}", json={"push_events": False})
    gitlab.mutate("push", message="quiet")
    gitlab.mutate("merge_request", title="Later", source_branch="later")
    (only,) = hook_receiver.wait_for(1)  # the request's hook, sent after the push: nothing came for it
    assert only.headers["X-Gitlab-Event"] == "Merge Request Hook"
    assert gitlab_http.get("/projects/4242/repository/commits").json()[0]["message"] == "quiet"


def _iso(epoch_s: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))
