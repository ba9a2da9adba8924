"""Azure DevOps Boards (Work Item Tracking REST 7.1) behind the common adapter protocol.

Checked against Microsoft's Swagger for WIT 7.1 and service hooks 7.1
(``shared/specs/azure-devops.*-7.1.json``, from ``MicrosoftDocs/vsts-rest-api-specs``) and
research/tracker-apis.md section 4. What differs, and where this module handles it:

- **Scope**: one ``project`` value, ``<organization>/<project>``; every path is
  ``{base_url}/{organization}/{project}/_apis/...`` (``https://dev.azure.com``), both parts percent-encoded.
- **Listing** is two steps: ``POST _apis/wit/wiql`` answers work item *references only* (ids, whatever the
  SELECT names, at most 20,000), then ``POST _apis/wit/workitemsbatch`` reads up to 200 of them with the
  fields trackbridge keeps. A full pass orders by ``[System.Id]`` (ids grow with creation: updates cannot
  reorder it), an incremental one by ``[System.ChangedDate], [System.Id]``. The page cursor is a keyset
  (``id:<last id>`` or ``changed:<second>:<last id>``), so a resumed pass re-runs the WIQL from there; a
  WIQL answer of exactly 20,000 ids continues the same way. So a pass costs one WIQL request more than its
  pages.
- **WIQL dates**: without ``timePrecision=true`` WIQL compares whole days and refuses a time; with it,
  whole seconds. The mark is floored to the second (hence the declared overlap).
- **States** are free per process; their *category* (Proposed, InProgress, Resolved, Completed, Removed)
  is fixed and is what the declaration maps. Work item JSON carries only the state's name: names of the
  four system processes (Basic, Agile, Scrum, CMMI) are known here, any other is looked up once per adapter
  in ``GET _apis/wit/workitemtypes`` (each type lists its states with their categories).
- **Writes** are JSON Patch (``application/json-patch+json``, ``op: add`` on ``/fields/...``), create is
  ``POST _apis/wit/workitems/${type}``; descriptions and comments are sent as Markdown
  (``/multilineFieldsFormat/System.Description``, ``comments?format=markdown``). Tags are one ``"; "``
  separated field, ``System.Tags``.
- **Comments** are ``GET .../workItems/{id}/comments?api-version=7.1-preview.4``, paged by
  ``continuationToken`` (in the body; the next request sends it as a parameter).
- **Auth**: a PAT as Basic with an empty user, or a Microsoft Entra ID access token (a JWT) as Bearer:
  the same ``{"token"}`` credential, told apart by its shape. Azure DevOps OAuth is retired in 2026.
- **Rate limits** (TSTUs, 5-minute sliding window): ``Retry-After`` and ``X-RateLimit-Resource``,
  ``-Delay``, ``-Limit``, ``-Remaining``, ``-Reset`` (epoch); blocked requests are 429 ``TF400733``.
- **Service hooks** are unsigned: the subscription sends HTTP Basic credentials trackbridge chose, user
  :data:`HOOK_USER` and the connection's webhook secret as password, compared in constant time
  (:class:`~trackbridge.providers.signatures.UrlUserinfoSecret`, shared with Redmine).
  Incremental and open-only pages also drop, as ``skipped``, what the WIQL's coarser filters let through
  (an item changed earlier in the mark's second; a custom state of a done category).
  ``workitem.commented`` names no comment id:
  it is an issue change to fetch and a change of the issue's comments, which the apply step lists.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx

from trackbridge.domain.errors import InvalidInput, ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, StatusCategory, User
from trackbridge.domain.trackers import AZURE_DEVOPS, azure_devops_scope
from trackbridge.providers.auth import BasicCredentialsAuth, BearerScheme
from trackbridge.providers.base import CheckStep, TrackerAdapter
from trackbridge.providers.pagination import PageCursor, PageRequest, TokenPaginator
from trackbridge.providers.ratelimit import (
    RateLimitInfo,
    parse_epoch_reset,
    parse_retry_after,
)
from trackbridge.providers.signatures import UrlUserinfoSecret
from trackbridge.providers.types import (
    Capabilities,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Page,
    Transition,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import WebhookChange, WebhookDelivery, parse_time

API_VERSION: Final = "7.1"
COMMENTS_API_VERSION: Final = "7.1-preview.4"
BATCH_MAX: Final = 200
WIQL_MAX: Final = 20_000
JSON_PATCH: Final = "application/json-patch+json"
HOOK_USER: Final = "trackbridge"
FIELDS: Final[tuple[str, ...]] = (
    "System.Id",
    "System.WorkItemType",
    "System.Title",
    "System.Description",
    "System.State",
    "System.AssignedTo",
    "System.Tags",
    "Microsoft.VSTS.Common.Priority",
    "System.CreatedDate",
    "System.ChangedDate",
)
# The states of the four system processes and their categories; any other is read from the project.
STANDARD_STATES: Final[Mapping[str, str]] = {
    "new": "Proposed",
    "to do": "Proposed",
    "proposed": "Proposed",
    "approved": "Proposed",
    "active": "InProgress",
    "doing": "InProgress",
    "committed": "InProgress",
    "open": "InProgress",
    "resolved": "Resolved",
    "done": "Completed",
    "closed": "Completed",
    "removed": "Removed",
}
# A trackbridge category -> the state categories a transition to it picks from, most fitting first.
_CATEGORY_STATES: Final[Mapping[str, tuple[str, ...]]] = {
    "todo": ("Proposed",),
    "in_progress": ("InProgress",),
    "done": ("Completed", "Resolved"),
}
_KEY = re.compile(r"#?([1-9]\d{0,9})\Z")
_HOOK_EVENTS: Final = (
    "workitem.created",
    "workitem.updated",
    "workitem.deleted",
    "workitem.restored",
    "workitem.commented",
)
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+\Z")


class PatOrEntraScheme:
    """``{"token"}``: a Microsoft Entra ID access token (a JWT) goes as Bearer, a PAT as Basic ``:PAT``."""

    keys: tuple[str, ...] = ("token",)

    def build(self, credentials: Mapping[str, Any], *, provider: str) -> httpx.Auth:
        bearer = BearerScheme().build(credentials, provider=provider)  # checks the keys, names no value
        token = str(credentials["token"]).strip()
        return bearer if _JWT.match(token) else BasicCredentialsAuth("", token)


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


class AzureDevOpsRateLimits:
    """``X-RateLimit-Limit/Remaining`` (TSTUs), ``-Reset`` (epoch), ``-Delay`` (seconds this request was
    held back: near the limit when positive), ``-Resource`` (display only) and ``Retry-After``. The window
    slides over 5 minutes: a burst, never a quota."""

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        delay = headers.get("x-ratelimit-delay")
        try:
            delayed = delay is not None and float(delay) > 0
        except ValueError:
            delayed = False
        return RateLimitInfo(
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=_int(headers.get("x-ratelimit-remaining")),
            reset_at=parse_epoch_reset(headers.get("x-ratelimit-reset"), now),
            retry_after_s=parse_retry_after(headers.get("retry-after"), now),
            resource=headers.get("x-ratelimit-resource"),
            near_limit=delayed,
        )


def _identity(value: Any) -> str | None:
    """An IdentityRef's unique name (the sign-in address), else its id; a bare string as is."""
    if isinstance(value, Mapping):
        found = value.get("uniqueName") or value.get("id") or value.get("displayName")
        return str(found) if found else None
    return str(value) if value else None


def _tags(value: Any) -> list[str]:
    return [t.strip() for t in str(value or "").split(";") if t.strip()]


def _floor_second(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wiql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class AzureDevOpsAdapter(TrackerAdapter):
    tracker = AZURE_DEVOPS  # name, display name, scope keys, default base URL, incremental overlap
    capabilities = Capabilities(transitions=True, webhook_registration=True)
    auth_scheme = PatOrEntraScheme()
    # Work items a page: workitemsbatch takes up to 200 ids; 100 keeps a page's answer near GitHub's size.
    page_size = 100
    # A pass asks WIQL for the ids once, then pages through workitemsbatch.
    listing_setup_requests = 1
    # The deletion check's id listing: WIQL answers up to this many ids a request.
    id_page_size: ClassVar[int] = WIQL_MAX
    # Comment pages: ``continuationToken`` in the body, sent back as a parameter.
    paginator = TokenPaginator(
        token_field="continuationToken",  # noqa: S106 - a field name, not a secret
        param="continuationToken",
        last_field=None,
    )
    rate_limits = AzureDevOpsRateLimits()
    signature_schemes = (UrlUserinfoSecret(),)
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}

    _state_lock: ClassVar[threading.Lock] = threading.Lock()
    _learned_states: dict[str, str] | None = None

    # ---- scope --------------------------------------------------------------------------------------------
    @property
    def organization_project(self) -> tuple[str, str]:
        parsed = azure_devops_scope(self.config.scope_value("project"))
        if parsed is None:
            raise ValidationFailed("not an Azure DevOps organization/project", details={"scope": "project"})
        return parsed

    @property
    def project_url(self) -> str:
        """Where people browse the project (and the locator of external ids)."""
        return self.tracker.locate(self.config.base_url.rstrip("/"), self.config.scope)

    @property
    def organization_api(self) -> str:
        """``{base_url}/{organization}/_apis``: connection data, projects and service hooks live here."""
        return f"{self.config.base_url.rstrip('/')}/{quote(self.organization_project[0], safe='')}/_apis"

    @property
    def project_api(self) -> str:
        """``{organization_api}/projects/{project}``: the project itself and its teams."""
        return f"{self.organization_api}/projects/{quote(self.organization_project[1], safe='')}"

    @property
    def api_base(self) -> str:
        organization, project = (quote(part, safe="") for part in self.organization_project)
        return f"{self.config.base_url.rstrip('/')}/{organization}/{project}/_apis"

    @staticmethod
    def work_item_id(key: str | int) -> int:
        """``#12`` or ``12``; anything else never reaches a URL."""
        found = _KEY.match(str(key).strip())
        if found is None:
            raise InvalidInput(f"not a work item id: {str(key)[:40]!r}", details={"expected": "#12 or 12"})
        return int(found.group(1))

    def _ref(self, work_item_id: Any) -> str:
        return issue_ref(self.connection_id, str(work_item_id))

    # ---- normalization ----------------------------------------------------------------------------------
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        return self.normalize("work item", lambda: self._issue(raw, self.state_category(raw["fields"])))

    def _issue(self, raw: Mapping[str, Any], category: StatusCategory) -> Issue:
        fields = raw["fields"]
        number = int(raw["id"])
        assignee = _identity(fields.get("System.AssignedTo"))
        priority = fields.get("Microsoft.VSTS.Common.Priority")
        return Issue(
            ref=self._ref(number),
            external_id=external_id(self.name, self.project_url, number),
            connection_id=self.connection_id,
            provider="azure_devops",
            key=f"#{number}",
            title=str(fields.get("System.Title") or ""),
            body=str(fields.get("System.Description") or ""),
            status=str(fields["System.State"]),
            status_category=category,
            assignees=[assignee] if assignee else [],
            labels=_tags(fields.get("System.Tags")),
            priority=str(priority) if priority is not None else None,
            issue_type=str(fields["System.WorkItemType"]) if fields.get("System.WorkItemType") else None,
            url=f"{self.project_url}/_workitems/edit/{number}",
            created_at=parse_time(fields["System.CreatedDate"]),
            updated_at=parse_time(fields["System.ChangedDate"]),
        ).with_hash()

    def state_category(self, fields: Mapping[str, Any]) -> StatusCategory:
        """The trackbridge category of a work item's state, by the state's category (see module doc)."""
        state = str(fields.get("System.State") or "").strip().lower()
        category = STANDARD_STATES.get(state) or self._project_states().get(
            f"{str(fields.get('System.WorkItemType') or '').lower()}:{state}"
        )
        return self.tracker.status_category(category or "")

    def _project_states(self) -> Mapping[str, str]:
        """``type:state`` (lower case) -> category for every work item type of the project, read once."""
        with self._state_lock:
            if self._learned_states is None:
                body = self.expect_dict(self.get_json("wit/workitemtypes", params=_v()), "work item types")
                learned: dict[str, str] = {}
                for kind in self.expect_list(body.get("value", []), "work item types"):
                    for state in kind.get("states") or []:
                        learned[f"{str(kind['name']).lower()}:{str(state['name']).lower()}"] = str(
                            state.get("category") or ""
                        )
                self._learned_states = learned
            return self._learned_states

    def normalize_comment(self, raw: Mapping[str, Any], work_item_id: int) -> Comment:
        def build() -> Comment:
            created = parse_time(raw["createdDate"])
            return Comment(
                id=str(raw["id"]),
                issue_ref=self._ref(work_item_id),
                connection_id=self.connection_id,
                author=_identity(raw.get("createdBy")),
                body=str(raw.get("text") or ""),
                created_at=created,
                updated_at=parse_time(raw["modifiedDate"]) if raw.get("modifiedDate") else created,
            ).with_hash()

        return self.normalize("comment", build)

    # ---- connection test --------------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        return (("auth", self._check_auth), ("scope", self._check_scope))

    def _check_auth(self) -> ConnectionCheck:
        # connectionData answers who the credential is, on the organization (no project needed).
        body = self.expect_dict(self.get_json(f"{self.organization_api}/connectionData"), "connection data")
        user = body.get("authenticatedUser") or {}
        who = user.get("providerDisplayName") or user.get("id") or "unknown"
        self._identity = str(who)
        return ConnectionCheck("auth", True, f"authenticated as {who}")

    def _check_scope(self) -> ConnectionCheck:
        ids = self._wiql("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project", top=1)
        found = "at least one work item" if ids else "no work items yet"
        return ConnectionCheck("scope", True, f"project {self.organization_project[1]} is visible ({found})")

    # ---- listing ----------------------------------------------------------------------------------------
    def _wiql(self, query: str, *, top: int = WIQL_MAX) -> list[int]:
        params = {**_v(), "timePrecision": "true", "$top": top}
        body = self.expect_dict(
            self.send_json("POST", "wit/wiql", json={"query": query}, params=params, idempotent=True), "wiql"
        )
        refs = self.expect_list(body.get("workItems", []), "wiql work items")
        return self.normalize("wiql answer", lambda: [int(ref["id"]) for ref in refs])

    def _sync_query(self, since: datetime | None, include_closed: bool, after: tuple[int, ...]) -> str:
        """The pass's WIQL from ``after`` on: ``(id,)`` in a full pass, ``(changed ms, id)`` in an
        incremental one (WIQL compares whole seconds, so the query reaches back to the second and the
        page drops what came before the key)."""
        where = ["[System.TeamProject] = @project"]
        if not include_closed:
            where.append("[System.State] NOT IN ('Closed', 'Done', 'Removed', 'Resolved')")
        if since is None:
            if after:
                where.append(f"[System.Id] > {after[-1]}")
            order = "[System.Id] ASC"
        else:
            mark = max(since, datetime.fromtimestamp(after[0] / 1000, UTC)) if after else since
            where.append(f"[System.ChangedDate] >= '{_floor_second(mark)}'")
            order = "[System.ChangedDate] ASC, [System.Id] ASC"
        # Every value above is a formatted time or an integer: nothing of a caller's text.
        return f"SELECT [System.Id] FROM WorkItems WHERE {' AND '.join(where)} ORDER BY {order}"  # noqa: S608

    def _batch(self, ids: Sequence[int]) -> list[Mapping[str, Any]]:
        body = self.expect_dict(
            self.send_json(
                "POST",
                "wit/workitemsbatch",
                json={"ids": list(ids), "fields": list(FIELDS), "errorPolicy": "omit"},
                params=_v(),
                idempotent=True,
            ),
            "work items batch",
        )
        # errorPolicy=omit answers null for an item deleted between the WIQL and the batch.
        return [raw for raw in self.expect_list(body.get("value", []), "work items") if raw]

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        after = _keyset_of(cursor, incremental=since is not None)
        for _ in range(self.max_pages):
            ids = self._wiql(self._sync_query(since, include_closed, after))
            if not ids:
                # Nothing (left) to read: a listing always yields a page, an empty last one here.
                yield Page((), 0, None)
                return
            for start in range(0, len(ids), self.page_size):
                read = [self.normalize_issue(raw) for raw in self._batch(ids[start : start + self.page_size])]
                issues = tuple(
                    i
                    for i in read
                    if (since is None or (i.updated_at >= since and _order_key(i, since) > after))
                    and (include_closed or i.status_category != "done")
                )
                after = max(after, _order_key(read[-1], since)) if read else after
                more = start + self.page_size < len(ids) or len(ids) >= WIQL_MAX
                if more and not issues:
                    # Nothing new (deleted since the WIQL, or at or before a resumed cursor's key, which
                    # WIQL's whole seconds cannot exclude): read on, so every page yielded makes progress.
                    continue
                token = ("changed:" if since is not None else "id:") + ":".join(map(str, after))
                following = PageCursor(token=token) if more else None
                yield Page(issues, len(read), following, skipped=len(read) - len(issues))
            if len(ids) < WIQL_MAX:
                return

    def iter_issue_id_pages(
        self, *, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[Page[str]]:
        """The full pass's ids alone, straight from WIQL: 20,000 a request, no batch read (the deletion
        check's listing, :class:`~trackbridge.runtime.sync.deletion_check.ListsIssueIds`)."""
        after = _keyset_of(cursor, incremental=False)
        for _ in range(self.max_pages):
            ids = self._wiql(self._sync_query(None, include_closed, after))
            more = len(ids) >= WIQL_MAX
            after = (ids[-1],) if ids else after
            yield Page(tuple(map(str, ids)), len(ids), PageCursor(token=f"id:{after[0]}") if more else None)
            if not more:
                return

    # ---- issues -----------------------------------------------------------------------------------------
    def _get_raw(self, key: str | int) -> dict[str, Any]:
        number = self.work_item_id(key)
        params = {**_v(), "fields": ",".join(FIELDS)}
        return self.expect_dict(self.get_json(f"wit/workitems/{number}", params=params), "work item")

    def get_issue(self, key: str) -> Issue:
        return self.normalize_issue(self._get_raw(key))

    def _patch(self, method: str, path: str, operations: list[dict[str, Any]]) -> Issue:
        response = self.request(
            method,
            path,
            content=_json_bytes(operations),
            headers={"Content-Type": JSON_PATCH},
            params={**_v()},
        )
        raw = self.expect_dict(self.decode(response), "work item")
        return self.normalize_issue(raw)

    def create_issue(self, draft: IssueDraft) -> Issue:
        kind = draft.issue_type or str(self.config.options.get("issue_type") or "Issue")
        operations = [_add("/fields/System.Title", draft.title)]
        if draft.body.strip():
            operations += [
                _add("/multilineFieldsFormat/System.Description", "Markdown"),
                _add("/fields/System.Description", draft.body),
            ]
        if draft.labels:
            operations.append(_add("/fields/System.Tags", "; ".join(draft.labels)))
        if draft.assignees:
            operations.append(_add("/fields/System.AssignedTo", _one_assignee(draft.assignees)))
        if draft.priority:
            operations.append(_add("/fields/Microsoft.VSTS.Common.Priority", draft.priority))
        operations += [_add(f"/fields/{name}", value) for name, value in draft.fields.items()]
        return self._patch("POST", f"wit/workitems/${quote(kind, safe='')}", operations)

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        number = self.work_item_id(key)
        if changes.empty:
            return self.get_issue(key)
        if changes.labels is not None and (changes.add_labels or changes.remove_labels):
            raise ValidationFailed(
                "set labels, or add/remove them, not both", details={"labels": "conflicts with add/remove"}
            )
        operations: list[dict[str, Any]] = []
        if changes.title is not None:
            operations.append(_add("/fields/System.Title", changes.title))
        if changes.body is not None:
            operations += [
                _add("/multilineFieldsFormat/System.Description", "Markdown"),
                _add("/fields/System.Description", changes.body),
            ]
        labels = changes.labels
        if changes.add_labels or changes.remove_labels:
            current = self.get_issue(key).labels
            labels = tuple(
                [t for t in current if t not in changes.remove_labels]
                + [t for t in changes.add_labels if t not in current]
            )
        if labels is not None:
            operations.append(_add("/fields/System.Tags", "; ".join(labels)))
        if changes.assignees is not None:
            operations.append(
                _add(
                    "/fields/System.AssignedTo", _one_assignee(changes.assignees) if changes.assignees else ""
                )
            )
        if changes.priority is not None:
            operations.append(_add("/fields/Microsoft.VSTS.Common.Priority", changes.priority))
        operations += [_add(f"/fields/{name}", value) for name, value in changes.fields.items()]
        return self._patch("PATCH", f"wit/workitems/{number}", operations)

    def list_transitions(self, key: str) -> list[Transition]:
        """The states of the item's type (Azure DevOps lets any state follow any other by default)."""
        issue = self.get_issue(key)
        states = self._type_states(issue.issue_type or "")
        return [
            Transition(id=name, name=name, to_status=name, to_category=self.tracker.status_category(category))
            for name, category in states
            if name != issue.status
        ]

    def _type_states(self, kind: str) -> list[tuple[str, str]]:
        body = self.expect_dict(
            self.get_json(f"wit/workitemtypes/{quote(kind, safe='')}/states", params=_v()), "states"
        )
        return self.normalize(
            "states",
            lambda: [(str(s["name"]), str(s.get("category") or "")) for s in body.get("value", [])],
        )

    def transition_issue(self, key: str, target: str) -> Issue:
        number = self.work_item_id(key)
        wanted = target.strip()
        states = self._type_states(self.get_issue(key).issue_type or "")
        by_name = {name.lower(): name for name, _ in states}
        state = by_name.get(wanted.lower())
        if state is None and wanted in _CATEGORY_STATES:
            # The first state of the category that means it most (done: Completed before Resolved; never
            # Removed), in the type's own order.
            for category in _CATEGORY_STATES[wanted]:
                state = next((n for n, c in states if c == category), None)
                if state is not None:
                    break
        if state is None:
            raise InvalidInput(
                f"no state {wanted[:40]!r} for this work item",
                details={"states": [name for name, _ in states]},
            )
        return self._patch("PATCH", f"wit/workitems/{number}", [_add("/fields/System.State", state)])

    # ---- comments ---------------------------------------------------------------------------------------
    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        number = self.work_item_id(key)
        request = PageRequest(
            url=f"wit/workItems/{number}/comments", params={"api-version": COMMENTS_API_VERSION, "$top": 200}
        )
        comments: list[Comment] = []
        for page in self.iter_pages(request):
            raws = self.expect_list(self.expect_dict(page.body, "comments").get("comments", []), "comments")
            comments.extend(self.normalize_comment(raw, number) for raw in raws if not raw.get("isDeleted"))
        comments.sort(key=lambda c: (c.created_at, int(c.id) if c.id.isdigit() else 0))
        return [c for c in comments if since is None or c.updated_at >= since]

    def get_comment(self, key: str, comment_id: str) -> Comment:
        number = self.work_item_id(key)
        if not str(comment_id).isdigit():
            raise InvalidInput("a comment id is a number", details={"comment_id": str(comment_id)[:40]})
        raw = self.expect_dict(
            self.get_json(
                f"wit/workItems/{number}/comments/{comment_id}", params={"api-version": COMMENTS_API_VERSION}
            ),
            "comment",
        )
        return self.normalize_comment(raw, number)

    def add_comment(self, key: str, body: str) -> Comment:
        number = self.work_item_id(key)
        raw = self.send_json(
            "POST",
            f"wit/workItems/{number}/comments",
            json={"text": body},
            params={"api-version": COMMENTS_API_VERSION, "format": "markdown"},
        )
        return self.normalize_comment(self.expect_dict(raw, "comment"), number)

    # ---- users and search -------------------------------------------------------------------------------
    def list_users(self) -> list[User]:
        """The project's team members (``_apis/projects/{project}/teams/.../members`` needs a team: the
        default team of the project is read through ``teams?$mine=false``)."""
        root = self.project_api
        teams = self.expect_dict(self.get_json(f"{root}/teams", params=_v()), "teams").get("value", [])
        users: dict[str, User] = {}
        for team in self.expect_list(teams, "teams")[:50]:
            members = self.get_json(f"{root}/teams/{quote(str(team['id']), safe='')}/members", params=_v())
            for member in self.expect_list(self.expect_dict(members, "members").get("value", []), "members"):
                identity = member.get("identity") or {}
                user_id = _identity(identity)
                if user_id and user_id not in users:
                    users[user_id] = User(
                        id=user_id,
                        connection_id=self.connection_id,
                        login=identity.get("uniqueName"),
                        display_name=identity.get("displayName"),
                    )
        return list(users.values())

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        """Work items of the project whose title or description contains ``query`` (WIQL ``CONTAINS``)."""
        if limit < 1:
            return []
        text = _wiql_text(query.strip()[:200])
        # The text is a WIQL string literal (quotes doubled): it cannot end the literal.
        where = f"([System.Title] CONTAINS {text} OR [System.Description] CONTAINS {text})"
        ids = self._wiql(
            "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "  # noqa: S608
            f"AND {where} ORDER BY [System.Id] DESC",
            top=min(limit, BATCH_MAX),
        )
        return [self.normalize_issue(raw) for raw in self._batch(ids[:limit])] if ids else []

    # ---- webhooks ---------------------------------------------------------------------------------------
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        """One service-hook subscription per event (Azure DevOps subscribes to one event type each); the
        returned id joins them with commas."""
        root = f"{self.organization_api}/hooks/subscriptions"
        project_id = self._project_id()
        made: list[str] = []
        for event in events or _HOOK_EVENTS:
            body = {
                "publisherId": "tfs",
                "eventType": event,
                "resourceVersion": "1.0",
                "consumerId": "webHooks",
                "consumerActionId": "httpRequest",
                "publisherInputs": {"projectId": project_id},
                "consumerInputs": {
                    "url": url,
                    "basicAuthUsername": HOOK_USER,
                    "basicAuthPassword": secret,
                    "resourceDetailsToSend": "all",
                    "messagesToSend": "none",
                    "detailedMessagesToSend": "none",
                },
            }
            created = self.expect_dict(self.send_json("POST", root, json=body, params=_v()), "subscription")
            made.append(str(created["id"]))
        return WebhookRegistration(",".join(made), url, tuple(events or _HOOK_EVENTS))

    def _project_id(self) -> str:
        return str(self.expect_dict(self.get_json(self.project_api, params=_v()), "project")["id"])

    def unregister_webhook(self, hook_id: str) -> None:
        root = f"{self.organization_api}/hooks/subscriptions"
        for one in hook_id.split(","):
            if re.fullmatch(r"[0-9a-fA-F-]{1,64}", one):
                self.delete_if_present(f"{root}/{one}?api-version={API_VERSION}")

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        event = str(payload["eventType"])
        # The notification's own id is stable across the service's retries of it.
        delivery = f"{payload.get('subscriptionId', '')}:{payload['notificationId']}"
        if event not in _HOOK_EVENTS:
            return WebhookDelivery.ignored(self.name, delivery, event, "not a work item event")
        resource = payload["resource"]
        if not isinstance(resource, Mapping):
            raise TypeError("resource is not an object")
        # workitem.updated wraps the item as of the update in "revision"; the others carry the item itself.
        item = resource.get("revision") if event == "workitem.updated" else resource
        number = int(resource["workItemId"] if event == "workitem.updated" else resource["id"])
        if not isinstance(item, Mapping):
            raise TypeError("the work item is not an object")
        fields = item.get("fields") or {}
        changed = fields.get("System.ChangedDate")
        when = parse_time(changed) if changed else parse_time(payload["createdDate"])
        ref, key = self._ref(number), f"#{number}"
        if event == "workitem.deleted":
            return WebhookDelivery.of_changes(
                self.name, delivery, event, WebhookChange.of_issue(ref, key, when, deleted=True)
            )
        issue = None
        state = str(fields.get("System.State") or "").strip().lower()
        if event != "workitem.commented" and state in STANDARD_STATES and "System.CreatedDate" in fields:
            # A state this module knows needs no lookup: the payload is then the whole record.
            category = self.tracker.status_category(STANDARD_STATES[state])
            issue = self.normalize("work item", lambda: self._issue({**item, "id": number}, category))
        changes = [WebhookChange.of_issue(ref, key, when, issue=issue)]
        if event == "workitem.commented":
            # The payload names no comment: the apply step lists the work item's comments.
            changes.append(WebhookChange.of_issue_comments(ref, key, when))
        return WebhookDelivery.of_changes(self.name, delivery, event, *changes)


def _v() -> dict[str, str]:
    return {"api-version": API_VERSION}


def _add(path: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": path, "value": value}


def _one_assignee(assignees: Sequence[str]) -> str:
    if len(assignees) > 1:
        raise ValidationFailed("a work item has one assignee", details={"assignees": "give one"})
    return assignees[0]


def _order_key(issue: Issue, since: datetime | None) -> tuple[int, ...]:
    """Where ``issue`` stands in its pass's order: its id, or its change time (ms) and id."""
    number = int(issue.key.lstrip("#"))
    return (number,) if since is None else (int(issue.updated_at.timestamp() * 1000), number)


def _keyset_of(cursor: PageCursor | None, *, incremental: bool) -> tuple[int, ...]:
    """A stored cursor's key (``id:12``, ``changed:<ms>:12``); ValueError for anything else (stored data
    may rot, and only integers it really holds reach a query)."""
    if cursor is None:
        return ()
    kind, _, rest = (cursor.token or "").partition(":")
    parts = rest.split(":")
    if kind != ("changed" if incremental else "id") or len(parts) != (2 if incremental else 1):
        raise ValueError("not a cursor of this listing")
    if not all(p.isdigit() and len(p) <= 15 for p in parts):
        raise ValueError("not a work item cursor")
    return tuple(int(p) for p in parts)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


__all__ = ["AzureDevOpsAdapter", "AzureDevOpsRateLimits", "PatOrEntraScheme"]
