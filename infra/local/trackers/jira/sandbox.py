"""The Jira sandbox: Jira Cloud REST v3 + Jira Software agile 1.0 for one site, at ``http://127.0.0.1:PORT``.

Routes live at the root like ``<site>.atlassian.net``, so ``jira.JIRA(server=url, basic_auth=(email, token),
options={"rest_api_version": "3"})`` works unchanged. An OAuth 2.0 (3LO) authorization server and the API
gateway run on a second port (``oauth_url``; see ``_oauth``). What is reproduced, and where a naive fake
goes wrong (research/tracker-apis.md 1 and 9):

- Auth: Basic ``email:api_token`` (``describe()["email"]``, ``["token"]``); ``outsider@example.com`` with
  ``<token>-outsider`` is a valid user who can see no project (Jira then says issues and projects "do not
  exist"). A bad credential is 401 ``Client must be authenticated to access this resource.`` (text, with
  ``X-Seraph-LoginReason``). A 3LO bearer token works only through the gateway
  ``{oauth_url}/ex/jira/{cloudId}``, and only within its scopes (401 ``Unauthorized; scope does not match``).
- Search: ``GET``/``POST /rest/api/3/search/jql`` with ``jql``, ``nextPageToken``, ``maxResults`` (default 50;
  at most 5000 when only ``id``/``key`` are asked for, 100 for other field lists, 50 when ``comment`` or
  ``worklog`` pages ride along), ``fields`` (default ``id`` only; ``*all``, ``*navigable``, ``-field``;
  repeated parameters add up), ``expand`` (a string, even in POST), ``properties`` (at most 5),
  ``fieldsByKeys``, ``failFast``, ``reconcileIssues`` (at most 50 ids). The response is ``{issues,
  nextPageToken?, isLast}`` with no ``total``. The POST bean rejects unknown keys (``additionalProperties:
  false``) with 400; the GET ignores query parameters it does not declare, such as ``startAt``, as JAX-RS
  resources do (the spec declares no ``startAt`` for this operation). Unbounded JQL is 400 ``Unbounded JQL
  queries are not allowed here. Please add a search restriction to your query.`` Page tokens are opaque,
  signed, bound to the JQL and the user, expire in 7 days, and continue *after the last issue's sort key*
  (keyset): an issue updated or deleted mid-walk never shifts the next page. Without ``ORDER BY`` the
  sandbox orders by ``key DESC``. ``POST /search/approximate-count``. The removed ``/rest/api/{2,3}/search``
  and ``/rest/api/3/search/id`` answer 410 with Atlassian's body.
- JQL: see ``_jql`` (dates in the API user's profile zone, ``America/Los_Angeles``, shown by
  ``/myself``; minute precision; Jira's 400 texts).
- Issues: ``GET`` (fields, expand ``renderedFields,names,schema,transitions,changelog``, properties;
  case-insensitive keys), ``POST`` 201 ``{id,key,self}`` (rich text must be ADF: a plain string is 400),
  ``PUT`` 204 (``fields`` and ``update`` operations; a ``status`` field is ignored: use transitions),
  ``DELETE`` 204 (400 with sub-tasks unless ``deleteSubtasks=true``). Timestamps are written in the caller's
  zone (``2025-01-17T04:34:00.000-0800``). The embedded ``comment`` and ``worklog`` fields carry at most 20
  items with the full ``total``, so a client must page ``/comment`` for busy issues.
- Workflow To Do -> In Progress -> Done and back (transitions 11, 21, 31); Done sets a resolution.
- Comments (startAt/maxResults default 100/``orderBy`` ``created``, ``-created``, ``+created``), worklogs,
  ``/worklog/updated`` (1000 a page, excludes the last minute), ``/worklog/list`` (at most 1000 ids),
  ``/worklog/deleted``, issue properties, changelogs, attachments (multipart field ``file``, only with
  ``X-Atlassian-Token: no-check``, 200 with an array). Any issue write bumps the issue's ``updated``.
- Users (``/myself``, ``/users/search``, ``/user/search`` and ``/user/assignable/search`` return bare
  arrays), ``/mypermissions``, projects (page bean),
  ``/field``, ``/serverInfo`` (``deploymentType: Cloud``), statuses, priorities, issue types, agile boards,
  sprints and sprint issues.
- Limits: every response has ``X-RateLimit-Limit``/``-Remaining`` (``X-RateLimit-NearLimit: true`` under
  20%); a spent limit is 429 with ``Retry-After``, ``X-RateLimit-Reset`` (ISO 8601) and ``RateLimit-Reason``
  (``jira-quota-tenant-based`` for OAuth apps, ``jira-burst-based`` for API tokens), plus the structured
  ``Beta-RateLimit-Policy: "global-app-quota";q=..;w=3600`` and ``Beta-RateLimit: "global-app-quota";r=0;
  t=..`` (``t`` = ``Retry-After``); writes to one issue are capped at 20 per 2 s and 100 per 30 s
  (``jira-per-issue-on-write``). A 429 fault may name its reason in ``message``.
- Webhooks: admin hooks (``/rest/webhooks/1.0/webhook``: ``name, url, events, filters, excludeBody,
  secret``) and app hooks (``/rest/api/3/webhook``: OAuth apps only, 403 for API tokens; 30-day expiry,
  ``PUT /webhook/refresh``); see ``_webhooks`` for signatures, headers and retries.
- Create screens (``_screens``): ``GET /issue/createmeta/{project}/issuetypes[/{issueTypeId}]`` (paged,
  ``startAt``/``maxResults``/``total``) list what each issue type's create screen offers, and a create that
  sets a field off the screen (``OPS`` Task: ``priority``) or leaves a required one out (``OPS`` Bug:
  ``customfield_10050``) is 400 with Jira's per-field message.
- Errors are ``{"errorMessages": [...], "errors": {...}}`` with Jira's status and wording.

``/_sandbox/mutate`` actions: ``create`` (``fields``: summary, description, labels, assignee, priority,
issuetype, project), ``update`` (``key``, ``fields``, or ``touch_only``), ``transition`` (``key``, ``to``: a
status name or transition id), ``comment`` (``key``, ``body``), ``edit_comment`` / ``delete_comment``
(``comment_id``), ``worklog`` (``key``, ``seconds``, ``comment``) and ``delete`` (``key``). Each sends the
same webhooks as the equivalent API write.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from .._server import ThreadedServer
from ..core import (
    ApiError,
    FaultRule,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    Sizes,
    WebhookRequest,
    mutation,
)
from ._agile import AgileRoutes
from ._base import API, NOT_AUTHENTICATED, RATE_REASONS, jira_error
from ._changelogs import ChangelogRoutes
from ._createmeta import CreateMetaRoutes
from ._issues import IssueRoutes
from ._oauth import GATEWAY_ENVIRON, AuthServer
from ._render import JiraRenderer
from ._search import SearchRoutes
from ._site import SiteRoutes
from ._state import (
    API_EMAIL,
    OUTSIDER_EMAIL,
    PROJECT_KEY,
    SITE_NAME,
    STATUSES,
    TRANSITIONS,
    Comment,
    Issue,
    JiraState,
    seed_state,
)
from ._webhooks import admin_request, app_requests

__all__ = ["JiraSandbox"]


class JiraSandbox(AgileRoutes, SearchRoutes, IssueRoutes, ChangelogRoutes, SiteRoutes, CreateMetaRoutes):
    """Jira Cloud for one site with project ACME; see the module docstring for the behaviour reproduced."""

    kind = "jira"
    # API-token traffic has no hourly quota on Jira (only per-second bursts); the sandbox keeps one generous
    # fixed window per principal so a benchmark is never throttled by accident, and faults exhaust it.
    default_rate_limit = 100_000
    rate_limit_window_s = 3600
    webhook_timeout_s = 10.0
    # Jira retries failed deliveries (over minutes); compressed so tests can watch the retries happen.
    webhook_retry_delays_s = (0.1, 0.2, 0.4, 0.8, 1.6)
    unknown_method_status = 405
    bad_json_message = "Unexpected character in the request body: it is not valid JSON."
    per_issue_write_limits: ClassVar[tuple[tuple[int, float], ...]] = ((20, 2.0), (100, 30.0))
    # What callers need (see core): a project-scoped connection with email and API token; issues named by
    # key; the listing is search/jql; the title is the summary; closing is a workflow transition.
    scope_key = "project"
    credential_fields: ClassVar[Mapping[str, str]] = {"email": "email", "api_token": "token"}
    listing_route = "*/search/jql"
    issue_ref_key = "key"
    title_field = "summary"

    def __init__(self, *, access_token_ttl_s: int = 3600, **kwargs: Any) -> None:
        self._auth_app = AuthServer(self, access_token_ttl_s=access_token_ttl_s)
        self._auth_server: ThreadedServer | None = None
        self._oauth_base = "http://oauth.sandbox.localhost"
        self._token_key = secrets.token_bytes(32)
        self._issue_writes: dict[int, deque[float]] = {}
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ identity and lifecycle

    @property
    def email(self) -> str:
        return API_EMAIL

    @property
    def outsider_email(self) -> str:
        return OUTSIDER_EMAIL

    @property
    def outsider_token(self) -> str:
        """A valid API token of a user who can see no project."""
        return f"{self.token}-outsider"

    @property
    def site_name(self) -> str:
        return SITE_NAME

    @property
    def oauth_url(self) -> str:
        """Base URL of the authorization server and the API gateway (``/ex/jira/{cloudId}``)."""
        return self._oauth_base

    @property
    def gateway_url(self) -> str:
        return f"{self._oauth_base}/ex/jira/{self.state.cloud_id}"

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> JiraSandbox:
        super().start(host=host, port=port)
        if self._auth_server is None:
            # Always a free port: with fixed ports, N+1 belongs to the next provider in the registry.
            self._auth_server = ThreadedServer(self._auth_app, host=host, port=0)
            self._oauth_base = f"http://{self._auth_server.host}:{self._auth_server.port}"
        return self

    def stop(self) -> None:
        if self._auth_server is not None:
            self._auth_server.stop()
            self._auth_server = None
        super().stop()

    def describe_extra(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "project": PROJECT_KEY,
            "account_id": self.state.api_user,
            "cloud_id": self.state.cloud_id,
            "oauth_url": self.oauth_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    def reset(self, **sizes: Any) -> Sizes:
        result = super().reset(**sizes)
        with self.lock:
            self._issue_writes.clear()
        return result

    # ------------------------------------------------------------------ core hooks

    def build_state(self, sizes: Sizes, rng: random.Random) -> JiraState:
        return seed_state(
            rng,
            seed=sizes.seed,
            issues=sizes.issues,
            comments_per_issue=sizes.comments_per_issue,
            closed_ratio=sizes.closed_ratio,
            worklogs_per_issue=sizes.worklogs_per_issue,
            users=sizes.users,
            sprints=sizes.sprints,
        )

    def authenticate(self, request: SandboxRequest) -> Principal:
        header = request.headers.get("Authorization", "").strip()
        gateway = request.environ.get(GATEWAY_ENVIRON)
        if not header:
            if request.route_key == f"GET {API}/serverInfo":
                return Principal(
                    f"anonymous:{request.remote_addr}", "", authenticated=False, grants=frozenset()
                )
            raise self._unauthenticated(gateway)
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        state = self.state
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                raise self._unauthenticated(gateway) from None
            email, separator, token = decoded.partition(":")
            if separator:
                accounts: tuple[tuple[str, str, str, frozenset[str]], ...] = (
                    (API_EMAIL, self.token, state.api_user, frozenset({"*"})),
                    (OUTSIDER_EMAIL, self.outsider_token, state.outsider, frozenset()),
                )
                for mail, secret, account, grants in accounts:
                    token_ok = hmac.compare_digest(token.encode(), secret.encode())
                    if email.strip().lower() == mail and token_ok:
                        return Principal(f"basic:{account}", account, grants=grants)
            raise self._unauthenticated(gateway)
        if scheme.lower() == "bearer" and gateway:
            grant = state.oauth.access_grant(credential, self.now())
            if grant is None:
                raise ApiError(401, "Unauthorized", gateway=True)
            needed = self._required_scope(request.route_key)
            if needed not in grant.scopes:
                raise ApiError(401, "Unauthorized; scope does not match", gateway=True)
            return Principal(
                f"oauth:{grant.client_id}:{grant.account_id}",
                grant.account_id,
                grants=frozenset({"*", "oauth", f"client:{grant.client_id}"}),
            )
        raise self._unauthenticated(gateway)

    def _unauthenticated(self, gateway: Any) -> ApiError:
        if gateway:
            return ApiError(401, "Unauthorized", gateway=True)
        return ApiError(
            401,
            NOT_AUTHENTICATED,
            plain=True,
            headers={
                "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
                "WWW-Authenticate": 'Basic realm="protected-area"',
            },
        )

    @staticmethod
    def _required_scope(route_key: str) -> str:
        """The classic 3LO scope a route needs (Atlassian's scope table, coarsened to four scopes)."""
        method, _, template = route_key.partition(" ")
        if "webhook" in template:
            return "manage:jira-webhook"
        if template in (f"{API}/myself", f"{API}/users/search") or template.startswith(f"{API}/user"):
            return "read:jira-user"
        reads = {f"{API}/search/jql", f"{API}/search/approximate-count", f"{API}/worklog/list"}
        return "read:jira-work" if method == "GET" or template in reads else "write:jira-work"

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        headers = dict(error.headers)
        if error.details.get("plain"):
            return Reply(error.message.encode(), error.status, headers, "text/plain;charset=UTF-8")
        if error.details.get("gateway"):
            return Reply({"code": error.status, "message": error.message}, error.status, headers)
        if "body" in error.details:
            return Reply(error.details["body"], error.status, headers)
        messages = error.details.get("messages")
        if messages is None:
            messages = [error.message]
            if error.status == 404 and request is not None and error.message == "Not Found":
                messages = [f"null for uri: {request.url}"]
        return Reply(
            {"errorMessages": messages, "errors": error.details.get("errors", {})}, error.status, headers
        )

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(bucket.limit), "X-RateLimit-Remaining": str(bucket.remaining)}
        if bucket.remaining < bucket.limit * 0.2:
            headers["X-RateLimit-NearLimit"] = "true"
        return headers

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        principal = request.principal
        oauth = principal is not None and "oauth" in principal.grants
        reason = "jira-quota-tenant-based" if oauth else "jira-burst-based"
        return self._too_many(reason, bucket.reset, bucket)

    def rate_limit_fault(self, request: SandboxRequest, rule: FaultRule, bucket: RateBucket) -> ApiError:
        if rule.message in RATE_REASONS:
            return self._too_many(rule.message, bucket.reset, bucket)
        return super().rate_limit_fault(request, rule, bucket)

    def fault_error(self, request: SandboxRequest, rule: FaultRule) -> ApiError:
        if rule.status == 429:
            reason = rule.message if rule.message in RATE_REASONS else "jira-burst-based"
            return self._too_many(reason, time.time() + (rule.retry_after_s or 1))
        error = super().fault_error(request, rule)
        return jira_error(error.status, error.message, headers=error.headers)

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        headers = {
            "X-AREQUESTID": uuid.uuid4().hex[:16],
            "Atl-Traceid": uuid.uuid4().hex,
            "Cache-Control": "no-cache, no-store, no-transform",
            "Timing-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        principal = request.principal
        if principal is not None and principal.authenticated:
            headers["X-AAccountId"] = principal.login
        from .points import points_headers  # the points-based limit headers (issue 18)

        bucket = self.rate_status(principal) if principal is not None else None
        headers.update(points_headers(bucket, reply.headers, window_s=self.rate_limit_window_s))
        return headers

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        state = self.state
        body: dict[str, Any] = payload["body"]
        issue: Issue | None = payload.get("issue")
        flow: str = payload.get("flow", "Primary")
        changed: set[str] | None = payload.get("fields")
        requests: list[WebhookRequest] = []
        for hook in state.admin_hooks.values():
            if not hook.enabled or event not in hook.events:
                continue
            if hook.jql and (issue is None or not self._filter_matches(hook.jql, issue, state.api_user)):
                continue
            requests.append(admin_request(hook, event, body, state=state, issue=issue, flow=flow))
        now_ms = self._now_ms()
        matched = [
            hook
            for hook in state.app_hooks.values()
            if event in hook.events
            and hook.expires > now_ms
            and issue is not None
            and self._filter_matches(hook.jql, issue, hook.account_id)
            and (
                event != "jira:issue_updated"
                or not hook.field_ids
                or bool(changed and changed & set(hook.field_ids))
            )
        ]
        if matched:
            requests += app_requests(
                matched,
                event,
                body,
                cloud_id=state.cloud_id,
                client_secrets={self.client_id: self.client_secret},
                now_s=int(time.time()),
                flow=flow,
            )
        return requests

    # ------------------------------------------------------------------ for tests, benchmarks and the demo

    def issue_ref(self, issue: int | str) -> dict[str, Any]:
        return {"key": issue if isinstance(issue, str) else f"{PROJECT_KEY}-{issue}"}

    def close_issue(self, issue: int | str) -> None:
        self.mutate("transition", **self.issue_ref(issue), to="Done")

    def removable_alone(self, issue: int | str) -> bool:
        record = self.state.find(self.issue_ref(issue)["key"])
        return record is not None and not self.state.children(record)

    def search_query(self, text: str) -> str:
        return f'summary ~ "{text}"'

    def issue_counts(self) -> tuple[int, int, int]:
        issues = len(self.state.live_issues())
        return issues, issues, len(self.state.comments)

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        # search/jql carries comments, 50 issues a page when they ride along; busy issues page apart.
        return math.ceil(listed / 50) + truncated

    def read_with_client_library(self) -> None:
        from jira import JIRA

        client = JIRA(
            server=self.url,
            basic_auth=(self.email, self.token),
            options={"rest_api_version": "3", "check_update": False},
            max_retries=0,
        )
        for issue in client.enhanced_search_issues(f"project = {PROJECT_KEY} ORDER BY key", maxResults=0):
            client.comments(issue.key)

    # ------------------------------------------------------------------ /_sandbox/mutate

    def _mutation_issue(self, key: Any) -> Issue:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise ValueError("key must be an issue key or id")
        issue = self.state.find(str(key))
        if issue is None:
            raise KeyError(f"issue {key}")
        return issue

    def _mutation_fields(self, fields: dict[str, Any] | None) -> dict[str, Any]:
        """Friendly control-API fields (plain text, names, account ids) -> REST fields."""
        result: dict[str, Any] = {}
        for name, value in (fields or {}).items():
            if name in ("description", "environment") and isinstance(value, str):
                result[name] = {
                    "type": "doc",
                    "version": 1,
                    "content": [{"type": "paragraph", "content": [{"type": "text", "text": value}]}],
                }
            elif name in ("assignee", "reporter") and isinstance(value, str):
                result[name] = {"accountId": value}
            elif name in ("priority", "issuetype") and isinstance(value, str):
                result[name] = {"name": value}
            elif name == "project" and isinstance(value, str):
                result[name] = {"key": value}
            else:
                result[name] = value
        return result

    def _mutation_result(self, issue: Issue) -> dict[str, Any]:
        render = JiraRenderer(self.url, self.state, "UTC")
        return {
            "key": self.state.key(issue),
            "id": str(issue.id),
            "updated": render.time(issue.updated),
            "status": STATUSES[issue.status_id].name,
        }

    @mutation("create")
    def mutate_create(self, fields: dict[str, Any] | None = None, actor: str | None = None) -> dict[str, Any]:
        values = self._mutation_fields(fields)
        values.setdefault("summary", f"Sandbox issue created at {self._now_ms()}")
        values.setdefault("project", {"key": PROJECT_KEY})
        values.setdefault("issuetype", {"name": "Task"})
        try:
            issue = self._create_issue(values, {}, actor or self.state.api_user)
        except ApiError as exc:
            raise ValueError(json.dumps(exc.details.get("errors") or exc.details.get("messages"))) from exc
        return self._mutation_result(issue)

    @mutation("update")
    def mutate_update(
        self,
        key: Any = None,
        fields: dict[str, Any] | None = None,
        actor: str | None = None,
        touch_only: bool = False,
    ) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        who = actor or self.state.api_user
        if touch_only or not fields:
            issue.updated = max(self._now_ms(), issue.updated + 1)
            self.touch()
            self._issue_event("jira:issue_updated", issue, who, "issue_updated")
        else:
            values, errors = self._parse_fields(self._mutation_fields(fields), creating=False)
            if errors:
                raise ValueError(json.dumps(errors))
            self._apply(issue, values, who)
        return self._mutation_result(issue)

    @mutation("transition")
    def mutate_transition(self, key: Any = None, to: Any = None, actor: str | None = None) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        target = str(to or "")
        transition = next(
            (t for t in TRANSITIONS if target in (t.id, t.name) or target.lower() == t.name.lower()), None
        )
        if transition is None or transition.to == issue.status_id:
            raise ValueError(f"no transition to {to!r} from {STATUSES[issue.status_id].name}")
        self._transition(issue, transition.id, actor or self.state.api_user, {})
        return self._mutation_result(issue)

    @mutation("comment")
    def mutate_comment(
        self, key: Any = None, body: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        text = body or f"Sandbox comment at {self._now_ms()}"
        comment = self._add_comment(issue, text, actor or self.state.api_user, None)
        return {**self._mutation_result(issue), "comment_id": str(comment.id)}

    def _mutation_comment(self, comment_id: Any) -> tuple[Issue, Comment]:
        comment = self.state.comments.get(int(comment_id)) if str(comment_id).isdigit() else None
        issue = self.state.issue(comment.issue_id) if comment is not None else None
        if comment is None or issue is None:
            raise KeyError(f"comment {comment_id}")
        return issue, comment

    @mutation("edit_comment")
    def mutate_edit_comment(
        self, comment_id: Any = None, body: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        issue, comment = self._mutation_comment(comment_id)
        if not isinstance(body, str) or not body.strip():
            raise ValueError("body must be a non-empty string")
        self._edit_comment(issue, comment, body, actor or self.state.api_user)
        return {**self._mutation_result(issue), "comment_id": str(comment.id)}

    @mutation("delete_comment")
    def mutate_delete_comment(self, comment_id: Any = None, actor: str | None = None) -> dict[str, Any]:
        issue, comment = self._mutation_comment(comment_id)
        self._delete_comment(issue, comment, actor or self.state.api_user)
        return {**self._mutation_result(issue), "comment_id": str(comment.id), "deleted": True}

    @mutation("worklog")
    def mutate_worklog(
        self, key: Any = None, seconds: Any = 3600, comment: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError("seconds must be a positive integer")
        worklog = self._add_worklog(issue, seconds, self._now_ms(), comment, actor or self.state.api_user)
        return {**self._mutation_result(issue), "worklog_id": str(worklog.id)}

    @mutation("delete_worklog")
    def mutate_delete_worklog(self, worklog_id: Any = None, actor: str | None = None) -> dict[str, Any]:
        """Delete a worklog as ``DELETE /issue/{key}/worklog/{id}`` would: listed by ``/worklog/deleted``."""
        worklog = self.state.worklogs.get(int(worklog_id)) if str(worklog_id).isdigit() else None
        issue = self.state.issue(worklog.issue_id) if worklog is not None else None
        if worklog is None or issue is None:
            raise KeyError(f"worklog {worklog_id}")
        self._delete_worklog(issue, worklog)
        return {**self._mutation_result(issue), "worklog_id": str(worklog.id), "deleted": True}

    @mutation("delete")
    def mutate_delete(self, key: Any = None, actor: str | None = None) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        result = self._mutation_result(issue)
        self._delete_issue(issue, actor or self.state.api_user)
        return {**result, "deleted": True}
