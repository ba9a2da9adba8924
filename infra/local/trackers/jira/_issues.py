"""Issues, transitions, comments, worklogs, issue properties and changelogs for the Jira sandbox.

Every write validates the whole request first (Jira answers one 400 listing each bad field), then
changes state, records a changelog entry, bumps the issue's ``updated`` and sends the webhooks.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date
from typing import Any

from ..core import Reply, SandboxRequest, route
from ._base import (
    ADF_ERROR,
    API,
    CANNOT_SET,
    ISSUE,
    JiraBase,
    csv_values,
    jira_error,
    labels_after,
    ref_of,
    str_or_none,
)
from ._render import FieldSelection, adf_to_text, is_adf, parse_duration, parse_jira_time
from ._screens import SELECT_FIELDS, screen_for, select_option
from ._state import (
    DEFAULT_PRIORITY,
    DONE,
    DONE_RESOLUTION,
    FIELDS,
    ISSUE_ID_BASE,
    ISSUE_TYPES,
    MAX_COMMENTS_PER_ISSUE,
    PRIORITIES,
    RESOLUTIONS,
    SPRINT_FIELD,
    STATUSES,
    SUBTASK,
    TO_DO,
    TRANSITIONS,
    Attachment,
    Comment,
    History,
    Issue,
    Project,
    Worklog,
)

# Jira Cloud's defaults: 60 files a request; the size limit is the site's setting (the sandbox uses 10 MB).
MAX_ATTACHMENTS_PER_REQUEST = 60
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class IssueRoutes(JiraBase):
    # ------------------------------------------------------------------ issues

    @route("GET", ISSUE)
    def get_issue(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        selection = FieldSelection(request.args.getlist("fields"), "*all")
        if selection.ids_only:
            selection.ids_only = False  # GET issue always answers with the envelope
        expand = csv_values(request.args.getlist("expand"))
        properties = csv_values(request.args.getlist("properties"))
        if properties == ["*all"]:
            properties = list((issue.properties or {}).keys())
        return Reply(self._render(request).issue(issue, selection, expand=expand, properties=properties))

    @route("POST", API + "/issue")
    def create_issue(self, request: SandboxRequest) -> Reply:
        body = self._object_body(request)
        issue = self._create_issue(
            self._section(body, "fields"),
            self._section(body, "update"),
            self._caller(request),
            properties=body.get("properties"),
            transition=body.get("transition"),
            visible=self._sees_all(request),
        )
        base = self._base(request)
        return Reply(
            {"id": str(issue.id), "key": self.state.key(issue), "self": f"{base}{API}/issue/{issue.id}"}, 201
        )

    def _create_issue(
        self,
        fields: dict[str, Any],
        update: dict[str, Any],
        actor: str,
        *,
        properties: Any = None,
        transition: Any = None,
        visible: bool = True,
    ) -> Issue:
        state = self.state
        errors: dict[str, str] = {}
        project: Project | None = None
        project_ref = ref_of(fields.get("project"), "id", "key")
        if project_ref is not None:
            project = state.project_by_key_or_id(project_ref)
        if project is None or not visible:
            errors["project"] = "Specify a valid project ID or key"
        type_id = self._type_id(fields.get("issuetype"))
        if type_id is None:
            errors["issuetype"] = (
                "Specify an issue type"
                if "issuetype" not in fields
                else "The issue type selected is invalid."
            )
        if "summary" not in fields:
            errors["summary"] = "You must specify a summary of the issue."
        settable = {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        if project is not None and type_id is not None:
            settable = self._screen_check(project, type_id, settable, errors)
        values, field_errors = self._parse_fields(settable, creating=True)
        errors.update(field_errors)
        comments = self._parse_update(update, values, errors, fields)
        parent = values.get("parent")
        if type_id == SUBTASK and parent is None and "parent" not in errors:
            errors["parent"] = "Given parent work item does not belong to appropriate hierarchy."
        props = self._parse_properties(properties, errors)
        transition_id = ref_of(transition, "id") if transition is not None else None
        if transition is not None and (
            transition_id is None or transition_id not in {t.id for t in TRANSITIONS}
        ):
            errors["transition"] = f"Transition id '{transition_id}' is not valid for this issue."
        if errors:
            raise jira_error(400, errors=errors)
        assert project is not None
        assert type_id is not None
        now = self._now_ms()
        issue = Issue(
            ISSUE_ID_BASE + len(state.issues) + 1,  # ids are positions: a deleted issue keeps its slot
            project.id,
            project.next_number,
            values["summary"],
            values.get("description"),
            type_id,
            TO_DO,
            values.get("priority", DEFAULT_PRIORITY),
            values.get("reporter") or actor,
            actor,
            values.get("assignee"),
            labels_after([], values),
            now,
            now,
            now,
            parent_id=parent,
            sprint_id=values.get("sprint"),
            due=values.get("duedate"),
            environment=values.get("environment"),
            original_estimate=values.get("estimate"),
            custom={k: v for k, v in values.get("custom", {}).items() if v is not None} or None,
        )
        project.next_number += 1
        if props:
            issue.properties = props
        state.add_issue(issue)
        self.touch()
        items: list[tuple[str, str, Any, Any, Any, Any]] = [
            ("summary", "summary", None, None, None, issue.summary),
            ("status", "status", None, None, TO_DO, STATUSES[TO_DO].name),
        ]
        history = self._record(issue, actor, items)
        self._issue_event("jira:issue_created", issue, actor, "issue_created", history=history)
        for text in comments:
            self._add_comment(issue, text, actor, None)
        if transition_id is not None:
            self._transition(issue, transition_id, actor, {})
        return issue

    def _screen_check(
        self, project: Project, type_id: str, fields: dict[str, Any], errors: dict[str, str]
    ) -> dict[str, Any]:
        """The fields the issue type's create screen offers; an error for each one it lacks and for each
        required one left out, worded as Jira words them (``_screens``)."""
        screen = screen_for(project.key, type_id)
        for name in fields:
            if not screen.offers(name):
                errors[name] = CANNOT_SET.format(name)
        names = {f.id: f.name for f in FIELDS}
        for name in sorted(screen.required - set(fields) - {"project", "issuetype"}):
            errors.setdefault(name, f"{names.get(name, name)} is required.")
        return {k: v for k, v in fields.items() if screen.offers(k)}

    def _type_id(self, value: Any) -> str | None:
        ref = ref_of(value, "id", "name")
        if ref is None:
            return None
        for kind in ISSUE_TYPES.values():
            if ref in (kind.id, kind.name) or ref.lower() == kind.name.lower():
                return kind.id
        return None

    def _user_ref(self, value: Any) -> str | None:
        ref = ref_of(value, "accountId", "id")
        return ref if ref is not None and ref in self.state.users and ref != self.state.outsider else None

    def _parse_fields(
        self, fields: dict[str, Any], *, creating: bool
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Validated new values (internal names) and Jira's per-field errors; nothing is applied here."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, value in fields.items():
            if name == "summary":
                if not isinstance(value, str) or not value.strip():
                    errors[name] = "You must specify a summary of the issue."
                elif len(value) > 255:
                    errors[name] = "Summary must be less than 255 characters."
                elif "\n" in value or "\r" in value:
                    errors[name] = "The summary is invalid because it contains newline characters."
                else:
                    values[name] = value
            elif name in ("description", "environment"):
                if value is None or is_adf(value):
                    values[name] = value
                else:
                    errors[name] = ADF_ERROR
            elif name == "labels":
                labels = self._labels(value, errors)
                if labels is not None:
                    values[name] = labels
            elif name in ("assignee", "reporter"):
                if value is None and name == "assignee":
                    values[name] = None
                elif (account := self._user_ref(value)) is not None:
                    values[name] = account
                else:
                    errors[name] = "Specified user does not exist or you do not have required permissions"
            elif name == "priority":
                ref = ref_of(value, "id", "name")
                found = next((p.id for p in PRIORITIES.values() if ref in (p.id, p.name)), None)
                if found is None:
                    errors[name] = "Specify the Priority (id or name) in the proper format"
                else:
                    values[name] = found
            elif name == "issuetype" and not creating:
                type_id = self._type_id(value)
                if type_id is None:
                    errors[name] = "The issue type selected is invalid."
                else:
                    values["type"] = type_id
            elif name == "parent":
                ref = ref_of(value, "key", "id")
                parent = self.state.find(ref) if ref is not None else None
                if parent is None or parent.type_id == SUBTASK:
                    errors[name] = "Could not find issue by id or key."
                else:
                    values[name] = parent.id
            elif name == "duedate":
                if value is None:
                    values[name] = None
                else:
                    try:
                        values[name] = date.fromisoformat(str(value)).isoformat()
                    except ValueError:
                        errors[name] = f"Error parsing date string: {value}"
            elif name == SPRINT_FIELD:
                sprint = value[0] if isinstance(value, list) and len(value) == 1 else value
                if sprint is None:
                    values["sprint"] = None
                elif (
                    isinstance(sprint, int) and not isinstance(sprint, bool) and sprint in self.state.sprints
                ):
                    values["sprint"] = sprint
                else:
                    errors[name] = "Number value expected as the Sprint id."
            elif name == "timetracking" and isinstance(value, dict):
                estimate = value.get("originalEstimate")
                try:
                    values["estimate"] = None if estimate is None else parse_duration(str(estimate))
                except ValueError:
                    errors[name] = "The original estimate specified is not valid."
            elif name == "status" and not creating:
                continue  # Jira ignores a status here: only transitions change it
            elif name in SELECT_FIELDS:
                option = None if value is None else select_option(name, value)
                if value is not None and option is None:
                    errors[name] = f"Specify a valid 'id' or 'name' for {SELECT_FIELDS[name][0]}"
                else:
                    values.setdefault("custom", {})[name] = option.id if option else None
            else:
                errors[name] = CANNOT_SET.format(name)
        return values, errors

    def _labels(self, value: Any, errors: dict[str, str]) -> list[str] | None:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            errors["labels"] = "The label must be a list of strings."
            return None
        for label in value:
            if not label or any(ch.isspace() for ch in label):
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                return None
            if len(label) > 255:
                errors["labels"] = "The label must not exceed 255 characters."
                return None
        return list(dict.fromkeys(value))

    def _parse_update(
        self, update: dict[str, Any], values: dict[str, Any], errors: dict[str, str], fields: dict[str, Any]
    ) -> list[Any]:
        """Apply ``update`` operations onto ``values``; returns the comments to add (ADF bodies)."""
        comments: list[Any] = []
        for name, operations in update.items():
            if name in fields:
                errors[name] = f"Field '{name}' cannot be set in both 'fields' and 'update'."
                continue
            if not isinstance(operations, list) or not all(
                isinstance(op, dict) and len(op) == 1 for op in operations
            ):
                errors[name] = "Operations must be a list of single-key objects (set, add, remove)."
                continue
            for operation in operations:
                verb, argument = next(iter(operation.items()))
                if name == "labels":
                    current = values.get("labels")
                    if current is None:
                        current = []
                    if verb == "set":
                        labels = self._labels(argument, errors)
                        if labels is not None:
                            values["labels"] = labels
                    elif verb in ("add", "remove") and isinstance(argument, str):
                        values.setdefault("labels_ops", []).append((verb, argument))
                    else:
                        errors[name] = f"Unsupported operation '{verb}' for labels."
                elif name == "comment" and verb == "add" and isinstance(argument, dict):
                    if not is_adf(argument.get("body")):
                        errors[name] = ADF_ERROR
                    else:
                        comments.append(argument["body"])
                elif verb == "set" and name in (
                    "summary",
                    "description",
                    "environment",
                    "assignee",
                    "priority",
                ):
                    parsed, problems = self._parse_fields({name: argument}, creating=False)
                    values.update(parsed)
                    errors.update(problems)
                else:
                    errors[name] = CANNOT_SET.format(name)
        return comments

    def _parse_properties(self, value: Any, errors: dict[str, str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and isinstance(item.get("key"), str) for item in value
        ):
            errors["properties"] = "Properties must be a list of {key, value} objects."
            return {}
        return {item["key"]: item.get("value") for item in value}

    @route("PUT", ISSUE)
    def edit_issue(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        body = self._object_body(request)
        fields = self._section(body, "fields")
        update = self._section(body, "update")
        actor = self._caller(request)
        values, errors = self._parse_fields(fields, creating=False)
        comments = self._parse_update(update, values, errors, fields)
        if errors:
            raise jira_error(400, errors=errors)
        self._charge_write(issue)
        self._apply(issue, values, actor)
        for text in comments:
            self._add_comment(issue, text, actor, None)
        if request.args.get("returnIssue", "").lower() == "true":
            selection = FieldSelection(["*all"], "*all")
            return Reply(self._render(request).issue(issue, selection))
        return Reply(None, 204)

    def _apply(self, issue: Issue, values: dict[str, Any], actor: str) -> History | None:
        """Set validated values; if anything changed, record one changelog entry and send the webhook."""
        state = self.state
        users = state.users
        items: list[tuple[str, str, Any, Any, Any, Any]] = []

        def name_of(account: str | None) -> str | None:
            return users[account].display_name if account in users else None

        if "summary" in values and values["summary"] != issue.summary:
            items.append(("summary", "summary", None, issue.summary, None, values["summary"]))
            issue.summary = values["summary"]
        for rich in ("description", "environment"):
            old = getattr(issue, rich)
            if rich in values and values[rich] != old:
                items.append(
                    (rich, rich, None, adf_to_text(old) or None, None, adf_to_text(values[rich]) or None)
                )
                setattr(issue, rich, values[rich])
        labels = labels_after(issue.labels, values)
        if labels != issue.labels:
            items.append(
                ("labels", "labels", None, " ".join(issue.labels) or None, None, " ".join(labels) or None)
            )
            issue.labels = labels
        for person in ("assignee", "reporter"):
            if person in values and values[person] != getattr(issue, person):
                old = getattr(issue, person)
                items.append((person, person, old, name_of(old), values[person], name_of(values[person])))
                setattr(issue, person, values[person])
        if "priority" in values and values["priority"] != issue.priority_id:
            old_p, new_p = issue.priority_id, values["priority"]
            items.append(
                ("priority", "priority", old_p, PRIORITIES[old_p].name, new_p, PRIORITIES[new_p].name)
            )
            issue.priority_id = new_p
        if "type" in values and values["type"] != issue.type_id:
            old_t, new_t = issue.type_id, values["type"]
            items.append(
                ("issuetype", "issuetype", old_t, ISSUE_TYPES[old_t].name, new_t, ISSUE_TYPES[new_t].name)
            )
            issue.type_id = new_t
        if "duedate" in values and values["duedate"] != issue.due:
            items.append(("duedate", "duedate", issue.due, issue.due, values["duedate"], values["duedate"]))
            issue.due = values["duedate"]
        if "sprint" in values and values["sprint"] != issue.sprint_id:
            old_s, new_s = issue.sprint_id, values["sprint"]
            sprints = state.sprints
            items.append(
                (
                    "Sprint",
                    SPRINT_FIELD,
                    None if old_s is None else str(old_s),
                    sprints[old_s].name if old_s in sprints else None,
                    None if new_s is None else str(new_s),
                    sprints[new_s].name if new_s in sprints else None,
                )
            )
            issue.sprint_id = new_s
        for field_id, option_id in values.get("custom", {}).items():
            before = (issue.custom or {}).get(field_id)
            if option_id != before:
                label, options = SELECT_FIELDS[field_id]
                shown = {o.id: o.value for o in options}
                items.append(
                    (label, field_id, before, shown.get(before or ""), option_id, shown.get(option_id or ""))
                )
                issue.custom = {**(issue.custom or {}), field_id: option_id}
        if "estimate" in values and values["estimate"] != issue.original_estimate:
            old_e, new_e = issue.original_estimate, values["estimate"]
            items.append(
                (
                    "timeoriginalestimate",
                    "timeoriginalestimate",
                    str_or_none(old_e),
                    str_or_none(old_e),
                    str_or_none(new_e),
                    str_or_none(new_e),
                )
            )
            issue.original_estimate = new_e
        if not items:
            return None
        history = self._record(issue, actor, items)
        only_assignee = all(item[1] == "assignee" for item in items)
        self._issue_event(
            "jira:issue_updated",
            issue,
            actor,
            "issue_assigned" if only_assignee else "issue_updated",
            history=history,
        )
        return history

    @route("DELETE", ISSUE)
    def delete_issue(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        children = self.state.children(issue)
        if children and request.args.get("deleteSubtasks", "false").lower() != "true":
            raise jira_error(
                400,
                f"The issue {self.state.key(issue)} has sub-tasks: set deleteSubtasks=true to delete them.",
            )
        self._charge_write(issue)
        self._delete_issue(issue, self._caller(request))
        return Reply(None, 204)

    def _delete_issue(self, issue: Issue, actor: str) -> None:
        for child in self.state.children(issue):
            self._delete_issue(child, actor)
        hooks = self._has_hooks()
        render = self._webhook_render() if hooks else None
        rendered = render.webhook_issue(issue) if render is not None else None
        brief = render.webhook_issue_brief(issue) if render is not None else None
        dropped = self.state.remove_issue(issue, self._now_ms())
        self._issue_writes.pop(issue.id, None)
        self.touch()
        if render is None:
            return
        self._emit(
            "jira:issue_deleted",
            {
                "timestamp": self._now_ms(),
                "webhookEvent": "jira:issue_deleted",
                "user": render.user(actor),
                "issue": rendered,
            },
            issue,
        )
        for comment in dropped:
            # Cascades travel the secondary lane (X-Atlassian-Webhook-Flow: Secondary) after the primary.
            body = {
                "timestamp": self._now_ms(),
                "webhookEvent": "comment_deleted",
                "comment": render.comment(comment),
                "issue": brief,
            }
            self._emit("comment_deleted", body, issue, flow="Secondary")

    # ------------------------------------------------------------------ transitions

    @route("GET", ISSUE + "/transitions")
    def get_transitions(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        transitions = self._render(request).transitions(issue)
        wanted = request.args.get("transitionId")
        if wanted:
            transitions = [t for t in transitions if t["id"] == wanted]
        return Reply({"expand": "transitions", "transitions": transitions})

    @route("POST", ISSUE + "/transitions")
    def do_transition(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        body = self._object_body(request)
        transition_id = ref_of(body.get("transition"), "id")
        if transition_id is None:
            raise jira_error(400, "Missing 'transition' identifier")
        if transition_id not in {t.id for t in TRANSITIONS if t.to != issue.status_id}:
            raise jira_error(400, f"Transition id '{transition_id}' is not valid for this issue.")
        fields = self._section(body, "fields")
        update = self._section(body, "update")
        resolution: str | None = None
        errors: dict[str, str] = {}
        if "resolution" in fields:
            ref = ref_of(fields["resolution"], "id", "name")
            resolution = next((r.id for r in RESOLUTIONS.values() if ref in (r.id, r.name)), None)
            if resolution is None:
                errors["resolution"] = "Could not find resolution by id or name."
        values, problems = self._parse_fields(
            {k: v for k, v in fields.items() if k != "resolution"}, creating=False
        )
        errors.update(problems)
        comments = self._parse_update(update, values, errors, fields)
        if errors:
            raise jira_error(400, errors=errors)
        actor = self._caller(request)
        self._charge_write(issue)
        self._apply(issue, values, actor)
        self._transition(issue, transition_id, actor, {"resolution": resolution} if resolution else {})
        for text in comments:
            self._add_comment(issue, text, actor, None)
        return Reply(None, 204)

    def _transition(self, issue: Issue, transition_id: str, actor: str, options: dict[str, Any]) -> History:
        target = next(t.to for t in TRANSITIONS if t.id == transition_id)
        old = issue.status_id
        items: list[tuple[str, str, Any, Any, Any, Any]] = [
            ("status", "status", old, STATUSES[old].name, target, STATUSES[target].name)
        ]
        now = self._now_ms()
        if STATUSES[old].category != STATUSES[target].category:
            issue.status_changed = now
        issue.status_id = target
        if target == DONE:
            resolution = options.get("resolution") or DONE_RESOLUTION
            if issue.resolution_id != resolution:
                old_name = RESOLUTIONS[issue.resolution_id].name if issue.resolution_id else None
                items.insert(
                    0,
                    (
                        "resolution",
                        "resolution",
                        issue.resolution_id,
                        old_name,
                        resolution,
                        RESOLUTIONS[resolution].name,
                    ),
                )
            issue.resolution_id = resolution
            issue.resolved = now
        elif issue.resolution_id is not None:
            items.insert(
                0,
                (
                    "resolution",
                    "resolution",
                    issue.resolution_id,
                    RESOLUTIONS[issue.resolution_id].name,
                    None,
                    None,
                ),
            )
            issue.resolution_id = None
            issue.resolved = None
        history = self._record(issue, actor, items)
        self._issue_event("jira:issue_updated", issue, actor, "issue_generic", history=history)
        return history

    # ------------------------------------------------------------------ comments

    @route("GET", ISSUE + "/comment")
    def list_comments(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        order = request.args.get("orderBy", "created")
        if order not in ("created", "-created", "+created"):
            raise jira_error(
                400, f"Invalid orderBy value '{order}'. Valid values are created, -created and +created."
            )
        start, limit = self._paging(request, 100, 5000)
        rendered = "renderedBody" in csv_values(request.args.getlist("expand"))
        page = self._render(request).comment_page(
            issue, start, limit, newest_first=order == "-created", rendered=rendered
        )
        page.pop("self", None)
        return Reply(page)

    def _comment_body(self, body: dict[str, Any]) -> Any:
        text = body.get("body")
        if not isinstance(text, dict) or not is_adf(text):
            raise jira_error(400, errors={"comment": ADF_ERROR})
        if not adf_to_text(text).strip() and not any(
            node.get("type") not in ("paragraph", "text") for node in text.get("content", [])
        ):
            raise jira_error(400, errors={"comment": "Comment body can not be empty!"})
        return text

    @route("POST", ISSUE + "/comment")
    def add_comment(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        body = self._object_body(request)
        text = self._comment_body(body)
        visibility = body.get("visibility")
        if visibility is not None and not (
            isinstance(visibility, dict) and visibility.get("type") in ("group", "role")
        ):
            raise jira_error(400, errors={"visibility": "Visibility type must be group or role."})
        if len(issue.comments) >= MAX_COMMENTS_PER_ISSUE:
            raise jira_error(413, f"This issue has reached the limit of {MAX_COMMENTS_PER_ISSUE} comments.")
        self._charge_write(issue)
        comment = self._add_comment(issue, text, self._caller(request), visibility)
        reply = self._render(request).comment(
            comment, rendered="renderedBody" in csv_values(request.args.getlist("expand"))
        )
        return Reply(reply, 201)

    def _add_comment(self, issue: Issue, body: Any, actor: str, visibility: dict[str, Any] | None) -> Comment:
        now = self._now_ms()
        comment = Comment(self.state.new_comment_id(), issue.id, actor, body, now, now, actor, visibility)
        self.state.comments[comment.id] = comment
        issue.comments.append(comment.id)
        self._bump(issue)
        self._comment_event("comment_created", issue, comment)
        self._issue_event("jira:issue_updated", issue, actor, "issue_commented", comment=comment)
        return comment

    def _comment(self, request: SandboxRequest, issue: Issue, comment_id: str) -> Comment:
        comment = self.state.comments.get(int(comment_id)) if comment_id.isdigit() else None
        if comment is None or comment.issue_id != issue.id:
            raise jira_error(404, f"Can not find a comment for the id: {comment_id}.")
        return comment

    @route("GET", ISSUE + "/comment/{id}")
    def get_comment(self, request: SandboxRequest, issueIdOrKey: str, id: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        comment = self._comment(request, issue, id)
        rendered = "renderedBody" in csv_values(request.args.getlist("expand"))
        return Reply(self._render(request).comment(comment, rendered=rendered))

    @route("PUT", ISSUE + "/comment/{id}")
    def update_comment(self, request: SandboxRequest, issueIdOrKey: str, id: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        comment = self._comment(request, issue, id)
        text = self._comment_body(self._object_body(request))
        self._charge_write(issue)
        self._edit_comment(issue, comment, text, self._caller(request))
        return Reply(self._render(request).comment(comment))

    def _edit_comment(self, issue: Issue, comment: Comment, body: Any, actor: str) -> None:
        comment.body = body
        comment.updated = max(self._now_ms(), comment.updated)
        comment.update_author = actor
        self._bump(issue)
        self._comment_event("comment_updated", issue, comment)
        self._issue_event("jira:issue_updated", issue, actor, "issue_comment_edited", comment=comment)

    @route("DELETE", ISSUE + "/comment/{id}")
    def delete_comment(self, request: SandboxRequest, issueIdOrKey: str, id: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        comment = self._comment(request, issue, id)
        self._charge_write(issue)
        self._delete_comment(issue, comment, self._caller(request))
        return Reply(None, 204)

    def _delete_comment(self, issue: Issue, comment: Comment, actor: str) -> None:
        self.state.comments.pop(comment.id, None)
        issue.comments.remove(comment.id)
        self._bump(issue)
        self._comment_event("comment_deleted", issue, comment)
        self._issue_event("jira:issue_updated", issue, actor, "issue_comment_deleted", comment=comment)

    # ------------------------------------------------------------------ worklogs

    @route("GET", ISSUE + "/worklog")
    def list_worklogs(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        start, limit = self._paging(request, 5000, 5000)
        after = self._int_arg(request, "startedAfter", -1)
        before = self._int_arg(request, "startedBefore", 2**62)
        worklogs = self.state.worklogs
        ids = [w for w in issue.worklogs if w in worklogs and after <= worklogs[w].started < before]
        return Reply(self._render(request).worklog_page(issue, start, limit, ids))

    def _worklog_input(self, body: dict[str, Any], current: Worklog | None) -> tuple[int, int, Any]:
        errors: dict[str, str] = {}
        seconds = current.seconds if current else None
        if "timeSpentSeconds" in body and "timeSpent" in body:
            errors["timeLogged"] = "Provide either timeSpent or timeSpentSeconds, not both."
        elif "timeSpentSeconds" in body:
            value = body["timeSpentSeconds"]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                errors["timeLogged"] = "Time Spent must be greater than 0."
            else:
                seconds = value
        elif "timeSpent" in body:
            try:
                seconds = parse_duration(str(body["timeSpent"]))
            except ValueError:
                errors["timeLogged"] = "Invalid time duration entered."
        if seconds is None and "timeLogged" not in errors:
            errors["timeLogged"] = "You must indicate the time spent working."
        started = current.started if current else None
        if "started" in body or current is None:
            try:
                started = parse_jira_time(str(body.get("started", "")))
            except ValueError:
                errors["started"] = (
                    "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."
                )
        comment = current.comment if current else None
        if "comment" in body:
            comment = body["comment"]
            if comment is not None and not is_adf(comment):
                errors["comment"] = ADF_ERROR
        if errors:
            raise jira_error(400, errors=errors)
        assert seconds is not None
        assert started is not None
        return seconds, started, comment

    @route("POST", ISSUE + "/worklog")
    def add_worklog(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        seconds, started, comment = self._worklog_input(self._object_body(request), None)
        self._charge_write(issue)
        worklog = self._add_worklog(issue, seconds, started, comment, self._caller(request))
        return Reply(self._render(request).worklog(worklog), 201)

    def _add_worklog(self, issue: Issue, seconds: int, started: int, comment: Any, actor: str) -> Worklog:
        state = self.state
        state.next_worklog_id += 1
        at = state.unique_worklog_ms(self._now_ms())
        worklog = Worklog(state.next_worklog_id, issue.id, actor, actor, comment, started, seconds, at, at)
        state.add_worklog(worklog)
        issue.worklogs.append(worklog.id)
        self._bump(issue)
        self._worklog_event("worklog_created", issue, worklog)
        return worklog

    def _worklog(self, issue: Issue, worklog_id: str) -> Worklog:
        worklog = self.state.worklogs.get(int(worklog_id)) if worklog_id.isdigit() else None
        if worklog is None or worklog.issue_id != issue.id:
            raise jira_error(404, f"Cannot find worklog with id: {worklog_id}.")
        return worklog

    @route("GET", ISSUE + "/worklog/{id}")
    def get_worklog(self, request: SandboxRequest, issueIdOrKey: str, id: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        return Reply(self._render(request).worklog(self._worklog(issue, id)))

    @route("PUT", ISSUE + "/worklog/{id}")
    def update_worklog(self, request: SandboxRequest, issueIdOrKey: str, id: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        worklog = self._worklog(issue, id)
        seconds, started, comment = self._worklog_input(self._object_body(request), worklog)
        self._charge_write(issue)
        worklog.seconds, worklog.started, worklog.comment = seconds, started, comment
        worklog.update_author = self._caller(request)
        self.state.touch_worklog(worklog, self.state.unique_worklog_ms(self._now_ms()))
        self._bump(issue)
        self._worklog_event("worklog_updated", issue, worklog)
        return Reply(self._render(request).worklog(worklog))

    @route("DELETE", ISSUE + "/worklog/{id}")
    def delete_worklog(self, request: SandboxRequest, issueIdOrKey: str, id: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        worklog = self._worklog(issue, id)
        self._charge_write(issue)
        self._delete_worklog(issue, worklog)
        return Reply(None, 204)

    def _delete_worklog(self, issue: Issue, worklog: Worklog) -> None:
        self.state.drop_worklog(worklog.id, self._now_ms())
        issue.worklogs.remove(worklog.id)
        self._bump(issue)
        self._worklog_event("worklog_deleted", issue, worklog)

    def _changed_worklogs(
        self, request: SandboxRequest, entries: Sequence[tuple[int, int]], path: str
    ) -> Reply:
        since = self._int_arg(request, "since", 0)
        # Jira leaves out the last minute: entries may still be settling there.
        horizon = self._now_ms() - 60_000
        start = bisect.bisect_right(entries, (since, 2**62))
        page: list[tuple[int, int]] = []
        for entry in entries[start:]:
            if entry[0] > horizon or len(page) == 1000:
                break
            page.append(entry)
        last = start + len(page) >= len(entries) or entries[start + len(page)][0] > horizon
        until = page[-1][0] if page else since
        base = self._base(request)
        body: dict[str, Any] = {
            "values": [{"worklogId": wid, "updatedTime": at, "properties": []} for at, wid in page],
            "since": since,
            "until": until,
            "self": f"{base}{path}?since={since}",
            "lastPage": last,
        }
        if not last:
            body["nextPage"] = f"{base}{path}?since={until}"
        return Reply(body)

    @route("GET", API + "/worklog/updated")
    def worklogs_updated(self, request: SandboxRequest) -> Reply:
        return self._changed_worklogs(
            request, self.state.worklogs_by_updated.keys(), f"{API}/worklog/updated"
        )

    @route("GET", API + "/worklog/deleted")
    def worklogs_deleted(self, request: SandboxRequest) -> Reply:
        return self._changed_worklogs(request, self.state.deleted_worklogs, f"{API}/worklog/deleted")

    @route("POST", API + "/worklog/list")
    def worklogs_by_ids(self, request: SandboxRequest) -> Reply:
        body = self._object_body(request)
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise jira_error(400, "ids must be a list of worklog ids.")
        if not 1 <= len(ids) <= 1000:
            raise jira_error(400, "The number of worklog ids must be between 1 and 1000.")
        worklogs = self.state.worklogs
        render = self._render(request)
        visible = self._sees_all(request)
        return Reply([render.worklog(worklogs[i]) for i in dict.fromkeys(ids) if i in worklogs and visible])

    # ------------------------------------------------------------------ properties and changelog

    @route("GET", ISSUE + "/properties")
    def list_properties(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        base = f"{self._base(request)}{API}/issue/{issue.id}/properties"
        keys = [{"self": f"{base}/{key}", "key": key} for key in sorted(issue.properties or {})]
        return Reply({"keys": keys})

    @route("GET", ISSUE + "/properties/{propertyKey}")
    def get_property(self, request: SandboxRequest, issueIdOrKey: str, propertyKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        stored = issue.properties or {}
        if propertyKey not in stored:
            raise jira_error(404, f"The property with key '{propertyKey}' does not exist.")
        return Reply({"key": propertyKey, "value": stored[propertyKey]})

    @route("PUT", ISSUE + "/properties/{propertyKey}")
    def set_property(self, request: SandboxRequest, issueIdOrKey: str, propertyKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        if len(propertyKey) > 255:
            raise jira_error(400, "The property key can not be longer than 255 characters.")
        if len(request.get_data(cache=True)) > 32_768:
            raise jira_error(400, "The property value can not be longer than 32768 bytes.")
        value = self._json_body(request)
        self._charge_write(issue)
        if issue.properties is None:
            issue.properties = {}
        created = propertyKey not in issue.properties
        issue.properties[propertyKey] = value
        self.touch()
        self._property_event("issue_property_set", issue, propertyKey, value)
        return Reply(None, 201 if created else 200)

    @route("DELETE", ISSUE + "/properties/{propertyKey}")
    def delete_property(self, request: SandboxRequest, issueIdOrKey: str, propertyKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        if not issue.properties or propertyKey not in issue.properties:
            raise jira_error(404, f"The property with key '{propertyKey}' does not exist.")
        self._charge_write(issue)
        del issue.properties[propertyKey]
        self.touch()
        self._property_event("issue_property_deleted", issue, propertyKey, None)
        return Reply(None, 204)

    def _property_event(self, event: str, issue: Issue, key: str, value: Any) -> None:
        if not self._has_hooks():
            return
        body: dict[str, Any] = {
            "timestamp": self._now_ms(),
            "webhookEvent": event,
            "issue": self._webhook_render().webhook_issue_brief(issue),
            "property": {"key": key, "value": value} if event.endswith("set") else {"key": key},
        }
        self._emit(event, body, issue)

    @route("GET", ISSUE + "/changelog")
    def get_changelog(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        issue = self._issue(request, issueIdOrKey)
        start, limit = self._paging(request, 100, 100)
        histories = issue.histories or []
        render = self._render(request)
        chunk = histories[start : start + limit]
        base = f"{self._base(request)}{API}/issue/{self.state.key(issue)}/changelog"
        body: dict[str, Any] = {
            "self": f"{base}?startAt={start}&maxResults={limit}",
            "maxResults": limit,
            "startAt": start,
            "total": len(histories),
            "isLast": start + limit >= len(histories),
            "values": [render.history(h) for h in chunk],
        }
        if not body["isLast"]:
            body["nextPage"] = f"{base}?startAt={start + limit}&maxResults={limit}"
        return Reply(body)

    # ------------------------------------------------------------------ attachments

    @route("POST", ISSUE + "/attachments")
    def add_attachments(self, request: SandboxRequest, issueIdOrKey: str) -> Reply:
        """Multipart field ``file`` (repeatable), only with ``X-Atlassian-Token: no-check``; 200, an array."""
        issue = self._issue(request, issueIdOrKey)
        if request.headers.get("X-Atlassian-Token", "").lower() != "no-check":
            raise jira_error(403, "XSRF check failed")
        files = request.files.getlist("file")
        if not files:
            raise jira_error(400, "No attachments were found in the request: send them as the 'file' field.")
        if len(files) > MAX_ATTACHMENTS_PER_REQUEST:
            raise jira_error(
                413, f"At most {MAX_ATTACHMENTS_PER_REQUEST} files can be attached in one request."
            )
        uploads = [(upload.filename or "attachment", upload.mimetype, upload.read()) for upload in files]
        too_big = [name for name, _, content in uploads if len(content) > MAX_ATTACHMENT_BYTES]
        if too_big:
            raise jira_error(413, f"The file '{too_big[0]}' is larger than the attachment size limit.")
        self._charge_write(issue)
        actor = self._caller(request)
        state = self.state
        created = []
        for name, mime_type, content in uploads:
            state.next_attachment_id += 1
            attachment = Attachment(
                state.next_attachment_id,
                issue.id,
                name,
                actor,
                self._now_ms(),
                mime_type or "application/octet-stream",
                content,
            )
            state.attachments[attachment.id] = attachment
            if issue.attachments is None:
                issue.attachments = []
            issue.attachments.append(attachment.id)
            created.append(attachment)
        history = self._record(
            issue, actor, [("Attachment", "attachment", None, None, str(a.id), a.filename) for a in created]
        )
        self._issue_event("jira:issue_updated", issue, actor, "issue_updated", history=history)
        render = self._render(request)
        return Reply([render.attachment(a) for a in created])

    def _attachment(self, request: SandboxRequest, attachment_id: str) -> tuple[Issue, Attachment]:
        attachment = self.state.attachments.get(int(attachment_id)) if attachment_id.isdigit() else None
        issue = self.state.issue(attachment.issue_id) if attachment is not None else None
        if attachment is None or issue is None or not self._sees_all(request):
            raise jira_error(404, f"The attachment with id '{attachment_id}' does not exist")
        return issue, attachment

    @route("GET", API + "/attachment/{id}")
    def get_attachment(self, request: SandboxRequest, id: str) -> Reply:
        _, attachment = self._attachment(request, id)
        render = self._render(request)
        body = render.attachment(attachment)
        body["id"] = attachment.id  # AttachmentMetadata has a numeric id, unlike Attachment
        body["author"] = render.user_full(attachment.author)
        body["properties"] = {}
        return Reply(body)

    @route("GET", API + "/attachment/content/{id}")
    def get_attachment_content(self, request: SandboxRequest, id: str) -> Reply:
        """The bytes themselves: Jira Cloud redirects to its media service (303); the sandbox serves them."""
        _, attachment = self._attachment(request, id)
        return Reply(attachment.content, 200, content_type=attachment.mime_type)

    @route("DELETE", API + "/attachment/{id}")
    def delete_attachment(self, request: SandboxRequest, id: str) -> Reply:
        issue, attachment = self._attachment(request, id)
        self._charge_write(issue)
        del self.state.attachments[attachment.id]
        if issue.attachments:
            issue.attachments.remove(attachment.id)
        actor = self._caller(request)
        history = self._record(
            issue, actor, [("Attachment", "attachment", str(attachment.id), attachment.filename, None, None)]
        )
        self._issue_event("jira:issue_updated", issue, actor, "issue_updated", history=history)
        return Reply(None, 204)
