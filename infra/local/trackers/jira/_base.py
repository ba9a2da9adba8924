"""Shared ground of the Jira sandbox's route modules: Jira's error shape, constants, and the helpers
every handler uses (request parsing, rendering for the caller, the per-issue write limit, changelog
records and webhook events).

``JiraSandbox`` (``sandbox.py``) is assembled from route mixins that all derive from :class:`JiraBase`:
``_search`` (search/jql), ``_issues`` (issues, transitions, comments, worklogs, properties,
changelogs) and ``_site`` (users, projects, catalogues, agile, webhook registration). The core
collects the ``@route`` handlers of every base class.
"""

from __future__ import annotations

import base64
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from ..core import ApiError, RateBucket, SandboxRequest, SandboxTracker
from ._jql import Compiled, Context, JqlError, compile_query, parse
from ._render import JiraRenderer, zone
from ._state import Comment, History, Issue, JiraState, Worklog

API = "/rest/api/3"
ISSUE = API + "/issue/{issueIdOrKey}"
AGILE = "/rest/agile/1.0"
HOOKS_V1 = "/rest/webhooks/1.0/webhook"
REMOVED_SEARCH = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
    "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
ADF_ERROR = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
CANNOT_SET = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
BAD_TOKEN = "The provided next page token is invalid or expired."  # noqa: S105 - a message
# Jira's structured rate-limit headers (still ``Beta-`` prefixed) and the policy name it documents.
BETA_POLICY_HEADER = "Beta-RateLimit-Policy"
BETA_STANDING_HEADER = "Beta-RateLimit"
QUOTA_POLICY = "global-app-quota"
RATE_REASONS = frozenset(
    {"jira-burst-based", "jira-quota-tenant-based", "jira-quota-global-based", "jira-per-issue-on-write"}
)
SEARCH_BODY_KEYS: dict[str, type | tuple[type, ...]] = {
    "jql": str,
    "nextPageToken": str,
    "maxResults": int,
    "fields": list,
    "expand": str,
    "properties": list,
    "fieldsByKeys": bool,
    "reconcileIssues": list,
}
PAGE_TOKEN_TTL_S = 7 * 86_400
APP_HOOK_TTL_MS = 30 * 86_400_000
MAX_APP_HOOKS = 100


def jira_error(
    status: int,
    *messages: str,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ApiError:
    """Jira's ``ErrorCollection``: ``errorMessages`` (may be empty) and per-field ``errors``."""
    return ApiError(
        status,
        messages[0] if messages else "",
        headers=headers,
        messages=list(messages),
        errors=dict(errors or {}),
    )


def iso_utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def csv_values(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


def ref_of(value: Any, *names: str) -> str | None:
    """``{"id": "3"}`` / ``{"name": "High"}`` / ``{"key": "ACME"}`` -> the first of ``names`` present."""
    if isinstance(value, dict):
        for name in names:
            if isinstance(value.get(name), str | int) and not isinstance(value.get(name), bool):
                return str(value[name])
    return None


class JiraBase(SandboxTracker[JiraState]):
    """Helpers for the route mixins; the tracker itself is ``jira.JiraSandbox``."""

    _issue_writes: dict[int, deque[float]]
    _token_key: bytes
    per_issue_write_limits: ClassVar[tuple[tuple[int, float], ...]]  # (writes, seconds) per issue

    @property
    def client_id(self) -> str:
        """The sandbox OAuth app (3LO): its client id and secret are in ``describe()``."""
        return f"sandbox-jira-client-{self.sizes.seed}"

    @property
    def client_secret(self) -> str:
        return f"sandbox-jira-client-secret-{self.sizes.seed}"

    # ------------------------------------------------------------------ helpers

    def _too_many(self, reason: str, reset_epoch: float, bucket: RateBucket | None = None) -> ApiError:
        """Jira's 429. With the spent ``bucket`` (the sandbox's hourly window, standing in for the points
        quota) it also carries the structured ``Beta-RateLimit-Policy`` / ``Beta-RateLimit`` pair in the IETF
        draft form Jira sends (research/tracker-apis.md 1), ``t`` being the same wait as ``Retry-After``."""
        retry = max(1, int(reset_epoch - time.time() + 0.999))
        headers = {
            "Retry-After": str(retry),
            "X-RateLimit-Reset": iso_utc(reset_epoch),
            "RateLimit-Reason": reason,
        }
        if bucket is not None:
            headers[BETA_POLICY_HEADER] = f'"{QUOTA_POLICY}";q={bucket.limit};w={self.rate_limit_window_s}'
            headers[BETA_STANDING_HEADER] = f'"{QUOTA_POLICY}";r={bucket.remaining};t={retry}'
        return jira_error(429, "Rate limit exceeded.", headers=headers)

    def _compile(self, request: SandboxRequest, jql: str) -> tuple[Compiled, Context]:
        ctx = self._context(request)
        try:
            compiled = compile_query(parse(jql), ctx)
        except JqlError as exc:
            raise jira_error(400, *exc.messages) from None
        if not compiled.bounded:
            raise jira_error(400, UNBOUNDED)
        return compiled, ctx

    def _search_view(self, jql: str, ctx: Context, compiled: Compiled) -> tuple[list[Any], list[int]]:
        def compute() -> tuple[list[Any], list[int]]:
            matches, sort_key = compiled.matches, compiled.sort_key
            found = [
                (sort_key(issue), issue.id)
                for issue in self.state.issues
                if issue is not None and ctx.may_see(issue.project_id) and matches(issue)
            ]
            found.sort()
            return [key for key, _ in found], [issue_id for _, issue_id in found]

        query = ("search", jql, ctx.account_id, ctx.now_ms // 60_000, ctx.visible_projects)
        keys, ids = self.view(query, compute)
        return keys, ids

    def _now_ms(self) -> int:
        return self.now() * 1000

    def _base(self, request: SandboxRequest) -> str:
        return request.host_url.rstrip("/") + request.script_root

    def _caller(self, request: SandboxRequest) -> str:
        principal = request.principal
        return principal.login if principal is not None and principal.login else self.state.api_user

    def _tz_name(self, account_id: str) -> str:
        user = self.state.users.get(account_id)
        return user.time_zone if user is not None else "UTC"

    def _render(self, request: SandboxRequest) -> JiraRenderer:
        return JiraRenderer(self._base(request), self.state, self._tz_name(self._caller(request)))

    def _webhook_render(self) -> JiraRenderer:
        return JiraRenderer(self.url, self.state, self._tz_name(self.state.api_user), api="2")

    def _sees_all(self, request: SandboxRequest) -> bool:
        principal = request.principal
        return principal is not None and principal.may("*")

    def _context(self, request: SandboxRequest | None, account_id: str | None = None) -> Context:
        account = account_id or (self._caller(request) if request is not None else self.state.api_user)
        visible: frozenset[int] | None = None if request is None or self._sees_all(request) else frozenset()
        return Context(self.state, account, zone(self._tz_name(account)), self._now_ms(), visible)

    def _issue(self, request: SandboxRequest, id_or_key: str) -> Issue:
        issue = self.state.find(id_or_key)
        if issue is None or not self._sees_all(request):
            raise jira_error(404, NO_ISSUE)
        return issue

    def _filter_matches(self, jql: str, issue: Issue, account_id: str) -> bool:
        try:
            compiled = compile_query(parse(jql), self._context(None, account_id))
        except JqlError:
            return False
        return compiled.matches(issue)

    def _json_body(self, request: SandboxRequest, *, required: bool = True) -> Any:
        mimetype = request.mimetype
        form = mimetype in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
        if form and request.headers.get("X-Atlassian-Token", "").lower() != "no-check":
            raise jira_error(403, "XSRF check failed")
        raw = request.get_data(cache=True)
        if raw.strip() and mimetype != "application/json" and not mimetype.endswith("+json"):
            raise jira_error(415, "Unsupported Media Type")
        try:
            return self.read_json(request, required=required)
        except ApiError as exc:
            raise jira_error(400, exc.message) from None

    def _object_body(self, request: SandboxRequest) -> dict[str, Any]:
        body = self._json_body(request)
        if not isinstance(body, dict):
            raise jira_error(400, "The request body must be a JSON object.")
        return body

    def _section(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """``fields`` / ``update`` of an issue bean: an object if present (Jackson refuses anything else)."""
        value = body.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise jira_error(400, f'Cannot deserialize value of type "{name}": expected a JSON object.')
        return value

    def _int_arg(self, request: SandboxRequest, name: str, default: int, *, low: int = 0) -> int:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise jira_error(
                400, f"The value '{raw}' of the '{name}' parameter is not a valid number."
            ) from None
        return max(value, low)

    def _paging(self, request: SandboxRequest, default: int, cap: int) -> tuple[int, int]:
        start = self._int_arg(request, "startAt", 0)
        limit = self._int_arg(request, "maxResults", default)
        if limit <= 0:
            limit = default
        return start, min(limit, cap)

    def _charge_write(self, issue: Issue) -> None:
        """Jira's per-issue write limit (20 per 2 s, 100 per 30 s): a 429 with its own reason."""
        now = time.monotonic()
        window = self._issue_writes.setdefault(issue.id, deque())
        longest = max(seconds for _, seconds in self.per_issue_write_limits)
        while window and now - window[0] > longest:
            window.popleft()
        for limit, seconds in self.per_issue_write_limits:
            recent = [t for t in window if now - t <= seconds]
            if len(recent) >= limit:
                raise self._too_many("jira-per-issue-on-write", time.time() + seconds - (now - recent[0]))
        window.append(now)

    def _has_hooks(self) -> bool:
        return bool(self.state.admin_hooks or self.state.app_hooks)

    def _emit(
        self,
        event: str,
        body: dict[str, Any],
        issue: Issue | None,
        *,
        flow: str = "Primary",
        fields: set[str] | None = None,
    ) -> None:
        self.emit(event, {"body": body, "issue": issue, "flow": flow, "fields": fields})

    def _issue_event(
        self,
        event: str,
        issue: Issue,
        actor: str,
        type_name: str | None,
        *,
        history: History | None = None,
        comment: Comment | None = None,
        flow: str = "Primary",
    ) -> None:
        if not self._has_hooks():
            return
        render = self._webhook_render()
        body: dict[str, Any] = {"timestamp": self._now_ms(), "webhookEvent": event}
        if type_name:
            body["issue_event_type_name"] = type_name
        body["user"] = render.user(actor)
        body["issue"] = render.webhook_issue(issue)
        if history is not None:
            body["changelog"] = {
                "id": str(history.id),
                "items": [render.change_item(i) for i in history.items],
            }
        if comment is not None:
            body["comment"] = render.comment(comment)
        fields = {item[1] for item in history.items} if history is not None else None
        self._emit(event, body, issue, flow=flow, fields=fields)

    def _comment_event(self, event: str, issue: Issue, comment: Comment, *, flow: str = "Primary") -> None:
        if not self._has_hooks():
            return
        render = self._webhook_render()
        body = {
            "timestamp": self._now_ms(),
            "webhookEvent": event,
            "comment": render.comment(comment),
            "issue": render.webhook_issue_brief(issue),
        }
        self._emit(event, body, issue, flow=flow)

    def _worklog_event(self, event: str, issue: Issue, worklog: Worklog) -> None:
        if not self._has_hooks():
            return
        body = {
            "timestamp": self._now_ms(),
            "webhookEvent": event,
            "worklog": self._webhook_render().worklog(worklog),
        }
        self._emit(event, body, issue)

    def _record(self, issue: Issue, actor: str, items: list[tuple[str, str, Any, Any, Any, Any]]) -> History:
        now = self._now_ms()
        history = History(self.state.new_history_id(), actor, now, list(items))
        if issue.histories is None:
            issue.histories = []
        issue.histories.append(history)
        issue.updated = max(now, issue.updated)
        self.touch()
        return history

    def _bump(self, issue: Issue) -> None:
        issue.updated = max(self._now_ms(), issue.updated)
        self.touch()


def str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def labels_after(current: Sequence[str], values: Mapping[str, Any]) -> list[str]:
    """The labels after a ``fields.labels`` set and any ``update.labels`` add/remove operations."""
    labels = list(values["labels"]) if "labels" in values else list(current)
    for verb, label in values.get("labels_ops", []):
        if verb == "add" and label not in labels:
            labels.append(label)
        elif verb == "remove" and label in labels:
            labels.remove(label)
    return labels
