"""The GitHub sandbox's hierarchy routes: sub-issues, "blocked by" dependencies and the organization's
issue types (``GET /orgs/{org}/issue-types``, ``GET /repos/{o}/{r}/issue-types``).

As on GitHub, writes name the other issue by its ``id`` (not its number): ``POST .../sub_issues
{"sub_issue_id"}`` (201, the parent; 422 when the child already has a parent and ``replace_parent`` is not
true, or when it would be its own ancestor), ``DELETE .../sub_issue {"sub_issue_id"}`` (200, the parent),
``POST .../dependencies/blocked_by {"issue_id"}`` (201, the blocked issue) and ``DELETE
.../dependencies/blocked_by/{issue_id}`` (200). Every change moves ``updated_at`` of both issues, since both
render a changed ``sub_issues_summary``/``parent_issue_url`` or ``issue_dependencies_summary``: an
incremental sync sees them. Sub-issues live in this one repository here (GitHub also allows another
repository of the same owner).
"""

from __future__ import annotations

from typing import Any

from ..core import ApiError, Reply, SandboxRequest, route
from ._base import ISSUE, REPO, GitHubBase, invalid
from ._state import ISSUE_ID_BASE, Issue

_MAX_DEPTH = 8  # GitHub nests sub-issues up to eight levels


class RelationRoutes(GitHubBase):
    """Sub-issues, dependencies and issue types."""

    # ---- reads -------------------------------------------------------------------------------------
    @route("GET", ISSUE + "/sub_issues")
    def list_sub_issues(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        return self._issue_list(request, issue.sub_issues)

    @route("GET", ISSUE + "/parent")
    def get_parent(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        parent = self.state.issue(issue.parent) if issue.parent else None
        if parent is None:
            raise ApiError(404, "Not Found")
        return Reply(self.render.issue(parent))

    @route("GET", ISSUE + "/dependencies/blocked_by")
    def list_blocked_by(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        return self._issue_list(request, issue.blocked_by)

    @route("GET", ISSUE + "/dependencies/blocking")
    def list_blocking(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        return self._issue_list(request, issue.blocking)

    @route("GET", "/orgs/{org}/issue-types")
    def list_org_issue_types(self, request: SandboxRequest, org: str) -> Reply:
        principal = request.principal
        if org.lower() != self.state.owner.lower() or principal is None or not principal.authenticated:
            raise ApiError(404, "Not Found")
        return Reply([self.render.issue_type(t) for t in self.state.issue_types])

    @route("GET", REPO + "/issue-types")
    def list_repo_issue_types(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        self._repo(request, owner, repo)
        return Reply([self.render.issue_type(t) for t in self.state.issue_types])

    # ---- writes ------------------------------------------------------------------------------------
    @route("POST", ISSUE + "/sub_issues")
    def add_sub_issue(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        parent = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        body = self._json_object(request)
        child = self._issue_by_id(body, "sub_issue_id", "SubIssue")
        self.link_sub_issue(parent, child, replace_parent=body.get("replace_parent") is True)
        return Reply(self.render.issue(parent), 201)

    @route("DELETE", ISSUE + "/sub_issue")
    def remove_sub_issue(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        parent = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        child = self._issue_by_id(self._json_object(request), "sub_issue_id", "SubIssue")
        if child.number not in parent.sub_issues:
            raise ApiError(404, "Not Found")
        self.unlink_sub_issue(parent, child)
        return Reply(self.render.issue(parent))

    @route("POST", ISSUE + "/dependencies/blocked_by")
    def add_blocked_by(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        blocked = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        blocker = self._issue_by_id(self._json_object(request), "issue_id", "IssueDependency")
        self.link_blocker(blocked, blocker)
        return Reply(self.render.issue(blocked), 201)

    @route("DELETE", ISSUE + "/dependencies/blocked_by/{issue_id:int}")
    def remove_blocked_by(
        self, request: SandboxRequest, owner: str, repo: str, issue_number: int, issue_id: int
    ) -> Reply:
        blocked = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        blocker = self.state.issue(issue_id - ISSUE_ID_BASE)
        if blocker is None or blocker.pull or blocker.number not in blocked.blocked_by:
            raise ApiError(404, "Not Found")
        self.unlink_blocker(blocked, blocker)
        return Reply(self.render.issue(blocked))

    # ---- state changes (shared with /_sandbox/mutate) ------------------------------------------------
    def link_sub_issue(self, parent: Issue, child: Issue, *, replace_parent: bool = False) -> None:
        if child.number == parent.number or self._is_ancestor(child.number, parent):
            raise invalid("SubIssue", "sub_issue_id", child.id)
        if child.parent == parent.number:
            raise invalid("SubIssue", "sub_issue_id", child.id, code="already_exists")
        if child.parent is not None:
            if not replace_parent:
                raise invalid("SubIssue", "sub_issue_id", child.id, code="already_exists")
            old = self.state.issue(child.parent)
            if old is not None:
                self.unlink_sub_issue(old, child)
        parent.sub_issues.append(child.number)
        child.parent = parent.number
        self._touch(parent, child)

    def unlink_sub_issue(self, parent: Issue, child: Issue) -> None:
        parent.sub_issues.remove(child.number)
        child.parent = None
        self._touch(parent, child)

    def link_blocker(self, blocked: Issue, blocker: Issue) -> None:
        if blocker.number == blocked.number:
            raise invalid("IssueDependency", "issue_id", blocker.id)
        if blocker.number in blocked.blocked_by:
            raise invalid("IssueDependency", "issue_id", blocker.id, code="already_exists")
        blocked.blocked_by.append(blocker.number)
        blocker.blocking.append(blocked.number)
        self._touch(blocked, blocker)

    def unlink_blocker(self, blocked: Issue, blocker: Issue) -> None:
        blocked.blocked_by.remove(blocker.number)
        blocker.blocking.remove(blocked.number)
        self._touch(blocked, blocker)

    # ---- helpers -----------------------------------------------------------------------------------
    def _issue_list(self, request: SandboxRequest, numbers: list[int]) -> Reply:
        issues = self.state.issues
        live = [n for n in numbers if issues[n - 1] is not None]
        return self._page_reply(request, live, lambda n: self.render.issue(issues[n - 1]), "Issue")

    def _issue_by_id(self, body: dict[str, Any], field: str, resource: str) -> Issue:
        value = body.get(field)
        if not isinstance(value, int) or isinstance(value, bool):
            raise invalid(resource, field, value, code="missing_field" if value is None else "invalid")
        issue = self.state.issue(value - ISSUE_ID_BASE)
        if issue is None or issue.pull:
            raise ApiError(404, "Not Found")
        return issue

    def _is_ancestor(self, number: int, issue: Issue) -> bool:
        """Whether issue ``number`` is among ``issue``'s ancestors (a cycle if it became its child)."""
        current: Issue | None = issue
        for _ in range(_MAX_DEPTH + 1):
            if current is None or current.parent is None:
                return False
            if current.parent == number:
                return True
            current = self.state.issue(current.parent)
        return True  # deeper than GitHub allows: refused like a cycle

    def _touch(self, *issues: Issue) -> None:
        now = self.now()
        for issue in issues:
            self.state.set_updated(issue, max(now, issue.updated_at + 1))
        self.touch()
