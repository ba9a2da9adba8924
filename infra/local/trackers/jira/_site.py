"""Site-level routes of the Jira sandbox: users, projects, fields and other catalogues, agile boards and
sprints, and webhook registration (admin hooks and OAuth apps' dynamic hooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core import Reply, SandboxRequest, is_loopback_url, route
from ._base import AGILE, API, APP_HOOK_TTL_MS, HOOKS_V1, MAX_APP_HOOKS, JiraBase, csv_values, jira_error
from ._jql import JqlError, check_webhook_filter, compile_query, parse
from ._render import FieldSelection, JiraRenderer
from ._state import (
    CATEGORIES,
    FIELDS,
    ISSUE_TYPES,
    PRIORITIES,
    RESOLUTIONS,
    STATUSES,
    AdminHook,
    AppHook,
    Project,
)
from ._webhooks import APP_EVENTS

# key -> (name, type, description) as Jira Cloud reports them; a project member holds every PROJECT one
PERMISSIONS: dict[str, tuple[str, str, str]] = {
    "ADMINISTER": (
        "Administer Jira",
        "GLOBAL",
        "Create and administer projects, issue types, fields and more.",
    ),
    "BROWSE_USERS": (
        "Browse users and groups",
        "GLOBAL",
        "View and select users or groups from the user picker.",
    ),
    "BROWSE_PROJECTS": (
        "Browse Projects",
        "PROJECT",
        "Ability to browse projects and the issues within them.",
    ),
    "CREATE_ISSUES": ("Create Issues", "PROJECT", "Ability to create issues."),
    "EDIT_ISSUES": ("Edit Issues", "PROJECT", "Ability to edit issues."),
    "DELETE_ISSUES": ("Delete Issues", "PROJECT", "Ability to delete issues."),
    "ASSIGN_ISSUES": ("Assign Issues", "PROJECT", "Ability to assign issues to other people."),
    "ASSIGNABLE_USER": (
        "Assignable User",
        "PROJECT",
        "Users with this permission may be assigned to issues.",
    ),
    "TRANSITION_ISSUES": ("Transition Issues", "PROJECT", "Ability to transition issues."),
    "RESOLVE_ISSUES": ("Resolve Issues", "PROJECT", "Ability to resolve and reopen issues."),
    "CLOSE_ISSUES": ("Close Issues", "PROJECT", "Ability to close issues."),
    "ADD_COMMENTS": ("Add Comments", "PROJECT", "Ability to comment on issues."),
    "EDIT_ALL_COMMENTS": ("Edit All Comments", "PROJECT", "Ability to edit all comments made on issues."),
    "DELETE_ALL_COMMENTS": (
        "Delete All Comments",
        "PROJECT",
        "Ability to delete all comments made on issues.",
    ),
    "CREATE_ATTACHMENTS": (
        "Create Attachments",
        "PROJECT",
        "Users with this permission may create attachments.",
    ),
    "WORK_ON_ISSUES": ("Work On Issues", "PROJECT", "Ability to log work done against an issue."),
    "LINK_ISSUES": ("Link Issues", "PROJECT", "Ability to link issues together."),
    "ADMINISTER_PROJECTS": ("Administer Projects", "PROJECT", "Ability to administer a project in Jira."),
}


class SiteRoutes(JiraBase):
    # ------------------------------------------------------------------ users

    @route("GET", API + "/myself")
    def myself(self, request: SandboxRequest) -> Reply:
        expand = csv_values(request.args.getlist("expand"))
        return Reply(self._render(request).user_full(self._caller(request), expand=expand))

    @route("GET", API + "/user")
    def get_user(self, request: SandboxRequest) -> Reply:
        account = request.args.get("accountId")
        if not account:
            raise jira_error(400, "The query parameter 'accountId' is required.")
        if account not in self.state.users:
            raise jira_error(
                404, f"Specified user does not exist or you do not have required permissions: {account}"
            )
        return Reply(
            self._render(request).user_full(account, expand=csv_values(request.args.getlist("expand")))
        )

    def _user_list(self, request: SandboxRequest, accounts: Sequence[str], default: int, cap: int) -> Reply:
        start, limit = self._paging(request, default, cap)
        render = self._render(request)
        return Reply([render.user_full(account) for account in accounts[start : start + limit]])

    @route("GET", API + "/users/search")
    @route("GET", API + "/users")
    def all_users(self, request: SandboxRequest) -> Reply:
        return self._user_list(request, list(self.state.users), 50, 1000)

    @route("GET", API + "/user/search")
    def find_users(self, request: SandboxRequest) -> Reply:
        query = (request.args.get("query") or "").strip().lower()
        account = request.args.get("accountId")
        if not query and not account:
            raise jira_error(400, "One of 'query' or 'accountId' parameters must be provided.")
        found = []
        for user in self.state.users.values():
            if account and user.account_id != account:
                continue
            words = [
                user.display_name.lower(),
                *user.display_name.lower().split(),
                (user.email or "").lower(),
            ]
            if query and not any(word.startswith(query) for word in words):
                continue
            found.append(user.account_id)
        return self._user_list(request, found, 50, 1000)

    @route("GET", API + "/user/assignable/search")
    def assignable_users(self, request: SandboxRequest) -> Reply:
        """People who can be assigned issues of a project (or of one issue): the outsider never is."""
        project_ref = request.args.get("project")
        issue_ref = request.args.get("issueKey") or request.args.get("issueId")
        if not project_ref and not issue_ref:
            raise jira_error(400, "A project key or an issue key is required.")
        if issue_ref:
            self._issue(request, issue_ref)  # 404 for an issue the caller cannot see
        elif self.state.project_by_key_or_id(project_ref or "") is None or not self._sees_all(request):
            raise jira_error(404, f"No project could be found with key '{project_ref}'.")
        query = (request.args.get("query") or "").strip().lower()
        account = request.args.get("accountId")
        accounts = [
            user.account_id
            for user in self.state.users.values()
            if user.account_id != self.state.outsider
            and (not account or user.account_id == account)
            and (
                not query
                or user.display_name.lower().startswith(query)
                or (user.email or "").startswith(query)
            )
        ]
        return self._user_list(request, accounts, 50, 1000)

    @route("GET", API + "/mypermissions")
    def my_permissions(self, request: SandboxRequest) -> Reply:
        wanted = csv_values(request.args.getlist("permissions"))
        if not wanted:
            raise jira_error(400, "The 'permissions' query parameter is required.")
        unknown = [key for key in wanted if key not in PERMISSIONS]
        if unknown:
            raise jira_error(400, f"Unrecognized permission key(s): {', '.join(unknown)}")
        project_ref = request.args.get("projectKey") or request.args.get("projectId")
        if project_ref and self.state.project_by_key_or_id(project_ref) is None:
            raise jira_error(404, f"No project could be found with key '{project_ref}'.")
        issue_ref = request.args.get("issueKey") or request.args.get("issueId")
        if issue_ref and self.state.find(issue_ref) is None:
            raise jira_error(404, f"Issue '{issue_ref}' does not exist.")
        member = self._sees_all(request)
        admin = member and self._caller(request) == self.state.api_user
        permissions = {}
        for key in wanted:
            name, kind, description = PERMISSIONS[key]
            have = admin if kind == "GLOBAL" else member
            permissions[key] = {
                "id": str(list(PERMISSIONS).index(key) + 10),
                "key": key,
                "name": name,
                "type": kind,
                "description": description,
                "havePermission": have,
            }
        return Reply({"permissions": permissions})

    # ------------------------------------------------------------------ projects and catalogues

    def _projects(self, request: SandboxRequest) -> list[Project]:
        return list(self.state.projects.values()) if self._sees_all(request) else []

    @route("GET", API + "/project/search")
    def search_projects(self, request: SandboxRequest) -> Reply:
        projects = self._projects(request)
        query = (request.args.get("query") or "").lower()
        keys = {k.upper() for k in csv_values(request.args.getlist("keys"))}
        ids = set(csv_values(request.args.getlist("id")))
        projects = [
            p
            for p in projects
            if (not query or query in p.key.lower() or query in p.name.lower())
            and (not keys or p.key in keys)
            and (not ids or str(p.id) in ids)
        ]
        order = request.args.get("orderBy", "key")
        field_name = order.lstrip("+-")
        if field_name not in (
            "key",
            "name",
            "id",
            "category",
            "owner",
            "issueCount",
            "lastIssueUpdatedDate",
            "archivedDate",
            "deletedDate",
        ):
            raise jira_error(400, f"Invalid orderBy value '{order}'.")
        sort_value = {"name": lambda p: p.name.lower(), "id": lambda p: p.id}.get(field_name, lambda p: p.key)
        projects.sort(key=sort_value, reverse=order.startswith("-"))
        start, limit = self._paging(request, 50, 100)
        render = self._render(request)
        expand = csv_values(request.args.getlist("expand"))
        base = f"{self._base(request)}{API}/project/search"
        body: dict[str, Any] = {
            "self": f"{base}?startAt={start}&maxResults={limit}",
            "maxResults": limit,
            "startAt": start,
            "total": len(projects),
            "isLast": start + limit >= len(projects),
            "values": [render.project(p, expand=expand) for p in projects[start : start + limit]],
        }
        if not body["isLast"]:
            body["nextPage"] = f"{base}?startAt={start + limit}&maxResults={limit}"
        return Reply(body)

    @route("GET", API + "/project")
    def all_projects(self, request: SandboxRequest) -> Reply:
        render = self._render(request)
        return Reply([render.project(p) for p in self._projects(request)])

    @route("GET", API + "/project/{projectIdOrKey}")
    def get_project(self, request: SandboxRequest, projectIdOrKey: str) -> Reply:
        project = self.state.project_by_key_or_id(projectIdOrKey)
        if project is None or not self._sees_all(request):
            raise jira_error(404, f"No project could be found with key '{projectIdOrKey}'.")
        return Reply(
            self._render(request).project(project, expand=csv_values(request.args.getlist("expand")))
        )

    @route("GET", API + "/field")
    def list_fields(self, request: SandboxRequest) -> Reply:
        fields = []
        for definition in FIELDS:
            item: dict[str, Any] = {
                "id": definition.id,
                "key": definition.id,
                "name": definition.name,
                "custom": definition.custom is not None,
                "orderable": definition.orderable,
                "navigable": definition.navigable,
                "searchable": definition.searchable,
                "clauseNames": list(definition.clauses),
            }
            if definition.id != "issuekey":
                item["schema"] = definition.schema()
            fields.append(item)
        return Reply(fields)

    @route("GET", API + "/serverInfo")
    def server_info(self, request: SandboxRequest) -> Reply:
        caller = (
            request.principal.login if request.principal and request.principal.login else self.state.api_user
        )
        return Reply(
            {
                "baseUrl": self._base(request),
                "displayUrl": self._base(request),
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100_289,
                "buildDate": "2025-01-01T00:00:00.000+0000",
                "serverTime": JiraRenderer(self._base(request), self.state, self._tz_name(caller)).time(
                    self._now_ms()
                ),
                "scmInfo": "57a0ca5b4a0bb0ac5f3fee4764acb1c14e4d7e71",
                "serverTitle": "Jira",
            }
        )

    @route("GET", API + "/status")
    def list_statuses(self, request: SandboxRequest) -> Reply:
        render = self._render(request)
        return Reply([render.status(status_id) for status_id in STATUSES])

    @route("GET", API + "/statuscategory")
    def list_status_categories(self, request: SandboxRequest) -> Reply:
        render = self._render(request)
        return Reply([render.category(category_id) for category_id in CATEGORIES])

    @route("GET", API + "/priority")
    def list_priorities(self, request: SandboxRequest) -> Reply:
        render = self._render(request)
        return Reply([render.priority_full(priority_id) for priority_id in PRIORITIES])

    @route("GET", API + "/issuetype")
    def list_issue_types(self, request: SandboxRequest) -> Reply:
        render = self._render(request)
        return Reply([render.issuetype(type_id) for type_id in ISSUE_TYPES])

    @route("GET", API + "/resolution")
    def list_resolutions(self, request: SandboxRequest) -> Reply:
        render = self._render(request)
        return Reply([render.resolution(resolution_id) for resolution_id in RESOLUTIONS])

    @route("GET", API + "/label")
    def list_labels(self, request: SandboxRequest) -> Reply:
        labels = sorted({label for issue in self.state.issues if issue is not None for label in issue.labels})
        start, limit = self._paging(request, 1000, 1000)
        chunk = labels[start : start + limit]
        return Reply(
            {
                "maxResults": limit,
                "startAt": start,
                "total": len(labels),
                "isLast": start + limit >= len(labels),
                "values": chunk,
            }
        )

    # ------------------------------------------------------------------ agile

    @route("GET", AGILE + "/board")
    def list_boards(self, request: SandboxRequest) -> Reply:
        boards = list(self.state.boards.values()) if self._sees_all(request) else []
        kind = request.args.get("type")
        name = (request.args.get("name") or "").lower()
        project = request.args.get("projectKeyOrId")
        if project:
            found = self.state.project_by_key_or_id(project)
            boards = [b for b in boards if found is not None and b.project_id == found.id]
        boards = [b for b in boards if (not kind or b.type in kind.split(",")) and name in b.name.lower()]
        start, limit = self._paging(request, 50, 50)
        render = self._render(request)
        return Reply(
            {
                "maxResults": limit,
                "startAt": start,
                "total": len(boards),
                "isLast": start + limit >= len(boards),
                "values": [render.board(b) for b in boards[start : start + limit]],
            }
        )

    def _board(self, request: SandboxRequest, board_id: str) -> Any:
        board = self.state.boards.get(int(board_id)) if board_id.isdigit() else None
        if board is None or not self._sees_all(request):
            raise jira_error(404, "Board does not exist or you do not have permission to see it.")
        return board

    @route("GET", AGILE + "/board/{boardId}")
    def get_board(self, request: SandboxRequest, boardId: str) -> Reply:
        return Reply(self._render(request).board(self._board(request, boardId)))

    @route("GET", AGILE + "/board/{boardId}/sprint")
    def list_sprints(self, request: SandboxRequest, boardId: str) -> Reply:
        board = self._board(request, boardId)
        states = csv_values(request.args.getlist("state")) or ["future", "active", "closed"]
        unknown = [s for s in states if s not in ("future", "active", "closed")]
        if unknown:
            raise jira_error(
                400, f"The state '{unknown[0]}' is not valid. Valid states are future, active and closed."
            )
        order = {"closed": 0, "active": 1, "future": 2}
        sprints = sorted(
            (s for s in self.state.sprints.values() if s.board_id == board.id and s.state in states),
            key=lambda s: (order[s.state], s.id),
        )
        start, limit = self._paging(request, 50, 50)
        render = self._render(request)
        return Reply(
            {
                "maxResults": limit,
                "startAt": start,
                "total": len(sprints),
                "isLast": start + limit >= len(sprints),
                "values": [render.sprint(s) for s in sprints[start : start + limit]],
            }
        )

    def _sprint(self, request: SandboxRequest, sprint_id: str) -> Any:
        sprint = self.state.sprints.get(int(sprint_id)) if sprint_id.isdigit() else None
        if sprint is None or not self._sees_all(request):
            raise jira_error(404, "Sprint does not exist or you do not have permission to view it.")
        return sprint

    @route("GET", AGILE + "/sprint/{sprintId}")
    def get_sprint(self, request: SandboxRequest, sprintId: str) -> Reply:
        return Reply(self._render(request).sprint(self._sprint(request, sprintId)))

    @route("GET", AGILE + "/sprint/{sprintId}/issue")
    def sprint_issues(self, request: SandboxRequest, sprintId: str) -> Reply:
        sprint = self._sprint(request, sprintId)
        extra = request.args.get("jql") or ""
        jql = f"sprint = {sprint.id}" + (f" AND ({extra})" if extra.strip() else "") + " ORDER BY key ASC"
        compiled, ctx = self._compile(request, jql)
        _, ids = self._search_view(jql, ctx, compiled)
        start, limit = self._paging(request, 50, 50)
        selection = FieldSelection(request.args.getlist("fields"), "*navigable")
        selection.ids_only = False
        render = self._render(request)
        expand = csv_values(request.args.getlist("expand"))
        issues = [
            render.issue(issue, selection, expand=expand)
            for issue_id in ids[start : start + limit]
            if (issue := self.state.issue(issue_id)) is not None
        ]
        return Reply(
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": limit,
                "total": len(ids),
                "issues": issues,
            }
        )

    # ------------------------------------------------------------------ admin webhooks (/rest/webhooks/1.0)

    def _require_admin(self, request: SandboxRequest) -> None:
        if not self._sees_all(request):
            raise jira_error(
                403, "You are not authorized to perform this action. Administrator privileges are required."
            )

    def _admin_hook_json(self, request: SandboxRequest, hook: AdminHook) -> dict[str, Any]:
        user = self.state.users.get(hook.updated_by)
        return {
            "name": hook.name,
            "url": hook.url,
            "excludeBody": hook.exclude_body,
            "filters": {"issue-related-events-section": hook.jql or ""},
            "events": list(hook.events),
            "enabled": hook.enabled,
            "self": f"{self._base(request)}{HOOKS_V1}/{hook.id}",
            "lastUpdatedUser": hook.updated_by,
            "lastUpdatedDisplayName": user.display_name if user else "",
            "lastUpdated": hook.updated,
        }

    def _admin_hook_input(
        self, request: SandboxRequest, body: dict[str, Any], current: AdminHook | None
    ) -> dict[str, Any]:
        name = body.get("name", current.name if current else None)
        url = body.get("url", current.url if current else None)
        events = body.get("events", current.events if current else None)
        filters = body.get("filters")
        jql = current.jql if current else None
        if isinstance(filters, dict):
            jql = filters.get("issue-related-events-section") or None
        elif filters is not None:
            raise jira_error(400, "filters must be an object.")
        errors: dict[str, str] = {}
        if not isinstance(name, str) or not name.strip():
            errors["name"] = "The webhook name is required."
        if not isinstance(url, str) or not url:
            errors["url"] = "The webhook URL is required."
        elif not is_loopback_url(url.replace("${", "").replace("}", "")):
            errors["url"] = "The sandbox delivers webhooks to loopback URLs only."
        if not isinstance(events, list) or not events or not all(isinstance(e, str) and e for e in events):
            errors["events"] = "At least one event is required."
        exclude = body.get("excludeBody", current.exclude_body if current else False)
        if not isinstance(exclude, bool):
            errors["excludeBody"] = "excludeBody must be a boolean."
        secret = body.get("secret", current.secret if current else None)
        if secret is not None and not isinstance(secret, str):
            errors["secret"] = "The secret must be a string."  # noqa: S105 - a message
        enabled = body.get("enabled", current.enabled if current else True)
        if not isinstance(enabled, bool):
            errors["enabled"] = "enabled must be a boolean."
        if errors:
            raise jira_error(400, errors=errors)
        if jql:
            try:
                compile_query(parse(jql), self._context(request))
            except JqlError as exc:
                raise jira_error(400, *exc.messages) from None
        return {
            "name": name,
            "url": url,
            "events": list(dict.fromkeys(events or [])),
            "jql": jql,
            "exclude_body": exclude,
            "secret": secret or None,
            "enabled": enabled,
        }

    @route("POST", HOOKS_V1)
    def create_admin_hook(self, request: SandboxRequest) -> Reply:
        self._require_admin(request)
        values = self._admin_hook_input(request, self._object_body(request), None)
        state = self.state
        hook = AdminHook(
            state.next_admin_hook_id, updated=self._now_ms(), updated_by=self._caller(request), **values
        )
        state.next_admin_hook_id += 1
        state.admin_hooks[hook.id] = hook
        self.touch()
        return Reply(self._admin_hook_json(request, hook), 201)

    @route("GET", HOOKS_V1)
    def list_admin_hooks(self, request: SandboxRequest) -> Reply:
        self._require_admin(request)
        return Reply([self._admin_hook_json(request, hook) for hook in self.state.admin_hooks.values()])

    def _admin_hook(self, request: SandboxRequest, hook_id: str) -> AdminHook:
        self._require_admin(request)
        hook = self.state.admin_hooks.get(int(hook_id)) if hook_id.isdigit() else None
        if hook is None:
            raise jira_error(404, f"Webhook with id {hook_id} does not exist.")
        return hook

    @route("GET", HOOKS_V1 + "/{webhookId}")
    def get_admin_hook(self, request: SandboxRequest, webhookId: str) -> Reply:
        return Reply(self._admin_hook_json(request, self._admin_hook(request, webhookId)))

    @route("PUT", HOOKS_V1 + "/{webhookId}")
    def update_admin_hook(self, request: SandboxRequest, webhookId: str) -> Reply:
        hook = self._admin_hook(request, webhookId)
        values = self._admin_hook_input(request, self._object_body(request), hook)
        for name, value in values.items():
            setattr(hook, name, value)
        hook.updated, hook.updated_by = self._now_ms(), self._caller(request)
        self.touch()
        return Reply(self._admin_hook_json(request, hook))

    @route("DELETE", HOOKS_V1 + "/{webhookId}")
    def delete_admin_hook(self, request: SandboxRequest, webhookId: str) -> Reply:
        hook = self._admin_hook(request, webhookId)
        del self.state.admin_hooks[hook.id]
        self.touch()
        return Reply(None, 204)

    # ------------------------------------------------------------------ app webhooks (/rest/api/3/webhook)

    def _app_client(self, request: SandboxRequest) -> str:
        principal = request.principal
        if principal is None or "oauth" not in principal.grants:
            raise jira_error(403, "Only Connect and OAuth 2.0 apps can use this operation.")
        return next(g.removeprefix("client:") for g in principal.grants if g.startswith("client:"))

    def _webhook_ids(self, body: dict[str, Any]) -> list[int]:
        ids = body.get("webhookIds")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise jira_error(400, errors={"webhookIds": "webhookIds must be a list of webhook ids."})
        return ids

    @route("POST", API + "/webhook")
    def register_app_hooks(self, request: SandboxRequest) -> Reply:
        client_id = self._app_client(request)
        body = self._object_body(request)
        url, details = body.get("url"), body.get("webhooks")
        if not isinstance(url, str) or not url or not isinstance(details, list):
            raise jira_error(400, errors={"url": "url and webhooks are required."})
        if not is_loopback_url(url):
            raise jira_error(400, errors={"url": "The sandbox delivers webhooks to loopback URLs only."})
        state = self.state
        account = self._caller(request)
        mine = [h for h in state.app_hooks.values() if h.client_id == client_id]
        if any(h.url != url for h in mine):
            raise jira_error(400, "Only a single URL per app is allowed to be registered.")
        results: list[dict[str, Any]] = []
        for detail in details:
            problems: list[str] = []
            events = detail.get("events") if isinstance(detail, dict) else None
            jql = detail.get("jqlFilter") if isinstance(detail, dict) else None
            if not isinstance(events, list) or not events or not all(e in APP_EVENTS for e in events):
                problems.append("The events are invalid. Allowed: " + ", ".join(sorted(APP_EVENTS)))
            if not isinstance(jql, str) or not jql.strip():
                problems.append("The JQL filter is required.")
            else:
                problems += check_webhook_filter(jql)
            if len(mine) >= MAX_APP_HOOKS:
                problems.append(f"The app has reached the limit of {MAX_APP_HOOKS} webhooks for this user.")
            field_ids = detail.get("fieldIdsFilter") if isinstance(detail, dict) else None
            property_keys = detail.get("issuePropertyKeysFilter") if isinstance(detail, dict) else None
            for name, value in (("fieldIdsFilter", field_ids), ("issuePropertyKeysFilter", property_keys)):
                if value is not None and not (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)
                ):
                    problems.append(f"{name} must be a list of strings.")
            if problems:
                results.append({"errors": problems})
                continue
            assert isinstance(events, list)
            assert isinstance(jql, str)
            hook = AppHook(
                state.next_app_hook_id,
                client_id,
                account,
                url,
                list(dict.fromkeys(events)),
                jql,
                field_ids,
                property_keys,
                self._now_ms() + APP_HOOK_TTL_MS,
            )
            state.next_app_hook_id += 1
            state.app_hooks[hook.id] = hook
            mine.append(hook)
            results.append({"createdWebhookId": hook.id})
        self.touch()
        return Reply({"webhookRegistrationResult": results})

    @route("GET", API + "/webhook")
    def list_app_hooks(self, request: SandboxRequest) -> Reply:
        client_id = self._app_client(request)
        hooks = [h for h in self.state.app_hooks.values() if h.client_id == client_id]
        start, limit = self._paging(request, 100, 100)
        base = f"{self._base(request)}{API}/webhook"
        values = []
        for hook in hooks[start : start + limit]:
            item: dict[str, Any] = {"id": hook.id, "jqlFilter": hook.jql}
            if hook.field_ids is not None:
                item["fieldIdsFilter"] = hook.field_ids
            if hook.property_keys is not None:
                item["issuePropertyKeysFilter"] = hook.property_keys
            item.update({"events": hook.events, "expirationDate": hook.expires, "url": hook.url})
            values.append(item)
        body: dict[str, Any] = {
            "self": f"{base}?startAt={start}&maxResults={limit}",
            "maxResults": limit,
            "startAt": start,
            "total": len(hooks),
            "isLast": start + limit >= len(hooks),
            "values": values,
        }
        if not body["isLast"]:
            body["nextPage"] = f"{base}?startAt={start + limit}&maxResults={limit}"
        return Reply(body)

    @route("DELETE", API + "/webhook")
    def delete_app_hooks(self, request: SandboxRequest) -> Reply:
        client_id = self._app_client(request)
        for hook_id in self._webhook_ids(self._object_body(request)):
            hook = self.state.app_hooks.get(hook_id)
            if hook is not None and hook.client_id == client_id:
                del self.state.app_hooks[hook_id]
        self.touch()
        return Reply(None, 202)

    @route("PUT", API + "/webhook/refresh")
    def refresh_app_hooks(self, request: SandboxRequest) -> Reply:
        client_id = self._app_client(request)
        expires = self._now_ms() + APP_HOOK_TTL_MS
        for hook_id in self._webhook_ids(self._object_body(request)):
            hook = self.state.app_hooks.get(hook_id)
            if hook is not None and hook.client_id == client_id:
                hook.expires = expires
        self.touch()
        return Reply({"expirationDate": expires})

    @route("GET", API + "/webhook/failed")
    def failed_app_hooks(self, request: SandboxRequest) -> Reply:
        self._app_client(request)
        limit = max(1, min(self._int_arg(request, "maxResults", 100), 100))
        after = self._int_arg(request, "after", 0)
        failed = []
        for delivery in self.deliveries():
            if not delivery.request.hook_id.startswith("app:") or not delivery.done or delivery.ok:
                continue
            when = int(delivery.attempts[-1].at * 1000) if delivery.attempts else 0
            if when > after:
                failed.append(
                    {
                        "id": delivery.request.delivery_id,
                        "body": delivery.request.body.decode(),
                        "url": delivery.request.url,
                        "failureTime": when,
                    }
                )
        body: dict[str, Any] = {"values": failed[:limit], "maxResults": limit}
        if failed[:limit]:
            body["next"] = (
                f"{self._base(request)}{API}/webhook/failed?after={failed[:limit][-1]['failureTime']}&maxResults={limit}"
            )
        return Reply(body)
