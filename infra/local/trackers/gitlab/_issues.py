"""The GitLab sandbox's issue routes: project and global lists (offset and keyset pagination), create, read,
update, delete, state events.

Every write validates first (Grape's 400s), then changes state, bumps
``updated_at`` and sends the ``Issue Hook``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from ..core import (
    ListWindow,
    Reply,
    SandboxRequest,
    route,
)
from ._base import (
    API,
    ISSUE,
    ISSUE_ORDERS,
    JSON_TYPE,
    KEYSET_ORDERS,
    PROJECT,
    TEXT_MAX,
    TITLE_MAX,
    UPDATE_PARAMS,
    GitLabBase,
    second,
)
from ._query import (
    IssueQuery,
    Params,
    bad_value,
    first_after,
    grape_error,
    invalid,
    missing,
    ordered_iids,
    parse_time_ms,
    sort_key,
    unauthorized,
    validation_error,
)
from ._render import STATE_IDS, hook_time, iso_ms
from ._state import (
    ISSUE_ID_BASE,
    ISSUE_TYPES,
    OUTSIDER_USERNAME,
    PROJECT_ID,
    Issue,
)


class IssueRoutes(GitLabBase):
    """Issues as GitLab serves them; a list is a query over cached, ordered views."""

    def _issue_query(self, request: SandboxRequest, params: Params, scope: str) -> IssueQuery:
        labels_raw = params.names("labels") or []
        labels_mode = ""
        if len(labels_raw) == 1 and labels_raw[0].lower() in ("none", "any", "no+label", "no label"):
            labels_mode = "any" if labels_raw[0].lower() == "any" else "none"
            labels_raw = []
        milestone = params.string("milestone")
        if milestone is not None and milestone.lower() in ("none", "any"):
            milestone = milestone.lower()
        author = params.string("author_username")
        author_id = params.integer("author_id")
        if author_id is not None:
            user = self.state.user_by_id(author_id)
            author = user.username if user else f"\x00{author_id}"
        assignee: str | None = None
        assignee_raw = params.values.get("assignee_id")
        if assignee_raw is not None and str(assignee_raw).lower() in ("none", "any"):
            assignee = str(assignee_raw).lower()
        elif assignee_raw is not None:
            assignee_id = params.integer("assignee_id")
            user = self.state.user_by_id(assignee_id) if assignee_id is not None else None
            assignee = user.username if user else f"\x00{assignee_id}"
        usernames = params.values.get("assignee_username")
        if usernames is not None:
            names = usernames if isinstance(usernames, list) else [usernames]
            assignee = str(names[0]) if names else None
        search_in = tuple(sorted(params.names("in") or ["title", "description"]))
        if not set(search_in) <= {"title", "description"}:
            raise bad_value("in")
        principal = request.principal
        return IssueQuery(
            state=params.choice("state", ("opened", "closed", "all"), "all"),
            order_by=params.choice("order_by", ISSUE_ORDERS, "created_at"),
            descending=params.choice("sort", ("asc", "desc"), "desc") == "desc",
            labels=tuple(sorted(labels_raw)),
            labels_mode=labels_mode,
            milestone=milestone,
            author=author,
            assignee=assignee,
            iids=tuple(sorted(params.integers("iids") or [])),
            search=params.string("search") or None,
            search_in=search_in,
            created_after=params.time_ms("created_after"),
            created_before=params.time_ms("created_before"),
            updated_after=params.time_ms("updated_after"),
            updated_before=params.time_ms("updated_before"),
            confidential=params.boolean("confidential"),
            scope=scope,
            actor=principal.login if principal else "",
        )

    def _issue_keys(self, query: IssueQuery) -> Sequence[int]:
        state = self.state
        if not query.filtered and query.state == "all" and query.order_by == "updated_at":
            # The incremental-sync walk: straight off the (updated_at, iid) index, nothing copied.
            index = state.by_updated
            start = (
                index.index_at_or_after((query.updated_after, 0)) if query.updated_after is not None else 0
            )
            stop = (
                index.index_at_or_after((query.updated_before + 1, 0))
                if query.updated_before is not None
                else None
            )
            return ListWindow(index.keys(), start, stop, reverse=query.descending, project=second)
        if (
            not query.filtered
            and query.state == "all"
            and query.order_by in ("created_at", "id", "relative_position")
            and query.updated_after is None
            and query.updated_before is None
            and not state.deleted_count
            and state.created_in_iid_order
        ):
            # iids are dense and in creation order: a page is arithmetic on a range.
            count = len(state.issues)
            return range(count, 0, -1) if query.descending else range(1, count + 1)
        return self.view(("issues", query), lambda: ordered_iids(state, query))

    def _issues_reply(
        self, request: SandboxRequest, params: Params, query: IssueQuery, visible: bool
    ) -> Reply:
        state = self.state
        keys: Sequence[int] = self._issue_keys(query) if visible else []
        details = bool(params.boolean("with_labels_details", False))
        issues, render = state.issues, self.render.issue

        def render_iid(iid: int) -> dict[str, Any]:
            issue = issues[iid - 1]
            assert issue is not None
            return render(issue, label_details=details)

        if params.string("pagination") == "keyset":
            return self._keyset_reply(request, params, keys, query, render_iid)
        return self._offset_reply(request, params, keys, render_iid)

    def _keyset_reply(
        self,
        request: SandboxRequest,
        params: Params,
        keys: Sequence[int],
        query: IssueQuery,
        render: Callable[[int], Any],
    ) -> Reply:
        if query.order_by not in KEYSET_ORDERS:
            raise grape_error(405, "Keyset pagination is not yet available for this type of request")
        _, per_page = self._page_params(params)
        issues = self.state.issues
        issue_key = sort_key(query.order_by)

        def key_of(iid: int) -> tuple[Any, ...]:
            issue = issues[iid - 1]
            assert issue is not None
            return issue_key(issue)

        start = 0
        cursor = params.string("cursor")
        if cursor:
            start = first_after(keys, key_of, self._decode_cursor(cursor, query.order_by), query.descending)
        chunk = list(keys[start : start + per_page + 1])
        headers: dict[str, str] = {}
        if len(chunk) > per_page:
            chunk = chunk[:per_page]
            token = self._encode_cursor(chunk[-1], query.order_by)
            headers["Link"] = f'<{self._link(request, cursor=token)}>; rel="next"'
        return Reply([render(iid) for iid in chunk], 200, headers, content_type=JSON_TYPE)

    def _encode_cursor(self, iid: int, order_by: str) -> str:
        issue = self.state.issues[iid - 1]
        assert issue is not None
        fields: dict[str, str] = {}
        if order_by in ("created_at", "updated_at"):
            fields[order_by] = iso_ms(getattr(issue, order_by)) or ""
        elif order_by == "title":
            fields["title"] = issue.title
        fields["id"] = str(issue.id)
        fields["_kd"] = "n"
        return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()

    def _decode_cursor(self, cursor: str, order_by: str) -> tuple[Any, ...]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
            iid = int(fields["id"]) - ISSUE_ID_BASE
            if order_by == "id":
                return (iid,)
            if order_by == "title":
                return (str(fields["title"]), iid)
            return (parse_time_ms(str(fields[order_by])), iid)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise invalid("cursor") from None

    @route("GET", PROJECT + "/issues")
    def list_project_issues(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        params = self._params(request)
        return self._issues_reply(request, params, self._issue_query(request, params, "all"), True)

    @route("GET", API + "/issues")
    def list_issues(self, request: SandboxRequest) -> Reply:
        params = self._params(request)
        scope = params.choice("scope", ("created_by_me", "assigned_to_me", "all"), "created_by_me")
        principal = request.principal
        if (principal is None or not principal.authenticated) and scope != "all":
            raise unauthorized()
        visible = principal is not None and principal.may(self.state.full_path)
        return self._issues_reply(request, params, self._issue_query(request, params, scope), visible)

    @route("POST", PROJECT + "/issues")
    def create_issue(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        actor = self._require_user(request)
        issue = self._create_issue(self._params(request), actor)
        return Reply(self.render.issue(issue), 201, content_type=JSON_TYPE)

    @route("GET", ISSUE)
    def get_issue(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid)
        details = bool(self._params(request).boolean("with_labels_details", False))
        return Reply(self.render.issue(issue, label_details=details), content_type=JSON_TYPE)

    @route("PUT", ISSUE)
    def update_issue(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid)
        actor = self._require_user(request)
        params = self._params(request)
        if not any(params.has(name) for name in UPDATE_PARAMS):
            raise grape_error(
                400, ", ".join(UPDATE_PARAMS) + " are missing, at least one parameter must be provided"
            )
        self._update_issue(issue, params, actor)
        return Reply(self.render.issue(issue), content_type=JSON_TYPE)

    @route("DELETE", ISSUE)
    def delete_issue(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid)
        self._require_user(request)
        self.state.remove_issue(issue)
        self.touch()
        return Reply(None, 204)

    @route("GET", ISSUE + "/resource_state_events")
    def list_state_events(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        events = self.state.state_events.get(issue.iid, [])
        return self._offset_reply(request, self._params(request), events, self.render.state_event)

    def _validated_text(self, name: str, value: str | None, *, maximum: int, required: bool) -> str | None:
        if value is None:
            return None
        text = value.strip() if name == "title" else value
        if required and not text.strip():
            raise validation_error(name, "can't be blank")
        if len(text) > maximum:
            raise validation_error(name, f"is too long (maximum is {maximum} characters)")
        return text

    def _assignees(self, params: Params) -> list[str] | None:
        ids = params.integers("assignee_ids")
        if ids is None and params.has("assignee_id"):
            single = params.integer("assignee_id")
            ids = [single] if single else []
        if ids is None:
            return None
        names: list[str] = []
        for user_id in ids:
            user = self.state.user_by_id(user_id)
            # GitLab drops people who cannot be assigned rather than failing the request.
            if user is not None and user.username != OUTSIDER_USERNAME:
                names.append(user.username)
        return list(dict.fromkeys(names))

    def _create_issue(self, params: Params, actor: str) -> Issue:
        state = self.state
        title = params.string("title")
        if title is None:
            raise missing("title")
        description = params.string("description")
        labels = params.names("labels") or []
        assignees = self._assignees(params) or []
        confidential = bool(params.boolean("confidential", False))
        due_date = params.date("due_date")
        milestone_id = params.integer("milestone_id")
        issue_type = params.string("issue_type") or "issue"
        if issue_type not in ISSUE_TYPES:
            raise bad_value("issue_type")
        title = self._validated_text("title", title, maximum=TITLE_MAX, required=True)
        description = self._validated_text("description", description, maximum=TEXT_MAX, required=False)
        assert title is not None
        now = self._now_ms()
        issue = Issue(
            len(state.issues) + 1,
            title,
            description,
            actor,
            "opened",
            [state.label(name).name for name in labels],
            assignees,
            now,
            now,
            confidential=confidential,
            milestone_id=milestone_id if milestone_id in state.milestones else None,
            due_date=due_date,
            updated_by=None,
            issue_type=issue_type,
        )
        state.add_issue(issue)
        self.touch()
        changes: dict[str, Any] = {
            name: {"previous": None, "current": value}
            for name, value in (
                ("author_id", state.users[actor].id if actor in state.users else None),
                ("created_at", hook_time(now)),
                ("description", description),
                ("id", issue.id),
                ("iid", issue.iid),
                ("project_id", PROJECT_ID),
                ("title", title),
                ("updated_at", hook_time(now)),
            )
        }
        if issue.labels:
            changes["labels"] = {"previous": [], "current": [self.render.hook_label(n) for n in issue.labels]}
        if issue.assignees:
            changes["assignees"] = {
                "previous": [],
                "current": [self.render.hook_user(n) for n in issue.assignees],
            }
        self._emit_issue(issue, "open", actor, changes)
        return issue

    def _update_issue(self, issue: Issue, params: Params, actor: str) -> None:
        """Apply a PUT; everything is validated first, so a 400 changes nothing."""
        state = self.state
        render = self.render
        title = self._validated_text("title", params.string("title"), maximum=TITLE_MAX, required=True)
        description = self._validated_text(
            "description", params.string("description"), maximum=TEXT_MAX, required=False
        )
        state_event = params.string("state_event")
        if state_event is not None and state_event not in ("close", "reopen"):
            raise bad_value("state_event")
        labels = params.names("labels")
        add_labels = params.names("add_labels") or []
        remove_labels = params.names("remove_labels") or []
        assignees = self._assignees(params)
        confidential = params.boolean("confidential")
        due_date = params.date("due_date") if params.has("due_date") else None
        milestone_id = params.integer("milestone_id") if params.has("milestone_id") else None
        discussion_locked = params.boolean("discussion_locked")
        issue_type = params.string("issue_type") if params.has("issue_type") else None
        if params.has("issue_type") and issue_type not in ISSUE_TYPES:
            raise bad_value("issue_type")

        now = self._now_ms()
        changes: dict[str, Any] = {}
        system_notes: list[str] = []
        if title is not None and title != issue.title:
            changes["title"] = {"previous": issue.title, "current": title}
            system_notes.append(f"changed title from **{issue.title}** to **{title}**")
            issue.title = title
        if params.has("description") and description != issue.description:
            changes["description"] = {"previous": issue.description, "current": description}
            system_notes.append("changed the description")
            issue.description = description
        if "title" in changes or "description" in changes:
            edited_by = state.users[actor].id if actor in state.users else None
            changes["last_edited_at"] = {
                "previous": hook_time(issue.last_edited_at),
                "current": hook_time(now),
            }
            changes["last_edited_by_id"] = {
                "previous": state.users[issue.last_edited_by].id
                if issue.last_edited_by in state.users
                else None,
                "current": edited_by,
            }
            issue.last_edited_at, issue.last_edited_by = now, actor
        new_labels = list(issue.labels) if labels is None else [state.label(name).name for name in labels]
        new_labels += [state.label(name).name for name in add_labels if name not in new_labels]
        new_labels = [name for name in new_labels if name not in remove_labels]
        if new_labels != issue.labels:
            # Label changes are resource label events in GitLab, not notes; the hook still reports them.
            changes["labels"] = {
                "previous": [render.hook_label(n) for n in issue.labels],
                "current": [render.hook_label(n) for n in new_labels],
            }
            issue.labels = new_labels
        if assignees is not None and assignees != issue.assignees:
            added = [name for name in assignees if name not in issue.assignees]
            removed = [name for name in issue.assignees if name not in assignees]
            parts = []
            if added:
                parts.append("assigned to " + " and ".join(f"@{name}" for name in added))
            if removed:
                parts.append("unassigned " + " and ".join(f"@{name}" for name in removed))
            system_notes.append(" and ".join(parts))
            changes["assignees"] = {
                "previous": [render.hook_user(n) for n in issue.assignees],
                "current": [render.hook_user(n) for n in assignees],
            }
            issue.assignees = assignees
        if confidential is not None and confidential != issue.confidential:
            changes["confidential"] = {"previous": issue.confidential, "current": confidential}
            system_notes.append(
                "made the issue confidential" if confidential else "made the issue visible to everyone"
            )
            issue.confidential = confidential
        if params.has("due_date") and due_date != issue.due_date:
            changes["due_date"] = {"previous": issue.due_date, "current": due_date}
            system_notes.append(render.due_date_note(due_date))
            issue.due_date = due_date
        if params.has("milestone_id"):
            wanted = milestone_id if milestone_id in state.milestones else None
            if wanted != issue.milestone_id:
                changes["milestone_id"] = {"previous": issue.milestone_id, "current": wanted}
                issue.milestone_id = wanted
        if issue_type is not None and issue_type != issue.issue_type:
            changes["type"] = {"previous": issue.issue_type.upper(), "current": issue_type.upper()}
            system_notes.append(f"changed type from {issue.issue_type} to {issue_type}")
            issue.issue_type = issue_type
        if discussion_locked is not None and discussion_locked != issue.discussion_locked:
            changes["discussion_locked"] = {"previous": issue.discussion_locked, "current": discussion_locked}
            issue.discussion_locked = discussion_locked

        state_action: str | None = None
        state_changes: dict[str, Any] = {}
        if state_event == "close" and issue.state == "opened":
            state_action = "close"
            state_changes["closed_at"] = {"previous": None, "current": hook_time(now)}
            state_changes["state_id"] = {"previous": STATE_IDS["opened"], "current": STATE_IDS["closed"]}
            issue.state, issue.closed_at, issue.closed_by = "closed", now, actor
            state.add_state_event(issue.iid, actor, now, "closed")
        elif state_event == "reopen" and issue.state == "closed":
            state_action = "reopen"
            state_changes["closed_at"] = {"previous": hook_time(issue.closed_at), "current": None}
            state_changes["state_id"] = {"previous": STATE_IDS["closed"], "current": STATE_IDS["opened"]}
            issue.state, issue.closed_at, issue.closed_by = "opened", None, None
            state.add_state_event(issue.iid, actor, now, "reopened")
        if not changes and state_action is None:
            return
        previous_updated = issue.updated_at
        previous_updater = state.users[issue.updated_by].id if issue.updated_by in state.users else None
        state.set_updated(issue, max(now, issue.updated_at))
        issue.updated_by = actor
        stamp = {
            "updated_at": {"previous": hook_time(previous_updated), "current": hook_time(issue.updated_at)},
            "updated_by_id": {"previous": previous_updater, "current": state.users[actor].id},
        }
        for text in system_notes:
            self._append_note(issue, text, actor, now, system=True)
        self.touch()
        if changes:
            self._emit_issue(issue, "update", actor, {**changes, **stamp})
        if state_action is not None:
            self._emit_issue(issue, state_action, actor, {**state_changes, **stamp})
