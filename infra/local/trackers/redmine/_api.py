"""The Redmine sandbox's REST routes, and the issue writes that routes and ``/_sandbox/mutate`` share.

What the routes reproduce (Redmine's REST API description: "Rest_Issues", "Rest_IssueStatuses",
"Rest_Trackers", "Rest_Enumerations", "Rest_Projects", "Rest_Memberships", "Rest_Users"):

- ``GET /issues.json``: ``project_id`` (identifier or id; another project is 404), ``status_id`` (``open``
  by default, ``closed``, ``*`` or ids ``1|2``), ``updated_on`` / ``created_on`` with ``>=``, ``<=`` and
  ``><a|b`` over ISO timestamps or dates (an unreadable one is ``422 {"errors": ["Updated is invalid"]}``),
  ``subject=~text`` (contains, any case), ``issue_id=1,2``, ``sort`` (``col[:desc],...`` over ``id``,
  ``updated_on``, ``created_on``, ``priority``; default ``id:desc``; ``id`` breaks ties as Redmine appends
  it), ``offset``/``limit`` (default 25, at most 100) or ``page``; the answer is ``{"issues", "total_count",
  "offset", "limit"}``. Every page is a slice of one computed ordering, so a write between pages shifts what
  follows, as on Redmine (page drift).
- ``GET /issues/{id}.json[?include=journals]``; ``POST /issues.json`` (201 with the issue);
  ``PUT /issues/{id}.json`` (204, no body; ``notes`` adds a journal, and every attribute change is a journal
  detail); ``DELETE /issues/{id}.json`` (204). Validation answers ``422 {"errors": [...]}`` with Redmine's
  full messages ("Subject cannot be blank", "Labels is not included in the list", "Assignee is invalid").
- ``GET /issue_statuses.json``, ``/trackers.json``, ``/enumerations/issue_priorities.json``,
  ``/users/current.json``, ``/projects/{id}.json[?include=issue_custom_fields]``,
  ``/projects/{id}/memberships.json`` (paged like issues).
- The redmine_webhook plugin's project settings: ``POST /projects/{id}/webhook_settings/create`` adds a hook
  URL, ``DELETE /projects/{id}/webhook_settings/{webhook_id}`` removes it. The plugin's controller answers
  HTML redirects; with ``.json`` the sandbox answers ``{"webhook": {"id", "url"}}`` (the URL without its
  userinfo) and 204, so a registration can be checked (a sandbox liberty: the plugin has no JSON API).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .._clock import parse_iso
from ..core import ApiError, Reply, SandboxRequest, SandboxTracker, route
from ._render import issue_json, person_ref, project_json, status_json
from ._state import (
    DEFAULT_PRIORITY,
    DEFAULT_STATUS,
    LABEL_VALUES,
    LABELS_FIELD_ID,
    PRIORITIES,
    PROJECT_ID,
    PROJECT_IDENTIFIER,
    STATUS_BY_ID,
    STATUSES,
    TRACKERS,
    Issue,
    Journal,
    RedmineState,
    Webhook,
)

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
_SORT_COLUMNS: Mapping[str, Callable[[Issue], int]] = {
    "id": lambda i: i.id,
    "updated_on": lambda i: i.updated_on,
    "created_on": lambda i: i.created_on,
    "priority": lambda i: i.priority_id,
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def invalid(*messages: str) -> ApiError:
    """Redmine's validation answer: 422 with the model's full error messages."""
    return ApiError(422, messages[0], errors=list(messages))


def _moment(text: str, end_of_day: bool = False) -> int:
    value = text.strip()
    if _DATE.fullmatch(value):
        return parse_iso(value) + (86_399 if end_of_day else 0)
    return parse_iso(value)


def time_filter(raw: str | None, label: str) -> Callable[[int], bool] | None:
    """``>=t``, ``<=t``, ``><a|b`` (Redmine's operators in a filter value); ``None`` when absent."""
    if raw is None:
        return None
    try:
        if raw.startswith(">="):
            low = _moment(raw[2:])
            return lambda v: v >= low
        if raw.startswith("<="):
            high = _moment(raw[2:], end_of_day=True)
            return lambda v: v <= high
        if raw.startswith("><"):
            first, _, second = raw[2:].partition("|")
            low, high = _moment(first), _moment(second, end_of_day=True)
            return lambda v: low <= v <= high
    except ValueError:
        pass
    raise invalid(f"{label} is invalid")


def _int_arg(request: SandboxRequest, name: str, default: int) -> int:
    value = request.args.get(name)
    return int(value) if value is not None and value.strip().isdigit() else default


class RedmineApi(SandboxTracker[RedmineState]):
    """Routes and writes; ``sandbox.RedmineSandbox`` adds auth, errors, limits, hooks and mutations."""

    # ---- the listing ---------------------------------------------------------------------------
    def _project(self, value: str | None) -> None:
        if value is not None and value not in (PROJECT_IDENTIFIER, str(PROJECT_ID)):
            raise ApiError(404)

    def _statuses(self, raw: str) -> set[int]:
        if raw == "*":
            return set(STATUS_BY_ID)
        if raw in ("open", "closed"):
            return {s for s, (_, closed) in STATUS_BY_ID.items() if closed == (raw == "closed")}
        return {int(x) for x in re.split(r"[|,]", raw) if x.strip().isdigit()}

    def _ordering(self, raw: str) -> Callable[[Issue], tuple[int, ...]]:
        criteria: list[tuple[Callable[[Issue], int], bool]] = []
        for part in raw.split(","):
            column, _, direction = part.strip().partition(":")
            if column in _SORT_COLUMNS:
                criteria.append((_SORT_COLUMNS[column], direction.strip().lower() == "desc"))
        if not criteria:
            criteria = [(_SORT_COLUMNS["id"], True)]
        if not any(getter is _SORT_COLUMNS["id"] for getter, _ in criteria):
            criteria.append((_SORT_COLUMNS["id"], True))
        return lambda i: tuple(-g(i) if desc else g(i) for g, desc in criteria)

    def _matching_ids(self, request: SandboxRequest) -> list[int]:
        args = request.args
        self._project(args.get("project_id"))
        statuses = self._statuses(args.get("status_id", "open"))
        updated = time_filter(args.get("updated_on"), "Updated")
        created = time_filter(args.get("created_on"), "Created")
        subject = args.get("subject")
        wanted_ids = {int(x) for x in args.get("issue_id", "").split(",") if x.strip().isdigit()}
        key = (
            "issues",
            args.get("status_id", "open"),
            args.get("updated_on"),
            args.get("created_on"),
            subject,
            args.get("issue_id"),
            args.get("sort", "id:desc"),
        )

        def compute() -> list[int]:
            needle = subject[1:].lower() if subject and subject.startswith("~") else None
            found = [
                issue
                for issue in self.state.issues.values()
                if issue.status_id in statuses
                and (updated is None or updated(issue.updated_on))
                and (created is None or created(issue.created_on))
                and (needle is None or needle in issue.subject.lower())
                and (subject is None or needle is not None or issue.subject == subject)
                and (not wanted_ids or issue.id in wanted_ids)
            ]
            found.sort(key=self._ordering(args.get("sort", "id:desc")))
            return [issue.id for issue in found]

        return list(self.view(key, compute))

    @staticmethod
    def window(request: SandboxRequest) -> tuple[int, int]:
        limit = min(max(_int_arg(request, "limit", DEFAULT_LIMIT), 1), MAX_LIMIT)
        page = _int_arg(request, "page", 0)
        offset = _int_arg(request, "offset", (page - 1) * limit if page > 0 else 0)
        return offset, limit

    @route("GET", "/issues.json")
    def list_issues(self, request: SandboxRequest) -> Reply:
        ids = self._matching_ids(request)
        offset, limit = self.window(request)
        issues = [issue_json(self.state, self.state.issues[i]) for i in ids[offset : offset + limit]]
        return Reply({"issues": issues, "total_count": len(ids), "offset": offset, "limit": limit})

    # ---- one issue -----------------------------------------------------------------------------
    def issue(self, issue_id: int) -> Issue:
        issue = self.state.issues.get(issue_id)
        if issue is None:
            raise ApiError(404)
        return issue

    @route("GET", "/issues/{issue_id:int}.json")
    def get_issue(self, request: SandboxRequest, issue_id: int) -> Reply:
        include = {x.strip() for x in request.args.get("include", "").split(",")}
        return Reply({"issue": issue_json(self.state, self.issue(issue_id), journals="journals" in include)})

    def _issue_body(self, request: SandboxRequest) -> dict[str, Any]:
        body = self.read_json(request)
        fields = body.get("issue") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise invalid("Subject cannot be blank")
        return fields

    @route("POST", "/issues.json")
    def post_issue(self, request: SandboxRequest) -> Reply:
        fields = self._issue_body(request)
        if str(fields.get("project_id", "")) not in (PROJECT_IDENTIFIER, str(PROJECT_ID)):
            raise invalid("Project cannot be blank")
        return self._created(self.create_issue(fields, self.actor(request)))

    def _created(self, issue: Issue) -> Reply:
        return Reply(
            {"issue": issue_json(self.state, issue)}, 201, {"Location": f"{self.url}/issues/{issue.id}"}
        )

    @route("POST", "/projects/{project}/issues.json")
    def post_project_issue(self, request: SandboxRequest, project: str) -> Reply:
        """The nested route python-redmine creates issues with (Redmine routes issues under projects)."""
        self._project(project)
        return self._created(self.create_issue(self._issue_body(request), self.actor(request)))

    @route("PUT", "/issues/{issue_id:int}.json")
    def put_issue(self, request: SandboxRequest, issue_id: int) -> Reply:
        self.update_issue(self.issue(issue_id), self._issue_body(request), self.actor(request))
        return Reply(None, 204)

    @route("DELETE", "/issues/{issue_id:int}.json")
    def delete_issue(self, request: SandboxRequest, issue_id: int) -> Reply:
        self.state.remove_issue(self.issue(issue_id))
        self.touch()
        return Reply(None, 204)

    # ---- writes shared with /_sandbox/mutate -----------------------------------------------------
    def actor(self, request: SandboxRequest) -> int:
        """The caller's user id (``sandbox.RedmineSandbox.authenticate`` names the principal by login)."""
        login = request.principal.login if request.principal else ""
        return next((p.id for p in self.state.people.values() if p.login == login), 1)

    def _checked(self, issue: Issue, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The attribute values ``fields`` set, validated as Redmine's model does (422 otherwise)."""
        errors: list[str] = []
        values: dict[str, Any] = {}
        if "subject" in fields:
            values["subject"] = str(fields["subject"] or "").strip()
            if not values["subject"]:
                errors.append("Subject cannot be blank")
            elif len(values["subject"]) > 255:
                errors.append("Subject is too long (maximum is 255 characters)")
        if "description" in fields:
            values["description"] = str(fields["description"] or "")
        for name, known, message in (
            ("status_id", STATUS_BY_ID, "Status is invalid"),
            ("tracker_id", dict(TRACKERS), "Tracker cannot be blank"),
            ("priority_id", dict(PRIORITIES), "Priority cannot be blank"),
        ):
            if name in fields:
                value = fields[name]
                if not str(value).isdigit() or int(value) not in known:
                    errors.append(message)
                else:
                    values[name] = int(value)
        if "assigned_to_id" in fields:
            value = fields["assigned_to_id"]
            if value in ("", None):
                values["assigned_to_id"] = None
            elif not str(value).isdigit() or int(value) not in self.state.people:
                errors.append("Assignee is invalid")
            else:
                values["assigned_to_id"] = int(value)
        for custom in fields.get("custom_fields") or []:
            if not isinstance(custom, dict) or custom.get("id") != LABELS_FIELD_ID:
                continue
            raw = custom.get("value")
            labels = [str(v) for v in (raw if isinstance(raw, list) else [raw]) if v not in (None, "")]
            if any(label not in LABEL_VALUES for label in labels):
                errors.append("Labels is not included in the list")
            else:
                values["labels"] = list(dict.fromkeys(labels))
        if errors:
            raise invalid(*errors)
        return values

    def create_issue(self, fields: Mapping[str, Any], actor: int) -> Issue:
        fields = {"subject": fields.get("subject", ""), **fields}
        now = self.now()
        issue = Issue(
            id=self.state.next_issue_id,
            subject="",
            description="",
            status_id=DEFAULT_STATUS,
            tracker_id=TRACKERS[0][0],
            priority_id=DEFAULT_PRIORITY,
            author_id=actor,
            assigned_to_id=None,
            labels=[],
            created_on=now,
            updated_on=now,
        )
        for name, value in self._checked(issue, fields).items():
            setattr(issue, name, value)
        if issue.is_closed:
            issue.closed_on = now
        self.state.add_issue(issue)
        self.touch()
        self.notify(issue, None)
        return issue

    def update_issue(self, issue: Issue, fields: Mapping[str, Any], actor: int) -> Journal | None:
        """Apply ``fields``; changes and ``notes`` make one journal, and the issue's ``updated_on`` moves."""
        values = self._checked(issue, fields)
        details: list[dict[str, str | None]] = []
        for name, value in values.items():
            old = getattr(issue, name)
            if old == value:
                continue
            if name == "labels":
                details.append(
                    {"property": "cf", "name": str(LABELS_FIELD_ID), "old_value": None, "new_value": None}
                )
            else:
                shown = None if value is None else str(value)
                details.append(
                    {"property": "attr", "name": name, "old_value": _shown(old), "new_value": shown}
                )
            setattr(issue, name, value)
        notes = str(fields.get("notes") or "")
        if not details and not notes:
            return None
        now = max(self.now(), issue.updated_on)
        if "status_id" in values:
            issue.closed_on = now if issue.is_closed else None
        journal = Journal(
            self.state.next_journal_id,
            issue.id,
            actor,
            notes,
            now,
            now,
            private_notes=bool(fields.get("private_notes")),
            details=details,
        )
        self.state.add_journal(journal)
        self.state.set_updated(issue, now)
        self.touch()
        self.notify(issue, journal)
        return journal

    def notify(self, issue: Issue, journal: Journal | None) -> None:
        """The plugin's ``controller_issues_new_after_save`` / ``_edit_after_save`` hooks (``sandbox``)."""

    # ---- enumerations, people, the project -------------------------------------------------------
    @route("GET", "/issue_statuses.json")
    def list_statuses(self, request: SandboxRequest) -> Reply:
        return Reply({"issue_statuses": [status_json(status_id) for status_id, _, _ in STATUSES]})

    @route("GET", "/trackers.json")
    def list_trackers(self, request: SandboxRequest) -> Reply:
        default = status_json(DEFAULT_STATUS)
        default.pop("is_closed")
        trackers = [
            {"id": tid, "name": name, "default_status": default, "description": None}
            for tid, name in TRACKERS
        ]
        return Reply({"trackers": trackers})

    @route("GET", "/enumerations/issue_priorities.json")
    def list_priorities(self, request: SandboxRequest) -> Reply:
        items = [
            {"id": pid, "name": name, "is_default": pid == DEFAULT_PRIORITY, "active": True}
            for pid, name in PRIORITIES
        ]
        return Reply({"issue_priorities": items})

    @route("GET", "/users/current.json")
    def current_user(self, request: SandboxRequest) -> Reply:
        person = self.state.people[self.actor(request)]
        return Reply(
            {
                "user": {
                    "id": person.id,
                    "login": person.login,
                    "admin": False,
                    "firstname": person.firstname,
                    "lastname": person.lastname,
                    "mail": person.mail,
                    "created_on": "2022-01-01T00:00:00Z",
                    "last_login_on": None,
                }
            }
        )

    @route("GET", "/projects/{project}.json")
    def get_project(self, request: SandboxRequest, project: str) -> Reply:
        self._project(project)
        include = {x.strip() for x in request.args.get("include", "").split(",")}
        return Reply({"project": project_json(self.state, custom_fields="issue_custom_fields" in include)})

    @route("GET", "/projects/{project}/memberships.json")
    def list_memberships(self, request: SandboxRequest, project: str) -> Reply:
        self._project(project)
        people = sorted(self.state.people)
        offset, limit = self.window(request)
        items = [
            {
                "id": 100 + user_id,
                "project": {"id": PROJECT_ID, "name": project_json(self.state)["name"]},
                "user": person_ref(self.state.people[user_id]),
                "roles": [{"id": 4, "name": "Developer"}],
            }
            for user_id in people[offset : offset + limit]
        ]
        return Reply({"memberships": items, "total_count": len(people), "offset": offset, "limit": limit})

    # ---- the webhook plugin's project settings ---------------------------------------------------
    @route("POST", "/projects/{project}/webhook_settings/create.json", conditional=False)
    def create_webhook(self, request: SandboxRequest, project: str) -> Reply:
        self._project(project)
        body = self.read_json(request)
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("Url is invalid")
        hook = Webhook(self.state.next_webhook_id, url)
        self.state.webhooks[hook.id] = hook
        self.state.next_webhook_id += 1
        shown = re.sub(r"//[^/@]*@", "//", url)
        return Reply({"webhook": {"id": hook.id, "url": shown}}, 201)

    @route("DELETE", "/projects/{project}/webhook_settings/{webhook_id:int}.json")
    def delete_webhook(self, request: SandboxRequest, project: str, webhook_id: int) -> Reply:
        self._project(project)
        if self.state.webhooks.pop(webhook_id, None) is None:
            raise ApiError(404)
        return Reply(None, 204)


def _shown(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "RedmineApi", "invalid", "time_filter"]
