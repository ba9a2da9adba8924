"""Jira's JSON, rendered per response from the compact records of ``_state``.

Why a renderer object per request: every ``self`` link depends on the base URL the caller used (the site,
or the OAuth gateway ``/ex/jira/{cloudId}``), and every timestamp is written in the *caller's* profile time
zone, as Jira Cloud does (``2025-01-17T04:34:00.000-0800``; note the offset has no colon). ``api="2"`` gives
the REST v2 flavour that webhooks carry: rich text as plain strings instead of ADF, ``/rest/api/2/`` links.

Also here: the Atlassian Document Format helpers (text <-> ADF, a structural validity check) and Jira's
duration strings (``1w 2d 3h 30m`` with 5-day weeks and 8-hour days).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._screens import SELECT_FIELDS
from ._state import (
    CATEGORIES,
    EMBEDDED_CHANGELOG,
    EMBEDDED_PAGE,
    FIELDS,
    ISSUE_TYPES,
    NON_NAVIGABLE,
    PRIORITIES,
    RESOLUTIONS,
    SPRINT_FIELD,
    STATUSES,
    TRANSITIONS,
    Attachment,
    Board,
    Comment,
    History,
    Issue,
    JiraState,
    Project,
    Sprint,
    Worklog,
)

logger = logging.getLogger(__name__)

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
ALL_FIELDS: tuple[str, ...] = tuple(f.id for f in FIELDS if f.id != "issuekey")
FIELD_NAMES: dict[str, str] = {f.id: f.name for f in FIELDS}
FIELD_SCHEMAS: dict[str, dict[str, Any]] = {f.id: f.schema() for f in FIELDS}


# ------------------------------------------------------------------------------------------------ time


@cache
def zone(name: str) -> tzinfo:
    """The IANA zone ``name``; without a tz database, a fixed offset so the sandbox still is not UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("sandbox.jira.no_tzdata", extra={"zone": name})
        return timezone(timedelta(hours=-8), name) if name != "UTC" else UTC


def jira_time(ms: int, tz: tzinfo) -> str:
    """``2021-01-17T12:34:00.000+0000``: Jira's timestamp shape, in ``tz``."""
    moment = datetime.fromtimestamp(ms / 1000, tz)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}{moment:%z}"


_JIRA_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)([+-]\d{2}:?\d{2}|Z)\Z")


def parse_jira_time(text: str) -> int:
    """Epoch ms from a Jira request timestamp (``2021-01-17T12:34:00.000+0000``); ``ValueError`` otherwise."""
    match = _JIRA_TIME.match(text.strip())
    if match is None:
        raise ValueError(text)
    offset = match[2]
    if offset == "Z":
        offset = "+00:00"
    elif ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    return int(datetime.fromisoformat(match[1] + offset).timestamp() * 1000)


_DURATION_UNITS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhm]?)", re.IGNORECASE)


def format_duration(seconds: int) -> str:
    """``1w 2d 3h 30m`` (5-day weeks, 8-hour days), as Jira writes time tracking values."""
    parts = []
    left = max(int(seconds), 0)
    for unit, size in _DURATION_UNITS.items():
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


def parse_duration(text: str) -> int:
    """Seconds in ``3h 20m``, ``1d``, ``90`` (minutes); ``ValueError`` on anything else or zero."""
    cleaned = text.strip()
    if not cleaned:
        raise ValueError(text)
    total = 0.0
    position = 0
    for match in _DURATION.finditer(cleaned):
        if cleaned[position : match.start()].strip():
            raise ValueError(text)
        total += float(match[1]) * _DURATION_UNITS[(match[2] or "m").lower()]
        position = match.end()
    if cleaned[position:].strip() or total <= 0:
        raise ValueError(text)
    return int(total)


# ------------------------------------------------------------------------------------------------- ADF


def adf_from_text(text: str) -> dict[str, Any]:
    """Plain text as an ADF document: one paragraph per line."""
    content = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": content}


_BLOCKS = frozenset(
    {"paragraph", "heading", "blockquote", "codeBlock", "listItem", "rule", "panel", "tableRow", "mediaGroup"}
)


def adf_to_text(value: Any) -> str:
    """The readable text of an ADF document (or of a plain string, unchanged)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    lines: list[str] = []
    current: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
        if kind == "text" and isinstance(node.get("text"), str):
            current.append(node["text"])
        elif kind == "hardBreak":
            current.append("\n")
        elif kind == "mention":
            current.append(str(attrs.get("text") or ""))
        elif kind == "emoji":
            current.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind in ("inlineCard", "blockCard"):
            current.append(str(attrs.get("url") or ""))
        for child in node.get("content") or ():
            walk(child)
        if kind in _BLOCKS:
            lines.append("".join(current))
            current.clear()

    walk(value)
    if current:
        lines.append("".join(current))
    return "\n".join(lines).strip("\n")


def is_adf(value: Any) -> bool:
    """A structurally valid ADF document: ``{"type": "doc", "version": 1, "content": [nodes]}``."""
    if not isinstance(value, dict) or value.get("type") != "doc" or value.get("version") != 1:
        return False
    return isinstance(value.get("content"), list) and all(_adf_node(node, 1) for node in value["content"])


def _adf_node(node: Any, depth: int) -> bool:
    if depth > 50 or not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return False
    if node["type"] == "text" and not isinstance(node.get("text"), str):
        return False
    content = node.get("content", [])
    return isinstance(content, list) and all(_adf_node(child, depth + 1) for child in content)


def adf_to_html(value: Any) -> str:
    text = adf_to_text(value)
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n")) if text else ""


def as_adf(value: Any) -> dict[str, Any] | None:
    """What a stored rich-text value looks like in REST v3."""
    if value is None:
        return None
    if isinstance(value, str):
        return adf_from_text(value)
    return dict(value)


# ----------------------------------------------------------------------------------------- field lists


class FieldSelection:
    """Which fields a request asked for: Jira's ``*all``, ``*navigable``, ids, and ``-id`` exclusions."""

    def __init__(self, tokens: Iterable[str], default: str) -> None:
        words = [t.strip() for token in tokens for t in str(token).split(",") if t.strip()]
        if not words:
            words = [default]
        include: list[str] = []
        exclude: set[str] = set()
        for word in words:
            if word.startswith("-"):
                exclude.add(word[1:])
            elif word == "*all":
                include.extend(ALL_FIELDS)
            elif word == "*navigable":
                include.extend(f for f in ALL_FIELDS if f not in NON_NAVIGABLE)
            else:
                include.append(word)
        self.requested = [w for w in words if not w.startswith("-")]
        self.fields: list[str] = [f for f in dict.fromkeys(include) if f not in exclude and f in FIELD_NAMES]
        # "id" (or nothing but id/key) returns ids only: search/jql's default and its cheapest page.
        self.ids_only = all(w in ("id", "key") for w in self.requested) and "key" not in self.requested
        self.id_or_key_only = all(w in ("id", "key") for w in self.requested)

    @property
    def heavy(self) -> bool:
        """Whether this selection carries comment/worklog pages (Jira then returns fewer issues a page)."""
        return any(f in ("comment", "worklog") for f in self.fields)


# ------------------------------------------------------------------------------------------- renderer


class JiraRenderer:
    """Renders records for one base URL, one REST flavour and one caller's time zone."""

    def __init__(self, base_url: str, state: JiraState, tz_name: str, *, api: str = "3") -> None:
        self.base = base_url.rstrip("/")
        self.state = state
        self.tz = zone(tz_name)
        self.api = api
        self.rest = f"{self.base}/rest/api/{api}"
        self._users: dict[str, dict[str, Any]] = {}

    # ---- small values

    def time(self, ms: int | None) -> str | None:
        return None if ms is None else jira_time(ms, self.tz)

    def rich(self, value: Any) -> Any:
        """A rich-text field: ADF in v3, plain text in v2 (and in webhooks)."""
        if value is None:
            return None
        return as_adf(value) if self.api == "3" else adf_to_text(value)

    def avatars(self, kind: str, ident: str) -> dict[str, str]:
        return {
            f"{size}x{size}": f"{self.base}/secure/{kind}avatar?size={size}&ownerId={quote(ident, safe='')}"
            for size in (48, 24, 16, 32)
        }

    def user(self, account_id: str | None) -> dict[str, Any] | None:
        """``UserDetails`` as embedded in issues, comments and worklogs."""
        if account_id is None:
            return None
        cached = self._users.get(account_id)
        if cached is not None:
            return cached
        user = self.state.users.get(account_id)
        if user is None:
            return None
        body: dict[str, Any] = {
            "self": f"{self.rest}/user?accountId={quote(account_id, safe='')}",
            "accountId": account_id,
        }
        if user.email:
            body["emailAddress"] = user.email
        body.update(
            {
                "avatarUrls": self.avatars("user", account_id),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
                "accountType": user.account_type,
            }
        )
        self._users[account_id] = body
        return body

    def user_full(self, account_id: str, *, expand: Sequence[str] = ()) -> dict[str, Any]:
        """The ``User`` bean of ``/myself``, ``/user`` and the user searches."""
        user = self.state.users[account_id]
        body = dict(self.user(account_id) or {})
        body["locale"] = user.locale
        groups = ["jira-software-users"] + (
            ["jira-administrators"] if account_id == self.state.api_user else []
        )
        body["groups"] = {"size": len(groups), "items": []}
        body["applicationRoles"] = {"size": 1, "items": []}
        if "groups" in expand:
            body["groups"]["items"] = [
                {"name": name, "self": f"{self.rest}/group?groupname={name}"} for name in groups
            ]
        body["expand"] = "groups,applicationRoles"
        return body

    def category(self, category_id: int) -> dict[str, Any]:
        cat = CATEGORIES[category_id]
        return {
            "self": f"{self.rest}/statuscategory/{cat.id}",
            "id": cat.id,
            "key": cat.key,
            "colorName": cat.color,
            "name": cat.name,
        }

    def status(self, status_id: str) -> dict[str, Any]:
        status = STATUSES[status_id]
        return {
            "self": f"{self.rest}/status/{status.id}",
            "description": status.description,
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": self.category(status.category),
        }

    def issuetype(self, type_id: str) -> dict[str, Any]:
        kind = ISSUE_TYPES[type_id]
        return {
            "self": f"{self.rest}/issuetype/{kind.id}",
            "id": kind.id,
            "description": kind.description,
            "iconUrl": f"{self.base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{kind.avatar}",
            "name": kind.name,
            "subtask": kind.subtask,
            "avatarId": kind.avatar,
            "hierarchyLevel": kind.level,
        }

    def priority(self, priority_id: str) -> dict[str, Any]:
        priority = PRIORITIES[priority_id]
        return {
            "self": f"{self.rest}/priority/{priority.id}",
            "iconUrl": f"{self.base}/images/icons/priorities/{priority.icon}.svg",
            "name": priority.name,
            "id": priority.id,
        }

    def priority_full(self, priority_id: str) -> dict[str, Any]:
        priority = PRIORITIES[priority_id]
        return {
            **self.priority(priority_id),
            "statusColor": priority.color,
            "description": f"{priority.name} priority",
            "isDefault": priority.id == "3",
        }

    def resolution(self, resolution_id: str | None) -> dict[str, Any] | None:
        if resolution_id is None:
            return None
        resolution = RESOLUTIONS[resolution_id]
        return {
            "self": f"{self.rest}/resolution/{resolution.id}",
            "id": resolution.id,
            "description": resolution.description,
            "name": resolution.name,
        }

    def project_ref(self, project: Project) -> dict[str, Any]:
        return {
            "self": f"{self.rest}/project/{project.id}",
            "id": str(project.id),
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": True,
            "avatarUrls": self.avatars("project", str(project.id)),
        }

    def project(self, project: Project, *, expand: Sequence[str] = ()) -> dict[str, Any]:
        body: dict[str, Any] = {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            **self.project_ref(project),
            "description": project.description,
            "lead": self.user_full(project.lead),
            "assigneeType": "UNASSIGNED",
            "components": [],
            "versions": [],
            "issueTypes": [self.issuetype(type_id) for type_id in ISSUE_TYPES],
            "roles": {},
            "style": "next-gen",
            "isPrivate": False,
            "properties": {},
            "uuid": f"{self.state.cloud_id}-{project.id}",
        }
        if "insight" in expand:
            live = [
                issue for issue in self.state.issues if issue is not None and issue.project_id == project.id
            ]
            body["insight"] = {"totalIssueCount": len(live)}
            if live:
                body["insight"]["lastIssueUpdateTime"] = self.time(max(i.updated for i in live))
        return body

    # ---- comments, worklogs, histories

    def comment(self, comment: Comment, *, rendered: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.rest}/issue/{comment.issue_id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": self.user(comment.author),
            "body": self.rich(comment.body),
            "updateAuthor": self.user(comment.update_author),
            "created": self.time(comment.created),
            "updated": self.time(comment.updated),
            "jsdPublic": True,
        }
        if comment.visibility is not None:
            body["visibility"] = comment.visibility
        if rendered:
            body["renderedBody"] = adf_to_html(comment.body)
        return body

    def comment_page(
        self, issue: Issue, start: int, limit: int, *, newest_first: bool = False, rendered: bool = False
    ) -> dict[str, Any]:
        ids = issue.comments[::-1] if newest_first else issue.comments
        chunk = ids[start : start + limit]
        comments = self.state.comments
        return {
            "comments": [self.comment(comments[cid], rendered=rendered) for cid in chunk if cid in comments],
            "self": f"{self.rest}/issue/{issue.id}/comment",
            "maxResults": limit,
            "total": len(ids),
            "startAt": start,
        }

    def worklog(self, worklog: Worklog) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.rest}/issue/{worklog.issue_id}/worklog/{worklog.id}",
            "author": self.user(worklog.author),
            "updateAuthor": self.user(worklog.update_author),
        }
        if worklog.comment is not None:
            body["comment"] = self.rich(worklog.comment)
        body.update(
            {
                "created": self.time(worklog.created),
                "updated": self.time(worklog.updated),
                "started": self.time(worklog.started),
                "timeSpent": format_duration(worklog.seconds),
                "timeSpentSeconds": worklog.seconds,
                "id": str(worklog.id),
                "issueId": str(worklog.issue_id),
            }
        )
        return body

    def worklog_page(
        self, issue: Issue, start: int, limit: int, ids: Sequence[int] | None = None
    ) -> dict[str, Any]:
        chosen = issue.worklogs if ids is None else ids
        worklogs = self.state.worklogs
        return {
            "startAt": start,
            "maxResults": limit,
            "total": len(chosen),
            "worklogs": [
                self.worklog(worklogs[wid]) for wid in chosen[start : start + limit] if wid in worklogs
            ],
        }

    def history(self, history: History) -> dict[str, Any]:
        return {
            "id": str(history.id),
            "author": self.user(history.author),
            "created": self.time(history.created),
            "items": [self.change_item(item) for item in history.items],
        }

    def change_item(
        self, item: tuple[str, str, str | None, str | None, str | None, str | None]
    ) -> dict[str, Any]:
        """A changelog item. Webhooks (v2) write empty sides as ``null``, as Jira's payloads do; the v3
        description types them as non-null strings, so REST v3 leaves empty sides out."""
        name, field_id, old, old_text, new, new_text = item
        body = {
            "field": name,
            "fieldtype": "custom" if field_id.startswith("customfield_") else "jira",
            "fieldId": field_id,
            "from": old,
            "fromString": old_text,
            "to": new,
            "toString": new_text,
        }
        if self.api == "3":
            return {key: value for key, value in body.items() if value is not None}
        return body

    def attachment(self, attachment: Attachment) -> dict[str, Any]:
        return {
            "self": f"{self.rest}/attachment/{attachment.id}",
            "id": str(attachment.id),
            "filename": attachment.filename,
            "author": self.user(attachment.author),
            "created": self.time(attachment.created),
            "size": len(attachment.content),
            "mimeType": attachment.mime_type,
            "content": f"{self.rest}/attachment/content/{attachment.id}",
        }

    # ---- agile

    def sprint(self, sprint: Sprint) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": sprint.id,
            "self": f"{self.base}/rest/agile/1.0/sprint/{sprint.id}",
            "state": sprint.state,
            "name": sprint.name,
        }
        if sprint.start is not None:
            body["startDate"] = self.time(sprint.start)
        if sprint.end is not None:
            body["endDate"] = self.time(sprint.end)
        if sprint.complete is not None:
            body["completeDate"] = self.time(sprint.complete)
        body.update(
            {"createdDate": self.time(sprint.created), "originBoardId": sprint.board_id, "goal": sprint.goal}
        )
        return body

    def sprint_field(self, sprint_id: int | None) -> list[dict[str, Any]] | None:
        sprint = self.state.sprints.get(sprint_id) if sprint_id is not None else None
        if sprint is None:
            return None
        value: dict[str, Any] = {
            "id": sprint.id,
            "name": sprint.name,
            "state": sprint.state,
            "boardId": sprint.board_id,
            "goal": sprint.goal,
        }
        for key, ms in (
            ("startDate", sprint.start),
            ("endDate", sprint.end),
            ("completeDate", sprint.complete),
        ):
            if ms is not None:
                value[key] = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
                    f"{ms % 1000:03d}Z"
                )
        return [value]

    def board(self, board: Board) -> dict[str, Any]:
        project = self.state.projects[board.project_id]
        return {
            "id": board.id,
            "self": f"{self.base}/rest/agile/1.0/board/{board.id}",
            "name": board.name,
            "type": board.type,
            "location": {
                "projectId": project.id,
                "displayName": f"{project.name} ({project.key})",
                "projectName": project.name,
                "projectKey": project.key,
                "projectTypeKey": "software",
                "avatarURI": f"{self.base}/secure/projectavatar?size=small&pid={project.id}",
                "name": f"{project.name} ({project.key})",
            },
        }

    # ---- issues

    def issue_link(self, issue: Issue) -> dict[str, Any]:
        """The short form used for ``parent`` and ``subtasks``."""
        return {
            "id": str(issue.id),
            "key": self.state.key(issue),
            "self": f"{self.rest}/issue/{issue.id}",
            "fields": {
                "summary": issue.summary,
                "status": self.status(issue.status_id),
                "priority": self.priority(issue.priority_id),
                "issuetype": self.issuetype(issue.type_id),
            },
        }

    def transitions(self, issue: Issue) -> list[dict[str, Any]]:
        return [
            {
                "id": transition.id,
                "name": transition.name,
                "to": self.status(transition.to),
                "hasScreen": False,
                "isGlobal": True,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for transition in TRANSITIONS
            if transition.to != issue.status_id
        ]

    def field_value(self, issue: Issue, field_id: str) -> Any:
        state = self.state
        if field_id == "summary":
            return issue.summary
        if field_id == "description":
            return self.rich(issue.description)
        if field_id == "environment":
            return self.rich(issue.environment)
        if field_id == "status":
            return self.status(issue.status_id)
        if field_id == "statusCategory":
            return self.category(STATUSES[issue.status_id].category)
        if field_id == "statuscategorychangedate":
            return self.time(issue.status_changed)
        if field_id == "issuetype":
            return self.issuetype(issue.type_id)
        if field_id == "project":
            return self.project_ref(state.projects[issue.project_id])
        if field_id == "priority":
            return self.priority(issue.priority_id)
        if field_id in ("assignee", "reporter", "creator"):
            return self.user(getattr(issue, field_id))
        if field_id == "labels":
            return list(issue.labels)
        if field_id == "created":
            return self.time(issue.created)
        if field_id == "updated":
            return self.time(issue.updated)
        if field_id == "resolution":
            return self.resolution(issue.resolution_id)
        if field_id == "resolutiondate":
            return self.time(issue.resolved)
        if field_id == "duedate":
            return issue.due
        if field_id == "comment":
            return self.comment_page(issue, 0, EMBEDDED_PAGE)
        if field_id == "worklog":
            return self.worklog_page(issue, 0, EMBEDDED_PAGE)
        spent = self._spent(issue)
        if field_id == "timetracking":
            return self._timetracking(issue, spent)
        if field_id in ("timespent", "aggregatetimespent"):
            return spent or None
        if field_id in ("timeoriginalestimate", "aggregatetimeoriginalestimate"):
            return issue.original_estimate
        if field_id in ("timeestimate", "aggregatetimeestimate"):
            return None if issue.original_estimate is None else max(issue.original_estimate - spent, 0)
        if field_id in ("progress", "aggregateprogress"):
            remaining = max((issue.original_estimate or 0) - spent, 0)
            total = spent + remaining
            progress: dict[str, Any] = {"progress": spent, "total": total}
            if total:
                progress["percent"] = spent * 100 // total
            return progress
        if field_id == "workratio":
            return spent * 100 // issue.original_estimate if issue.original_estimate else -1
        if field_id == "subtasks":
            return [self.issue_link(child) for child in state.children(issue)]
        if field_id == "parent":
            parent = state.issue(issue.parent_id) if issue.parent_id is not None else None
            return self.issue_link(parent) if parent is not None else None
        if field_id == "attachment":
            found = (state.attachments.get(a) for a in issue.attachments or ())
            return [self.attachment(a) for a in found if a is not None]
        if field_id in ("issuelinks", "components", "fixVersions", "versions"):
            return []
        if field_id in ("security", "lastViewed"):
            return None
        if field_id == "watches":
            key = state.key(issue)
            return {"self": f"{self.rest}/issue/{key}/watchers", "watchCount": 1, "isWatching": True}
        if field_id == "votes":
            return {"self": f"{self.rest}/issue/{state.key(issue)}/votes", "votes": 0, "hasVoted": False}
        if field_id == SPRINT_FIELD:
            return self.sprint_field(issue.sprint_id)
        if field_id in SELECT_FIELDS:
            return self.option(field_id, (issue.custom or {}).get(field_id))
        return None

    def option(self, field_id: str, option_id: str | None) -> dict[str, Any] | None:
        """A select custom field's value as Jira shows it: ``{"self", "value", "id"}``."""
        found = next((o for o in SELECT_FIELDS[field_id][1] if o.id == option_id), None)
        if found is None:
            return None
        return {"self": f"{self.rest}/customFieldOption/{found.id}", "value": found.value, "id": found.id}

    def _spent(self, issue: Issue) -> int:
        worklogs = self.state.worklogs
        return sum(worklogs[w].seconds for w in issue.worklogs if w in worklogs)

    def _timetracking(self, issue: Issue, spent: int) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if issue.original_estimate is not None:
            remaining = max(issue.original_estimate - spent, 0)
            body.update(
                {
                    "originalEstimate": format_duration(issue.original_estimate),
                    "remainingEstimate": format_duration(remaining),
                    "originalEstimateSeconds": issue.original_estimate,
                    "remainingEstimateSeconds": remaining,
                }
            )
        if spent:
            body.update({"timeSpent": format_duration(spent), "timeSpentSeconds": spent})
        return body

    def issue(
        self,
        issue: Issue,
        selection: FieldSelection,
        *,
        expand: Iterable[str] = (),
        properties: Iterable[str] = (),
        names_and_schema_inline: bool = True,
    ) -> dict[str, Any]:
        """An ``IssueBean``: ``{"id"}`` only for an id-only selection, else the envelope and chosen fields."""
        if selection.ids_only:
            return {"id": str(issue.id)}
        wanted = set(expand)
        key = self.state.key(issue)
        body: dict[str, Any] = {
            "expand": ISSUE_EXPAND,
            "id": str(issue.id),
            "self": f"{self.rest}/issue/{issue.id}",
            "key": key,
        }
        fields = {field_id: self.field_value(issue, field_id) for field_id in selection.fields}
        if selection.fields and "parent" in fields and fields["parent"] is None:
            del fields["parent"]  # Jira leaves the key out for issues without a parent
        body["fields"] = fields
        if "renderedFields" in wanted:
            body["renderedFields"] = self._rendered(issue, selection.fields)
        if names_and_schema_inline and "names" in wanted:
            body["names"] = {field_id: FIELD_NAMES[field_id] for field_id in selection.fields}
        if names_and_schema_inline and "schema" in wanted:
            body["schema"] = {field_id: FIELD_SCHEMAS[field_id] for field_id in selection.fields}
        if "transitions" in wanted:
            body["transitions"] = self.transitions(issue)
        if "changelog" in wanted:
            # Jira embeds the newest EMBEDDED_CHANGELOG entries only; ``total`` says how many there are.
            every = issue.histories or []
            histories = [self.history(h) for h in reversed(every[-EMBEDDED_CHANGELOG:])]
            body["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(every),
                "histories": histories,
            }
        keys = [k for k in properties if k]
        if keys:
            stored = issue.properties or {}
            body["properties"] = {k: stored[k] for k in keys if k in stored}
        return body

    def _rendered(self, issue: Issue, field_ids: Sequence[str]) -> dict[str, Any]:
        rendered: dict[str, Any] = {}
        for field_id in field_ids:
            if field_id in ("description", "environment"):
                value = getattr(issue, field_id)
                rendered[field_id] = adf_to_html(value) if value is not None else None
            elif field_id in ("created", "updated", "resolutiondate"):
                ms = issue.resolved if field_id == "resolutiondate" else getattr(issue, field_id)
                rendered[field_id] = (
                    None
                    if ms is None
                    else datetime.fromtimestamp(ms / 1000, self.tz).strftime("%d/%b/%y %I:%M %p")
                )
            else:
                rendered[field_id] = None
        return rendered

    def webhook_issue(self, issue: Issue) -> dict[str, Any]:
        """The issue as webhooks carry it: every field, REST v2 shape (see the class docstring)."""
        selection = FieldSelection(["*all"], "*all")
        body = self.issue(issue, selection)
        body.pop("expand", None)
        return body

    def webhook_issue_brief(self, issue: Issue) -> dict[str, Any]:
        """The short issue that comment events carry (summary, type, project, assignee, priority, status)."""
        return {
            "id": str(issue.id),
            "self": f"{self.rest}/issue/{issue.id}",
            "key": self.state.key(issue),
            "fields": {
                "summary": issue.summary,
                "issuetype": self.issuetype(issue.type_id),
                "project": self.project_ref(self.state.projects[issue.project_id]),
                "assignee": self.user(issue.assignee),
                "priority": self.priority(issue.priority_id),
                "status": self.status(issue.status_id),
            },
        }
