"""Create metadata of the Jira sandbox: the paginated ``createmeta`` endpoints.

Atlassian deprecated ``GET /rest/api/3/issue/createmeta?expand=projects.issuetypes.fields`` (one huge answer
for every project and type) for two paged ones: the issue types a project offers, and the create-screen fields
of one of them. Both page with ``startAt``/``maxResults`` (default 50, at most 200) and answer ``{startAt,
maxResults, total, issueTypes|fields}``; neither has ``isLast``. The fields come from the same screens the
create route enforces (``_screens``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core import Reply, SandboxRequest, route
from ._base import API, JiraBase, jira_error
from ._render import FIELD_NAMES, FIELD_SCHEMAS, JiraRenderer
from ._screens import SELECT_FIELDS, screen_for
from ._state import DEFAULT_PRIORITY, ISSUE_TYPES, PRIORITIES, Project

CREATEMETA = API + "/issue/createmeta/{projectIdOrKey}/issuetypes"
# The operations Jira lists per field on a create screen (``set`` unless the field takes more).
_OPERATIONS: dict[str, list[str]] = {
    "labels": ["add", "set", "remove"],
    "summary": ["set"],
    "description": ["set"],
    "timetracking": ["set", "edit"],
    "project": [],
    "issuetype": [],
}


class CreateMetaRoutes(JiraBase):
    def _meta_project(self, request: SandboxRequest, ref: str) -> Project:
        project = self.state.project_by_key_or_id(ref)
        if project is None or not self._sees_all(request):
            raise jira_error(404, f"No project could be found with key '{ref}'.")
        return project

    def _meta_page(
        self, request: SandboxRequest, name: str, items: Sequence[Any], render: Callable[[Any], Any]
    ) -> Reply:
        start, limit = self._paging(request, 50, 200)
        chunk = items[start : start + limit]
        body = {"startAt": start, "maxResults": limit, "total": len(items), name: [render(i) for i in chunk]}
        return Reply(body)

    @route("GET", CREATEMETA)
    def createmeta_issue_types(self, request: SandboxRequest, projectIdOrKey: str) -> Reply:
        self._meta_project(request, projectIdOrKey)
        return self._meta_page(request, "issueTypes", list(ISSUE_TYPES), self._render(request).issuetype)

    @route("GET", CREATEMETA + "/{issueTypeId}")
    def createmeta_fields(self, request: SandboxRequest, projectIdOrKey: str, issueTypeId: str) -> Reply:
        project = self._meta_project(request, projectIdOrKey)
        if issueTypeId not in ISSUE_TYPES:
            raise jira_error(400, "The issue type selected is invalid.")
        screen = screen_for(project.key, issueTypeId)
        render = self._render(request)

        def item(field_id: str) -> dict[str, Any]:
            return self._field_meta(render, project, issueTypeId, field_id, field_id in screen.required)

        return self._meta_page(request, "fields", list(screen.fields), item)

    def _field_meta(
        self, render: JiraRenderer, project: Project, type_id: str, field_id: str, required: bool
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "required": required,
            "schema": FIELD_SCHEMAS[field_id],
            "name": FIELD_NAMES[field_id],
            "key": field_id,
            "fieldId": field_id,
            "hasDefaultValue": field_id in ("priority", "reporter"),
            "operations": _OPERATIONS.get(field_id, ["set"]),
        }
        if field_id == "priority":
            meta["allowedValues"] = [render.priority(p) for p in PRIORITIES]
            meta["defaultValue"] = render.priority(DEFAULT_PRIORITY)
        elif field_id == "issuetype":
            meta["allowedValues"] = [render.issuetype(type_id)]
        elif field_id == "project":
            meta["allowedValues"] = [render.project_ref(project)]
        elif field_id in ("assignee", "reporter"):
            meta["autoCompleteUrl"] = f"{render.rest}/user/search?query="
        elif field_id == "labels":
            meta["autoCompleteUrl"] = f"{render.base}/rest/api/1.0/labels/suggest?query="
        elif field_id in SELECT_FIELDS:
            meta["allowedValues"] = [render.option(field_id, o.id) for o in SELECT_FIELDS[field_id][1]]
        return meta


__all__ = ["CreateMetaRoutes"]
