"""Jira Cloud (REST API v3, Jira Software agile 1.0) behind the common adapter protocol.

What makes Jira different, and where this module handles it (shared/research/tracker-apis.md, section 1):

- **Search** is ``POST /rest/api/3/search/jql`` paged by ``nextPageToken`` until ``isLast``; the old
  ``/rest/api/3/search`` answers 410. It has no ``total`` or ``startAt``, returns only ids unless
  ``fields`` is given, and refuses unbounded JQL: every query here starts from the connection's scope.
  Full syncs page ``ORDER BY key ASC``, incremental ones ``updated >= <epoch ms> ORDER BY updated ASC,
  key ASC`` (epoch milliseconds dodge the profile time-zone trap; :mod:`.jql` does the quoting).
- **Comments** ride along in search results (``fields=comment``). The embedded list is used as is when it
  is complete; ``/issue/{id}/comment`` is fetched only when its ``total`` exceeds what was embedded.
- **Rich text** is ADF both ways (:mod:`.adf`); descriptions, comments and worklog comments are Markdown
  on trackbridge's side.
- **Status** changes go through the transitions list (``PUT /issue`` ignores status); the category comes
  from ``statusCategory.key`` (``new``, ``indeterminate``, ``done``), never from the status name.
- **Attachments** are multipart with the field ``file`` and ``X-Atlassian-Token: no-check``; the answer
  is 200 with an array.
- **Worklogs** change feed: ``/worklog/updated?since=<ms>`` then ``POST /worklog/list`` (1000 ids a call).
- **Auth**: Basic ``email:api_token`` against ``https://<site>.atlassian.net``, or an OAuth 3LO bearer
  (:mod:`.oauth_jira`) against ``https://api.atlassian.com/ex/jira/{cloudId}``: the connection's
  ``base_url`` is whichever API root applies, and ``options["site_url"]`` names the site for browse links.
- **Create screens**: what a create may set depends on the project and issue type (a field off the screen is
  400 "cannot be set"); :meth:`JiraAdapter.create_screen` reads it from the paginated createmeta endpoints
  (the expand-based ``/issue/createmeta`` is deprecated) and keeps it for the adapter's life (a pooled lease).
- **Errors**: 429 with ``RateLimit-Reason: jira-quota-*`` is a quota, other 429s bursts; a site
  suspended for payment ("Tenant is restricted: suspended-payment") is ``SUSPENDED_PAYMENT``; 400s carry
  ``errorMessages`` and ``errors: {field: message}``; a user's JQL that Jira rejects comes back as a 400.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import InvalidInput, UnsupportedCapability, ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import (
    Comment,
    Issue,
    Sprint,
    StatusCategory,
    TransitionField,
    User,
    Worklog,
    status_category_of,
)
from trackbridge.domain.issues import Transition as HistoryTransition  # not the workflow's Transition
from trackbridge.domain.trackers import JIRA, is_jira_project_key
from trackbridge.providers.adf import adf_to_markdown, markdown_to_adf
from trackbridge.providers.auth import BasicScheme
from trackbridge.providers.base import CheckStep, TrackerAdapter
from trackbridge.providers.classify import ErrorRule
from trackbridge.providers.errors import (
    InvalidRequestError,
    NotFoundError,
    TrackerError,
    TransientError,
    make_error,
)
from trackbridge.providers.jql import (
    Clause,
    Expr,
    Jql,
    RawJql,
    field,
    full_sync,
    involving,
    updated_since,
)
from trackbridge.providers.pagination import OffsetPaginator, PageCursor, PageRequest, TokenPaginator
from trackbridge.providers.ratelimit import JiraRateLimits
from trackbridge.providers.signatures import AppJwt, HubSignature
from trackbridge.providers.types import (
    Attachment,
    Capabilities,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Page,
    Transition,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import (
    WebhookChange,
    WebhookDelivery,
    epoch_millis,
    obj,
)

SEARCH_PATH = "rest/api/3/search/jql"
# The fields a normalized issue needs, and comment so comments arrive with their issue.
ISSUE_FIELDS: tuple[str, ...] = (
    "summary",
    "description",
    "status",
    "assignee",
    "labels",
    "priority",
    "issuetype",
    "created",
    "updated",
    "comment",
    "customfield_10020",  # SPRINT_FIELD: the issue's sprints ride along (no request per issue)
)
# The events a REST ("dynamic") webhook may ask for: issues, comments and issue properties only.
APP_WEBHOOK_EVENTS: frozenset[str] = frozenset(
    {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
    }
)


@dataclass(frozen=True, slots=True)
class FailedWebhook:
    """A delivery Jira gave up on: its identifier (the delivery's dedup key), body and failure time."""

    id: str
    body: str
    failure_time_ms: int


DEFAULT_WEBHOOK_EVENTS: tuple[str, ...] = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
)
WORKLOG_LIST_MAX_IDS = 1000
# What a full worklog pass asks the search for: each issue's embedded worklog page (its total tells whether
# it is complete).
WORKLOG_SEARCH_FIELDS: tuple[str, ...] = ("worklog",)
# changelog/bulkfetch: issues a call (Atlassian's limit), entries a page (its largest), the fields kept.
CHANGELOG_BULK_MAX_ISSUES = 1000
CHANGELOG_PAGE_SIZE = 10_000
TRANSITION_FIELDS: tuple[TransitionField, ...] = ("status", "assignee")
# Jira's built-in status category ids, for a category whose key is missing or unfamiliar.
_CATEGORY_BY_ID: Mapping[int, StatusCategory] = {1: "todo", 2: "todo", 4: "in_progress", 3: "done"}
_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[1-9]\d{0,17}\Z")
_NUMERIC_RE = re.compile(r"[1-9]\d{0,17}\Z")
_ISSUE_ID_IN_URL = re.compile(r"/issue/(\d+)(?:/|$)")
_EMBEDDED_COMMENTS_KEPT = 2_000
_ISSUE_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})
_COMMENT_EVENTS = frozenset({"comment_created", "comment_updated", "comment_deleted"})
# Fields of an issue record a webhook payload must hold for the issue to be normalized from it.
_RECORD_FIELDS = tuple(name for name in ISSUE_FIELDS if name != "comment")


# Jira Software's sprint field. Its id is customfield_10020 on Jira Cloud sites (the field is created with
# the site); its value is an array of sprint objects (``{"id", "name", "state", "boardId", ...}``), every
# sprint the issue was in. Servers of old sent strings (``...Sprint@1a2b[id=7,rapidViewId=1,...]``).
SPRINT_FIELD = "customfield_10020"
_LEGACY_SPRINT_ID = re.compile(r"\[id=(\d+)[,\]]")


def sprint_ids_of(value: Any) -> list[str]:
    """The sprint ids of a sprint field's value, in the order Jira gives them, each once."""
    found: list[str] = []
    for sprint in value if isinstance(value, list) else []:
        if isinstance(sprint, Mapping) and sprint.get("id") is not None:
            found.append(str(sprint["id"]))
        elif isinstance(sprint, str) and (match := _LEGACY_SPRINT_ID.search(sprint)):
            found.append(match.group(1))
    return list(dict.fromkeys(found))


def _search_result_ids(raw_issues: Sequence[Any]) -> tuple[str, ...]:
    if any(not isinstance(raw, Mapping) or raw.get("id") in (None, "") for raw in raw_issues):
        raise ValueError("a search result without an id")
    return tuple(str(raw["id"]) for raw in raw_issues)


JIRA_ERROR_RULES: tuple[ErrorRule, ...] = (
    # Atlassian's gateway answers a site suspended for non-payment with "Tenant is restricted:
    # suspended-payment" (seen through OAuth, ParabolInc/parabol#7430); the site itself says it is suspended.
    ErrorRule(ErrorCode.SUSPENDED_PAYMENT, frozenset({401, 402, 403, 503}), contains="suspended-payment"),
    ErrorRule(ErrorCode.SUSPENDED_PAYMENT, frozenset({401, 402, 403, 503}), contains="tenant is restricted"),
    ErrorRule(ErrorCode.SUSPENDED_PAYMENT, frozenset({401, 402, 403, 503}), contains="site is suspended"),
    ErrorRule(
        ErrorCode.AUTH_INVALID,
        frozenset({401, 403}),
        contains="scope does not match",
        guidance=(
            "Scoped API tokens only work through https://api.atlassian.com/ex/jira/{cloudId}: "
            "set the connection's base_url to that gateway URL."
        ),
    ),
    ErrorRule(
        ErrorCode.NOT_FOUND,
        frozenset({410}),
        contains="has been removed",
        guidance="Jira removed this API; trackbridge must be updated to its replacement.",
    ),
)


def parse_jira_time(value: Any) -> datetime:
    """Jira's ``2021-01-17T12:34:00.000+0000`` (no colon in the offset), or any ISO 8601 with a zone."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a Jira timestamp: {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"a Jira timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)


def _rich_or_empty(text: Any) -> bool:
    """ADF, or no text at all: what normalizes as a sync would (wiki markup does not)."""
    return text is None or text == "" or isinstance(text, Mapping)


def _text_or_none(value: Any) -> str | None:
    """A changelog item's side: Jira writes an empty side as null (webhooks) or leaves it out (REST)."""
    return None if value is None or value == "" else str(value)


def _millis(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValidationFailed("timestamps must carry a time zone")
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class ScreenField:
    """One field of a create screen (``GET /issue/createmeta/{project}/issuetypes/{id}``)."""

    id: str
    name: str
    required: bool
    has_default: bool = False
    allowed: tuple[str, ...] = ()  # names/values of ``allowedValues`` when Jira lists them


@dataclass(frozen=True, slots=True)
class CreateScreen:
    """What a create of ``issue_type`` in ``project`` may set: the fields by id, in Jira's order."""

    project: str
    issue_type_id: str
    issue_type: str
    fields: Mapping[str, ScreenField]

    def missing_required(self, given: Collection[str]) -> list[ScreenField]:
        """Required fields without a default that ``given`` leaves out (``create_issue`` always sends the
        project, the issue type and the summary)."""
        implied = {"project", "issuetype", "summary", *given}
        return [f for f in self.fields.values() if f.required and not f.has_default and f.id not in implied]


def _allowed_names(values: Any) -> tuple[str, ...]:
    names = []
    for value in values if isinstance(values, list) else ():
        if isinstance(value, Mapping):
            name = value.get("name") or value.get("value") or value.get("key")
            if name is not None:
                names.append(str(name))
    return tuple(names)


@dataclass(frozen=True, slots=True)
class DeletedWorklogPage:
    """One page of the deleted-worklog feed: ids only; ``until`` is the ``since`` of the next call."""

    ids: tuple[str, ...]
    until: datetime
    last: bool


@dataclass(frozen=True, slots=True)
class WorklogPage:
    """One page of the worklog change feed; ``until`` is the ``since`` of the next call."""

    worklogs: tuple[Worklog, ...]
    until: datetime
    last: bool


@dataclass(frozen=True, slots=True)
class IssueWorklogs:
    """One issue's complete worklog list, as a full worklog pass reads it (``iter_worklog_lists``)."""

    issue_id: str
    key: str
    worklogs: tuple[Worklog, ...]


class EmbeddedComments:
    """The comments Jira embedded in the issues a search or GET returned, kept by issue id and key while
    they are all of them (``total`` fits), so ``list_issue_comments`` answers without a request.

    An explicit object with an owner: a sync run holds one for its duration
    (``JiraAdapter.keeping_embedded_comments``); the newest ``max_entries`` issues are kept.
    """

    def __init__(self, *, max_entries: int = _EMBEDDED_COMMENTS_KEPT) -> None:
        self.max_entries = max_entries
        self._kept: OrderedDict[str, tuple[str, list[Mapping[str, Any]]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def remember(self, raw: Mapping[str, Any]) -> None:
        """Keep the comments a search result or GET embedded, when they are all of them."""
        fields = raw.get("fields")
        if not isinstance(fields, Mapping) or "comment" not in fields:
            return
        block = fields.get("comment")
        if isinstance(block, Mapping):
            comments = block.get("comments")
            total = block.get("total")
        else:
            comments, total = block, None  # the spec's own example embeds a bare list
        if not isinstance(comments, list) or raw.get("id") is None:
            return
        complete = not isinstance(total, int) or total <= len(comments)
        for handle in (str(raw.get("id")), str(raw.get("key"))):
            self._kept.pop(handle, None)
            if complete:
                self._kept[handle] = (str(raw.get("id")), comments)
        while len(self._kept) > self.max_entries:
            self._kept.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop an issue's entry (by id or key, both handles go): its comments changed."""
        entry = self._kept.pop(key, None)
        if entry is not None:
            self._kept = OrderedDict((k, v) for k, v in self._kept.items() if v[0] != entry[0])

    def get(self, key: str) -> tuple[str, list[Mapping[str, Any]]] | None:
        """(issue id, raw comments) of an issue whose comments all came embedded, else None."""
        return self._kept.get(key)


class JiraAdapter(TrackerAdapter):
    tracker = JIRA  # name, display name, scope keys, default base URL, incremental overlap and its reason
    capabilities = Capabilities(
        attachments=True,
        worklogs=True,
        sprints=True,
        transitions=True,
        webhook_registration=True,
        users=True,
        worklog_feed=True,
        changelog_bulkfetch=True,
    )
    auth_scheme = BasicScheme()  # OAuth 3LO connections get an oauth_jira.OAuthTokenAuth instead
    page_size = 100
    paginator = TokenPaginator(in_body=True)
    rate_limits = JiraRateLimits()
    error_rules = JIRA_ERROR_RULES
    signature_schemes = (HubSignature(header="X-Hub-Signature", name="jira-hub-signature"),)
    # REST-registered hooks of OAuth 2.0 apps: a JWT signed with the app's client secret.
    app_signature_schemes = (AppJwt(),)
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}

    comment_page_size: ClassVar[int] = 100
    worklog_page_size: ClassVar[int] = 5000
    user_page_size: ClassVar[int] = 1000
    agile_page_size: ClassVar[int] = 50

    # ---- scope and identity --------------------------------------------------------------------------------
    @property
    def site_url(self) -> str:
        """The site people browse (``https://<site>.atlassian.net``), also under OAuth's gateway base URL."""
        site = self.config.options.get("site_url")
        return str(site).rstrip("/") if site else self.config.base_url.rstrip("/")

    @property
    def project_key(self) -> str | None:
        project = self.config.scope.get("project")
        if not isinstance(project, str) or not project.strip():
            return None
        if not is_jira_project_key(project):
            # It goes into URL paths (project/{key}) as well as JQL: only a real key may, by the same rule
            # the connection model applies (trackbridge.domain.trackers.is_jira_project_key).
            raise ValidationFailed("not a Jira project key", details={"scope.project": project[:40]})
        return project

    def scope_condition(self) -> Expr:
        """What bounds every search: the project, or the connection's own JQL (parenthesised)."""
        if self.project_key:
            return Clause("project", "=", self.project_key)
        return RawJql(self.config.scope_value("jql"))

    def _issue_ref(self, issue_id: Any) -> str:
        return issue_ref(self.connection_id, str(issue_id))

    @staticmethod
    def check_key(key: str) -> str:
        """An issue key (``OPS-12``) or id (``10002``); anything else never reaches a URL path."""
        if not isinstance(key, str) or not (_KEY_RE.match(key.strip()) or _NUMERIC_RE.match(key.strip())):
            raise InvalidInput(
                f"not a Jira issue key or id: {str(key)[:40]!r}", details={"expected": "PROJ-123 or 10002"}
            )
        return key.strip()

    # ---- normalization -------------------------------------------------------------------------------------
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        return self.normalize("issue", lambda: self._issue(raw))

    def _issue(self, raw: Mapping[str, Any]) -> Issue:
        fields = raw["fields"]
        status = fields.get("status") or {}
        assignee = fields.get("assignee") or {}
        priority = fields.get("priority") or {}
        issue_type = fields.get("issuetype") or {}
        key = str(raw["key"])
        return Issue(
            ref=self._issue_ref(raw["id"]),
            external_id=external_id(self.name, self.site_url, raw["id"]),
            connection_id=self.connection_id,
            provider="jira",
            key=key,
            title=str(fields.get("summary") or ""),
            body=adf_to_markdown(fields.get("description")),
            status=str(status.get("name") or ""),
            status_category=self.status_category(status),
            assignees=[str(assignee["accountId"])] if assignee.get("accountId") else [],
            labels=[str(label) for label in fields.get("labels") or []],
            priority=str(priority["name"]) if priority.get("name") else None,
            issue_type=str(issue_type["name"]) if issue_type.get("name") else None,
            sprint_ids=sprint_ids_of(fields.get(SPRINT_FIELD)),
            url=f"{self.site_url}/browse/{key}",
            created_at=parse_jira_time(fields["created"]),
            updated_at=parse_jira_time(fields["updated"]),
        ).with_hash()

    @staticmethod
    def status_category(status: Mapping[str, Any]) -> StatusCategory:
        """From ``statusCategory.key`` (then its built-in id), never from the status name."""
        category = status.get("statusCategory") or {}
        key = category.get("key")
        if isinstance(key, str) and key.strip().lower() in ("new", "undefined", "indeterminate", "done"):
            return status_category_of(key)
        category_id = category.get("id")
        if isinstance(category_id, int | str) and str(category_id).isdigit():
            return _CATEGORY_BY_ID.get(int(category_id), "todo")
        return "todo"

    def normalize_comment(self, raw: Mapping[str, Any], issue_id: str) -> Comment:
        def build() -> Comment:
            author = raw.get("author") or {}
            created = parse_jira_time(raw["created"])
            return Comment(
                id=str(raw["id"]),
                issue_ref=self._issue_ref(issue_id),
                connection_id=self.connection_id,
                author=str(author["accountId"]) if author.get("accountId") else None,
                body=adf_to_markdown(raw.get("body")),
                created_at=created,
                updated_at=parse_jira_time(raw["updated"]) if raw.get("updated") else created,
            ).with_hash()

        return self.normalize("comment", build)

    def normalize_worklog(self, raw: Mapping[str, Any]) -> Worklog:
        def build() -> Worklog:
            author = raw.get("author") or {}
            started = parse_jira_time(raw["started"])
            created = parse_jira_time(raw["created"]) if raw.get("created") else started
            return Worklog(
                id=str(raw["id"]),
                issue_ref=self._issue_ref(raw["issueId"]),
                connection_id=self.connection_id,
                author=str(author["accountId"]) if author.get("accountId") else None,
                time_spent_s=int(raw.get("timeSpentSeconds") or 0),
                started_at=started,
                comment=adf_to_markdown(raw.get("comment")),
                created_at=created,
                updated_at=parse_jira_time(raw["updated"]) if raw.get("updated") else created,
            ).with_hash()

        return self.normalize("worklog", build)

    def normalize_user(self, raw: Mapping[str, Any]) -> User:
        return self.normalize(
            "user",
            lambda: User(
                id=str(raw["accountId"]),
                connection_id=self.connection_id,
                display_name=raw.get("displayName"),
                email=raw.get("emailAddress") or None,
                active=bool(raw.get("active", True)),
            ),
        )

    def normalize_sprint(self, raw: Mapping[str, Any]) -> Sprint:
        def when(name: str) -> datetime | None:
            return parse_jira_time(raw[name]) if raw.get(name) else None

        return self.normalize(
            "sprint",
            lambda: Sprint(
                id=str(raw["id"]),
                connection_id=self.connection_id,
                name=str(raw.get("name") or ""),
                state=str(raw["state"]).lower(),
                board_id=str(raw["originBoardId"]) if raw.get("originBoardId") is not None else None,
                goal=raw.get("goal") or None,
                start_at=when("startDate"),
                end_at=when("endDate"),
                complete_at=when("completeDate"),
            ),
        )

    # ---- embedded comments ---------------------------------------------------------------------------------
    # The cache the issue listings fill and ``list_issue_comments`` reads: the one a run installed
    # (``keeping_embedded_comments``), else the adapter's own, made on first use (one-shot callers: the API,
    # the verifier).
    embedded_comments: EmbeddedComments | None = None

    @contextmanager
    def keeping_embedded_comments(self) -> Iterator[EmbeddedComments]:
        """A cache of embedded comments for the caller's run (a sync slice): installed while the ``with``
        block runs, dropped after, so nothing one run listed answers another."""
        previous, self.embedded_comments = self.embedded_comments, EmbeddedComments()
        try:
            yield self.embedded_comments
        finally:
            self.embedded_comments = previous

    def _remember_comments(self, raw: Mapping[str, Any]) -> None:
        if self.embedded_comments is None:
            self.embedded_comments = EmbeddedComments()
        self.embedded_comments.remember(raw)

    def _forget_comments(self, key: str) -> None:
        if self.embedded_comments is not None:
            self.embedded_comments.forget(key)

    # ---- connection test -----------------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        return (
            ("auth", self._check_auth),
            ("scope", self._check_scope),
            ("permissions", self._check_permissions),
        )

    def _check_auth(self) -> ConnectionCheck:
        me = self.expect_dict(self.get_json("rest/api/3/myself"), "myself")
        who = me.get("displayName") or me.get("emailAddress") or me.get("accountId") or "unknown"
        self._identity = str(who)
        return ConnectionCheck("auth", True, f"authenticated as {who}")

    def _check_scope(self) -> ConnectionCheck:
        if self.project_key:
            project = self.expect_dict(self.get_json(f"rest/api/3/project/{self.project_key}"), "project")
            return ConnectionCheck(
                "scope", True, f"project {project.get('key')} ({project.get('name')}) is visible"
            )
        jql = Jql(self.scope_condition())
        body = self._search_page(jql, fields=("id",), max_results=1)
        found = "at least one issue" if body.get("issues") else "no issues yet"
        return ConnectionCheck("scope", True, f"the connection's JQL is valid ({found})")

    _NEEDED_PERMISSIONS: ClassVar[tuple[str, ...]] = (
        "BROWSE_PROJECTS",
        "CREATE_ISSUES",
        "EDIT_ISSUES",
        "ADD_COMMENTS",
        "TRANSITION_ISSUES",
    )

    def _check_permissions(self) -> ConnectionCheck:
        params: dict[str, Any] = {"permissions": ",".join(self._NEEDED_PERMISSIONS)}
        if self.project_key:
            params["projectKey"] = self.project_key
        body = self.expect_dict(self.get_json("rest/api/3/mypermissions", params=params), "mypermissions")
        granted = body.get("permissions") or {}
        missing = [p for p in self._NEEDED_PERMISSIONS if not (granted.get(p) or {}).get("havePermission")]
        if missing:
            return ConnectionCheck(
                "permissions",
                False,
                f"missing Jira permissions: {', '.join(missing)}",
                "Grant these permissions to the connection's account (Project settings > Permissions).",
                ErrorCode.PERMISSION_DENIED,
            )
        return ConnectionCheck(
            "permissions", True, "browse, create, edit, comment and transition are granted"
        )

    # ---- search --------------------------------------------------------------------------------------------
    def _search_request(self, jql: Jql, *, fields: Sequence[str], max_results: int) -> PageRequest:
        body = {"jql": jql.render(), "fields": list(fields), "maxResults": max_results}
        return PageRequest(url=SEARCH_PATH, method="POST", json=body)

    def _search_page(self, jql: Jql, *, fields: Sequence[str], max_results: int) -> dict[str, Any]:
        request = self._search_request(jql, fields=fields, max_results=max_results)
        return self.expect_dict(
            self.send_json("POST", request.url, json=request.json, idempotent=True), "search results"
        )

    def _issues_of(self, body: Any) -> list[Issue]:
        raw_issues = self.expect_list(self.expect_dict(body, "search results").get("issues", []), "issues")
        issues = []
        for raw in raw_issues:
            issues.append(self.normalize_issue(raw))
            self._remember_comments(raw)
        return issues

    def iter_jql_pages(
        self, jql: Jql, *, cursor: PageCursor | None = None, fields: Sequence[str] = ISSUE_FIELDS
    ) -> Iterator[IssuePage]:
        """Issues matching ``jql``, page by page (``nextPageToken`` until ``isLast``)."""
        request = self._search_request(jql, fields=fields, max_results=self.page_size)
        for page in self.iter_pages(request, cursor=cursor):
            issues = self._issues_of(page.body)
            yield Page(items=tuple(issues), raw_count=len(issues), next_cursor=page.next_cursor)

    # Tracked users (issue 19), set by the sync's adapter factory from the connection
    # (trackbridge.runtime.sync.tracked_users): syncs then read only issues involving them; a backfill's
    # full pass reads only the users it was started for.
    tracked_users: tuple[str, ...] = ()
    backfill_users: tuple[str, ...] = ()

    def track_users(self, users: Sequence[str], *, backfill: Sequence[str] = ()) -> None:
        self.tracked_users, self.backfill_users = tuple(users), tuple(backfill)

    def sync_query(
        self,
        *,
        since: datetime | None = None,
        include_closed: bool = True,
        users: Sequence[str] | None = None,
    ) -> Jql:
        """The JQL a sync runs: the scope (narrowed to ``users``, by default the tracked users, when there
        are any), bounded, in an order that paging cannot reshuffle."""
        scope = self.scope_condition()
        people = self.tracked_users if users is None else users
        if people:
            scope = scope & involving(people)
        jql = updated_since(scope, since) if since is not None else full_sync(scope)
        if not include_closed:
            jql = jql.and_(field("statusCategory").ne("Done"))
        return jql

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        # A backfill's full pass reads the new users' issues alone; its catch-up pass reads everyone's.
        users = self.backfill_users if since is None and self.backfill_users else None
        query = self.sync_query(since=since, include_closed=include_closed, users=users)
        return self.iter_jql_pages(query, cursor=cursor)

    # Jira Cloud returns up to 5,000 issues per search page when only id or key is asked for (100 otherwise).
    id_page_size: ClassVar[int] = 5_000

    def iter_issue_id_pages(
        self, *, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[Page[str]]:
        """The ids of the sync's issues (its JQL, ``ORDER BY key``), ``id_page_size`` a page: the deletion
        check's listing, 50 times as many per request as the full one."""
        jql = self.sync_query(include_closed=include_closed)
        request = self._search_request(jql, fields=("id",), max_results=self.id_page_size)
        for page in self.iter_pages(request, cursor=cursor):
            found = self.expect_dict(page.body, "search results").get("issues", [])
            raw_issues = self.expect_list(found, "issues")
            ids = self.normalize("issue id", partial(_search_result_ids, raw_issues))
            yield Page(items=ids, raw_count=len(ids), next_cursor=page.next_cursor)

    def search_jql(self, jql: Jql, *, limit: int = 50) -> list[Issue]:
        """Issues matching a built query, at most ``limit`` (several pages if needed)."""
        if limit < 1:
            return []
        request = self._search_request(jql, fields=ISSUE_FIELDS, max_results=min(limit, self.page_size))
        return self.collect_until(request, limit, self._issues_of)

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        """A user's JQL, ANDed with the connection's scope (its ORDER BY is kept). Jira's 400 for bad
        JQL is answered as a 400 with Jira's own message."""
        condition, order = RawJql(query).split_order_by()
        scope = self.scope_condition()
        jql = Jql(scope).and_(condition) if condition is not None else Jql(scope)
        if order:
            # The user's ordering is passed through as written: Jira validates it.
            jql = Jql(RawJql(f"{jql.render()} ORDER BY {order}"))
        try:
            return self.search_jql(jql, limit=limit)
        except InvalidRequestError as exc:
            if exc.status != 400:
                raise
            raise InvalidInput(
                f"Jira rejected the JQL: {exc.message}",
                code="INVALID_JQL",
                details={"jql": jql.render(), "field_errors": [f.to_dict() for f in exc.field_errors]},
            ) from exc

    # ---- issues --------------------------------------------------------------------------------------------
    def get_raw_issue(self, key: str) -> dict[str, Any]:
        key = self.check_key(key)
        raw = self.expect_dict(
            self.get_json(f"rest/api/3/issue/{key}", params={"fields": ",".join(ISSUE_FIELDS)}), "issue"
        )
        self._remember_comments(raw)
        return raw

    def get_issue(self, key: str) -> Issue:
        return self.normalize_issue(self.get_raw_issue(key))

    def _issue_id(self, key: str, *, hint: str | None = None) -> str:
        """The numeric issue id for ``key``: from a ``self`` URL when one is at hand, else one GET."""
        if hint:
            match = _ISSUE_ID_IN_URL.search(hint)
            if match:
                return match.group(1)
        if _NUMERIC_RE.match(key):
            return key
        return str(
            self.expect_dict(self.get_json(f"rest/api/3/issue/{key}", params={"fields": "id"}), "issue")["id"]
        )

    def create_issue(self, draft: IssueDraft) -> Issue:
        project = self.project_key or draft.fields.get("project")
        if not project:
            raise ValidationFailed(
                "creating a Jira issue needs a project: this connection is scoped by JQL",
                details={"fields.project": 'pass fields: {"project": {"key": "ABC"}}'},
            )
        fields: dict[str, Any] = {
            "project": project if isinstance(project, Mapping) else {"key": str(project)},
            "summary": draft.title,
            "issuetype": {"name": draft.issue_type or str(self.config.options.get("issue_type") or "Task")},
        }
        if draft.body.strip():
            fields["description"] = markdown_to_adf(draft.body)
        if draft.labels:
            fields["labels"] = list(draft.labels)
        if draft.assignees:
            fields["assignee"] = self._assignee(draft.assignees)
        if draft.priority:
            fields["priority"] = {"name": draft.priority}
        fields.update({k: v for k, v in draft.fields.items() if k != "project"})
        created = self.expect_dict(
            self.send_json("POST", "rest/api/3/issue", json={"fields": fields}), "created issue"
        )
        try:
            return self.get_issue(str(created["id"]))
        except TrackerError as exc:
            # The issue exists now. A refusal of the read-back (a 429, a 404 from a lagging replica) must not
            # read as "nothing was created": a caller that retries a refused create would open a second one.
            raise TransientError(
                f"Jira created {created.get('key') or created['id']} but reading it back failed ({exc.code})",
                code=ErrorCode.PROVIDER_UNAVAILABLE,
                provider="jira",
                status=exc.status,
                retry_after_s=exc.retry_after_s,
                reset_at=exc.reset_at,
            ) from exc

    @staticmethod
    def _assignee(assignees: Sequence[str]) -> dict[str, str] | None:
        if not assignees:
            return None
        if len(assignees) > 1:
            raise ValidationFailed(
                "a Jira issue has one assignee", details={"assignees": "give one account id"}
            )
        return {"accountId": assignees[0]}

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        key = self.check_key(key)
        if changes.empty:
            return self.get_issue(key)
        if changes.labels is not None and (changes.add_labels or changes.remove_labels):
            raise ValidationFailed(
                "set labels, or add/remove them, not both", details={"labels": "conflicts with add/remove"}
            )
        fields: dict[str, Any] = {}
        update: dict[str, Any] = {}
        if changes.title is not None:
            fields["summary"] = changes.title
        if changes.body is not None:
            fields["description"] = markdown_to_adf(changes.body) if changes.body.strip() else None
        if changes.labels is not None:
            fields["labels"] = list(changes.labels)
        if changes.add_labels or changes.remove_labels:
            update["labels"] = [{"add": label} for label in changes.add_labels] + [
                {"remove": label} for label in changes.remove_labels
            ]
        if changes.assignees is not None:
            fields["assignee"] = self._assignee(changes.assignees)
        if changes.priority is not None:
            fields["priority"] = {"name": changes.priority}
        fields.update(changes.fields)
        payload: dict[str, Any] = {}
        if fields:
            payload["fields"] = fields
        if update:
            payload["update"] = update
        self.request("PUT", f"rest/api/3/issue/{key}", json=payload)  # 204 No Content
        return self.get_issue(key)

    # ---- create screens ------------------------------------------------------------------------------------
    # Create screens of this adapter's project, by issue type (lower-cased name and id): an adapter lives a
    # pooled lease (minutes), so saving a rule and testing it cost the createmeta requests once.
    _create_screens: dict[tuple[str, str], CreateScreen | None] | None = None

    def create_screen(self, issue_type: str | None = None) -> CreateScreen | None:
        """The create screen of ``issue_type`` (a name or id; none: the type ``create_issue`` would use) in
        the connection's project, from the paginated createmeta endpoints (the expand-based ``createmeta``
        is deprecated); None when the project offers no such issue type."""
        project = self.project_key
        if not project:
            raise ValidationFailed(
                "a JQL-scoped Jira connection has no project whose create screen could be read",
                details={"scope.project": "scope the connection to a project"},
            )
        wanted = (issue_type or str(self.config.options.get("issue_type") or "Task")).strip()
        if self._create_screens is None:
            self._create_screens = {}
        cache = self._create_screens
        key = (project, wanted.lower())
        if key not in cache:
            cache[key] = self._read_create_screen(project, wanted)
        return cache[key]

    def _read_create_screen(self, project: str, wanted: str) -> CreateScreen | None:
        types = OffsetPaginator(items_field="issueTypes", last_field=None)
        request = PageRequest(
            url=f"rest/api/3/issue/createmeta/{project}/issuetypes", params={"startAt": 0, "maxResults": 200}
        )
        chosen: Mapping[str, Any] | None = None
        for page in self.iter_pages(request, paginator=types):
            for raw in self.expect_list(self.expect_dict(page.body, "createmeta").get("issueTypes"), "types"):
                if isinstance(raw, Mapping) and wanted.lower() in (
                    str(raw.get("id")),
                    str(raw.get("name") or "").lower(),
                ):
                    chosen = raw
                    break
            if chosen is not None:
                break
        if chosen is None or not _NUMERIC_RE.match(str(chosen.get("id"))):
            return None
        type_id = str(chosen["id"])
        request = PageRequest(
            url=f"rest/api/3/issue/createmeta/{project}/issuetypes/{type_id}",
            params={"startAt": 0, "maxResults": 200},
        )
        fields: dict[str, ScreenField] = {}
        paginator = OffsetPaginator(items_field="fields", last_field=None)
        for page in self.iter_pages(request, paginator=paginator):
            for raw in self.expect_list(self.expect_dict(page.body, "createmeta").get("fields"), "fields"):
                if isinstance(raw, Mapping) and raw.get("fieldId"):
                    field_id = str(raw["fieldId"])
                    fields[field_id] = ScreenField(
                        id=field_id,
                        name=str(raw.get("name") or field_id),
                        required=bool(raw.get("required")),
                        has_default=bool(raw.get("hasDefaultValue")),
                        allowed=_allowed_names(raw.get("allowedValues")),
                    )
        return CreateScreen(project, type_id, str(chosen.get("name") or type_id), fields)

    def assignable(self, account_id: str) -> bool:
        """Whether ``account_id`` may be assigned issues of the project (``/user/assignable/search``)."""
        if not self.project_key:
            return True  # a JQL scope names no project to ask about: Jira decides at creation
        found = self.get_json(
            "rest/api/3/user/assignable/search",
            params={"project": self.project_key, "accountId": account_id, "maxResults": 1},
        )
        return any(
            isinstance(u, Mapping) and u.get("accountId") == account_id
            for u in self.expect_list(found, "users")
        )

    # ---- transitions ---------------------------------------------------------------------------------------
    def _raw_transitions(self, key: str) -> list[Mapping[str, Any]]:
        body = self.expect_dict(self.get_json(f"rest/api/3/issue/{key}/transitions"), "transitions")
        return [
            t for t in self.expect_list(body.get("transitions", []), "transitions") if isinstance(t, Mapping)
        ]

    def list_transitions(self, key: str) -> list[Transition]:
        key = self.check_key(key)
        return [self._transition(raw) for raw in self._raw_transitions(key)]

    def _transition(self, raw: Mapping[str, Any]) -> Transition:
        def build() -> Transition:
            target = raw.get("to") or {}
            return Transition(
                id=str(raw["id"]),
                name=str(raw.get("name") or ""),
                to_status=str(target.get("name") or ""),
                to_category=self.status_category(target),
            )

        return self.normalize("transition", build)

    def transition_issue(self, key: str, target: str) -> Issue:
        """``target``: a status category (``todo``, ``in_progress``, ``done``), a transition id, a
        transition name or a target status name, tried in that order. Already there: nothing is sent."""
        key = self.check_key(key)
        wanted = target.strip()
        if wanted in ("todo", "in_progress", "done"):
            # A category is a goal, not a move: an issue already there stays put (repeated auto-resolves
            # must not wander between "Done" and "Closed").
            current = self.get_issue(key)
            if current.status_category == wanted:
                return current
        transitions = [t for t in (self._transition(raw) for raw in self._raw_transitions(key)) if t.id]
        chosen: Transition | None = None
        if wanted in ("todo", "in_progress", "done"):
            chosen = next((t for t in transitions if t.to_category == wanted), None)
        else:
            lowered = wanted.lower()
            chosen = (
                next((t for t in transitions if t.id == wanted), None)
                or next((t for t in transitions if t.name.lower() == lowered), None)
                or next((t for t in transitions if t.to_status.lower() == lowered), None)
            )
        if chosen is None:
            issue = self.get_issue(key)
            if issue.status.lower() == wanted.lower():
                return issue  # already in that status: no transition is needed (and none may exist)
            raise ValidationFailed(
                f"no transition from {issue.status!r} leads to {wanted!r}",
                details={
                    "target": wanted,
                    "accepted": ["todo", "in_progress", "done"]
                    + [f"{t.id}: {t.name} -> {t.to_status}" for t in transitions],
                },
                guidance="Use a status category, or a transition the issue offers now (ids, names or target "
                "statuses listed in details.accepted).",
            )
        self.request("POST", f"rest/api/3/issue/{key}/transitions", json={"transition": {"id": chosen.id}})
        return self.get_issue(key)

    # ---- comments ------------------------------------------------------------------------------------------
    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        """Every comment of an issue, oldest first: from the last search or GET when it embedded them all,
        else from ``/issue/{key}/comment`` (one request per 100 comments)."""
        key = self.check_key(key)
        embedded = self.embedded_comments.get(key) if self.embedded_comments is not None else None
        if embedded is not None:
            issue_id, raw_comments = embedded
        else:
            request = PageRequest(
                url=f"rest/api/3/issue/{key}/comment",
                params={"startAt": 0, "maxResults": self.comment_page_size, "orderBy": "created"},
            )
            raw_comments = []
            for page in self.iter_pages(request, paginator=OffsetPaginator(items_field="comments")):
                raw_comments.extend(
                    self.expect_list(self.expect_dict(page.body, "comments").get("comments"), "comments")
                )
            first_self = next((str(c.get("self")) for c in raw_comments if isinstance(c, Mapping)), None)
            issue_id = self._issue_id(key, hint=first_self) if raw_comments else ""
        comments = [self.normalize_comment(raw, issue_id) for raw in raw_comments if isinstance(raw, Mapping)]
        if since is not None:
            comments = [c for c in comments if c.updated_at >= since]
        return sorted(comments, key=lambda c: (c.created_at, c.id))

    def get_comment(self, key: str, comment_id: str) -> Comment:
        key = self.check_key(key)
        raw = self.expect_dict(self.get_json(f"rest/api/3/issue/{key}/comment/{int(comment_id)}"), "comment")
        return self.normalize_comment(raw, self._issue_id(key, hint=str(raw.get("self") or "")))

    def add_comment(self, key: str, body: str) -> Comment:
        key = self.check_key(key)
        if not body.strip():
            raise ValidationFailed("a comment needs a body", details={"body": "must not be empty"})
        raw = self.expect_dict(
            self.send_json("POST", f"rest/api/3/issue/{key}/comment", json={"body": markdown_to_adf(body)}),
            "comment",
        )
        self._forget_comments(key)
        return self.normalize_comment(raw, self._issue_id(key, hint=str(raw.get("self") or "")))

    # ---- attachments ---------------------------------------------------------------------------------------
    def attach_file(self, key: str, filename: str, content: bytes, content_type: str) -> Attachment:
        key = self.check_key(key)
        if not filename or "/" in filename or "\\" in filename:
            raise ValidationFailed(
                "an attachment needs a plain file name", details={"filename": filename[:100]}
            )
        response = self.request(
            "POST",
            f"rest/api/3/issue/{key}/attachments",
            files={"file": (filename, content, content_type or "application/octet-stream")},
            # Without it Jira's XSRF check refuses every multipart request.
            headers={"X-Atlassian-Token": "no-check"},
        )
        items = self.expect_list(self.decode(response), "attachments")
        if not items:
            raise make_error(ErrorCode.MALFORMED_RESPONSE, "Jira stored no attachment", provider=self.name)
        first = self.expect_dict(items[0], "attachment")
        return self.normalize(
            "attachment",
            lambda: Attachment(
                id=str(first["id"]),
                filename=str(first.get("filename") or filename),
                url=first.get("content"),
                size=int(first["size"]) if first.get("size") is not None else None,
                content_type=first.get("mimeType"),
            ),
        )

    # ---- worklogs ------------------------------------------------------------------------------------------
    def list_worklogs(self, key: str) -> list[Worklog]:
        key = self.check_key(key)
        request = PageRequest(
            url=f"rest/api/3/issue/{key}/worklog", params={"startAt": 0, "maxResults": self.worklog_page_size}
        )
        worklogs: list[Worklog] = []
        for page in self.iter_pages(request, paginator=OffsetPaginator(items_field="worklogs")):
            raw = self.expect_list(self.expect_dict(page.body, "worklogs").get("worklogs"), "worklogs")
            worklogs.extend(self.normalize_worklog(item) for item in raw if isinstance(item, Mapping))
        return worklogs

    def get_worklog(self, key: str, worklog_id: str) -> Worklog:
        """One worklog by id (a sync confirms a worklog missing from its issue's list: 404 means deleted)."""
        key = self.check_key(key)
        if not _NUMERIC_RE.match(str(worklog_id)):
            raise InvalidInput("not a Jira worklog id", details={"worklog_id": str(worklog_id)[:40]})
        raw = self.expect_dict(self.get_json(f"rest/api/3/issue/{key}/worklog/{worklog_id}"), "worklog")
        return self.normalize_worklog(raw)

    def iter_worklog_lists(
        self, *, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[Page[IssueWorklogs]]:
        """Every issue of the sync's scope (its full-sync JQL, ``ORDER BY key``) with its complete worklog
        list, a search page at a time: the worklogs the search embedded (``fields=worklog``) when they are
        all of them, ``/issue/{id}/worklog`` only for an issue whose ``total`` says they were cut short."""
        jql = self.sync_query(include_closed=include_closed)
        request = self._search_request(jql, fields=WORKLOG_SEARCH_FIELDS, max_results=self.page_size)
        for page in self.iter_pages(request, cursor=cursor):
            found = self.expect_dict(page.body, "search results").get("issues", [])
            raw_issues = self.expect_list(found, "issues")
            lists = tuple(self._issue_worklogs(raw) for raw in raw_issues if isinstance(raw, Mapping))
            yield Page(items=lists, raw_count=len(raw_issues), next_cursor=page.next_cursor)

    def _issue_worklogs(self, raw: Mapping[str, Any]) -> IssueWorklogs:
        issue_id, key = str(raw.get("id") or ""), str(raw.get("key") or "")
        if not _NUMERIC_RE.match(issue_id):
            raise make_error(
                ErrorCode.MALFORMED_RESPONSE, "a search result without an id", provider=self.name
            )
        fields = raw.get("fields")
        block = fields.get("worklog") if isinstance(fields, Mapping) else None
        embedded = block.get("worklogs") if isinstance(block, Mapping) else None
        total = block.get("total") if isinstance(block, Mapping) else None
        if isinstance(embedded, list) and (not isinstance(total, int) or total <= len(embedded)):
            worklogs = tuple(
                self.normalize_worklog({"issueId": issue_id, **item})
                for item in embedded
                if isinstance(item, Mapping)
            )
        else:
            worklogs = tuple(self.list_worklogs(issue_id))
        return IssueWorklogs(issue_id=issue_id, key=key, worklogs=worklogs)

    def iter_updated_worklogs(
        self, since: datetime, *, issue_ids: Collection[str] | None = None
    ) -> Iterator[WorklogPage]:
        """The site's worklogs changed since ``since`` (``/worklog/updated``, then ``/worklog/list`` for
        their content), kept to ``issue_ids`` when given: the feed covers every project of the site.

        Jira leaves out the minute before the call, and ``until`` of the last page is where the next run
        starts, so nothing is skipped between runs.
        """
        for ids, until, last in self._worklog_feed("rest/api/3/worklog/updated", since):
            worklogs: list[Worklog] = []
            for start in range(0, len(ids), WORKLOG_LIST_MAX_IDS):
                chunk = [int(i) for i in ids[start : start + WORKLOG_LIST_MAX_IDS]]
                listed = self.expect_list(
                    self.send_json("POST", "rest/api/3/worklog/list", json={"ids": chunk}, idempotent=True),
                    "worklog/list",
                )
                for raw in listed:
                    if not isinstance(raw, Mapping):
                        continue
                    if issue_ids is not None and str(raw.get("issueId")) not in issue_ids:
                        continue
                    worklogs.append(self.normalize_worklog(raw))
            yield WorklogPage(worklogs=tuple(worklogs), until=until, last=last)

    def iter_deleted_worklogs(self, since: datetime) -> Iterator[DeletedWorklogPage]:
        """Ids of the site's worklogs deleted since ``since`` (``/worklog/deleted``), a page of up to 1,000 a
        call. The feed names no issue: the caller keeps the ids it has stored."""
        for ids, until, last in self._worklog_feed("rest/api/3/worklog/deleted", since):
            yield DeletedWorklogPage(ids=ids, until=until, last=last)

    def _worklog_feed(self, path: str, since: datetime) -> Iterator[tuple[tuple[str, ...], datetime, bool]]:
        """(worklog ids, until, last page) of one of Jira's worklog feeds, from ``since`` on; the next call
        starts at the previous page's ``until`` (an ``until`` that did not move ends the feed)."""
        cursor = _millis(since)
        for _ in range(self.max_pages):
            body = self.expect_dict(self.get_json(path, params={"since": cursor}), path)
            values = self.expect_list(body.get("values", []), f"{path} values")
            ids = tuple(
                str(int(v["worklogId"]))
                for v in values
                if isinstance(v, Mapping) and v.get("worklogId") is not None
            )
            until = body.get("until")
            until_ms = int(until) if isinstance(until, int) and until >= cursor else cursor
            last = bool(body.get("lastPage", True)) or until_ms == cursor
            yield ids, datetime.fromtimestamp(until_ms / 1000, tz=UTC), last
            if last:
                return
            cursor = until_ms
        raise make_error(ErrorCode.MALFORMED_RESPONSE, "the worklog feed did not end", provider=self.name)

    # ---- changelogs ----------------------------------------------------------------------------------------
    def bulkfetch_transitions(self, issue_ids: Sequence[str]) -> list[HistoryTransition]:
        """The complete status and assignee history of ``issue_ids``, oldest first.

        ``POST /changelog/bulkfetch`` takes up to 1,000 issues a call and pages by ``nextPageToken``; asking
        for the two fields only (``fieldIds``) and the largest page keeps it at one call per 1,000 issues for
        all but the busiest issues. The search's own ``expand=changelog`` stops at 40 entries, so it is never
        the source of a complete history.
        """
        transitions: list[HistoryTransition] = []
        ids = list(dict.fromkeys(str(i) for i in issue_ids))
        for start in range(0, len(ids), CHANGELOG_BULK_MAX_ISSUES):
            request: dict[str, Any] = {
                "issueIdsOrKeys": ids[start : start + CHANGELOG_BULK_MAX_ISSUES],
                "fieldIds": list(TRANSITION_FIELDS),
                "maxResults": CHANGELOG_PAGE_SIZE,
            }
            for _ in range(self.max_pages):
                body = self.expect_dict(
                    self.send_json("POST", "rest/api/3/changelog/bulkfetch", json=request, idempotent=True),
                    "changelog/bulkfetch",
                )
                for group in self.expect_list(body.get("issueChangeLogs", []), "issueChangeLogs"):
                    if not isinstance(group, Mapping) or group.get("issueId") is None:
                        continue
                    for history in self.expect_list(group.get("changeHistories", []), "changeHistories"):
                        if isinstance(history, Mapping):
                            transitions.extend(self.normalize_transitions(group["issueId"], history))
                token = body.get("nextPageToken")
                if not isinstance(token, str) or not token:
                    break
                request["nextPageToken"] = token
            else:
                raise make_error(
                    ErrorCode.MALFORMED_RESPONSE, "the changelog pages did not end", provider=self.name
                )
        transitions.sort(key=lambda t: (t.at, t.issue_ref, t.id))
        return transitions

    def normalize_transitions(self, issue_id: Any, history: Mapping[str, Any]) -> list[HistoryTransition]:
        """The status and assignee items of one changelog entry of issue ``issue_id``."""

        def build() -> list[HistoryTransition]:
            author = history.get("author") or {}
            at = parse_jira_time(history["created"])
            found: list[HistoryTransition] = []
            for item in self.expect_list(history.get("items", []), "changelog items"):
                field = item.get("fieldId") or item.get("field") if isinstance(item, Mapping) else None
                if field not in TRANSITION_FIELDS:
                    continue
                found.append(
                    HistoryTransition(
                        id=f"{history['id']}:{field}",
                        issue_ref=self._issue_ref(issue_id),
                        connection_id=self.connection_id,
                        field=field,
                        from_value=_text_or_none(item.get("from")),
                        from_name=_text_or_none(item.get("fromString")),
                        to_value=_text_or_none(item.get("to")),
                        to_name=_text_or_none(item.get("toString")),
                        author=str(author["accountId"]) if author.get("accountId") else None,
                        at=at,
                    )
                )
            return found

        return self.normalize("changelog", build)

    # ---- sprints and users ---------------------------------------------------------------------------------
    def board_ids(self) -> list[str]:
        """Scrum boards of the project (only they have sprints), or ``options["board_ids"]``."""
        configured = self.config.options.get("board_ids") or self.config.options.get("board_id")
        if configured:
            values = configured if isinstance(configured, list | tuple) else [configured]
            return [str(v) for v in values if _NUMERIC_RE.match(str(v))]
        if not self.project_key:
            raise UnsupportedCapability(
                "sprints of a JQL-scoped Jira connection need options.board_ids",
                details={"provider": self.name, "capability": "sprints"},
            )
        request = PageRequest(
            url="rest/agile/1.0/board",
            params={
                "projectKeyOrId": self.project_key,
                "type": "scrum",
                "startAt": 0,
                "maxResults": self.agile_page_size,
            },
        )
        boards: list[str] = []
        for page in self.iter_pages(request, paginator=OffsetPaginator()):
            for board in self.expect_list(self.expect_dict(page.body, "boards").get("values", []), "boards"):
                if isinstance(board, Mapping) and board.get("id") is not None:
                    boards.append(str(board["id"]))
        return boards

    def list_sprints(self) -> list[Sprint]:
        sprints: dict[str, Sprint] = {}
        for board_id in self.board_ids():
            request = PageRequest(
                url=f"rest/agile/1.0/board/{board_id}/sprint",
                params={"startAt": 0, "maxResults": self.agile_page_size},
            )
            for page in self.iter_pages(request, paginator=OffsetPaginator()):
                for raw in self.expect_list(
                    self.expect_dict(page.body, "sprints").get("values", []), "sprints"
                ):
                    if isinstance(raw, Mapping):
                        sprint = self.normalize_sprint(raw)
                        sprints.setdefault(sprint.id, sprint)  # a sprint shows on every board that holds it
        return list(sprints.values())

    def get_sprint(self, sprint_id: str) -> Sprint:
        """One sprint by id (``/rest/agile/1.0/sprint/{id}``); ``NotFoundError`` once it is deleted: what the
        sprint sync asks before it tombstones a sprint its boards no longer list (DESIGN section 10)."""
        if not _NUMERIC_RE.match(str(sprint_id)):
            raise InvalidInput("a Jira sprint id is a number", details={"sprint_id": str(sprint_id)[:40]})
        return self.normalize_sprint(
            self.expect_dict(self.get_json(f"rest/agile/1.0/sprint/{sprint_id}"), "sprint")
        )

    def list_users(self) -> list[User]:
        """Assignable people of the project (all users of the site for a JQL scope); apps left out."""
        if self.project_key:
            url, params = "rest/api/3/user/assignable/search", {"project": self.project_key}
        else:
            url, params = "rest/api/3/users/search", {}
        request = PageRequest(url=url, params={**params, "startAt": 0, "maxResults": self.user_page_size})
        paginator = OffsetPaginator(items_field=None, last_field=None, total_field=None)
        users: list[User] = []
        for page in self.iter_pages(request, paginator=paginator):
            for raw in self.expect_list(page.body, "users"):
                if isinstance(raw, Mapping) and raw.get("accountType", "atlassian") == "atlassian":
                    users.append(self.normalize_user(raw))
        return users

    # ---- webhooks ------------------------------------------------------------------------------------------
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        """An admin webhook (``/rest/webhooks/1.0/webhook``): the kind Jira signs with ``X-Hub-Signature``.
        Needs a Jira administrator's credentials; its JQL filter is the connection's scope."""
        chosen = tuple(events or DEFAULT_WEBHOOK_EVENTS)
        body = {
            "name": f"trackbridge {self.connection_id}",
            "url": url,
            "events": list(chosen),
            "filters": {"issue-related-events-section": Jql(self.scope_condition()).render()},
            "excludeBody": False,
            "secret": secret,
        }
        created = self.expect_dict(self.send_json("POST", "rest/webhooks/1.0/webhook", json=body), "webhook")
        hook_id = created.get("id") or str(created.get("self") or "").rstrip("/").rsplit("/", 1)[-1]
        if not hook_id:
            raise make_error(ErrorCode.MALFORMED_RESPONSE, "Jira returned no webhook id", provider=self.name)
        return WebhookRegistration(
            id=str(hook_id),
            url=str(created.get("url") or url),
            events=chosen,
            active=bool(created.get("enabled", True)),
        )

    def unregister_webhook(self, hook_id: str) -> None:
        if not _NUMERIC_RE.match(str(hook_id)):
            raise InvalidInput("a Jira webhook id is a number", details={"hook_id": str(hook_id)[:40]})
        self.delete_if_present(f"rest/webhooks/1.0/webhook/{hook_id}")

    def admin_webhook(self, hook_id: str) -> dict[str, Any] | None:
        """An admin webhook as Jira describes it (``enabled``...), or None when it is gone."""
        if not _NUMERIC_RE.match(str(hook_id)):
            raise InvalidInput("a Jira webhook id is a number", details={"hook_id": str(hook_id)[:40]})
        try:
            return self.expect_dict(self.get_json(f"rest/webhooks/1.0/webhook/{hook_id}"), "webhook")
        except NotFoundError:
            return None

    # REST ("dynamic") webhooks, ``/rest/api/3/webhook``: the only kind an OAuth 2.0 or Connect app may
    # register (API-token callers get 403). They expire 30 days after registration or their last refresh,
    # and Jira signs their deliveries with a JWT of the app's client secret, not with an HMAC.
    def register_app_webhook(self, url: str, *, events: Sequence[str] | None = None) -> WebhookRegistration:
        chosen = tuple(e for e in (events or DEFAULT_WEBHOOK_EVENTS) if e in APP_WEBHOOK_EVENTS)
        body = {
            "url": url,
            "webhooks": [{"events": list(chosen), "jqlFilter": Jql(self.scope_condition()).render()}],
        }
        raw = self.expect_dict(self.send_json("POST", "rest/api/3/webhook", json=body), "registration")
        results = raw.get("webhookRegistrationResult")
        first = results[0] if isinstance(results, list) and results else {}
        if not isinstance(first, Mapping):
            first = {}
        hook_id = first.get("createdWebhookId")
        if hook_id is None:
            problems = first.get("errors") or ["Jira created no webhook"]
            raise make_error(
                ErrorCode.INVALID_REQUEST,
                "Jira refused the webhook: " + "; ".join(str(p) for p in problems)[:500],
                provider=self.name,
            )
        return WebhookRegistration(id=str(hook_id), url=url, events=chosen, active=True)

    def app_webhook_expiry(self, hook_id: str) -> datetime | None:
        """When the app's webhook ``hook_id`` expires (``GET /rest/api/3/webhook``); None when it is gone."""
        request = PageRequest(url="rest/api/3/webhook", params={"startAt": 0, "maxResults": 100})
        paginator = OffsetPaginator(items_field="values", last_field="isLast", total_field="total")
        for page in self.iter_pages(request, paginator=paginator):
            for raw in self.expect_dict(page.body, "webhooks").get("values") or []:
                if isinstance(raw, Mapping) and str(raw.get("id")) == str(hook_id):
                    expires = raw.get("expirationDate")
                    return epoch_millis(expires) if expires is not None else None
        return None

    def refresh_app_webhook(self, hook_id: str) -> datetime | None:
        """Extend the app's webhook by 30 days (``PUT /rest/api/3/webhook/refresh``): its new expiry."""
        body = {"webhookIds": [self._app_hook_id(hook_id)]}
        raw = self.expect_dict(self.send_json("PUT", "rest/api/3/webhook/refresh", json=body), "refresh")
        expires = raw.get("expirationDate")
        return epoch_millis(expires) if expires is not None else None

    def unregister_app_webhook(self, hook_id: str) -> None:
        body = {"webhookIds": [self._app_hook_id(hook_id)]}
        try:
            self.send_json("DELETE", "rest/api/3/webhook", json=body, idempotent=True)
        except NotFoundError:
            return

    def failed_app_webhooks(self, *, after: int | None = None, limit: int = 100) -> list[FailedWebhook]:
        """Deliveries of the app's webhooks Jira gave up on (``GET /rest/api/3/webhook/failed``), oldest
        first, after the failure time ``after`` (epoch ms) when given."""
        params: dict[str, Any] = {"maxResults": max(1, min(limit, 100))}
        if after is not None:
            params["after"] = after
        raw = self.expect_dict(self.get_json("rest/api/3/webhook/failed", params=params), "failed webhooks")
        failed = []
        for item in raw.get("values") or []:
            if isinstance(item, Mapping) and item.get("id") is not None and isinstance(item.get("body"), str):
                failed.append(
                    FailedWebhook(str(item["id"]), str(item["body"]), int(item.get("failureTime") or 0))
                )
        return failed

    @staticmethod
    def _app_hook_id(hook_id: str) -> int:
        if not _NUMERIC_RE.match(str(hook_id)):
            raise InvalidInput("a Jira webhook id is a number", details={"hook_id": str(hook_id)[:40]})
        return int(hook_id)

    webhook_delivery_headers = ("X-Atlassian-Webhook-Identifier",)

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """The body's ``webhookEvent`` names the event (Jira sends no event header).

        ``jira:issue_created|updated|deleted`` change an issue, ``comment_created|updated|deleted`` a
        comment; every other event (worklogs, properties, sprints, projects...) is ignored, and so is an
        issue of another project than a project-scoped connection's. A delete is timed by the delivery's
        ``timestamp``.

        Where this departs from what a sync reads: webhooks carry the REST v2 shape, where a description
        or a comment body is wiki markup, not the v3 ADF a sync turns into Markdown. Normalizing wiki
        markup would give the record another body (and hash) than the next sync gives it, so an issue or
        a comment is normalized only when its text is ADF or empty, and otherwise the change asks the
        caller to fetch the item. Comment events carry a partial issue (no dates), never normalized.
        """
        event = payload["webhookEvent"]
        if not isinstance(event, str):
            raise TypeError("webhookEvent is not a string")
        if event not in _ISSUE_EVENTS and event not in _COMMENT_EVENTS:
            return WebhookDelivery.ignored(self.name, delivery_id, event, f"{event} events are not synced")
        raw_issue = obj(payload, "issue")
        fields = obj(raw_issue, "fields") if raw_issue.get("fields") is not None else {}
        project = (fields.get("project") or {}).get("key")
        if self.project_key and isinstance(project, str) and project != self.project_key:
            return WebhookDelivery.ignored(
                self.name, delivery_id, event, f"about {project}, not {self.project_key}"
            )
        sent_at = epoch_millis(payload.get("timestamp"))
        issue_id, key = str(raw_issue["id"]), str(raw_issue["key"])
        deleted = event.endswith("_deleted")
        if event in _ISSUE_EVENTS:
            issue = None if deleted else self._webhook_issue(raw_issue)
            updated_at = (
                parse_jira_time(fields["updated"]) if fields.get("updated") and not deleted else sent_at
            )
            change = WebhookChange.of_issue(
                self._issue_ref(issue_id), key, updated_at, issue=issue, deleted=deleted
            )
        else:
            raw_comment = obj(payload, "comment")
            comment = None
            if not deleted and _rich_or_empty(raw_comment.get("body")):
                comment = self.normalize_comment(raw_comment, issue_id)
            updated = raw_comment.get("updated") or raw_comment.get("created")
            updated_at = sent_at if deleted or not updated else parse_jira_time(updated)
            change = WebhookChange.of_comment(
                self._issue_ref(issue_id),
                key,
                str(raw_comment["id"]),
                updated_at,
                comment=comment,
                deleted=deleted,
            )
        return WebhookDelivery.of_changes(self.name, delivery_id, event, change)

    def _webhook_issue(self, raw: Mapping[str, Any]) -> Issue | None:
        """The issue as a sync normalizes it, when the payload holds every field of the record."""
        fields = raw.get("fields")
        if not isinstance(fields, Mapping) or not _rich_or_empty(fields.get("description")):
            return None
        if any(name not in fields for name in _RECORD_FIELDS) or not fields.get("created"):
            return None
        return self.normalize_issue(raw)


__all__ = [
    "APP_WEBHOOK_EVENTS",
    "DEFAULT_WEBHOOK_EVENTS",
    "ISSUE_FIELDS",
    "JIRA_ERROR_RULES",
    "CreateScreen",
    "DeletedWorklogPage",
    "FailedWebhook",
    "IssueWorklogs",
    "JiraAdapter",
    "ScreenField",
    "WorklogPage",
    "parse_jira_time",
]
