"""The YouTrack REST routes the sandbox serves: users, projects, issues, comments, commands, the app's hooks.

Every route reads ``fields=`` and answers only what it names; listings page with ``$skip``/``$top``.
YouTrack documents no ETags, so every route is declared ``conditional=False`` (no 304s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import ApiError, Reply, SandboxRequest, route
from ._base import COMMENT_CATEGORY, YouTrackBase
from ._query import project
from ._render import activity_json, comment_json, project_fields, project_json, user
from ._state import BOT_LOGIN, PROJECT_ID, PROJECT_KEY


def _text(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(400, f"{name} is required and must be a string", error="bad_request")
    return value


def _millis_arg(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid value of {name}: {raw}", error="invalid_query") from None


# A cursor is opaque to clients; the sandbox's is the position in the stream it points after, in hex.
_CURSOR_PREFIX = "yt-act-"


def _cursor_text(position: int | None) -> str | None:
    return None if position is None else f"{_CURSOR_PREFIX}{position:x}"


def _cursor_arg(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(raw)
        return int(raw.removeprefix(_CURSOR_PREFIX), 16)
    except ValueError:
        raise ApiError(400, "Invalid cursor", error="invalid_query") from None


class IssueRoutes(YouTrackBase):
    """YouTrack's ``/api`` resources over :class:`YouTrackBase`'s state and helpers."""

    def _body(self, request: SandboxRequest) -> Mapping[str, Any]:
        body = self.read_json(request)
        if not isinstance(body, Mapping):
            raise ApiError(400, "Expected a JSON object", error="bad_request")
        return body

    # ---- users and projects ------------------------------------------------------------------------
    @route("GET", "/api/users/me", conditional=False)
    def get_me(self, request: SandboxRequest) -> Reply:
        return Reply(project(user(BOT_LOGIN, self.state.users[BOT_LOGIN]), self.selection(request)))

    @route("GET", "/api/users", conditional=False)
    def list_users(self, request: SandboxRequest) -> Reply:
        skip, top = self.window(request)
        everyone = [user(login, name) for login, name in sorted(self.state.users.items())]
        return Reply(project(everyone[skip : skip + top], self.selection(request)))

    @route("GET", "/api/admin/projects", conditional=False)
    def list_projects(self, request: SandboxRequest) -> Reply:
        wanted = (request.args.get("query") or "").strip().lower()
        found = [project_json()] if wanted in ("", PROJECT_KEY.lower()) else []
        return Reply(project(found, self.selection(request)))

    @route("GET", "/api/admin/projects/{project_id}/customFields", conditional=False)
    def project_custom_fields(self, request: SandboxRequest, project_id: str) -> Reply:
        if project_id not in (PROJECT_ID, PROJECT_KEY):
            raise ApiError(404, f"Entity with id {project_id} not found")
        skip, top = self.window(request)
        return Reply(project(project_fields()[skip : skip + top], self.selection(request)))

    # ---- issues ------------------------------------------------------------------------------------
    @route("GET", "/api/issues", conditional=False)
    def list_issues(self, request: SandboxRequest) -> Reply:
        selection = self.selection(request)
        skip, top = self.window(request)
        numbers = self.matching(request.args.get("query"))[skip : skip + top]
        return Reply([self.render_issue(self.state.issues[n], selection) for n in numbers])

    @route("POST", "/api/issues", conditional=False)
    def create_issue(self, request: SandboxRequest) -> Reply:
        body = self._body(request)
        where = body.get("project")
        named = (where.get("id"), where.get("shortName")) if isinstance(where, Mapping) else ()
        if PROJECT_ID not in named and PROJECT_KEY not in named:
            raise ApiError(400, "Project is required", error="bad_request")
        summary = _text(body, "summary", required=True)
        issue = self.create(str(summary), _text(body, "description", required=False))
        return Reply(self.render_issue(issue, self.selection(request)))

    @route("GET", "/api/issues/{issue_id}", conditional=False)
    def get_issue(self, request: SandboxRequest, issue_id: str) -> Reply:
        return Reply(self.render_issue(self.issue_or_404(issue_id), self.selection(request)))

    @route("POST", "/api/issues/{issue_id}", conditional=False)
    def update_issue(self, request: SandboxRequest, issue_id: str) -> Reply:
        issue = self.issue_or_404(issue_id)
        body = self._body(request)
        summary = _text(body, "summary", required=False)
        description = _text(body, "description", required=False)
        if summary is not None:
            if not summary.strip():
                raise ApiError(400, "Summary cannot be empty", error="bad_request")
            issue.summary = summary
        if "description" in body:
            issue.description = description
        self.changed(issue, "issue.updated")
        return Reply(self.render_issue(issue, self.selection(request)))

    @route("DELETE", "/api/issues/{issue_id}", conditional=False)
    def delete_issue(self, request: SandboxRequest, issue_id: str) -> Reply:
        self.drop_issue(self.issue_or_404(issue_id))
        return Reply(None)

    @route("POST", "/api/commands", conditional=False)
    def apply_commands(self, request: SandboxRequest) -> Reply:
        body = self._body(request)
        text = _text(body, "query", required=True)
        targets = body.get("issues")
        if not isinstance(targets, list) or not targets:
            raise ApiError(400, "Issues are required", error="bad_request")
        issues = []
        for target in targets:
            ref = target.get("idReadable") or target.get("id") if isinstance(target, Mapping) else None
            issues.append(self.issue_or_404(str(ref)))
        for issue in issues:
            self.apply_command(issue, str(text))
            self.changed(issue, "issue.updated")
        return Reply(project({"query": text, "$type": "CommandList"}, self.selection(request)))

    # ---- comments ----------------------------------------------------------------------------------
    def _comment_or_404(self, issue_id: str, comment_id: str) -> Any:
        issue = self.issue_or_404(issue_id)
        comment = self.state.comment(comment_id)
        if comment is None or comment.issue != issue.number:
            raise ApiError(404, f"Entity with id {comment_id} not found")
        return issue, comment

    @route("GET", "/api/issues/{issue_id}/comments", conditional=False)
    def list_comments(self, request: SandboxRequest, issue_id: str) -> Reply:
        issue = self.issue_or_404(issue_id)
        skip, top = self.window(request)
        numbers = issue.comments[skip : skip + top]
        selection = self.selection(request)
        return Reply([project(comment_json(self.state.comments[n]), selection) for n in numbers])

    @route("POST", "/api/issues/{issue_id}/comments", conditional=False)
    def add_comment_route(self, request: SandboxRequest, issue_id: str) -> Reply:
        issue = self.issue_or_404(issue_id)
        text = _text(self._body(request), "text", required=True)
        comment = self.add_comment(issue, str(text))
        return Reply(project(comment_json(comment), self.selection(request)))

    @route("GET", "/api/issues/{issue_id}/comments/{comment_id}", conditional=False)
    def get_comment(self, request: SandboxRequest, issue_id: str, comment_id: str) -> Reply:
        _, comment = self._comment_or_404(issue_id, comment_id)
        return Reply(project(comment_json(comment), self.selection(request)))

    @route("POST", "/api/issues/{issue_id}/comments/{comment_id}", conditional=False)
    def edit_comment(self, request: SandboxRequest, issue_id: str, comment_id: str) -> Reply:
        issue, comment = self._comment_or_404(issue_id, comment_id)
        body = self._body(request)
        text = _text(body, "text", required=False)
        if text is not None:
            comment.text = text
        if isinstance(body.get("deleted"), bool) and body["deleted"] != comment.deleted:
            # To the recycle bin and back: the stream shows the comment removed, then added again.
            comment.deleted = body["deleted"]
            self.state.record(
                COMMENT_CATEGORY, issue, self.now_ms(), added=not comment.deleted, comment=comment.number
            )
        comment.updated = max(self.now_ms(), comment.created + 1)
        self.changed(issue, "comment.removed" if comment.deleted else "comment.updated", comment)
        return Reply(project(comment_json(comment), self.selection(request)))

    @route("DELETE", "/api/issues/{issue_id}/comments/{comment_id}", conditional=False)
    def delete_comment(self, request: SandboxRequest, issue_id: str, comment_id: str) -> Reply:
        issue, comment = self._comment_or_404(issue_id, comment_id)
        self.drop_comment(issue, comment)
        return Reply(None)

    # ---- the activity stream -------------------------------------------------------------------------
    @route("GET", "/api/activitiesPage", conditional=False)
    def activities_page(self, request: SandboxRequest) -> Reply:
        """``categories`` (required), ``start``/``end`` (epoch ms), ``cursor`` (an ``afterCursor`` or
        ``beforeCursor`` of an earlier page), ``reverse`` and ``$top``: a page of the stream, oldest first
        unless reversed, with the cursors either side of it and whether more lie there."""
        args = request.args
        wanted = {c.strip() for c in (args.get("categories") or "").split(",") if c.strip()}
        if not wanted:
            raise ApiError(400, "categories parameter is required", error="bad_request")
        start, end = (_millis_arg(args, name) for name in ("start", "end"))
        reverse = (args.get("reverse") or "false").lower() == "true"
        after = _cursor_arg(args.get("cursor"))
        _, top = self.window(request)
        stream = [
            a
            for a in (reversed(self.state.activities) if reverse else self.state.activities)
            if a.category in wanted
            and (start is None or a.timestamp >= start)
            and (end is None or a.timestamp <= end)
            and (after is None or (a.number < after if reverse else a.number > after))
        ]
        chosen = stream[: max(top, 1)]
        # An empty page still says where to go on from: its cursor, or the stream's current end.
        end_of_stream = after if after is not None else (0 if reverse else len(self.state.activities))
        first, last = (chosen[0].number, chosen[-1].number) if chosen else (end_of_stream, end_of_stream)
        page = {
            "afterCursor": _cursor_text(last),
            "beforeCursor": _cursor_text(first),
            "hasAfter": len(stream) > len(chosen),
            "hasBefore": (first < len(self.state.activities)) if reverse else first > 1,
            "reverse": reverse,
            "activities": [activity_json(a, self.state.comments) for a in chosen],
            "$type": "CursorPage",
        }
        return Reply(project(page, self.selection(request)))

    # ---- trackbridge's YouTrack app: its HTTP handler for delivery targets --------------------------
    @route("POST", "/api/extensionEndpoints/trackbridge/hooks", conditional=False)
    def register_hook_route(self, request: SandboxRequest) -> Reply:
        hook = self.register_hook(self._body(request))
        return Reply({"id": hook.id, "url": hook.url, "events": list(hook.events)})

    @route("DELETE", "/api/extensionEndpoints/trackbridge/hooks", conditional=False)
    def delete_hook_route(self, request: SandboxRequest) -> Reply:
        hook_id = request.args.get("id") or ""
        if self.state.hooks.pop(hook_id, None) is None:
            raise ApiError(404, f"Hook {hook_id} not found")
        return Reply(None)
