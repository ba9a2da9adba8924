"""The Jira sandbox's agile writes and catalog changes: sprints created, updated, deleted and filled with
issues through Jira Software's agile 1.0 API, and the ``/_sandbox/mutate`` actions a test uses to change the
site's sprints and people. The agile reads (boards, a board's sprints, a sprint, its issues) are ``_site``'s.

What the API does (``jira-software.swagger-v3.2022-07.json`` and Atlassian's notes on each operation):

- ``POST /sprint`` ``{name, originBoardId, startDate?, endDate?, goal?}`` (no other key: 400) creates a
  *future* sprint, name trimmed; 201 with the sprint bean;
- ``POST /sprint/{id}`` is a partial update, ``PUT`` a full one (absent fields become null). A closed sprint
  cannot be updated; ``state`` may only go future -> active (start and end dates needed) or active ->
  closed (``completeDate`` set to now); ``completeDate`` cannot be set by hand;
- ``DELETE /sprint/{id}`` 204: the sprint's issues move to the backlog (their sprint field empties, which
  is an issue update with its changelog entry and webhook);
- ``POST /sprint/{id}/issue`` ``{issues: [keys or ids]}`` 204: at most 50 issues, into a future or active
  sprint only.
"""

from __future__ import annotations

from typing import Any

from ..core import Reply, SandboxRequest, mutation, route
from ._base import AGILE, jira_error
from ._issues import IssueRoutes
from ._render import parse_jira_time
from ._state import BOARD_ID, Issue, Sprint, User

_CREATE_KEYS = frozenset({"name", "startDate", "endDate", "originBoardId", "goal"})
_UPDATE_KEYS = frozenset(
    {
        "id",
        "self",
        "state",
        "name",
        "startDate",
        "endDate",
        "completeDate",
        "createdDate",
        "originBoardId",
        "goal",
    }
)
MAX_MOVED = 50


class AgileRoutes(IssueRoutes):
    # ------------------------------------------------------------------ helpers

    def _time_or_none(self, body: dict[str, Any], name: str, errors: dict[str, str]) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        try:
            return parse_jira_time(str(value))
        except ValueError:
            errors[name] = f"Could not parse the date {value!r}."
            return None

    def _known_sprint(self, request: SandboxRequest | None, sprint_id: Any) -> Sprint:
        sprint = self.state.sprints.get(int(sprint_id)) if str(sprint_id).isdigit() else None
        if sprint is None or (request is not None and not self._sees_all(request)):
            raise jira_error(404, "Sprint does not exist or you do not have permission to view it.")
        return sprint

    def _sprint_issues(self, sprint: Sprint) -> list[Issue]:
        return [i for i in self.state.issues if i is not None and i.sprint_id == sprint.id]

    def _set_sprint(self, issues: list[Issue], sprint_id: int | None, actor: str) -> None:
        for issue in issues:
            if issue.sprint_id != sprint_id:
                self._apply(issue, {"sprint": sprint_id}, actor)

    def _new_sprint(self, name: str, board_id: int, start: int | None, end: int | None, goal: str) -> Sprint:
        sprint_id = max(self.state.sprints, default=0) + 1
        sprint = Sprint(sprint_id, board_id, name, "future", start, end, None, self._now_ms(), goal)
        self.state.sprints[sprint_id] = sprint
        self.touch()
        return sprint

    def _update_sprint(self, sprint: Sprint, body: dict[str, Any], *, full: bool) -> None:
        """Jira's rules for a sprint update (module docstring); ``jira_error`` 400 when one is broken."""
        if sprint.state == "closed":
            raise jira_error(400, "A closed sprint cannot be updated.")
        errors: dict[str, str] = {}
        unknown = sorted(set(body) - _UPDATE_KEYS)
        if unknown:
            raise jira_error(400, f"Unrecognized field '{unknown[0]}'.")
        if "completeDate" in body:
            errors["completeDate"] = "The complete date cannot be set manually."
        start = self._time_or_none(body, "startDate", errors) if full or "startDate" in body else sprint.start
        end = self._time_or_none(body, "endDate", errors) if full or "endDate" in body else sprint.end
        state = body.get("state", sprint.state if not full else None) or sprint.state
        if state not in ("future", "active", "closed"):
            errors["state"] = f"The state '{state}' is not valid."
        elif state != sprint.state and (sprint.state, state) not in (
            ("future", "active"),
            ("active", "closed"),
        ):
            errors["state"] = f"A sprint cannot move from {sprint.state} to {state}."
        elif state == "active" and sprint.state == "future" and (start is None or end is None):
            errors["state"] = "A sprint needs a start date and an end date to be started."
        name = body.get("name", None if full else sprint.name)
        if not isinstance(name, str) or not name.strip():
            errors["name"] = "The sprint name is required."
        if errors:
            raise jira_error(400, errors=errors)
        assert isinstance(name, str)
        goal = body.get("goal", None if full else sprint.goal)
        sprint.name, sprint.goal, sprint.start, sprint.end = name.strip(), str(goal or ""), start, end
        if state == "closed" and sprint.state == "active":
            sprint.complete = self._now_ms()
        sprint.state = state
        self.touch()

    def _delete_sprint(self, sprint: Sprint, actor: str) -> None:
        # Its issues (open ones, and done ones too: a sprint that is gone is named by none) empty their
        # sprint field: an update of each, with its changelog entry and webhook.
        self._set_sprint(self._sprint_issues(sprint), None, actor)
        del self.state.sprints[sprint.id]
        self.touch()

    # ------------------------------------------------------------------ routes

    @route("POST", AGILE + "/sprint")
    def create_sprint(self, request: SandboxRequest) -> Reply:
        body = self._object_body(request)
        unknown = sorted(set(body) - _CREATE_KEYS)
        if unknown:
            raise jira_error(400, f"Unrecognized field '{unknown[0]}'.")
        errors: dict[str, str] = {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            errors["name"] = "The sprint name is required."
        board_id = body.get("originBoardId")
        if not isinstance(board_id, int) or isinstance(board_id, bool):
            errors["originBoardId"] = "The board id is required."
        elif board_id not in self.state.boards:
            raise jira_error(404, "Board does not exist or you do not have permission to see it.")
        start = self._time_or_none(body, "startDate", errors)
        end = self._time_or_none(body, "endDate", errors)
        if errors:
            raise jira_error(400, errors=errors)
        if not self._sees_all(request):
            raise jira_error(403, "You do not have permission to create sprints on this board.")
        assert isinstance(name, str)
        assert isinstance(board_id, int)
        sprint = self._new_sprint(name.strip(), board_id, start, end, str(body.get("goal") or ""))
        return Reply(self._render(request).sprint(sprint), 201)

    @route("POST", AGILE + "/sprint/{sprintId}")
    def partially_update_sprint(self, request: SandboxRequest, sprintId: str) -> Reply:
        sprint = self._known_sprint(request, sprintId)
        self._update_sprint(sprint, self._object_body(request), full=False)
        return Reply(self._render(request).sprint(sprint))

    @route("PUT", AGILE + "/sprint/{sprintId}")
    def update_sprint(self, request: SandboxRequest, sprintId: str) -> Reply:
        sprint = self._known_sprint(request, sprintId)
        self._update_sprint(sprint, self._object_body(request), full=True)
        return Reply(self._render(request).sprint(sprint))

    @route("DELETE", AGILE + "/sprint/{sprintId}")
    def delete_sprint(self, request: SandboxRequest, sprintId: str) -> Reply:
        self._delete_sprint(self._known_sprint(request, sprintId), self._caller(request))
        return Reply(None, 204)

    @route("POST", AGILE + "/sprint/{sprintId}/issue")
    def move_issues_to_sprint(self, request: SandboxRequest, sprintId: str) -> Reply:
        sprint = self._known_sprint(request, sprintId)
        refs = self._object_body(request).get("issues")
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise jira_error(400, "The issues to move are required.")
        if len(refs) > MAX_MOVED:
            raise jira_error(400, f"At most {MAX_MOVED} issues can be moved in one operation.")
        if sprint.state == "closed":
            raise jira_error(400, "Issues can only be moved to a future or an active sprint.")
        issues = [self._issue(request, ref) for ref in refs]
        self._set_sprint(issues, sprint.id, self._caller(request))
        return Reply(None, 204)

    # ------------------------------------------------------------------ /_sandbox/mutate

    @mutation("create_sprint")
    def mutate_create_sprint(
        self, name: Any = None, board_id: Any = BOARD_ID, goal: Any = "", state: Any = "future"
    ) -> dict[str, Any]:
        """A new sprint of ``board_id``; ``state`` future, or active (it then starts now, for 14 days)."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name is required")
        if board_id not in self.state.boards:
            raise KeyError(f"no board {board_id}")
        now = self._now_ms()
        active = state == "active"
        sprint = self._new_sprint(
            name.strip(),
            board_id,
            now if active else None,
            now + 14 * 86_400_000 if active else None,
            str(goal),
        )
        sprint.state = "active" if active else "future"
        return {"id": sprint.id}

    @mutation("update_sprint")
    def mutate_update_sprint(self, sprint_id: Any = None, **fields: Any) -> dict[str, Any]:
        """A partial update with the API's rules (``fields``: name, goal, state, startDate, endDate)."""
        sprint = self._sandbox_sprint(sprint_id)
        try:
            self._update_sprint(sprint, fields, full=False)
        except Exception as exc:
            raise ValueError(str(getattr(exc, "details", exc))) from exc
        return {"id": sprint.id, "state": sprint.state}

    @mutation("delete_sprint")
    def mutate_delete_sprint(self, sprint_id: Any = None, actor: str | None = None) -> dict[str, Any]:
        self._delete_sprint(self._sandbox_sprint(sprint_id), actor or self.state.api_user)
        return {"id": int(sprint_id)}

    @mutation("move_to_sprint")
    def mutate_move_to_sprint(
        self, sprint_id: Any = None, keys: Any = None, actor: str | None = None
    ) -> dict[str, Any]:
        """Issues (keys or ids) into a sprint, or out of any (``sprint_id`` null: the backlog)."""
        sprint = None if sprint_id is None else self._sandbox_sprint(sprint_id)
        if not isinstance(keys, list) or not keys:
            raise ValueError("keys is required")
        issues = []
        for key in keys:
            issue = self.state.find(str(key))
            if issue is None:
                raise KeyError(f"no issue {key}")
            issues.append(issue)
        self._set_sprint(issues, sprint.id if sprint else None, actor or self.state.api_user)
        return {"moved": len(issues)}

    def _sandbox_sprint(self, sprint_id: Any) -> Sprint:
        sprint = self.state.sprints.get(int(sprint_id)) if str(sprint_id).isdigit() else None
        if sprint is None:
            raise KeyError(f"no sprint {sprint_id}")
        return sprint

    @mutation("add_user")
    def mutate_add_user(self, display_name: Any = None, email: Any = None) -> dict[str, Any]:
        """A new person on the site, assignable in its projects."""
        if not isinstance(display_name, str) or not display_name.strip():
            raise ValueError("display_name is required")
        account_id = f"712020:{len(self.state.users):08x}-0000-4000-8000-{self._now_ms():012x}"[:64]
        self.state.users[account_id] = User(account_id, display_name.strip(), email or None, "UTC")
        self.touch()
        return {"account_id": account_id}

    @mutation("deactivate_user")
    def mutate_deactivate_user(self, account_id: Any = None) -> dict[str, Any]:
        """A person who left: the account stays (issues still name it) with ``active`` false."""
        user = self.state.users.get(str(account_id))
        if user is None:
            raise KeyError(f"no user {account_id}")
        user.active = False
        self.touch()
        return {"account_id": user.account_id}


__all__ = ["AgileRoutes"]
