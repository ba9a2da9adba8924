"""The GitHub sandbox's issue routes: list, create, read and edit issues, their labels and assignees.

Every write validates first (GitHub's 422 with an ``errors`` list), then changes state, bumps ``updated_at``
and sends the ``issues`` webhook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core import (
    ApiError,
    ListWindow,
    Reply,
    SandboxRequest,
    route,
)
from ._base import (
    ISSUE,
    REPO,
    STATE_REASONS,
    GitHubBase,
    filter_issues,
    invalid,
    second,
)
from ._state import (
    OUTSIDER_LOGIN,
    GitHubState,
    Issue,
)


class IssueRoutes(GitHubBase):
    """Issues (pull requests included, as GitHub lists them), labels and assignees."""

    @route("GET", REPO + "/issues")
    def list_issues(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        wanted = self._choice(request, "state", ("open", "closed", "all"), "open", "Issue")
        sort = self._choice(request, "sort", ("created", "updated", "comments"), "created", "Issue")
        direction = self._choice(request, "direction", ("asc", "desc"), "desc", "Issue")
        since = self._since(request, "Issue")
        labels = tuple(
            sorted({n.strip().lower() for n in request.args.get("labels", "").split(",") if n.strip()})
        )
        assignee = request.args.get("assignee") or None
        creator = request.args.get("creator") or None
        descending = direction == "desc"
        simple = not labels and assignee is None and creator is None
        keys: Sequence[int]
        if simple and wanted == "all" and sort == "updated":
            # The incremental-sync walk: straight off the (updated_at, number) index, nothing copied.
            index = state.by_updated.keys()
            start = state.by_updated.index_at_or_after((since, 0)) if since is not None else 0
            keys = ListWindow(index, start, reverse=descending, project=second)
        elif simple and wanted == "all" and sort == "created" and since is None and not state.deleted_count:
            # Numbers are dense and in creation order: a page is arithmetic on a range.
            count = len(state.issues)
            keys = range(count, 0, -1) if descending else range(1, count + 1)
        else:
            query = ("issues", wanted, sort, direction, since, labels, assignee, creator)
            keys = self.view(
                query,
                lambda: filter_issues(state, wanted, sort, descending, since, labels, assignee, creator),
            )
        render = self.render.issue
        issues = state.issues
        return self._page_reply(request, keys, lambda number: render(issues[number - 1]), "Issue")

    @route("POST", REPO + "/issues")
    def create_issue(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        self._require_writer(request)
        body = self._json_object(request)
        issue = self._create_issue(state, body, self._actor(request))
        url = f"{self.render.repo_api}/issues/{issue.number}"
        return Reply(self.render.issue(issue, detail=True), 201, {"Location": url})

    def _create_issue(
        self,
        state: GitHubState,
        body: dict[str, Any],
        actor: str,
        *,
        pull: bool = False,
        head: str | None = None,
    ) -> Issue:
        title = body.get("title")
        if isinstance(title, int | float) and not isinstance(title, bool):
            title = str(title)  # GitHub accepts a number as a title
        if not isinstance(title, str) or not title.strip():
            raise invalid("Issue", "title", code="missing_field")
        text = body.get("body")
        if text is not None and not isinstance(text, str):
            raise invalid("Issue", "body")
        if body.get("milestone") is not None:
            raise invalid("Issue", "milestone", body["milestone"])
        assignees = self._logins(body.get("assignees"), "Issue", "assignees")
        if isinstance(body.get("assignee"), str):
            assignees = list(
                dict.fromkeys([*self._logins([body["assignee"]], "Issue", "assignee"), *assignees])
            )
        labels = self._label_names(body["labels"], "Issue") if body.get("labels") is not None else []
        now = self.now()
        issue = Issue(
            len(state.issues) + 1, title, text, actor, "open", None, labels, assignees, now, now, pull=pull
        )
        issue.head_ref = head.strip() if head else None
        state.add_issue(issue)
        self.touch()
        if pull:
            self._emit_pull("opened", issue, actor)
        else:
            self._emit_issue("opened", issue, actor)
        return issue

    @route("GET", ISSUE)
    def get_issue(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        return Reply(self.render.issue(self._issue(request, owner, repo, issue_number), detail=True))

    @route("PATCH", ISSUE)
    def update_issue(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        self._update_issue(issue, self._json_object(request), self._actor(request))
        return Reply(self.render.issue(issue, detail=True))

    def _update_issue(self, issue: Issue, body: dict[str, Any], actor: str) -> None:
        """Apply a PATCH body; validate everything first so a 422 changes nothing."""
        state = self.state
        changes: dict[str, Any] = {}
        if "title" in body:
            title = body["title"]
            if not isinstance(title, str) or not title.strip():
                raise invalid("Issue", "title", code="missing_field")
            if title != issue.title:
                changes["title"] = {"from": issue.title}
        if "body" in body:
            if body["body"] is not None and not isinstance(body["body"], str):
                raise invalid("Issue", "body")
            if body["body"] != issue.body:
                changes["body"] = {"from": issue.body or ""}
        new_state = body.get("state")
        if new_state is not None and new_state not in ("open", "closed"):
            raise invalid("Issue", "state", new_state)
        reason = body.get("state_reason")
        if reason is not None and reason not in STATE_REASONS:
            raise invalid("Issue", "state_reason", reason)
        if body.get("milestone") is not None:
            raise invalid("Issue", "milestone", body["milestone"])
        assignees = None
        if "assignees" in body:
            assignees = self._logins(body["assignees"], "Issue", "assignees")
        elif "assignee" in body:
            assignees = self._logins([body["assignee"]] if body["assignee"] else [], "Issue", "assignee")
        labels = self._label_names(body["labels"], "Issue") if body.get("labels") is not None else None

        now = self.now()
        events: list[tuple[str, dict[str, Any]]] = []
        if "title" in changes:
            issue.title = body["title"]
        if "body" in changes:
            issue.body = body["body"]
        if changes:
            events.append(("edited", {"changes": changes}))
        if labels is not None and labels != issue.labels:
            added = [name for name in labels if name not in issue.labels]
            removed = [name for name in issue.labels if name not in labels]
            issue.labels = labels
            events += [("labeled", {"label": self.render.label(state.labels[n])}) for n in added]
            events += [("unlabeled", {"label": self.render.label(state.labels[n])}) for n in removed]
        if assignees is not None and assignees != issue.assignees:
            added = [login for login in assignees if login not in issue.assignees]
            removed = [login for login in issue.assignees if login not in assignees]
            issue.assignees = assignees
            events += [("assigned", {"assignee": self.render.user(login)}) for login in added]
            events += [("unassigned", {"assignee": self.render.user(login)}) for login in removed]
        if new_state == "closed" and issue.state == "open":
            state.set_state(issue, "closed")
            issue.closed_at, issue.closed_by = now, actor
            issue.state_reason = reason if reason not in (None, "reopened") else "completed"
            events.append(("closed", {}))
        elif new_state == "open" and issue.state == "closed":
            state.set_state(issue, "open")
            issue.closed_at, issue.closed_by, issue.state_reason = None, None, "reopened"
            events.append(("reopened", {}))
        elif reason is not None and issue.state == "closed" and reason != issue.state_reason:
            issue.state_reason = reason
            events.append(("edited", {"changes": {}}))
        if not events:
            return
        state.set_updated(issue, now)
        self.touch()
        for action, extra in events:
            self._emit_issue(action, issue, actor, **extra)

    @route("GET", REPO + "/labels")
    def list_labels(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        labels = list(state.labels.values())
        return self._page_reply(request, labels, self.render.label, "Label")

    @route("POST", REPO + "/labels")
    def create_label(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        self._require_writer(request)
        body = self._json_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("Label", "name", code="missing_field")
        if any(existing.lower() == name.strip().lower() for existing in state.labels):
            raise invalid("Label", "name", name, code="already_exists")
        color = str(body.get("color") or "ededed").removeprefix("#").lower()
        if len(color) != 6 or any(ch not in "0123456789abcdef" for ch in color):
            raise invalid("Label", "color", body.get("color"))
        label = state.label(name.strip())
        label.color = color
        description = body.get("description")
        label.description = description if isinstance(description, str) else None
        self.touch()
        return Reply(self.render.label(label), 201)

    @route("GET", REPO + "/labels/{name}")
    def get_label(self, request: SandboxRequest, owner: str, repo: str, name: str) -> Reply:
        state = self._repo(request, owner, repo)
        for label in state.labels.values():
            if label.name.lower() == name.lower():
                return Reply(self.render.label(label))
        raise ApiError(404, "Not Found")

    @route("GET", ISSUE + "/labels")
    def list_issue_labels(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        state = self.state
        return self._page_reply(request, issue.labels, lambda n: self.render.label(state.labels[n]), "Label")

    def _set_labels(self, request: SandboxRequest, issue: Issue, labels: list[str]) -> Reply:
        self._update_issue(issue, {"labels": labels}, self._actor(request))
        state = self.state
        return Reply([self.render.label(state.labels[name]) for name in issue.labels])

    @route("POST", ISSUE + "/labels")
    def add_issue_labels(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        added = self._label_names(self.read_json(request), "Label")
        return self._set_labels(request, issue, list(dict.fromkeys([*issue.labels, *added])))

    @route("PUT", ISSUE + "/labels")
    def replace_issue_labels(
        self, request: SandboxRequest, owner: str, repo: str, issue_number: int
    ) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        return self._set_labels(request, issue, self._label_names(self.read_json(request), "Label"))

    @route("DELETE", ISSUE + "/labels")
    def clear_issue_labels(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        self._set_labels(request, issue, [])
        return Reply(None, 204)

    @route("DELETE", ISSUE + "/labels/{name}")
    def remove_issue_label(
        self, request: SandboxRequest, owner: str, repo: str, issue_number: int, name: str
    ) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        remaining = [label for label in issue.labels if label.lower() != name.lower()]
        if len(remaining) == len(issue.labels):
            raise ApiError(404, "Label does not exist")
        return self._set_labels(request, issue, remaining)

    @route("GET", REPO + "/assignees")
    def list_assignees(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        people = [login for login in state.users if login != OUTSIDER_LOGIN]
        return self._page_reply(request, people, self.render.user, "User")

    @route("GET", REPO + "/assignees/{assignee}")
    def check_assignee(self, request: SandboxRequest, owner: str, repo: str, assignee: str) -> Reply:
        """204 when ``assignee`` can be assigned issues here, else 404 (GitHub's own check)."""
        state = self._repo(request, owner, repo)
        if assignee not in state.users or assignee == OUTSIDER_LOGIN:
            raise ApiError(404, "Not Found")
        return Reply(None, 204)

    @route("POST", ISSUE + "/assignees")
    def add_assignees(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        wanted = self._json_object(request).get("assignees") or []
        if not isinstance(wanted, list):
            raise invalid("Issue", "assignees")
        # GitHub silently ignores people who cannot be assigned here.
        valid = [login for login in wanted if login in self.state.users and login != OUTSIDER_LOGIN]
        self._update_issue(
            issue, {"assignees": list(dict.fromkeys([*issue.assignees, *valid]))}, self._actor(request)
        )
        return Reply(self.render.issue(issue), 201)

    @route("DELETE", ISSUE + "/assignees")
    def remove_assignees(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        unwanted = self._json_object(request).get("assignees") or []
        if not isinstance(unwanted, list):
            raise invalid("Issue", "assignees")
        kept = [login for login in issue.assignees if login not in unwanted]
        self._update_issue(issue, {"assignees": kept}, self._actor(request))
        return Reply(self.render.issue(issue))
