"""Linear (GraphQL, ``POST https://api.linear.app/graphql``) behind the common adapter protocol.

Every operation is one GraphQL document below (module constants, checked against Linear's published SDL,
``linear/linear`` ``packages/sdk/src/schema.graphql``, by ``tests/unit/providers/test_linear.py``);
values travel as variables, never spliced into the query text. What makes Linear different
(shared/research/tracker-apis.md, section 5; linear.app/developers):

- **Auth**: a personal API key as ``Authorization: <key>``, with no ``Bearer`` prefix (OAuth tokens carry
  one; ``linear/linear`` ``packages/sdk/src/client.ts``).
- **Scope** is a team key (``ENG``); issues are named by their ``identifier`` (``ENG-12``), which
  ``issue(id:)`` accepts as well as the UUID; the UUID is the native id of refs and external ids.
- **Pagination** is Relay: ``first``/``after`` with ``pageInfo { hasNextPage endCursor }``
  (linear.app/developers/pagination), the cursor in the ``after`` variable (``RelayCursorPaginator``).
  Full listings order by ``createdAt`` (updates cannot reshuffle them), incremental ones filter
  ``updatedAt: {gte}`` and order by ``updatedAt``, as Linear advises for syncs (developers/rate-limiting,
  "Order data"). Comments have their own scope-wide listing (``comments(filter: {issue: {team}})``), so they
  are synced as an entity of their own, not per issue.
- **States** are the team's workflow states; their ``type`` (triage, backlog, unstarted, started,
  completed, canceled) is the category. A transition is ``issueUpdate(input: {stateId})``.
- **Labels** are set by id: names are looked up in the team (``issueLabels``) and created when missing.
- **Errors** are GraphQL ``errors[]`` with ``extensions.code``, on an HTTP 400 or even a 200 beside partial
  ``data``: every answer's ``errors`` is read. ``RATELIMITED`` (usually on a 400) is a rate limit,
  ``AUTHENTICATION_ERROR`` bad credentials, ``FORBIDDEN`` a permission, "Entity not found" a 404.
- **Rate limits** (developers/rate-limiting): two leaky buckets, requests and complexity points, each with
  ``X-RateLimit-{Requests,Complexity}-{Limit,Remaining,Reset}`` (reset in epoch ms; seconds accepted) and
  the query's own cost in ``X-Complexity``; the tighter bucket is the one reported.
- **Webhooks**: ``webhookCreate`` for the team's ``Issue`` and ``Comment`` resources, signed
  ``Linear-Signature`` (hex HMAC-SHA256 of the raw body) with ``webhookTimestamp`` within 60 s
  (:class:`~trackbridge.providers.signatures.LinearSignature`), deduplicated by ``Linear-Delivery``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import httpx

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, User
from trackbridge.domain.trackers import LINEAR, is_linear_team_key
from trackbridge.providers.auth import HeaderTokenScheme
from trackbridge.providers.base import CheckStep, TrackerAdapter
from trackbridge.providers.classify import ErrorContext, ErrorRule, classify_status, malformed
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageCursor, PageRequest, RelayCursorPaginator
from trackbridge.providers.ratelimit import RateLimitInfo, parse_epoch_reset, parse_retry_after
from trackbridge.providers.signatures import LinearSignature
from trackbridge.providers.types import (
    Capabilities,
    CommentPage,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Page,
    Transition,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import WebhookChange, WebhookDelivery, obj, parse_time

GRAPHQL_PATH: Final = "graphql"
# The resource types a trackbridge hook subscribes to (WebhookCreateInput.resourceTypes).
DEFAULT_WEBHOOK_EVENTS: Final[tuple[str, ...]] = ("Issue", "Comment")

# An issue as a record needs it. Labels: a connection multiplies its cost by ``first`` (Linear's complexity
# rule), so a page of issues asks for a few labels each and the rare issue with more is completed apart.
LABELS_PER_ISSUE: Final = 10
ISSUE_FIELDS: Final = f"""
fragment IssueFields on Issue {{
  id identifier number title description priority priorityLabel url createdAt updatedAt
  state {{ id name type }}
  assignee {{ id }}
  labels(first: {LABELS_PER_ISSUE}) {{ nodes {{ id name }} pageInfo {{ hasNextPage }} }}
}}"""
COMMENT_FIELDS: Final = """
fragment CommentFields on Comment {
  id body createdAt updatedAt
  user { id }
  issue { id identifier }
}"""
PAGE_INFO: Final = "pageInfo { hasNextPage endCursor }"

VIEWER_QUERY: Final = "query Viewer { viewer { id name email } }"
TEAM_QUERY: Final = """
query Team($key: String!) {
  teams(filter: {key: {eq: $key}}, first: 1) {
    nodes { id key name states(first: 100) { nodes { id name type position } } }
  }
}"""
ISSUES_QUERY: Final = f"""
query Issues($filter: IssueFilter!, $first: Int!, $after: String, $orderBy: PaginationOrderBy) {{
  issues(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {{
    nodes {{ ...IssueFields }}
    {PAGE_INFO}
  }}
}}{ISSUE_FIELDS}"""
ISSUE_QUERY: Final = f"""
query Issue($id: String!) {{
  issue(id: $id) {{ ...IssueFields }}
}}{ISSUE_FIELDS}"""
COMMENTS_QUERY: Final = f"""
query Comments($filter: CommentFilter!, $first: Int!, $after: String, $orderBy: PaginationOrderBy) {{
  comments(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {{
    nodes {{ ...CommentFields }}
    {PAGE_INFO}
  }}
}}{COMMENT_FIELDS}"""
ISSUE_COMMENTS_QUERY: Final = f"""
query IssueComments($id: String!, $first: Int!, $after: String) {{
  issue(id: $id) {{
    comments(first: $first, after: $after) {{
      nodes {{ ...CommentFields }}
      {PAGE_INFO}
    }}
  }}
}}{COMMENT_FIELDS}"""
COMMENT_QUERY: Final = f"""
query Comment($id: String!) {{
  comment(id: $id) {{ ...CommentFields }}
}}{COMMENT_FIELDS}"""
ISSUE_LABELS_QUERY: Final = """
query IssueLabels($id: String!) {
  issue(id: $id) { labels(first: 250) { nodes { id name } } }
}"""
# One page of a team's members: Linear's largest page (250) is more than a team has.
MEMBERS_QUERY: Final = """
query Members($key: String!) {
  teams(filter: {key: {eq: $key}}, first: 1) {
    nodes { members(first: 250) { nodes { id name displayName email active } } }
  }
}"""
LABELS_QUERY: Final = """
query Labels($names: [String!]!) {
  issueLabels(filter: {name: {in: $names}}, first: 250) { nodes { id name } }
}"""
ISSUE_CREATE: Final = f"""
mutation IssueCreate($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ ...IssueFields }} }}
}}{ISSUE_FIELDS}"""
ISSUE_UPDATE: Final = f"""
mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) {{
  issueUpdate(id: $id, input: $input) {{ success issue {{ ...IssueFields }} }}
}}{ISSUE_FIELDS}"""
COMMENT_CREATE: Final = f"""
mutation CommentCreate($input: CommentCreateInput!) {{
  commentCreate(input: $input) {{ success comment {{ ...CommentFields }} }}
}}{COMMENT_FIELDS}"""
LABEL_CREATE: Final = """
mutation IssueLabelCreate($input: IssueLabelCreateInput!) {
  issueLabelCreate(input: $input) { success issueLabel { id name } }
}"""
WEBHOOK_CREATE: Final = """
mutation WebhookCreate($input: WebhookCreateInput!) {
  webhookCreate(input: $input) { success webhook { id url enabled resourceTypes } }
}"""
WEBHOOK_DELETE: Final = """
mutation WebhookDelete($id: String!) {
  webhookDelete(id: $id) { success }
}"""
# Every document this adapter sends (the SDL check validates each).
DOCUMENTS: Final[Mapping[str, str]] = {
    "Viewer": VIEWER_QUERY,
    "Team": TEAM_QUERY,
    "Issues": ISSUES_QUERY,
    "Issue": ISSUE_QUERY,
    "Comments": COMMENTS_QUERY,
    "IssueComments": ISSUE_COMMENTS_QUERY,
    "Comment": COMMENT_QUERY,
    "IssueLabels": ISSUE_LABELS_QUERY,
    "Members": MEMBERS_QUERY,
    "Labels": LABELS_QUERY,
    "IssueCreate": ISSUE_CREATE,
    "IssueUpdate": ISSUE_UPDATE,
    "CommentCreate": COMMENT_CREATE,
    "IssueLabelCreate": LABEL_CREATE,
    "WebhookCreate": WEBHOOK_CREATE,
    "WebhookDelete": WEBHOOK_DELETE,
}

_DONE_TYPES: Final = ("completed", "canceled")
# The state type a category moves to, most usual first (Linear's "Todo" is unstarted, "Done" completed).
_TYPES_FOR_CATEGORY: Final[Mapping[str, tuple[str, ...]]] = {
    "todo": ("unstarted", "backlog", "triage"),
    "in_progress": ("started",),
    "done": ("completed", "canceled"),
}
_ISSUE_RECORD_KEYS: Final = frozenset(
    {
        "id",
        "identifier",
        "title",
        "state",
        "labels",
        "priority",
        "priorityLabel",
        "url",
        "createdAt",
        "updatedAt",
    }
)
_COMMENT_RECORD_KEYS: Final = frozenset({"id", "body", "createdAt", "updatedAt", "issueId"})


def graphql_codes(body: Any) -> set[str]:
    """The ``extensions.code`` of each GraphQL error in ``body`` (``RATELIMITED``, ``FORBIDDEN``...)."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    codes: set[str] = set()
    for error in errors if isinstance(errors, list) else ():
        extensions = error.get("extensions") if isinstance(error, Mapping) else None
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        if isinstance(code, str):
            codes.add(code.upper())
    return codes


def graphql_messages(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, Mapping) else None
    messages = [str(e.get("message")) for e in errors or () if isinstance(e, Mapping) and e.get("message")]
    return "; ".join(messages)


def _code_in(*codes: str) -> Any:
    wanted = frozenset(codes)

    def check(ctx: ErrorContext) -> bool:
        return bool(graphql_codes(ctx.body) & wanted)

    return check


# Matched on any HTTP status: Linear answers GraphQL errors on a 400, and some on a 200 beside partial data.
LINEAR_ERROR_RULES: Final[tuple[ErrorRule, ...]] = (
    ErrorRule(ErrorCode.RATE_LIMITED, when=_code_in("RATELIMITED")),
    ErrorRule(
        ErrorCode.AUTH_INVALID,
        when=_code_in("AUTHENTICATION_ERROR"),
        guidance="Create a personal API key in Linear (Settings > Security & access) and store it as the "
        "connection's token; it is sent without a Bearer prefix.",
    ),
    ErrorRule(ErrorCode.PERMISSION_DENIED, when=_code_in("FORBIDDEN")),
    ErrorRule(ErrorCode.NOT_FOUND, contains="entity not found"),
    ErrorRule(
        ErrorCode.INVALID_REQUEST,
        when=_code_in("INPUT_ERROR", "INVALID_INPUT", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"),
    ),
    ErrorRule(ErrorCode.PROVIDER_UNAVAILABLE, when=_code_in("INTERNAL_SERVER_ERROR")),
)


def _reset(value: str | None, now: datetime) -> datetime | None:
    """A reset header: epoch milliseconds on the wire (seconds accepted, told apart by size)."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return parse_epoch_reset(str(number / 1000 if number > 1e12 else number), now)


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


class LinearRateLimits:
    """Both leaky buckets (requests, complexity points); the one with the smaller share left is reported,
    as ``resource`` ``requests`` or ``complexity``, with ``used`` the last query's ``X-Complexity``."""

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        buckets = []
        for resource in ("requests", "complexity"):
            limit = _int(headers.get(f"x-ratelimit-{resource}-limit"))
            remaining = _int(headers.get(f"x-ratelimit-{resource}-remaining"))
            if remaining is not None:
                share = remaining / limit if limit else float(remaining > 0)
                reset = _reset(headers.get(f"x-ratelimit-{resource}-reset"), now)
                buckets.append((share, resource, limit, remaining, reset))
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        if not buckets:
            return RateLimitInfo(retry_after_s=retry_after)
        _, resource, limit, remaining, reset = min(buckets, key=lambda b: b[0])
        return RateLimitInfo(
            limit=limit,
            remaining=remaining,
            used=_int(headers.get("x-complexity")),
            reset_at=reset,
            retry_after_s=retry_after,
            resource=resource,
            near_limit=bool(limit) and remaining < (limit or 0) * 0.2,
        )


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """The connection's team: its id (mutations name it) and workflow states, in board order."""

    id: str
    key: str
    name: str
    states: tuple[Mapping[str, Any], ...]


class LinearAdapter(TrackerAdapter):
    tracker = LINEAR  # name, display name, scope keys, default base URL, incremental overlap and its reason
    capabilities = Capabilities(transitions=True, repo_wide_comments=True, webhook_registration=True)
    auth_scheme = HeaderTokenScheme(header="Authorization")
    page_size = 100
    paginator = RelayCursorPaginator(("data", "issues", "pageInfo"))
    rate_limits = LinearRateLimits()
    error_rules = LINEAR_ERROR_RULES
    signature_schemes = (LinearSignature(),)
    webhook_delivery_headers = ("Linear-Delivery",)
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}

    _comment_pages: ClassVar = RelayCursorPaginator(("data", "comments", "pageInfo"))
    _issue_comment_pages: ClassVar = RelayCursorPaginator(("data", "issue", "comments", "pageInfo"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The team is asked for once per adapter (ids and states do not change under a sync), under a lock.
        self._team: TeamInfo | None = None
        self._team_lock = threading.Lock()

    # ---- scope -----------------------------------------------------------------------------------
    @property
    def team_key(self) -> str:
        key = self.config.scope_value("team")
        if not is_linear_team_key(key):
            raise ValidationFailed("not a Linear team key", details={"scope.team": key[:20]})
        return key

    @property
    def locator(self) -> str:
        return self.tracker.locate(self.config.base_url.rstrip("/"), {"team": self.team_key})

    def team(self) -> TeamInfo:
        with self._team_lock:
            if self._team is None:
                data = self.graphql(TEAM_QUERY, {"key": self.team_key})
                nodes = self.expect_list(self.expect_dict(data.get("teams"), "teams").get("nodes"), "teams")
                if not nodes:
                    raise NotFoundError(
                        f"no Linear team with the key {self.team_key} is visible to this API key",
                        provider=self.name,
                        guidance="Check the connection's team key (Linear: Settings > Teams) and that the "
                        "key's user is a member of the team.",
                    )
                raw = nodes[0]
                states = sorted(raw["states"]["nodes"], key=lambda s: float(s.get("position") or 0))
                self._team = TeamInfo(str(raw["id"]), str(raw["key"]), str(raw["name"]), tuple(states))
            return self._team

    # ---- GraphQL ---------------------------------------------------------------------------------
    def _document(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        return {"query": query, "variables": dict(variables)}

    def data_of(self, body: Any, what: str) -> dict[str, Any]:
        """``data`` of a GraphQL answer; any ``errors`` (even on a 200 beside partial data) are raised."""
        answer = self.expect_dict(body, what)
        if answer.get("errors"):
            extension_status = next(
                (
                    e["extensions"]["statusCode"]
                    for e in answer["errors"]
                    if isinstance(e, Mapping)
                    and isinstance(e.get("extensions"), Mapping)
                    and isinstance(e["extensions"].get("statusCode"), int)
                ),
                400,
            )
            raise classify_status(
                provider=self.name,
                status=extension_status,
                body=answer,
                text=graphql_messages(answer),
                rate_limit=self.last_rate_limit or RateLimitInfo(),
                rules=self.error_rules,
                method="POST",
                now=self.now(),
            )
        return self.expect_dict(answer.get("data"), f"{what} data")

    def graphql(self, query: str, variables: Mapping[str, Any], *, mutation: bool = False) -> dict[str, Any]:
        """Send one document; a query is a read (retried like a GET), a mutation is not."""
        body = self.send_json(
            "POST", GRAPHQL_PATH, json=self._document(query, variables), idempotent=not mutation
        )
        return self.data_of(body, "GraphQL answer")

    def _pages(
        self, query: str, variables: Mapping[str, Any], pager: RelayCursorPaginator, cursor: PageCursor | None
    ) -> Iterator[tuple[list[Any], PageCursor | None]]:
        request = PageRequest(GRAPHQL_PATH, method="POST", json=self._document(query, variables))
        for page in self.iter_pages(request, cursor=cursor, paginator=pager):
            connection: Any = self.data_of(page.body, "GraphQL page")
            for step in pager.page_info_path[1:-1]:
                connection = self.expect_dict(connection, step).get(step)
            yield (
                self.expect_list(self.expect_dict(connection, "connection").get("nodes"), "nodes"),
                page.next_cursor,
            )

    # ---- normalization ---------------------------------------------------------------------------
    def _issue_ref(self, issue_id: Any) -> str:
        return issue_ref(self.connection_id, str(issue_id))

    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        """An issue from a GraphQL answer or a webhook's ``data`` (labels a list there, a connection here)."""

        def build() -> Issue:
            state = raw["state"]
            labels = raw["labels"]
            label_nodes = labels["nodes"] if isinstance(labels, Mapping) else labels
            assignee = raw.get("assignee") or {}
            return Issue(
                ref=self._issue_ref(raw["id"]),
                external_id=external_id(self.name, self.locator, raw["id"]),
                connection_id=self.connection_id,
                provider="linear",
                key=str(raw["identifier"]),
                title=str(raw["title"]),
                body=str(raw.get("description") or ""),
                status=str(state["name"]),
                status_category=self.tracker.status_category(str(state["type"])),
                assignees=[str(assignee["id"])] if assignee.get("id") else [],
                labels=sorted(str(label["name"]) for label in label_nodes),
                # Priority 0 is "No priority": no priority at all.
                priority=str(raw["priorityLabel"]) if raw.get("priority") else None,
                url=str(raw["url"]),
                created_at=parse_time(raw["createdAt"]),
                updated_at=parse_time(raw["updatedAt"]),
            ).with_hash()

        return self.normalize("issue", build)

    def normalize_comment(self, raw: Mapping[str, Any], issue_id: str | None = None) -> Comment:
        def build() -> Comment:
            user = raw.get("user") or {}
            parent = issue_id or (raw.get("issue") or {}).get("id") or raw["issueId"]
            return Comment(
                id=str(raw["id"]),
                issue_ref=self._issue_ref(parent),
                connection_id=self.connection_id,
                author=str(user["id"])
                if user.get("id")
                else (str(raw["userId"]) if raw.get("userId") else None),
                body=str(raw.get("body") or ""),
                created_at=parse_time(raw["createdAt"]),
                updated_at=parse_time(raw["updatedAt"]),
            ).with_hash()

        return self.normalize("comment", build)

    def _issue(self, raw: Mapping[str, Any]) -> Issue:
        """An issue from a GraphQL answer, its labels completed when the page cut them short."""
        labels = raw.get("labels")
        info = labels.get("pageInfo") if isinstance(labels, Mapping) else None
        if isinstance(info, Mapping) and info.get("hasNextPage"):
            found = self.graphql(ISSUE_LABELS_QUERY, {"id": str(raw["id"])})
            raw = {**raw, "labels": self.expect_dict(found.get("issue"), "issue")["labels"]}
        return self.normalize_issue(raw)

    # ---- connection test -------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        return (("auth", self._check_auth), ("scope", self._check_scope))

    def _check_auth(self) -> ConnectionCheck:
        viewer = self.expect_dict(self.graphql(VIEWER_QUERY, {}).get("viewer"), "viewer")
        who = viewer.get("name") or viewer.get("email") or viewer.get("id") or "unknown"
        self._identity = str(who)
        return ConnectionCheck("auth", True, f"authenticated as {who}")

    def _check_scope(self) -> ConnectionCheck:
        team = self.team()
        return ConnectionCheck("scope", True, f"team {team.key} ({team.name}) is visible")

    # ---- listings --------------------------------------------------------------------------------
    def issue_filter(self, *, since: datetime | None = None, include_closed: bool = True) -> dict[str, Any]:
        """The scope's ``IssueFilter``, bounded by ``since`` and to open states when asked."""
        condition: dict[str, Any] = {"team": {"key": {"eq": self.team_key}}}
        if since is not None:
            condition["updatedAt"] = {"gte": _iso_ms(since)}
        if not include_closed:
            condition["state"] = {"type": {"nin": list(_DONE_TYPES)}}
        return condition

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        variables = {
            "filter": self.issue_filter(since=since, include_closed=include_closed),
            "first": self.page_size,
            "orderBy": "updatedAt" if since is not None else "createdAt",
        }
        for nodes, next_cursor in self._pages(ISSUES_QUERY, variables, self.paginator, cursor):
            issues = tuple(self._issue(raw) for raw in nodes)
            yield Page(issues, len(nodes), next_cursor)

    def iter_comment_pages(
        self, *, since: datetime | None = None, cursor: PageCursor | None = None
    ) -> Iterator[CommentPage]:
        condition: dict[str, Any] = {"issue": {"team": {"key": {"eq": self.team_key}}}}
        if since is not None:
            condition["updatedAt"] = {"gte": _iso_ms(since)}
        variables = {
            "filter": condition,
            "first": self.page_size,
            "orderBy": "updatedAt" if since is not None else "createdAt",
        }
        for nodes, next_cursor in self._pages(COMMENTS_QUERY, variables, self._comment_pages, cursor):
            comments = tuple(self.normalize_comment(raw) for raw in nodes)
            yield Page(comments, len(nodes), next_cursor)

    def get_issue(self, key: str) -> Issue:
        return self._issue(self._raw_issue(key))

    def _raw_issue(self, key: str) -> Mapping[str, Any]:
        raw = self.expect_dict(self.graphql(ISSUE_QUERY, {"id": self.check_key(key)}).get("issue"), "issue")
        team_key = str(raw.get("identifier") or "").rpartition("-")[0]
        if team_key != self.team_key:
            # Another team's issue is not this connection's: as absent as one that does not exist.
            raise NotFoundError(f"{key} is not an issue of team {self.team_key}", provider=self.name)
        return raw

    def check_key(self, key: str) -> str:
        """``ENG-12`` (or a bare ``12``, read in the connection's team) as ``issue(id:)`` takes it."""
        text = str(key).strip().lstrip("#")
        if text.isdigit():
            text = f"{self.team_key}-{int(text)}"
        prefix, dash, number = text.rpartition("-")
        if not dash or not is_linear_team_key(prefix) or not number.isdigit() or len(number) > 12:
            raise ValidationFailed("not a Linear issue key such as ENG-12", details={"key": str(key)[:40]})
        return text

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        issue = self._raw_issue(key)
        variables = {"id": str(issue["id"]), "first": self.page_size}
        comments = [
            self.normalize_comment(raw, str(issue["id"]))
            for nodes, _ in self._pages(ISSUE_COMMENTS_QUERY, variables, self._issue_comment_pages, None)
            for raw in nodes
        ]
        if since is not None:
            comments = [c for c in comments if c.updated_at >= since]
        return sorted(comments, key=lambda c: (c.created_at, c.id))

    def get_comment(self, key: str, comment_id: str) -> Comment:
        raw = self.expect_dict(self.graphql(COMMENT_QUERY, {"id": str(comment_id)}).get("comment"), "comment")
        parent = raw.get("issue") or {}
        if str(parent.get("identifier")) != self.check_key(key) and str(parent.get("id")) != key:
            raise NotFoundError(f"comment {comment_id} is not on {key}", provider=self.name)
        return self.normalize_comment(raw)

    def list_users(self) -> list[User]:
        teams = self.expect_dict(self.graphql(MEMBERS_QUERY, {"key": self.team_key}).get("teams"), "teams")
        nodes = self.expect_list(teams.get("nodes"), "teams")
        members = nodes[0]["members"]["nodes"] if nodes else []
        return [
            User(
                id=str(raw["id"]),
                connection_id=self.connection_id,
                display_name=raw.get("displayName") or raw.get("name"),
                email=raw.get("email") or None,
                active=bool(raw.get("active", True)),
            )
            for raw in self.expect_list(members, "members")
        ]

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        """Issues of the team whose title, description or comments contain ``query``
        (``IssueFilter.searchableContent``), newest update first is not promised: Linear's order."""
        if limit < 1 or not query.strip():
            return []
        condition = {**self.issue_filter(), "searchableContent": {"contains": query.strip()[:200]}}
        variables = {"filter": condition, "first": min(limit, self.page_size), "orderBy": "updatedAt"}
        request = PageRequest(GRAPHQL_PATH, method="POST", json=self._document(ISSUES_QUERY, variables))

        def issues_of(body: Any) -> list[Issue]:
            nodes = self.expect_dict(self.data_of(body, "search").get("issues"), "issues").get("nodes")
            return [self._issue(raw) for raw in self.expect_list(nodes, "issues")]

        return self.collect_until(request, limit, issues_of)

    # ---- writes ----------------------------------------------------------------------------------
    def _label_ids(self, names: Sequence[str]) -> list[str]:
        """The ids of labels named ``names``; a name the team lacks is created (Linear sets labels by id)."""
        wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
        if not wanted:
            return []
        found = self.graphql(LABELS_QUERY, {"names": wanted}).get("issueLabels") or {}
        ids = {str(node["name"]): str(node["id"]) for node in found.get("nodes") or []}
        for name in wanted:
            if name not in ids:
                created = self.graphql(
                    LABEL_CREATE, {"input": {"name": name, "teamId": self.team().id}}, mutation=True
                )
                ids[name] = str(created["issueLabelCreate"]["issueLabel"]["id"])
        return [ids[name] for name in wanted]

    def _issue_of(self, data: Mapping[str, Any], field: str) -> Issue:
        payload = self.expect_dict(data.get(field), field)
        if not payload.get("success") or not isinstance(payload.get("issue"), Mapping):
            raise malformed(self.name, f"{field} did not succeed")
        return self._issue(payload["issue"])

    def create_issue(self, draft: IssueDraft) -> Issue:
        fields: dict[str, Any] = {"teamId": self.team().id, "title": draft.title}
        if draft.body.strip():
            fields["description"] = draft.body
        if draft.labels:
            fields["labelIds"] = self._label_ids(draft.labels)
        if draft.assignees:
            fields["assigneeId"] = draft.assignees[0]
        if draft.priority:
            fields["priority"] = _priority(draft.priority)
        fields.update({k: v for k, v in draft.fields.items() if k != "teamId"})
        return self._issue_of(self.graphql(ISSUE_CREATE, {"input": fields}, mutation=True), "issueCreate")

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        fields: dict[str, Any] = {}
        if changes.title is not None:
            fields["title"] = changes.title
        if changes.body is not None:
            fields["description"] = changes.body
        if changes.labels is not None:
            fields["labelIds"] = self._label_ids(changes.labels)
        if changes.add_labels:
            fields["addedLabelIds"] = self._label_ids(changes.add_labels)
        if changes.remove_labels:
            fields["removedLabelIds"] = self._label_ids(changes.remove_labels)
        if changes.assignees is not None:
            fields["assigneeId"] = changes.assignees[0] if changes.assignees else None
        if changes.priority:
            fields["priority"] = _priority(changes.priority)
        fields.update(changes.fields)
        return self._update(key, fields)

    def _update(self, key: str, fields: Mapping[str, Any]) -> Issue:
        variables = {"id": self.check_key(key), "input": dict(fields)}
        return self._issue_of(self.graphql(ISSUE_UPDATE, variables, mutation=True), "issueUpdate")

    def list_transitions(self, key: str) -> list[Transition]:
        """Every state of the team but the issue's own: Linear has no workflow rules between states."""
        current = self._raw_issue(key)["state"]["id"]
        return [
            Transition(
                str(s["id"]), str(s["name"]), str(s["name"]), self.tracker.status_category(str(s["type"]))
            )
            for s in self.team().states
            if s["id"] != current
        ]

    def transition_issue(self, key: str, target: str) -> Issue:
        state = self._state_for(target)
        return self._update(key, {"stateId": str(state["id"])})

    def _state_for(self, target: str) -> Mapping[str, Any]:
        states = self.team().states
        wanted = target.strip()
        for state in states:
            if wanted in (str(state["id"]), str(state["name"])):
                return state
        for state_type in _TYPES_FOR_CATEGORY.get(wanted.lower(), ()):
            for state in states:
                if state["type"] == state_type:
                    return state
        raise ValidationFailed(
            f"no state of team {self.team_key} matches {target!r}",
            details={"target": target[:80], "states": [str(s["name"]) for s in states]},
        )

    def add_comment(self, key: str, body: str) -> Comment:
        issue = self._raw_issue(key)
        data = self.graphql(COMMENT_CREATE, {"input": {"issueId": issue["id"], "body": body}}, mutation=True)
        payload = self.expect_dict(data.get("commentCreate"), "commentCreate")
        if not payload.get("success") or not isinstance(payload.get("comment"), Mapping):
            raise malformed(self.name, "commentCreate did not succeed")
        return self.normalize_comment(payload["comment"], str(issue["id"]))

    # ---- webhooks --------------------------------------------------------------------------------
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        types = list(events or DEFAULT_WEBHOOK_EVENTS)
        hook_input = {
            "url": url,
            "resourceTypes": types,
            "teamId": self.team().id,
            "secret": secret,
            "label": "trackbridge",
        }
        data = self.graphql(WEBHOOK_CREATE, {"input": hook_input}, mutation=True)
        hook = self.expect_dict(
            self.expect_dict(data.get("webhookCreate"), "webhookCreate").get("webhook"), "hook"
        )
        return WebhookRegistration(
            str(hook["id"]),
            str(hook.get("url") or url),
            tuple(hook.get("resourceTypes") or types),
            bool(hook.get("enabled", True)),
        )

    def unregister_webhook(self, hook_id: str) -> None:
        try:
            self.graphql(WEBHOOK_DELETE, {"id": str(hook_id)}, mutation=True)
        except NotFoundError:
            return

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """``type`` (``Issue``, ``Comment``) and ``action`` (``create``, ``update``, ``remove``) name the
        event; ``data`` holds the record in the webhook shape (labels a list, ``issueId`` on a comment).
        Other types, and another team's issues, are ignored."""
        kind, action = str(payload["type"]), str(payload["action"])
        event = f"{kind}.{action}"
        if kind not in DEFAULT_WEBHOOK_EVENTS:
            return WebhookDelivery.ignored(self.name, delivery_id, event, f"{kind} events are not synced")
        data = obj(payload, "data")
        deleted = action == "remove"
        updated_at = parse_time(data["updatedAt"]) if data.get("updatedAt") else None
        if kind == "Issue":
            key = str(data["identifier"])
            if key.rpartition("-")[0] != self.team_key:
                return WebhookDelivery.ignored(self.name, delivery_id, event, f"not team {self.team_key}")
            complete = data.keys() >= _ISSUE_RECORD_KEYS and (
                "assignee" in data or not data.get("assigneeId")
            )
            issue = self.normalize_issue(data) if complete and not deleted else None
            change = WebhookChange.of_issue(
                self._issue_ref(data["id"]), key, updated_at, issue=issue, deleted=deleted
            )
        else:
            parent = data.get("issue") or {}
            key = str(parent.get("identifier") or "")
            if key and key.rpartition("-")[0] != self.team_key:
                return WebhookDelivery.ignored(self.name, delivery_id, event, f"not team {self.team_key}")
            issue_id = str(data.get("issueId") or parent["id"])
            complete = data.keys() >= _COMMENT_RECORD_KEYS
            comment = self.normalize_comment(data, issue_id) if complete and not deleted else None
            change = WebhookChange.of_comment(
                self._issue_ref(issue_id), key, str(data["id"]), updated_at, comment=comment, deleted=deleted
            )
        return WebhookDelivery.of_changes(self.name, delivery_id, event, change)


def _iso_ms(moment: datetime) -> str:
    """``2026-01-02T03:04:05.678Z``: Linear's DateTime, to the millisecond."""
    if moment.tzinfo is None:
        raise ValidationFailed("timestamps must carry a time zone")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_PRIORITIES: Final[Mapping[str, int]] = {"no priority": 0, "urgent": 1, "high": 2, "medium": 3, "low": 4}


def _priority(value: str) -> int:
    """Linear's priority number from its label (``High``) or the number itself (0 none .. 4 low)."""
    text = value.strip().lower()
    if text in _PRIORITIES:
        return _PRIORITIES[text]
    if text.isdigit() and 0 <= int(text) <= 4:
        return int(text)
    raise ValidationFailed(
        "Linear priorities are No priority, Urgent, High, Medium, Low (or 0 to 4)",
        details={"priority": value},
    )


__all__ = [
    "DOCUMENTS",
    "LINEAR_ERROR_RULES",
    "LinearAdapter",
    "LinearRateLimits",
    "TeamInfo",
    "graphql_codes",
]
