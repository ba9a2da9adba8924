"""GitLab's JSON shapes, rendered from the compact records of ``_state`` per response.

Field sets follow GitLab's API entities (``API::Entities::Issue``, ``Note``, ``UserBasic``, ``ProjectHook``,
``Project``) as the REST docs show them (``doc/api/issues.md``, ``notes.md``, ``project_webhooks.md``), and
the webhook payloads follow ``doc/user/project/integrations/webhook_events.md`` and the payload fixtures in
``shared/fixtures/gitlab``. API timestamps are ISO 8601 with milliseconds (``2024-01-01T12:00:00.000Z``);
webhook timestamps are ``2024-01-01 12:00:00 UTC``, because GitLab passes hook data through Sidekiq's JSON,
where a Ruby ``Time`` becomes its ``to_s`` (the fixtures' ``changes`` blocks show that shape).
"""

from __future__ import annotations

import time
from typing import Any

from ._state import (
    BOT_USERNAME,
    GROUP_ID,
    GROUP_PATH,
    PROJECT_ID,
    PROJECT_PATH,
    Commit,
    GitLabState,
    Hook,
    Issue,
    Label,
    MergeRequest,
    Milestone,
    Note,
    StateEvent,
    User,
)

GITLAB_VERSION = "18.3.0"
GITLAB_REVISION = "5b1d7e6a0c3"
# GitLab's numeric issue state ids, as hooks show them in ``state_id`` changes.
STATE_IDS = {"opened": 1, "closed": 2}


def iso_ms(epoch_ms: int | None) -> str | None:
    """``2024-01-01T12:00:00.123Z``: GitLab's API timestamp shape."""
    if epoch_ms is None:
        return None
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def hook_time(epoch_ms: int | None) -> str | None:
    """``2024-01-01 12:00:00 UTC``: the shape timestamps take inside webhook payloads."""
    if epoch_ms is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_ms // 1000))


def _human_date(date: str) -> str:
    parsed = time.strptime(date, "%Y-%m-%d")
    return f"{time.strftime('%B', parsed)} {parsed.tm_mday}, {parsed.tm_year}"


class GitLabRenderer:
    """Renders one state under one base URL; rebuilt whenever either changes."""

    def __init__(self, base_url: str, state: GitLabState) -> None:
        self.base = base_url
        self.state = state
        self.api = f"{base_url}/api/v4"
        self.project_api = f"{self.api}/projects/{PROJECT_ID}"
        self.web = f"{base_url}/{state.full_path}"
        self._users: dict[str, dict[str, Any]] = {}

    # ---- people, labels, milestones

    def user(self, username: str) -> dict[str, Any]:
        cached = self._users.get(username)
        if cached is not None:
            return cached
        record = self.state.users.get(username) or User(0, username, username, 0)
        rendered = {
            "id": record.id,
            "username": record.username,
            "public_email": "",
            "name": record.name,
            "state": "active",
            "locked": False,
            "avatar_url": f"https://www.gravatar.com/avatar/{record.id:032x}?s=80&d=identicon",
            "web_url": f"{self.base}/{record.username}",
        }
        self._users[username] = rendered
        return rendered

    def current_user(self, username: str) -> dict[str, Any]:
        record = self.state.users[username]
        return {
            **self.user(username),
            "created_at": iso_ms(record.created_at),
            "bio": "",
            "location": "",
            "public_email": None,
            "skype": "",
            "linkedin": "",
            "twitter": "",
            "discord": "",
            "website_url": "",
            "organization": "",
            "job_title": "",
            "pronouns": None,
            "bot": False,
            "work_information": None,
            "local_time": None,
            "last_sign_in_at": iso_ms(record.created_at),
            "confirmed_at": iso_ms(record.created_at),
            "last_activity_on": None,
            "email": f"{record.username}@example.com",
            "theme_id": 1,
            "color_scheme_id": 1,
            "projects_limit": 100000,
            "current_sign_in_at": iso_ms(record.created_at),
            "identities": [],
            "can_create_group": True,
            "can_create_project": True,
            "two_factor_enabled": False,
            "external": False,
            "private_profile": False,
            "commit_email": f"{record.username}@example.com",
            "is_admin": username == BOT_USERNAME,
        }

    def member(self, user: User) -> dict[str, Any]:
        return {
            **self.user(user.username),
            "access_level": 50 if user.username == BOT_USERNAME else 30,  # owner / developer
            "created_at": iso_ms(user.created_at),
            "created_by": self.user(BOT_USERNAME) if user.username != BOT_USERNAME else None,
            "expires_at": None,
            "membership_state": "active",
        }

    def upload(self, upload_id: int, secret: str, filename: str) -> dict[str, Any]:
        url = f"/uploads/{secret}/{filename}"
        alt = filename.rsplit(".", 1)[0] if "." in filename else filename
        image = filename.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"))
        return {
            "id": upload_id,
            "alt": alt,
            "url": url,
            "full_path": f"/-/project/{PROJECT_ID}{url}",
            "markdown": f"![{alt}]({url})" if image else f"[{filename}]({url})",
        }

    def label(self, label: Label) -> dict[str, Any]:
        return {
            "id": label.id,
            "name": label.name,
            "color": label.color,
            "description": label.description,
            "description_html": label.description or "",
            "text_color": "#FFFFFF",
            "subscribed": False,
            "priority": None,
            "is_project_label": True,
        }

    def label_with_counts(self, label: Label) -> dict[str, Any]:
        state = self.state
        issues = [issue for issue in state.issues if issue is not None and label.name in issue.labels]
        opened = sum(1 for issue in issues if issue.state == "opened")
        return {
            **self.label(label),
            "open_issues_count": opened,
            "closed_issues_count": len(issues) - opened,
            "open_merge_requests_count": 0,
        }

    def milestone(self, milestone: Milestone) -> dict[str, Any]:
        return {
            "id": milestone.id,
            "iid": milestone.iid,
            "project_id": PROJECT_ID,
            "title": milestone.title,
            "description": "",
            "state": milestone.state,
            "created_at": iso_ms(milestone.created_at),
            "updated_at": iso_ms(milestone.created_at),
            "due_date": milestone.due_date,
            "start_date": None,
            "expired": False,
            "web_url": f"{self.web}/-/milestones/{milestone.iid}",
        }

    # ---- issues and notes

    def issue(self, issue: Issue, *, label_details: bool = False) -> dict[str, Any]:
        state = self.state
        assignees = [self.user(name) for name in issue.assignees]
        milestone = state.milestones.get(issue.milestone_id) if issue.milestone_id is not None else None
        link = f"{self.project_api}/issues/{issue.iid}"
        labels: list[Any]
        if label_details:
            labels = [self.label(state.label(name)) for name in issue.labels]
        else:
            labels = list(issue.labels)
        return {
            "id": issue.id,
            "iid": issue.iid,
            "project_id": PROJECT_ID,
            "title": issue.title,
            "description": issue.description,
            "state": issue.state,
            "created_at": iso_ms(issue.created_at),
            "updated_at": iso_ms(issue.updated_at),
            "closed_at": iso_ms(issue.closed_at),
            "closed_by": self.user(issue.closed_by) if issue.closed_by else None,
            "labels": labels,
            "milestone": self.milestone(milestone) if milestone else None,
            "assignees": assignees,
            "author": self.user(issue.author),
            "type": issue.issue_type.upper(),
            "assignee": assignees[0] if assignees else None,
            "user_notes_count": issue.user_notes_count,
            "merge_requests_count": 0,
            "upvotes": issue.upvotes,
            "downvotes": issue.downvotes,
            "due_date": issue.due_date,
            "confidential": issue.confidential,
            "discussion_locked": issue.discussion_locked,
            "issue_type": issue.issue_type,
            "web_url": f"{self.web}/-/issues/{issue.iid}",
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
            "task_completion_status": {"count": 0, "completed_count": 0},
            "weight": None,
            "blocking_issues_count": 0,
            "has_tasks": False,
            "_links": {
                "self": link,
                "notes": f"{link}/notes",
                "award_emoji": f"{link}/award_emoji",
                "project": self.project_api,
                "closed_as_duplicate_of": None,
            },
            "references": {
                "short": f"#{issue.iid}",
                "relative": f"#{issue.iid}",
                "full": f"{state.full_path}#{issue.iid}",
            },
            "severity": "UNKNOWN",
            "subscribed": False,
            "moved_to_id": None,
            "imported": False,
            "imported_from": "none",
            "service_desk_reply_to": None,
        }

    def note(self, note: Note) -> dict[str, Any]:
        noteable = self.state.issue(note.iid)
        return {
            "id": note.id,
            "type": None,
            "body": note.body,
            "attachment": None,
            "author": self.user(note.author),
            "created_at": iso_ms(note.created_at),
            "updated_at": iso_ms(note.updated_at),
            "system": note.system,
            "noteable_id": noteable.id if noteable else None,
            "noteable_type": "Issue",
            "project_id": PROJECT_ID,
            "resolvable": False,
            "confidential": note.internal,
            "internal": note.internal,
            "imported": False,
            "imported_from": "none",
            "noteable_iid": note.iid,
            "commands_changes": {},
        }

    def state_event(self, event: StateEvent) -> dict[str, Any]:
        issue = self.state.issue(event.iid)
        return {
            "id": event.id,
            "user": self.user(event.user),
            "created_at": iso_ms(event.created_at),
            "resource_type": "Issue",
            "resource_id": issue.id if issue else None,
            "state": event.state,
        }

    # ---- project, instance

    def namespace(self) -> dict[str, Any]:
        return {
            "id": GROUP_ID,
            "name": GROUP_PATH.title(),
            "path": GROUP_PATH,
            "kind": "group",
            "full_path": GROUP_PATH,
            "parent_id": None,
            "avatar_url": None,
            "web_url": f"{self.base}/groups/{GROUP_PATH}",
        }

    def project(self) -> dict[str, Any]:
        state = self.state
        newest = state.by_updated.keys()[-1][0] if len(state.by_updated) else state.created_at
        return {
            "id": PROJECT_ID,
            "description": "Sandbox project for trackbridge",
            "name": PROJECT_PATH.title(),
            "name_with_namespace": f"{GROUP_PATH.title()} / {PROJECT_PATH.title()}",
            "path": PROJECT_PATH,
            "path_with_namespace": state.full_path,
            "created_at": iso_ms(state.created_at),
            "default_branch": "main",
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@sandbox.localhost:{state.full_path}.git",
            "http_url_to_repo": f"{self.web}.git",
            "web_url": self.web,
            "readme_url": f"{self.web}/-/blob/main/README.md",
            "forks_count": 0,
            "avatar_url": None,
            "star_count": 0,
            "last_activity_at": iso_ms(newest),
            "namespace": self.namespace(),
            "container_registry_image_prefix": f"registry.sandbox.localhost/{state.full_path}",
            "_links": {
                "self": self.project_api,
                "issues": f"{self.project_api}/issues",
                "merge_requests": f"{self.project_api}/merge_requests",
                "repo_branches": f"{self.project_api}/repository/branches",
                "labels": f"{self.project_api}/labels",
                "events": f"{self.project_api}/events",
                "members": f"{self.project_api}/members",
                "cluster_agents": f"{self.project_api}/cluster_agents",
            },
            "empty_repo": False,
            "archived": False,
            "visibility": "private",
            "owner": None,
            "resolve_outdated_diff_discussions": False,
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "wiki_enabled": True,
            "jobs_enabled": True,
            "snippets_enabled": True,
            "issues_access_level": "enabled",
            "creator_id": 1,
            "open_issues_count": state.open_count(),
            "description_html": "<p>Sandbox project for trackbridge</p>",
            "updated_at": iso_ms(newest),
            "permissions": {
                "project_access": None,
                "group_access": {"access_level": 50, "notification_level": 3},
            },
        }

    def version(self) -> dict[str, Any]:
        return {
            "version": GITLAB_VERSION,
            "revision": GITLAB_REVISION,
            "kas": {"enabled": False},
            "enterprise": False,
        }

    # ---- hooks

    def hook(self, hook: Hook, alert_status: str, disabled_until: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": hook.id,
            "url": hook.url,
            "name": hook.name,
            "description": hook.description,
            "project_id": PROJECT_ID,
            "created_at": iso_ms(hook.created_at),
            **hook.events,
            "push_events_branch_filter": hook.push_events_branch_filter,
            "branch_filter_strategy": "wildcard",
            "enable_ssl_verification": hook.enable_ssl_verification,
            "alert_status": alert_status,
            "disabled_until": iso_ms(disabled_until),
            "url_variables": [],
            "custom_webhook_template": None,
            "custom_headers": [],
            # The secrets themselves are never returned, only whether they are set (MR !231325).
            "token_present": bool(hook.token),
            "signing_token_present": bool(hook.signing_token),
        }
        return body

    # ---- webhook payloads

    def hook_user(self, username: str) -> dict[str, Any]:
        record = self.state.users.get(username) or User(0, username, username, 0)
        rendered = self.user(username)
        return {
            "id": record.id,
            "name": record.name,
            "username": record.username,
            "avatar_url": rendered["avatar_url"],
            "email": "[REDACTED]",
        }

    def hook_project(self) -> dict[str, Any]:
        path = self.state.full_path
        return {
            "id": PROJECT_ID,
            "name": PROJECT_PATH.title(),
            "description": "Sandbox project for trackbridge",
            "web_url": self.web,
            "avatar_url": None,
            "git_ssh_url": f"git@sandbox.localhost:{path}.git",
            "git_http_url": f"{self.web}.git",
            "namespace": GROUP_PATH.title(),
            "visibility_level": 0,
            "path_with_namespace": path,
            "default_branch": "main",
            "ci_config_path": None,
            "homepage": self.web,
            "url": f"git@sandbox.localhost:{path}.git",
            "ssh_url": f"git@sandbox.localhost:{path}.git",
            "http_url": f"{self.web}.git",
        }

    def hook_repository(self) -> dict[str, Any]:
        return {
            "name": PROJECT_PATH.title(),
            "url": f"git@sandbox.localhost:{self.state.full_path}.git",
            "description": "Sandbox project for trackbridge",
            "homepage": self.web,
        }

    def hook_label(self, name: str) -> dict[str, Any]:
        label = self.state.label(name)
        stamp = iso_ms(self.state.created_at)
        return {
            "id": label.id,
            "title": label.name,
            "color": label.color,
            "project_id": PROJECT_ID,
            "created_at": stamp,
            "updated_at": stamp,
            "template": False,
            "description": label.description,
            "type": "ProjectLabel",
            "group_id": None,
        }

    def hook_issue_attributes(self, issue: Issue, action: str | None) -> dict[str, Any]:
        author = self.state.users.get(issue.author)
        assignee_ids = [self.state.users[name].id for name in issue.assignees if name in self.state.users]
        updated_by = self.state.users.get(issue.updated_by) if issue.updated_by else None
        edited_by = self.state.users.get(issue.last_edited_by) if issue.last_edited_by else None
        attributes: dict[str, Any] = {
            "author_id": author.id if author else None,
            "closed_at": hook_time(issue.closed_at),
            "confidential": issue.confidential,
            "created_at": hook_time(issue.created_at),
            "description": issue.description,
            "discussion_locked": issue.discussion_locked,
            "due_date": issue.due_date,
            "id": issue.id,
            "iid": issue.iid,
            "last_edited_at": hook_time(issue.last_edited_at),
            "last_edited_by_id": edited_by.id if edited_by else None,
            "milestone_id": issue.milestone_id,
            "moved_to_id": None,
            "duplicated_to_id": None,
            "project_id": PROJECT_ID,
            "relative_position": issue.iid * 513,
            "state_id": STATE_IDS[issue.state],
            "time_estimate": 0,
            "title": issue.title,
            "updated_at": hook_time(issue.updated_at),
            "updated_by_id": updated_by.id if updated_by else None,
            "weight": None,
            "health_status": None,
            # The work item type's name: Issue, Incident, Test Case, Task.
            "type": issue.issue_type.replace("_", " ").title(),
            "url": f"{self.web}/-/issues/{issue.iid}",
            "total_time_spent": 0,
            "time_change": 0,
            "human_total_time_spent": None,
            "human_time_change": None,
            "human_time_estimate": None,
            "assignee_ids": assignee_ids,
            "assignee_id": assignee_ids[0] if assignee_ids else None,
            "labels": [self.hook_label(name) for name in issue.labels],
            "state": issue.state,
            "severity": "unknown",
            "customer_relations_contacts": [],
        }
        if action is not None:
            attributes["action"] = action
        return attributes

    def issue_hook(
        self, issue: Issue, action: str, actor: str, changes: dict[str, Any], *, confidential: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "object_kind": "issue",
            "event_type": "confidential_issue" if confidential else "issue",
            "user": self.hook_user(actor),
            "project": self.hook_project(),
            "object_attributes": self.hook_issue_attributes(issue, action),
            "labels": [self.hook_label(name) for name in issue.labels],
            "changes": changes,
            "repository": self.hook_repository(),
        }
        if issue.assignees:
            payload["assignees"] = [self.hook_user(name) for name in issue.assignees]
        return payload

    def note_hook(
        self, note: Note, issue: Issue, actor: str, action: str, *, confidential: bool
    ) -> dict[str, Any]:
        author = self.state.users.get(note.author)
        updated_by = self.state.users.get(note.updated_by) if note.updated_by else None
        return {
            "object_kind": "note",
            "event_type": "confidential_note" if confidential else "note",
            "user": self.hook_user(actor),
            "project_id": PROJECT_ID,
            "project": self.hook_project(),
            "object_attributes": {
                "attachment": None,
                "author_id": author.id if author else None,
                "change_position": None,
                "commit_id": None,
                "created_at": hook_time(note.created_at),
                "discussion_id": f"{note.id:040x}",
                "id": note.id,
                "line_code": None,
                "note": note.body,
                "noteable_id": issue.id,
                "noteable_type": "Issue",
                "original_position": None,
                "position": None,
                "project_id": PROJECT_ID,
                "resolved_at": None,
                "resolved_by_id": None,
                "resolved_by_push": None,
                "st_diff": None,
                "system": note.system,
                "type": None,
                "updated_at": hook_time(note.updated_at),
                "updated_by_id": updated_by.id if updated_by else None,
                "description": note.body,
                "internal": note.internal,
                "url": f"{self.web}/-/issues/{issue.iid}#note_{note.id}",
                "action": action,
            },
            "repository": self.hook_repository(),
            "issue": {
                **self.hook_issue_attributes(issue, None),
                "labels": [self.hook_label(name) for name in issue.labels],
            },
        }

    def due_date_note(self, due_date: str | None) -> str:
        return f"changed due date to {_human_date(due_date)}" if due_date else "removed due date"


class DevelopmentRenderer(GitLabRenderer):
    """Commits and merge requests: ``API::Entities::Commit`` / ``MergeRequestBasic`` (``doc/api/commits.md``,
    ``merge_requests.md``) and the ``Push Hook`` / ``Merge Request Hook`` payloads (``webhook_events.md``)."""

    def _email(self, username: str) -> str:
        return f"{username}@users.noreply.sandbox.localhost"

    def commit(self, commit: Commit) -> dict[str, Any]:
        person = self.state.users.get(commit.author)
        name = person.name if person else commit.author
        stamp = iso_ms(commit.date)
        return {
            "id": commit.sha,
            "short_id": commit.sha[:8],
            "created_at": stamp,
            "parent_ids": [commit.parent] if commit.parent else [],
            "title": commit.message.split("\n", 1)[0],
            "message": commit.message,
            "author_name": name,
            "author_email": self._email(commit.author),
            "authored_date": stamp,
            "committer_name": name,
            "committer_email": self._email(commit.author),
            "committed_date": stamp,
            "trailers": {},
            "extended_trailers": {},
            "web_url": f"{self.web}/-/commit/{commit.sha}",
        }

    def merge_request(self, request: MergeRequest) -> dict[str, Any]:
        reference = f"!{request.iid}"
        sha = commit_sha_of(request)
        return {
            "id": request.id,
            "iid": request.iid,
            "project_id": PROJECT_ID,
            "title": request.title,
            "description": request.description,
            "state": request.state,
            "created_at": iso_ms(request.created_at),
            "updated_at": iso_ms(request.updated_at),
            "merged_by": self.user(request.author) if request.merged_at else None,
            "merge_user": self.user(request.author) if request.merged_at else None,
            "merged_at": iso_ms(request.merged_at),
            "closed_by": None,
            "closed_at": iso_ms(request.closed_at),
            "target_branch": "main",
            "source_branch": request.source_branch,
            "user_notes_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "author": self.user(request.author),
            "assignees": [],
            "assignee": None,
            "reviewers": [],
            "source_project_id": PROJECT_ID,
            "target_project_id": PROJECT_ID,
            "labels": [],
            "draft": request.title.startswith("Draft:"),
            "work_in_progress": request.title.startswith("Draft:"),
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable" if request.state == "opened" else "not_open",
            "sha": sha,
            "merge_commit_sha": sha[::-1] if request.merged_at else None,
            "squash_commit_sha": None,
            "discussion_locked": None,
            "should_remove_source_branch": None,
            "force_remove_source_branch": True,
            "prepared_at": iso_ms(request.created_at),
            "reference": reference,
            "references": {
                "short": reference,
                "relative": reference,
                "full": f"{self.state.full_path}{reference}",
            },
            "web_url": f"{self.web}/-/merge_requests/{request.iid}",
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
            "squash": False,
            "squash_on_merge": False,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": False,
            "blocking_discussions_resolved": True,
        }

    def push_hook(self, commits: list[Commit], before: str, branch: str, actor: str) -> dict[str, Any]:
        """``Push Hook``: the pushed commits oldest first (GitLab lists at most 20, ``total_commits_count``
        says how many)."""
        user = self.hook_user(actor)
        return {
            "object_kind": "push",
            "event_name": "push",
            "before": before,
            "after": commits[-1].sha,
            "ref": f"refs/heads/{branch}",
            "ref_protected": branch == "main",
            "checkout_sha": commits[-1].sha,
            "message": None,
            "user_id": user["id"],
            "user_name": user["name"],
            "user_username": user["username"],
            "user_email": "",
            "user_avatar": user["avatar_url"],
            "project_id": PROJECT_ID,
            "project": self.hook_project(),
            "commits": [self.hook_commit(commit) for commit in commits[-20:]],
            "total_commits_count": len(commits),
            "push_options": {},
            "repository": {
                **self.hook_repository(),
                "git_http_url": f"{self.web}.git",
                "git_ssh_url": f"git@sandbox.localhost:{self.state.full_path}.git",
                "visibility_level": 0,
            },
        }

    def hook_commit(self, commit: Commit) -> dict[str, Any]:
        person = self.state.users.get(commit.author)
        return {
            "id": commit.sha,
            "message": commit.message,
            "title": commit.message.split("\n", 1)[0],
            "timestamp": iso_seconds_offset(commit.date),
            "url": f"{self.web}/-/commit/{commit.sha}",
            "author": {"name": person.name if person else commit.author, "email": "[REDACTED]"},
            "added": [],
            "modified": ["README.md"],
            "removed": [],
        }

    def merge_request_hook(self, request: MergeRequest, action: str, actor: str) -> dict[str, Any]:
        author = self.state.users.get(request.author)
        rendered = self.merge_request(request)
        attributes = {
            "id": request.id,
            "iid": request.iid,
            "target_branch": "main",
            "source_branch": request.source_branch,
            "source_project_id": PROJECT_ID,
            "author_id": author.id if author else None,
            "assignee_ids": [],
            "reviewer_ids": [],
            "title": request.title,
            "created_at": hook_time(request.created_at),
            "updated_at": hook_time(request.updated_at),
            "merged_at": hook_time(request.merged_at),
            "closed_at": hook_time(request.closed_at),
            "state_id": {"opened": 1, "closed": 2, "merged": 3}[request.state],
            "target_project_id": PROJECT_ID,
            "description": request.description,
            "url": rendered["web_url"],
            "source": self.hook_project(),
            "target": self.hook_project(),
            "last_commit": None,
            "work_in_progress": rendered["draft"],
            "draft": rendered["draft"],
            "merge_status": rendered["merge_status"],
            "detailed_merge_status": rendered["detailed_merge_status"],
            "state": request.state,
            "blocking_discussions_resolved": True,
            "first_contribution": False,
            "labels": [],
            "action": action,
        }
        return {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": self.hook_user(actor),
            "project": self.hook_project(),
            "object_attributes": attributes,
            "labels": [],
            "changes": {},
            "repository": self.hook_repository(),
            "assignees": [],
            "reviewers": [],
        }


def commit_sha_of(request: MergeRequest) -> str:
    """The head sha of a merge request's source branch (stable per request)."""
    return f"{(request.id * 2654435761) % (1 << 160):040x}"


def iso_seconds_offset(epoch_ms: int) -> str:
    """Push hook commit times: ISO 8601 with an offset and whole seconds (``2024-01-01T12:00:00+00:00``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch_ms // 1000))
