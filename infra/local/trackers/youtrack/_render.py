"""YouTrack's JSON for the sandbox's records, in full: the routes cut it down to the ``fields=`` asked for.

Shapes follow the developer portal's entity pages (Issue, IssueComment, IssueCustomField with its value
types, Tag, User, Project, ProjectCustomField and its bundle): every object carries ``$type``, timestamps
are epoch milliseconds, and custom fields are a list of ``{"name", "value", "$type"}``.
"""

from __future__ import annotations

import zlib
from typing import Any

from ._state import (
    ISSUE_ID_BASE,
    PRIORITIES,
    PROJECT_ID,
    PROJECT_KEY,
    PROJECT_NAME,
    RESOLVED,
    STATES,
    TYPES,
    Activity,
    Comment,
    Issue,
)


def user(login: str, name: str) -> dict[str, Any]:
    return {
        "id": f"1-{zlib.crc32(login.encode()) % 100_000}",
        "login": login,
        "fullName": name,
        "name": name,
        "email": f"{login}@example.invalid",
        "banned": False,
        "$type": "User",
    }


def project_json() -> dict[str, Any]:
    return {"id": PROJECT_ID, "shortName": PROJECT_KEY, "name": PROJECT_NAME, "$type": "Project"}


def _enum(name: str) -> dict[str, Any]:
    return {"name": name, "$type": "EnumBundleElement"}


def state_value(name: str) -> dict[str, Any]:
    return {"name": name, "isResolved": name in RESOLVED, "$type": "StateBundleElement"}


def issue_json(issue: Issue, users: dict[str, str]) -> dict[str, Any]:
    assignee = (
        {"login": issue.assignee, "name": users.get(issue.assignee, issue.assignee), "$type": "User"}
        if issue.assignee
        else None
    )
    return {
        "id": issue.id,
        "idReadable": issue.key,
        "numberInProject": issue.number,
        "summary": issue.summary,
        "description": issue.description,
        "created": issue.created,
        "updated": issue.updated,
        "resolved": issue.resolved,
        "reporter": {"login": issue.reporter, "$type": "User"},
        "project": project_json(),
        "tags": [{"name": tag, "$type": "Tag"} for tag in issue.tags],
        "customFields": [
            {"name": "Priority", "value": _enum(issue.priority), "$type": "SingleEnumIssueCustomField"},
            {"name": "Type", "value": _enum(issue.type), "$type": "SingleEnumIssueCustomField"},
            {"name": "State", "value": state_value(issue.state), "$type": "StateIssueCustomField"},
            {"name": "Assignee", "value": assignee, "$type": "SingleUserIssueCustomField"},
        ],
        "$type": "Issue",
    }


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "text": comment.text,
        "created": comment.created,
        "updated": comment.updated if comment.updated != comment.created else None,
        "deleted": comment.deleted,
        "author": {"login": comment.author, "$type": "User"},
        "issue": {
            "id": f"2-{ISSUE_ID_BASE + comment.issue}",
            "idReadable": f"{PROJECT_KEY}-{comment.issue}",
            "project": project_json(),
            "$type": "Issue",
        },
        "$type": "IssueComment",
    }


def project_fields() -> list[dict[str, Any]]:
    """The project's custom fields with their bundles (``/api/admin/projects/{id}/customFields``)."""

    def field(name: str, kind: str, values: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": f"92-{len(name)}",
            "field": {"name": name, "$type": "CustomField"},
            "bundle": {"values": values, "$type": f"{kind}Bundle"},
            "$type": f"{kind}ProjectCustomField",
        }

    return [
        field("State", "State", [state_value(name) for name, _ in STATES]),
        field("Priority", "Enum", [_enum(name) for name in PRIORITIES]),
        field("Type", "Enum", [_enum(name) for name in TYPES]),
    ]


def _issue_ref(number: int) -> dict[str, Any]:
    return {
        "id": f"2-{ISSUE_ID_BASE + number}",
        "idReadable": f"{PROJECT_KEY}-{number}",
        "project": project_json(),
        "$type": "Issue",
    }


def activity_json(activity: Activity, comments: dict[int, Comment]) -> dict[str, Any]:
    """An ``ActivityItem`` (developer portal: "ActivityItem", "Activity Category"): ``target`` is the issue
    for ``IssueCreatedCategory`` and the comment (with its issue) for ``CommentsCategory``; the entity itself
    is in ``added`` or ``removed`` (a list; the other one empty)."""
    issue = _issue_ref(activity.issue)
    if activity.comment is None:
        target, kind = issue, "IssueCreatedActivityItem"
    else:
        stored = comments.get(activity.comment)
        target = {
            "id": f"4-{activity.comment}",
            "deleted": stored.deleted if stored is not None else True,
            "issue": issue,
            "$type": "IssueComment",
        }
        kind = "CommentActivityItem"
    return {
        "id": activity.id,
        "timestamp": activity.timestamp,
        "category": {"id": activity.category, "$type": "ActivityCategory"},
        "target": target,
        "targetMember": None,
        "added": [target] if activity.added else [],
        "removed": [] if activity.added else [target],
        "author": {"login": "sandbox-bot", "$type": "User"},
        "$type": kind,
    }
