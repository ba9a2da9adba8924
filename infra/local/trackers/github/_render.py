"""GitHub's JSON shapes, rendered from the compact records of ``_state`` per response.

Field sets follow the GitHub OpenAPI description (``issue``, ``issue-comment``, ``label``, ``hook``,
``repository``/``full-repository``, ``pull-request[-simple]``, ``commit``, ``release``,
``repository-advisory``, ``simple-user``, ``private-user``/``public-user``); the integration tests validate
every route's output against those schemas. Users, labels and the repository are immutable per base URL,
so their dicts are cached and shared between responses.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from .._clock import iso_z
from ._state import (
    BOT_LOGIN,
    OWNER_ID,
    REPO_ID,
    Advisory,
    Comment,
    Commit,
    GitHubState,
    Hook,
    Issue,
    IssueType,
    Label,
    Release,
    User,
)

_ZERO_REACTIONS = {"total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0}


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global id: base64 of ``0<len(kind)>:<kind><id>`` (``MDU6SXNzdWUx``: Issue 1)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


class GitHubRenderer:
    """Renders one state under one base URL; rebuilt whenever either changes."""

    def __init__(self, base_url: str, state: GitHubState) -> None:
        self.api = base_url
        self.state = state
        self.repo_api = f"{base_url}/repos/{state.owner}/{state.repo}"
        self.html = f"{base_url}/{state.owner}/{state.repo}"
        self._users: dict[str, dict[str, Any]] = {}
        self._labels: dict[str, dict[str, Any]] = {}
        self._repository: dict[str, Any] | None = None

    # ---- people and labels

    def user(self, login: str) -> dict[str, Any]:
        cached = self._users.get(login)
        if cached is not None:
            return cached
        record = self.state.users.get(login) or User(OWNER_ID + 90_000 + len(self._users), login, login, 0)
        url = f"{self.api}/users/{login}"
        rendered = {
            "login": record.login,
            "id": record.id,
            "node_id": node_id("User", record.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{record.id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.api}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": record.type,
            "user_view_type": "public",
            "site_admin": False,
        }
        self._users[login] = rendered
        return rendered

    def user_profile(self, login: str, *, private: bool) -> dict[str, Any]:
        """``private-user`` (``GET /user``) or ``public-user`` (``GET /users/{username}``)."""
        record = self.state.users[login]
        profile = dict(self.user(login))
        profile.update(
            {
                "user_view_type": "private" if private else "public",
                "name": record.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": iso_z(record.created_at),
                "updated_at": iso_z(record.created_at),
            }
        )
        if private:
            owned = 1 if login == BOT_LOGIN else 0
            profile.update(
                {
                    "private_gists": 0,
                    "total_private_repos": owned,
                    "owned_private_repos": owned,
                    "disk_usage": 1024 * owned,
                    "collaborators": len(self.state.users) - 1 if owned else 0,
                    "two_factor_authentication": True,
                    "plan": {
                        "name": "free",
                        "space": 976_562_499,
                        "private_repos": 10_000,
                        "collaborators": 0,
                    },
                }
            )
        return profile

    def label(self, label: Label) -> dict[str, Any]:
        cached = self._labels.get(label.name)
        if (
            cached is not None
            and cached["color"] == label.color
            and cached["description"] == label.description
        ):
            return cached
        rendered = {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.repo_api}/labels/{quote(label.name, safe='')}",
            "name": label.name,
            "color": label.color,
            "default": label.default,
            "description": label.description,
        }
        self._labels[label.name] = rendered
        return rendered

    def author_association(self, login: str) -> str:
        if login == BOT_LOGIN:
            return "OWNER"
        return "COLLABORATOR" if login in self.state.users else "NONE"

    def reactions(self, url: str) -> dict[str, Any]:
        return {"url": f"{url}/reactions", **_ZERO_REACTIONS, "rocket": 0, "eyes": 0}

    # ---- issues and comments

    def issue(self, issue: Issue, *, detail: bool = False) -> dict[str, Any]:
        number = issue.number
        url = f"{self.repo_api}/issues/{number}"
        labels = self.state.labels
        rendered: dict[str, Any] = {
            "url": url,
            "repository_url": self.repo_api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.html}/{'pull' if issue.pull else 'issues'}/{number}",
            "id": issue.id,
            "node_id": node_id("PullRequest" if issue.pull else "Issue", issue.id),
            "number": number,
            "title": issue.title,
            "user": self.user(issue.user),
            "labels": [self.label(labels[name]) for name in issue.labels if name in labels],
            "state": issue.state,
            "locked": issue.locked,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(login) for login in issue.assignees],
            "milestone": None,
            "comments": issue.comments,
            "created_at": iso_z(issue.created_at),
            "updated_at": iso_z(issue.updated_at),
            "closed_at": iso_z(issue.closed_at) if issue.closed_at is not None else None,
            "author_association": self.author_association(issue.user),
            "type": self.issue_type_named(issue.issue_type),
            "active_lock_reason": None,
            "body": issue.body,
            "reactions": self.reactions(url),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "state_reason": issue.state_reason,
        }
        if not issue.pull:
            rendered.update(self.relations(issue))
        if issue.pull:
            rendered["draft"] = issue.draft
            pull_url = f"{self.repo_api}/pulls/{number}"
            html = f"{self.html}/pull/{number}"
            rendered["pull_request"] = {
                "url": pull_url,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": iso_z(issue.merged_at) if issue.merged_at is not None else None,
            }
        if detail:
            # GitHub names who closed the issue only on the single-issue GET.
            rendered["closed_by"] = self.user(issue.closed_by) if issue.closed_by else None
        return rendered

    def relations(self, issue: Issue) -> dict[str, Any]:
        """``parent_issue_url``, ``sub_issues_summary`` and ``issue_dependencies_summary`` (counts of open
        blockers and of all), what an issue listing says about its hierarchy without listing it."""
        issues = self.state.issues
        children = [issues[n - 1] for n in issue.sub_issues]
        done = sum(1 for child in children if child is not None and child.state == "closed")
        total = len(issue.sub_issues)

        def open_count(numbers: list[int]) -> int:
            return sum(1 for n in numbers if (other := issues[n - 1]) is not None and other.state == "open")

        return {
            "parent_issue_url": f"{self.repo_api}/issues/{issue.parent}" if issue.parent else None,
            "sub_issues_summary": {
                "total": total,
                "completed": done,
                "percent_completed": done * 100 // total if total else 0,
            },
            "issue_dependencies_summary": {
                "blocked_by": open_count(issue.blocked_by),
                "blocking": open_count(issue.blocking),
                "total_blocked_by": len(issue.blocked_by),
                "total_blocking": len(issue.blocking),
            },
        }

    def issue_type_named(self, name: str | None) -> dict[str, Any] | None:
        found = next((t for t in self.state.issue_types if t.name == name), None)
        return self.issue_type(found) if found is not None else None

    def issue_type(self, issue_type: IssueType) -> dict[str, Any]:
        created = iso_z(self.state.created_at)
        return {
            "id": issue_type.id,
            "node_id": node_id("IssueType", issue_type.id),
            "name": issue_type.name,
            "description": issue_type.description,
            "color": issue_type.color,
            "created_at": created,
            "updated_at": created,
            "is_enabled": True,
        }

    def search_item(self, issue: Issue, score: float) -> dict[str, Any]:
        """An ``issue-search-result-item``: the issue as the issue lists render it, plus its ``score``."""
        return {**self.issue(issue), "score": score}

    def comment(self, comment: Comment) -> dict[str, Any]:
        url = f"{self.repo_api}/issues/comments/{comment.id}"
        # A pull request's conversation comment is an issue comment too; GitHub's page for it (and so its
        # html_url) is under /pull/, while issue_url stays /issues/: the only field that tells them apart.
        parent = self.state.issue(comment.issue_number)
        page = "pull" if parent is not None and parent.pull else "issues"
        return {
            "url": url,
            "html_url": f"{self.html}/{page}/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{self.repo_api}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "user": self.user(comment.user),
            "created_at": iso_z(comment.created_at),
            "updated_at": iso_z(comment.updated_at),
            "author_association": self.author_association(comment.user),
            "body": comment.body,
            "reactions": self.reactions(url),
            "performed_via_github_app": None,
        }

    # ---- repository

    def repository(self) -> dict[str, Any]:
        """The ``repository`` shape (also what webhooks carry and what pull requests embed)."""
        if self._repository is not None:
            rendered = dict(self._repository)
        else:
            base = self.repo_api
            full_name = self.state.full_name
            host = self.api.split("://", 1)[-1]
            rendered = {
                "id": REPO_ID,
                "node_id": node_id("Repository", REPO_ID),
                "name": self.state.repo,
                "full_name": full_name,
                "private": True,
                "owner": self.user(BOT_LOGIN),
                "html_url": self.html,
                "description": "Sandbox repository served by trackbridge",
                "fork": False,
                "url": base,
                "forks_url": f"{base}/forks",
                "keys_url": f"{base}/keys{{/key_id}}",
                "collaborators_url": f"{base}/collaborators{{/collaborator}}",
                "teams_url": f"{base}/teams",
                "hooks_url": f"{base}/hooks",
                "issue_events_url": f"{base}/issues/events{{/number}}",
                "events_url": f"{base}/events",
                "assignees_url": f"{base}/assignees{{/user}}",
                "branches_url": f"{base}/branches{{/branch}}",
                "tags_url": f"{base}/tags",
                "blobs_url": f"{base}/git/blobs{{/sha}}",
                "git_tags_url": f"{base}/git/tags{{/sha}}",
                "git_refs_url": f"{base}/git/refs{{/sha}}",
                "trees_url": f"{base}/git/trees{{/sha}}",
                "statuses_url": f"{base}/statuses/{{sha}}",
                "languages_url": f"{base}/languages",
                "stargazers_url": f"{base}/stargazers",
                "contributors_url": f"{base}/contributors",
                "subscribers_url": f"{base}/subscribers",
                "subscription_url": f"{base}/subscription",
                "commits_url": f"{base}/commits{{/sha}}",
                "git_commits_url": f"{base}/git/commits{{/sha}}",
                "comments_url": f"{base}/comments{{/number}}",
                "issue_comment_url": f"{base}/issues/comments{{/number}}",
                "contents_url": f"{base}/contents/{{+path}}",
                "compare_url": f"{base}/compare/{{base}}...{{head}}",
                "merges_url": f"{base}/merges",
                "archive_url": f"{base}/{{archive_format}}{{/ref}}",
                "downloads_url": f"{base}/downloads",
                "issues_url": f"{base}/issues{{/number}}",
                "pulls_url": f"{base}/pulls{{/number}}",
                "milestones_url": f"{base}/milestones{{/number}}",
                "notifications_url": f"{base}/notifications{{?since,all,participating}}",
                "labels_url": f"{base}/labels{{/name}}",
                "releases_url": f"{base}/releases{{/id}}",
                "deployments_url": f"{base}/deployments",
                "created_at": iso_z(self.state.created_at),
                "git_url": f"git://{host}/{full_name}.git",
                "ssh_url": f"git@{host}:{full_name}.git",
                "clone_url": f"{self.html}.git",
                "svn_url": self.html,
                "homepage": None,
                "size": 1024,
                "stargazers_count": 0,
                "watchers_count": 0,
                "language": "Python",
                "has_issues": True,
                "has_projects": True,
                "has_downloads": True,
                "has_wiki": False,
                "has_pages": False,
                "has_discussions": False,
                "forks_count": 0,
                "mirror_url": None,
                "archived": False,
                "disabled": False,
                "license": None,
                "allow_forking": False,
                "is_template": False,
                "web_commit_signoff_required": False,
                "topics": ["sandbox"],
                "visibility": "private",
                "forks": 0,
                "watchers": 0,
                "default_branch": "main",
            }
            self._repository = dict(rendered)
        open_count = self.state.open_count
        newest = self.state.newest_update()
        rendered.update(
            {
                "open_issues_count": open_count,
                "open_issues": open_count,
                "updated_at": iso_z(newest),
                "pushed_at": iso_z(
                    self.state.commits[0].date if self.state.commits else self.state.created_at
                ),
            }
        )
        return rendered

    def full_repository(self, *, admin: bool) -> dict[str, Any]:
        rendered = self.repository()
        rendered.update(
            {
                "permissions": {
                    "admin": admin,
                    "maintain": admin,
                    "push": admin,
                    "triage": admin,
                    "pull": True,
                },
                "network_count": 0,
                "subscribers_count": 1,
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "merge_commit_title": "MERGE_MESSAGE",
                "merge_commit_message": "PR_TITLE",
                "temp_clone_token": "",
            }
        )
        return rendered

    # ---- pull requests

    def pull(self, issue: Issue, *, detail: bool = False) -> dict[str, Any]:
        number = issue.number
        url = f"{self.repo_api}/pulls/{number}"
        html = f"{self.html}/pull/{number}"
        issue_url = f"{self.repo_api}/issues/{number}"
        head_sha = f"{(issue.id * 2654435761) % (1 << 160):040x}"
        repository = self.repository()
        labels = self.state.labels

        def branch(ref: str, sha: str) -> dict[str, Any]:
            return {
                "label": f"{self.state.owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self.user(BOT_LOGIN),
                "repo": repository,
            }

        merged = issue.merged_at is not None
        rendered: dict[str, Any] = {
            "url": url,
            "id": issue.id,
            "node_id": node_id("PullRequest", issue.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.repo_api}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.repo_api}/statuses/{head_sha}",
            "number": number,
            "state": issue.state,
            "locked": issue.locked,
            "title": issue.title,
            "user": self.user(issue.user),
            "body": issue.body,
            "labels": [self.label(labels[name]) for name in issue.labels if name in labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso_z(issue.created_at),
            "updated_at": iso_z(issue.updated_at),
            "closed_at": iso_z(issue.closed_at) if issue.closed_at is not None else None,
            "merged_at": iso_z(issue.merged_at) if merged and issue.merged_at is not None else None,
            "merge_commit_sha": head_sha[::-1] if merged else None,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(login) for login in issue.assignees],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": branch(issue.head_ref or f"feature-{number}", head_sha),
            "base": branch("main", self.state.commits[0].sha if self.state.commits else head_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{self.repo_api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{self.repo_api}/statuses/{head_sha}"},
            },
            "author_association": self.author_association(issue.user),
            "auto_merge": None,
            "draft": issue.draft,
        }
        if detail:
            rendered.update(
                {
                    "merged": merged,
                    "mergeable": None if issue.state == "closed" else True,
                    "rebaseable": None if issue.state == "closed" else True,
                    "mergeable_state": "unknown" if issue.state == "closed" else "clean",
                    "merged_by": self.user(issue.closed_by) if merged and issue.closed_by else None,
                    "comments": issue.comments,
                    "review_comments": 0,
                    "maintainer_can_modify": False,
                    "commits": 1 + number % 5,
                    "additions": 10 * (1 + number % 7),
                    "deletions": 3 * (number % 4),
                    "changed_files": 1 + number % 3,
                }
            )
        return rendered

    # ---- the rest of the repository

    def commit(self, commit: Commit) -> dict[str, Any]:
        url = f"{self.repo_api}/commits/{commit.sha}"
        person = self.state.users.get(commit.author)
        signature = {
            "name": person.name if person else commit.author,
            "email": f"{commit.author}@users.noreply.sandbox.localhost",
            "date": iso_z(commit.date),
        }
        tree_sha = commit.sha[::-1]
        return {
            "sha": commit.sha,
            "node_id": node_id("Commit", int(commit.sha[:12], 16)),
            "commit": {
                "author": signature,
                "committer": signature,
                "message": commit.message,
                "tree": {"sha": tree_sha, "url": f"{self.repo_api}/git/trees/{tree_sha}"},
                "url": f"{self.repo_api}/git/commits/{commit.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": url,
            "html_url": f"{self.html}/commit/{commit.sha}",
            "comments_url": f"{url}/comments",
            "author": self.user(commit.author),
            "committer": self.user(commit.author),
            "parents": (
                [
                    {
                        "sha": commit.parent,
                        "url": f"{self.repo_api}/commits/{commit.parent}",
                        "html_url": f"{self.html}/commit/{commit.parent}",
                    }
                ]
                if commit.parent
                else []
            ),
        }

    def push_commit(self, commit: Commit) -> dict[str, Any]:
        """A commit as a ``push`` webhook lists it (not the REST shape: ``id``, ``timestamp``, ``url``)."""
        person = self.state.users.get(commit.author)
        signature = {
            "name": person.name if person else commit.author,
            "email": f"{commit.author}@users.noreply.sandbox.localhost",
            "username": commit.author,
        }
        return {
            "id": commit.sha,
            "tree_id": commit.sha[::-1],
            "distinct": True,
            "message": commit.message,
            "timestamp": iso_z(commit.date),
            "url": f"{self.html}/commit/{commit.sha}",
            "author": signature,
            "committer": signature,
            "added": [],
            "removed": [],
            "modified": ["README.md"],
        }

    def release(self, release: Release) -> dict[str, Any]:
        url = f"{self.repo_api}/releases/{release.id}"
        return {
            "url": url,
            "assets_url": f"{url}/assets",
            "upload_url": f"{self.api}/uploads/repos/{self.state.full_name}/releases/{release.id}/assets"
            "{?name,label}",
            "html_url": f"{self.html}/releases/tag/{release.tag_name}",
            "id": release.id,
            "author": self.user(release.author),
            "node_id": node_id("Release", release.id),
            "tag_name": release.tag_name,
            "target_commitish": release.target,
            "name": release.name,
            "draft": False,
            "immutable": False,
            "prerelease": release.prerelease,
            "created_at": iso_z(release.created_at),
            "updated_at": iso_z(release.published_at),
            "published_at": iso_z(release.published_at),
            "assets": [],
            "tarball_url": f"{self.repo_api}/tarball/{release.tag_name}",
            "zipball_url": f"{self.repo_api}/zipball/{release.tag_name}",
            "body": release.body,
        }

    def advisory(self, advisory: Advisory) -> dict[str, Any]:
        cvss = {"vector_string": advisory.vector, "score": advisory.score}
        published = advisory.published_at
        return {
            "ghsa_id": advisory.ghsa_id,
            "cve_id": None,
            "url": f"{self.repo_api}/security-advisories/{advisory.ghsa_id}",
            "html_url": f"{self.html}/security/advisories/{advisory.ghsa_id}",
            "summary": advisory.summary,
            "description": advisory.description,
            "severity": advisory.severity,
            "author": self.user(BOT_LOGIN),
            "publisher": self.user(BOT_LOGIN) if published is not None else None,
            "identifiers": [{"value": advisory.ghsa_id, "type": "GHSA"}],
            "state": advisory.state,
            "created_at": iso_z(advisory.created_at),
            "updated_at": iso_z(advisory.updated_at),
            "published_at": iso_z(published) if published is not None else None,
            "closed_at": iso_z(advisory.closed_at) if advisory.closed_at is not None else None,
            "withdrawn_at": None,
            "submission": None,
            "vulnerabilities": [
                {
                    "package": {"ecosystem": advisory.ecosystem, "name": advisory.package},
                    "vulnerable_version_range": advisory.vulnerable,
                    "patched_versions": advisory.patched,
                    "vulnerable_functions": [],
                }
            ],
            "cvss": cvss,
            "cvss_severities": {"cvss_v3": cvss, "cvss_v4": {"vector_string": None, "score": None}},
            "cwes": [{"cwe_id": advisory.cwe[0], "name": advisory.cwe[1]}],
            "cwe_ids": [advisory.cwe[0]],
            "credits": [],
            "credits_detailed": [],
            "collaborating_users": [],
            "collaborating_teams": [],
            "private_fork": None,
        }

    def hook(self, hook: Hook, last_response: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.repo_api}/hooks/{hook.id}"
        config: dict[str, Any] = {
            "content_type": hook.content_type,
            "insecure_ssl": hook.insecure_ssl,
            "url": hook.url,
        }
        if hook.secret:
            config["secret"] = "********"  # noqa: S105 - GitHub masks a hook secret, never echoes it
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": list(hook.events),
            "config": config,
            "updated_at": iso_z(hook.updated_at),
            "created_at": iso_z(hook.created_at),
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
            "last_response": last_response,
        }
