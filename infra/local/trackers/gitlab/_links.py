"""The GitLab sandbox's issue links: ``GET/POST /projects/:id/issues/:iid/links`` and
``DELETE .../links/:issue_link_id``.

As GitLab: the listing answers the linked issues in the issue shape plus ``issue_link_id``, ``link_type``
(read from the listed issue's side: "#4 blocks #5" lists #4 under #5 as ``is_blocked_by``),
``link_created_at`` and ``link_updated_at``; a create takes ``target_project_id``, ``target_issue_iid`` and
``link_type`` (``relates_to`` by default, or ``blocks``/``is_blocked_by``) and answers 201
``{"source_issue", "target_issue", "link_type"}``; a link that exists already is 409, an issue linked to
itself 400. Linking adds a system note to both issues ("marked this issue as blocking #5"), which moves
their ``updated_at`` as notes do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ..core import Reply, SandboxRequest, route
from ._base import ISSUE, JSON_TYPE, GitLabBase
from ._query import api_message, bad_value, missing
from ._render import iso_ms
from ._state import LINK_INVERSE, LINK_TYPES, PROJECT_ID, Issue, IssueLink

_NOTE = {"relates_to": "related to", "blocks": "blocking", "is_blocked_by": "blocked by"}


class LinkRoutes(GitLabBase):
    """Links between issues of the project (GitLab also links across projects; the sandbox has one)."""

    @route("GET", ISSUE + "/links")
    def list_links(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        state = self.state
        rows: list[dict[str, Any]] = []
        for link in state.links.values():
            seen = link.seen_from(issue.iid)
            other = state.issue(seen[0]) if seen is not None else None
            if seen is not None and other is not None:
                rows.append(self._linked(other, link, seen[1]))
        return Reply(rows, 200, content_type=JSON_TYPE)

    @route("POST", ISSUE + "/links")
    def create_link(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        actor = self._require_user(request)
        params = self._params(request)
        project = params.string("target_project_id")
        target_iid = params.integer("target_issue_iid")
        if project is None:
            raise missing("target_project_id")
        if target_iid is None:
            raise missing("target_issue_iid")
        link_type = params.string("link_type") or "relates_to"
        if link_type not in LINK_TYPES:
            raise bad_value("link_type")
        if unquote(project) not in (str(PROJECT_ID), self.state.full_path):
            raise api_message(404, "404 Project Not Found")
        target = self.state.issue(target_iid)
        if target is None:
            raise api_message(404, "404 Not found")
        if target.iid == issue.iid:
            raise api_message(400, "Cannot link an issue to itself")
        pair = {issue.iid, target.iid}
        if any({link.source, link.target} == pair for link in self.state.links.values()):
            raise api_message(409, "Issue(s) already assigned")
        link = self.add_link(issue, target, link_type, actor)
        body = {
            "source_issue": self.render.issue(issue),
            "target_issue": self.render.issue(target),
            "link_type": link.link_type,
        }
        return Reply(body, 201, content_type=JSON_TYPE)

    @route("DELETE", ISSUE + "/links/{issue_link_id:int}")
    def delete_link(self, request: SandboxRequest, id: str, issue_iid: int, issue_link_id: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        self._require_user(request)
        link = self.state.links.get(issue_link_id)
        if link is None or link.seen_from(issue.iid) is None:
            raise api_message(404, "404 Not found")
        source, target = self.state.issue(link.source), self.state.issue(link.target)
        del self.state.links[link.id]
        self.touch()
        body = {
            "source_issue": self.render.issue(source) if source is not None else None,
            "target_issue": self.render.issue(target) if target is not None else None,
            "link_type": link.link_type,
        }
        return Reply(body, 200, content_type=JSON_TYPE)

    def add_link(self, source: Issue, target: Issue, link_type: str, actor: str) -> IssueLink:
        """Store the link and note it on both issues (shared with ``/_sandbox/mutate``)."""
        state = self.state
        now = self._now_ms()
        link = IssueLink(state.next_link_id, source.iid, target.iid, link_type, now)
        state.links[link.id] = link
        state.next_link_id += 1
        self._append_note(
            source, f"marked this issue as {_NOTE[link_type]} #{target.iid}", actor, now, system=True
        )
        inverse = _NOTE[LINK_INVERSE[link_type]]
        self._append_note(target, f"marked this issue as {inverse} #{source.iid}", actor, now, system=True)
        self.touch()
        return link

    def _linked(self, other: Issue, link: IssueLink, link_type: str) -> dict[str, Any]:
        return {
            **self.render.issue(other),
            "issue_link_id": link.id,
            "link_type": link_type,
            "link_created_at": iso_ms(link.created_at),
            "link_updated_at": iso_ms(link.created_at),
        }
