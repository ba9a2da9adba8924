"""What a tracker can say about a rule's issue before one is opened, without creating anything.

Two moments ask:

- **saving a rule** (``POST/PUT /v1/rules``): only what would make every issue of the rule fail. On Jira, the
  create screen of the rule's issue type in the connection's project (the paginated ``createmeta``): a field
  the rule sets that the screen lacks (priority, labels, assignee, components, a custom field, the
  description the template fills) or a required field the rule leaves out is a 422 naming the rule's field,
  so the rule is fixed when it is written, not when an alarm fires at night (Alertmanager #4309). A tracker
  that cannot be reached fails the save with its 502/504, like every route that calls a tracker: a rule that
  could not be checked is not stored, and the client retries. GitHub and GitLab refuse nothing here: both
  create a missing label with the issue, and neither fails a create over an assignee (GitHub drops one who
  cannot be assigned; GitLab leaves a non-member unassigned), so a rule cannot be wrong on save there.
- **a dry run** (``POST /v1/rules/{name}/test``): everything the tracker can check, as
  :class:`~.models.TrackerCheck` values with the tracker's own words: Jira's screen and assignability
  (``/user/assignable/search``), GitHub's ``/assignees/{login}`` (204/404) and ``/labels/{name}``, GitLab's
  users, project members and labels. ``blocking`` marks what would make the create fail.

Checkers are registered per provider (as in :mod:`.service`); a tracker without one has nothing to check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from trackbridge.domain.automation import Rule
from trackbridge.domain.errors import ValidationFailed
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageRequest
from trackbridge.runtime.automation.models import TrackerCheck

# Jira's words for a field off the create screen (what ``POST /rest/api/3/issue`` answers, per field).
JIRA_CANNOT_SET = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."


@dataclass(frozen=True, slots=True)
class Refusal:
    """A rule's field the tracker would refuse: ``path`` in the request body, and why."""

    path: str
    message: str


def _jira_fields(rule: Rule) -> Iterator[tuple[str, str]]:
    """(Jira field id, path of the rule's field that sets it) for everything the rule's issue would carry
    besides project, type and summary. The description is always sent: auto-issue bodies are never empty."""
    yield "description", "body.template"
    if rule.labels:
        yield "labels", "body.labels"
    if rule.assignee:
        yield "assignee", "body.assignee"
    if rule.issue.priority:
        yield "priority", "body.issue.priority"
    if rule.issue.components:
        yield "components", "body.issue.components"
    for name in rule.issue.fields:
        yield name, f"body.issue.fields.{name}"


class RuleChecker:
    """A tracker with nothing to check: no refusals on save, no checks in a dry run."""

    checks_on_save: ClassVar[bool] = False  # whether saving a rule asks the tracker (refusals)

    def asks(self, rule: Rule) -> bool:
        """Whether a dry run of ``rule`` has anything to ask the tracker (else no adapter is leased)."""
        return bool(rule.labels or rule.assignee)

    def refusals(self, adapter: Any, rule: Rule) -> list[Refusal]:
        return []

    def checks(self, adapter: Any, rule: Rule) -> list[TrackerCheck]:
        return []


class JiraChecker(RuleChecker):
    checks_on_save = True

    def asks(self, rule: Rule) -> bool:
        return True  # the create screen always has something to say

    def _screen(self, adapter: Any, rule: Rule) -> tuple[Any, list[Refusal]]:
        try:
            screen = adapter.create_screen(rule.issue.type)
        except ValidationFailed as exc:  # a JQL-scoped connection: no project to open issues in
            return None, [Refusal("body.connection_id", exc.message)]
        project = adapter.project_key
        if screen is None:
            wanted = rule.issue.type or "the connection's default issue type"
            return None, [Refusal("body.issue.type", f"project {project} has no issue type {wanted!r}")]
        where = f"(the create screen of {screen.issue_type} in {project})"
        refusals = [
            Refusal(path, f"{JIRA_CANNOT_SET.format(field_id)} {where}")
            for field_id, path in _jira_fields(rule)
            if field_id not in screen.fields
        ]
        given = [field_id for field_id, _ in _jira_fields(rule)]
        refusals += [
            Refusal("body.issue.fields", f"{f.name} is required. {where}: set issue.fields.{f.id}")
            for f in screen.missing_required(given)
        ]
        on_screen = screen.fields.get("priority")
        allowed = on_screen.allowed if on_screen is not None else ()
        priority = rule.issue.priority
        if priority and allowed and priority.lower() not in {name.lower() for name in allowed}:
            refusals.append(
                Refusal(
                    "body.issue.priority",
                    f"Jira has no priority {priority!r} {where}; allowed: {', '.join(allowed)}",
                )
            )
        return screen, refusals

    def refusals(self, adapter: Any, rule: Rule) -> list[Refusal]:
        return self._screen(adapter, rule)[1]

    def checks(self, adapter: Any, rule: Rule) -> list[TrackerCheck]:
        screen, refusals = self._screen(adapter, rule)
        checks = [
            TrackerCheck(
                check="create_screen",
                ok=not refusals,
                detail="; ".join(f"{r.path}: {r.message}" for r in refusals)
                or f"the {screen.issue_type} create screen of {adapter.project_key} takes every field the "
                "rule sets",
            )
        ]
        if rule.assignee:
            assignable = adapter.assignable(rule.assignee)
            checks.append(
                TrackerCheck(
                    check="assignee",
                    ok=assignable,
                    detail=f"{rule.assignee} can be assigned issues in {adapter.project_key}"
                    if assignable
                    else f"User '{rule.assignee}' cannot be assigned issues.",
                )
            )
        return checks


class GitHubChecker(RuleChecker):
    def checks(self, adapter: Any, rule: Rule) -> list[TrackerCheck]:
        checks = []
        if rule.assignee:
            path = f"{adapter.repo_path}/assignees/{quote(rule.assignee, safe='')}"
            try:
                adapter.request("GET", path)  # 204: assignable
                checks.append(
                    TrackerCheck(check="assignee", ok=True, detail=f"{rule.assignee} is assignable")
                )
            except NotFoundError as exc:
                checks.append(
                    TrackerCheck(
                        check="assignee",
                        ok=False,
                        blocking=False,
                        detail=f"GET {path}: 404 {exc.message}; GitHub would open the issue without "
                        f"{rule.assignee} (it drops assignees who cannot be assigned)",
                    )
                )
        missing = []
        for label in rule.labels:
            path = f"{adapter.repo_path}/labels/{quote(label, safe='')}"
            try:
                adapter.get_json(path)
            except NotFoundError as exc:
                missing.append(f"GET {path}: 404 {exc.message}")
        if rule.labels:
            checks.append(_labels_check(missing, "GitHub"))
        return checks


class GitLabChecker(RuleChecker):
    member_page_size: ClassVar[int] = 100

    def checks(self, adapter: Any, rule: Rule) -> list[TrackerCheck]:
        checks = []
        if rule.assignee:
            checks.append(self._assignee(adapter, rule.assignee))
        if rule.labels:
            request = PageRequest(f"{adapter.project_path}/labels", {"per_page": self.member_page_size})
            known = {str(raw.get("name")) for raw in adapter.collect(request) if isinstance(raw, Mapping)}
            missing = [f"no label {label!r} in the project" for label in rule.labels if label not in known]
            checks.append(_labels_check(missing, "GitLab"))
        return checks

    def _assignee(self, adapter: Any, username: str) -> TrackerCheck:
        users = adapter.get_json("/users", params={"username": username})
        if not users:
            # What the adapter answers when it cannot turn the username into an id: the create fails.
            return TrackerCheck(check="assignee", ok=False, detail=f"GitLab has no user {username!r}")
        request = PageRequest(f"{adapter.project_path}/members/all", {"per_page": self.member_page_size})
        members = {str(raw.get("username")) for raw in adapter.collect(request) if isinstance(raw, Mapping)}
        if username in members:
            return TrackerCheck(check="assignee", ok=True, detail=f"{username} is a member of the project")
        return TrackerCheck(
            check="assignee",
            ok=False,
            blocking=False,
            detail=f"{username} is not a member of the project; GitLab would leave the issue unassigned",
        )


def _labels_check(missing: list[str], tracker: str) -> TrackerCheck:
    if not missing:
        return TrackerCheck(check="labels", ok=True, detail="every label exists")
    return TrackerCheck(
        check="labels",
        ok=False,
        blocking=False,
        detail=f"{'; '.join(missing)}; {tracker} creates a missing label with the issue",
    )


CHECKERS: Mapping[str, RuleChecker] = {
    "jira": JiraChecker(),
    "github": GitHubChecker(),
    "gitlab": GitLabChecker(),
}


def checker_for(provider: str) -> RuleChecker:
    return CHECKERS.get(provider, RuleChecker())


__all__ = [
    "CHECKERS",
    "JIRA_CANNOT_SET",
    "GitHubChecker",
    "GitLabChecker",
    "JiraChecker",
    "Refusal",
    "RuleChecker",
]
