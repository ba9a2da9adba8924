"""The Linear sandbox: Linear's GraphQL API (``POST /graphql``) for one workspace with one team, ``ENG``.

What it reproduces (shared/research/tracker-apis.md section 5; linear.app/developers: graphql, pagination,
filtering, rate-limiting, webhooks; the SDL in ``linear/linear`` ``packages/sdk/src/schema.graphql``):

- **One endpoint**, GraphQL over ``POST /graphql`` with ``{"query", "variables", "operationName"}``. The
  schema is the subset in ``_schema`` (names and types as Linear's SDL); graphql-core parses, validates and
  executes, so a document Linear would refuse is refused: ``GRAPHQL_PARSE_FAILED`` /
  ``GRAPHQL_VALIDATION_FAILED`` on a 400.
- **Errors** are ``{"errors": [{"message", "locations", "path", "extensions": {"code", "type",
  "statusCode", "userError", "userPresentableMessage"}}], "data"}``: a 400 when no data came back, a 200
  beside partial data. A missing entity is ``Entity not found: Issue`` (``INPUT_ERROR``).
- **Auth**: ``Authorization: <API key>``, no ``Bearer`` prefix (a ``Bearer`` value is an OAuth token, which
  this sandbox does not issue): anything else is ``AUTHENTICATION_ERROR`` on a 400.
- **Rate limits**: two leaky buckets per key, requests (``default_rate_limit`` an hour) and complexity
  points (:data:`COMPLEXITY_PER_REQUEST` times that an hour, :data:`MAX_QUERY_COMPLEXITY` for one query;
  ``_cost`` scores a document); ``X-RateLimit-Requests-{Limit,Remaining,Reset}``,
  ``X-RateLimit-Complexity-{Limit,Remaining,Reset}`` (resets in epoch ms) and ``X-Complexity`` on every
  answer; a spent bucket answers ``RATELIMITED`` on a 400 (``extensions.statusCode`` 429).
- **Pagination**: Relay ``first`` (default 50, at most 250) / ``after``, ``pageInfo { hasNextPage
  endCursor }``; ``orderBy: createdAt`` (default) or ``updatedAt``; keyset cursors (``_graph``), so page drift
  never skips an item. Filters: ``team``, ``state``, ``number``, ``title``, ``createdAt``/``updatedAt``
  (``gte`` etc.), ``searchableContent``, ``and``/``or``; comments by ``issue`` and dates.
- **Writes**: ``issueCreate``, ``issueUpdate`` (``labelIds``, ``addedLabelIds``, ``removedLabelIds``,
  ``stateId``...), ``issueDelete`` (to the trash: gone from listings), ``commentCreate``, ``commentDelete``,
  ``issueLabelCreate``, ``webhookCreate``, ``webhookDelete``. Every write moves ``updatedAt`` and fires the
  team's webhooks.
- **Webhooks**: ``{"action": "create"|"update"|"remove", "type": "Issue"|"Comment", "data", "updatedFrom",
  "url", "createdAt", "organizationId", "webhookId", "webhookTimestamp"}`` with ``Linear-Delivery`` (a UUID),
  ``Linear-Event`` (the type), ``Linear-Timestamp`` and ``Linear-Signature`` (hex HMAC-SHA256 of the raw body
  with the hook's secret); ``webhookTimestamp`` is the send time in epoch ms (a receiver checks it within
  60 s). Failed deliveries are retried (Linear: after 1 minute, 1 hour and 6 hours; here scaled down).

``/_sandbox/mutate`` actions: ``create`` (``fields``: title, description, labels (names), state (name or
type), priority), ``update`` (``identifier`` or ``number``, ``fields`` as create, plus ``body`` for
``description``), ``comment`` (``identifier`` or ``number``, ``body``), ``edit_comment`` and
``delete_comment`` (``comment_id``), ``delete`` (``identifier`` or ``number``). Each fires the webhook the
API write would; an issue or comment that does not exist is a ``KeyError`` (404).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from graphql import GraphQLError, execute_sync, parse, validate

from ..core import (
    ApiError,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    SandboxTracker,
    Sizes,
    WebhookRequest,
    mutation,
    route,
)
from ._cost import complexity
from ._graph import Graph, iso_ms
from ._schema import SCHEMA
from ._state import TEAM_KEY, Comment, Issue, LinearState, new_id, seed_state

__all__ = ["LinearSandbox"]

logger = logging.getLogger(__name__)

# Complexity points an hour per request of the hourly budget: 250,000 for 5,000 requests (third-party figures,
# research/tracker-apis.md 5.4), so a sandbox reset with a larger ``rate_limit`` widens both buckets alike.
COMPLEXITY_PER_REQUEST = 50
MAX_QUERY_COMPLEXITY = 10_000
_CODES_BY_STATUS = {401: "AUTHENTICATION_ERROR", 403: "FORBIDDEN", 429: "RATELIMITED"}


class LinearSandbox(SandboxTracker[LinearState]):
    """Linear's GraphQL API for team ``ENG``; see the module docstring for the behaviour reproduced."""

    kind = "linear"
    default_rate_limit = 5000  # requests an hour per API key (the complexity bucket is apart)
    rate_limit_window_s = 3600
    # Linear answers a spent bucket on a 400 (RATELIMITED), sometimes a 429.
    rate_limit_fault_statuses = frozenset({400, 429})
    webhook_timeout_s = 5.0
    webhook_retry_delays_s = (0.5, 1.0, 2.0)
    unknown_method_status = 405
    bad_json_message = "POST body sent invalid JSON."
    # What callers need (see core): a team-scoped connection with an API key; issues named by identifier.
    scope_key = "team"
    listing_route = "POST /graphql"
    listing_operation = "Issues"  # the adapter's ``query Issues(...)``; faults spare every other query
    issue_ref_key = "identifier"
    close_fields: ClassVar[Mapping[str, Any]] = {"state": "completed"}

    def build_state(self, sizes: Sizes, rng: random.Random) -> LinearState:
        return seed_state(rng, **sizes.seeding())

    @property
    def app_url(self) -> str:
        """Where people browse issues (``https://linear.app/<workspace>``): the sandbox's own origin."""
        return f"{self.url}/acme"

    def describe_extra(self) -> dict[str, Any]:
        return {"team": TEAM_KEY, "api_url": f"{self.url}/graphql"}

    # ---- auth, errors, limits ----------------------------------------------------------------------
    def authenticate(self, request: SandboxRequest) -> Principal:
        presented = (request.headers.get("Authorization") or "").strip()
        if presented and hmac.compare_digest(presented.encode(), self.token.encode()):
            return Principal(key="key:sandbox-bot", login="sandbox-bot")
        raise ApiError(
            400,
            "Authentication required, not authenticated",
            code="AUTHENTICATION_ERROR",
            type="authentication error",
            statusCode=401,
        )

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        status = error.details.get("statusCode", error.status)
        code = error.details.get("code") or _CODES_BY_STATUS.get(status)
        if code is None:
            code = "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST"
        extensions = {
            "type": error.details.get("type") or code.lower().replace("_", " "),
            "code": code,
            "statusCode": status,
            "userPresentableMessage": error.message,
        }
        body = {"errors": [{"message": error.message, "extensions": extensions}], "data": None}
        return Reply(body, error.status, dict(error.headers))

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        return {
            "X-RateLimit-Requests-Limit": str(bucket.limit),
            "X-RateLimit-Requests-Remaining": str(max(bucket.remaining, 0)),
            "X-RateLimit-Requests-Reset": str(bucket.reset * 1000),
        }

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        return ApiError(400, "Rate limit exceeded", code="RATELIMITED", type="ratelimited", statusCode=429)

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        principal = request.principal
        if principal is None:
            return {}
        start, spent = self._complexity_window(principal.key)
        return {
            "X-Complexity": str(getattr(request, "complexity", 0)),
            "X-RateLimit-Complexity-Limit": str(self.complexity_limit),
            "X-RateLimit-Complexity-Remaining": str(max(self.complexity_limit - spent, 0)),
            "X-RateLimit-Complexity-Reset": str((start + self.rate_limit_window_s) * 1000),
        }

    @property
    def complexity_limit(self) -> int:
        return COMPLEXITY_PER_REQUEST * self.rate_limit

    def _complexity_window(self, key: str) -> tuple[int, int]:
        now = self.now()
        start, spent = self.state.complexity.get(key, (now, 0))
        if now >= start + self.rate_limit_window_s:
            start, spent = now, 0
        return start, spent

    # ---- the endpoint ------------------------------------------------------------------------------
    @route("POST", "/graphql", conditional=False)
    def graphql(self, request: SandboxRequest) -> Reply:
        body = self.read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise ApiError(400, "Must provide query string.", code="BAD_REQUEST")
        variables = body.get("variables") or {}
        operation = body.get("operationName")
        if not isinstance(variables, dict) or not isinstance(operation, str | None):
            raise ApiError(400, "Variables must be an object.", code="BAD_REQUEST")
        try:
            document = parse(body["query"])
        except GraphQLError as exc:
            return _failed([exc], "GRAPHQL_PARSE_FAILED")
        problems = validate(SCHEMA, document)
        if problems:
            return _failed(problems, "GRAPHQL_VALIDATION_FAILED")
        cost = complexity(document, variables, operation)
        request.complexity = cost  # type: ignore[attr-defined]
        if cost > MAX_QUERY_COMPLEXITY:
            raise ApiError(400, f"Query too complex: {cost} points", code="QUERY_TOO_COMPLEX", statusCode=400)
        assert request.principal is not None  # authenticated by the pipeline before a handler runs
        start, spent = self._complexity_window(request.principal.key)
        if spent + cost > self.complexity_limit:
            raise self.rate_limited(request, self.rate_status(request.principal))
        self.state.complexity[request.principal.key] = (start, spent + cost)
        result = execute_sync(
            SCHEMA, document, root_value=Graph(self), variable_values=variables, operation_name=operation
        )
        errors = [_formatted(error) for error in result.errors or ()]
        answer: dict[str, Any] = {"data": result.data}
        if errors:
            answer["errors"] = errors
        return Reply(answer, 400 if errors and result.data is None else 200)

    # ---- writes (the API's and /_sandbox/mutate's) -------------------------------------------------
    def _now_ms(self) -> int:
        return self.state.tick(self.now() * 1000)

    def create_issue(self, *, title: str, creator_id: str, **fields: Any) -> Issue:
        default = self.state.state_for("unstarted")
        assert default is not None
        now = self._now_ms()
        issue = Issue(
            id=new_id(self.state.ids),
            number=self.state.next_number,
            title=title,
            description=fields.get("description"),
            priority=fields.get("priority", 0),
            state_id=fields.get("state_id", default.id),
            assignee_id=fields.get("assignee_id"),
            label_ids=list(fields.get("label_ids", [])),
            created_ms=now,
            updated_ms=now,
            creator_id=creator_id,
        )
        self.state.next_number += 1
        self.state.issues[issue.number] = issue
        self.state.comments_by_issue[issue.number] = []
        self.touch()
        self._emit("Issue", "create", Graph(self).render_issue(issue))
        return issue

    def update_issue(self, issue: Issue, *, touch_only: bool = False, **fields: Any) -> None:
        before = Graph(self).render_issue(issue)
        for name, value in fields.items():
            setattr(issue, name, value)
        issue.updated_ms = self._now_ms()
        self.touch()
        after = Graph(self).render_issue(issue)
        changed = {
            k: before[k] for k in ("title", "description", "priority", "state") if before[k] != after[k]
        }
        self._emit("Issue", "update", after, updated_from={"updatedAt": before["updatedAt"], **changed})

    def delete_issue(self, number: int) -> None:
        issue = self.state.issues[number]
        rendered = Graph(self).render_issue(issue)
        self.state.remove_issue(number)
        self.touch()
        self._emit("Issue", "remove", rendered)

    def add_comment(self, number: int, body: str, user_id: str) -> Comment:
        self.state.issues[number]
        now = self._now_ms()
        comment = Comment(new_id(self.state.ids), number, body, user_id, now, now)
        self.state.comments[comment.id] = comment
        self.state.comments_by_issue.setdefault(number, []).append(comment.id)
        self.touch()
        self._emit("Comment", "create", Graph(self).render_comment(comment))
        return comment

    def delete_comment(self, comment_id: str) -> None:
        rendered = Graph(self).render_comment(self.state.comments[comment_id])
        self.state.remove_comment(comment_id)
        self.touch()
        self._emit("Comment", "remove", rendered)

    @mutation("create")
    def mutate_create(self, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        given = dict(fields or {})
        issue = self.create_issue(
            title=str(given.pop("title", "") or ""), creator_id=self.state.bot.id, **self._fields(given)
        )
        return {"number": issue.number, "identifier": f"{TEAM_KEY}-{issue.number}", "id": issue.id}

    def _number(self, identifier: str | None, number: int | None) -> int:
        """The issue a mutation names, by ``identifier`` (``ENG-7``) or ``number``; KeyError when absent."""
        if identifier is not None:
            issue = self.state.issue_by_id(str(identifier))
            if issue is None:
                raise KeyError(identifier)
            return issue.number
        if number is None or int(number) not in self.state.issues:
            raise KeyError(number)
        return int(number)

    @mutation("update")
    def mutate_update(
        self,
        identifier: str | None = None,
        number: int | None = None,
        fields: Mapping[str, Any] | None = None,
        touch_only: bool = False,
    ) -> dict[str, Any]:
        issue = self.state.issues[self._number(identifier, number)]
        given = dict(fields or {})
        changes = self._fields(given)
        if "title" in given:
            changes["title"] = str(given["title"])
        self.update_issue(issue, **({} if touch_only else changes))
        return {"identifier": f"{TEAM_KEY}-{issue.number}", "updatedAt": iso_ms(issue.updated_ms)}

    def _fields(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Script-friendly fields (names, not ids) as record attributes; ``ValueError`` for unknown ones."""
        known = {"title", "description", "body", "labels", "state", "priority", "assignee"}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        changes: dict[str, Any] = {}
        if "description" in given or "body" in given:
            changes["description"] = given.get("description", given.get("body"))
        if "priority" in given:
            changes["priority"] = int(given["priority"])
        if "state" in given:
            state = self.state.state_for(str(given["state"]))
            if state is None:
                raise ValueError(f"no workflow state {given['state']!r}")
            changes["state_id"] = state.id
        if "labels" in given:
            labels = [self.state.label_by_name(str(name)) for name in given["labels"]]
            if any(label is None for label in labels):
                raise ValueError(f"unknown labels in {given['labels']!r}")
            changes["label_ids"] = [label.id for label in labels if label is not None]
        if "assignee" in given:
            people = {p.display_name: p.id for p in self.state.people}
            changes["assignee_id"] = people[given["assignee"]] if given["assignee"] else None
        return changes

    @mutation("comment")
    def mutate_comment(
        self, body: str, identifier: str | None = None, number: int | None = None
    ) -> dict[str, Any]:
        comment = self.add_comment(self._number(identifier, number), str(body), self.state.bot.id)
        return {"comment_id": comment.id}

    @mutation("edit_comment")
    def mutate_edit_comment(self, comment_id: str, body: str) -> dict[str, Any]:
        comment = self.state.comments[str(comment_id)]
        comment.body = str(body)
        comment.updated_ms = self._now_ms()
        self.touch()
        self._emit("Comment", "update", Graph(self).render_comment(comment))
        return {"comment_id": comment.id}

    @mutation("delete_comment")
    def mutate_delete_comment(self, comment_id: str) -> dict[str, Any]:
        self.delete_comment(str(comment_id))
        return {"comment_id": str(comment_id)}

    @mutation("delete")
    def mutate_delete(self, identifier: str | None = None, number: int | None = None) -> dict[str, Any]:
        found = self._number(identifier, number)
        self.delete_issue(found)
        return {"identifier": f"{TEAM_KEY}-{found}"}

    # ---- webhooks ----------------------------------------------------------------------------------
    def _emit(self, kind: str, action: str, data: Mapping[str, Any], **extra: Any) -> None:
        self.emit(kind, {"action": action, "data": _webhook_data(kind, data), **extra})

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        requests = []
        for hook in list(self.state.hooks.values()):
            if not hook.enabled or event not in hook.resource_types:
                continue
            sent_ms = int(time.time() * 1000)  # the send time, as a receiver's replay check reads it
            body = {
                "action": payload["action"],
                "actor": {"id": self.state.bot.id, "name": self.state.bot.name, "type": "user"},
                "createdAt": iso_ms(sent_ms),
                "data": payload["data"],
                "url": payload["data"].get("url"),
                "type": event,
                "organizationId": self.state.org_id,
                "webhookTimestamp": sent_ms,
                "webhookId": hook.id,
            }
            if payload.get("updated_from"):
                body["updatedFrom"] = payload["updated_from"]
            raw = json.dumps(body, separators=(",", ":")).encode()
            delivery = str(uuid.uuid4())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Linear-Webhook",
                "Linear-Delivery": delivery,
                "Linear-Event": event,
                "Linear-Timestamp": str(sent_ms),
            }
            if hook.secret:
                headers["Linear-Signature"] = hmac.new(hook.secret.encode(), raw, "sha256").hexdigest()
            requests.append(WebhookRequest(hook.url, headers, raw, event, delivery, hook_id=hook.id))
        return requests

    # ---- declared for callers ----------------------------------------------------------------------
    def issue_ref(self, issue: int | str) -> dict[str, Any]:
        """``ENG-7``, ``#7`` or ``7`` -> ``{"identifier": "ENG-7"}``."""
        return {"identifier": f"{TEAM_KEY}-{int(str(issue).rpartition('-')[2].lstrip('#'))}"}

    def remove_comment(self, comment_id: int | str) -> None:
        self.mutate("delete_comment", comment_id=str(comment_id))

    def issue_counts(self) -> tuple[int, int, int]:
        with self.lock:
            return len(self.state.issues), len(self.state.issues), len(self.state.comments)

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        """One page of 100 per 100 issues, one per 100 comments (the scope-wide listing), the team lookup."""
        return math.ceil(listed / 100) + math.ceil(comments / 100)

    def read_with_client_library(self) -> None:
        """The usual hand-written loop (Linear publishes no Python client): issues at the default page of
        50, then one ``issue { comments }`` query per issue."""
        issues_query = (
            "query($after: String) { issues(after: $after) { nodes { id identifier title description "
            "state { name type } updatedAt } pageInfo { hasNextPage endCursor } } }"
        )
        comments_query = "query($id: String!) { issue(id: $id) { comments { nodes { id body updatedAt } } } }"
        headers = {"Authorization": self.token}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60.0) as client:
            after: str | None = None
            for _ in range(100_000):
                page = client.post("/graphql", json={"query": issues_query, "variables": {"after": after}})
                issues = page.json()["data"]["issues"]
                for node in issues["nodes"]:
                    client.post("/graphql", json={"query": comments_query, "variables": {"id": node["id"]}})
                if not issues["pageInfo"]["hasNextPage"]:
                    return
                after = issues["pageInfo"]["endCursor"]


def _webhook_data(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A record in the webhook shape (``IssueWebhookPayload``, ``CommentWebhookPayload``): connections become
    lists (``labels``), related records gain their ids (``stateId``, ``teamId``, ``assigneeId``...)."""
    shaped = {k: v for k, v in data.items() if not callable(v)}
    if kind == "Issue":
        labels = data["labels"](None)["nodes"]
        team = {k: v for k, v in data["team"].items() if not callable(v)}
        shaped.update(
            labels=labels,
            labelIds=[label["id"] for label in labels],
            stateId=data["state"]["id"],
            team=team,
            teamId=team["id"],
            assigneeId=(data.get("assignee") or {}).get("id"),
            creatorId=(data.get("creator") or {}).get("id"),
        )
        if shaped.get("assignee") is None:
            shaped.pop("assignee", None)
    else:
        issue = data.get("issue") or {}
        shaped.update(
            issue={"id": issue.get("id"), "identifier": issue.get("identifier"), "title": issue.get("title")},
            userId=(data.get("user") or {}).get("id"),
        )
    return shaped


def _formatted(error: GraphQLError) -> dict[str, Any]:
    """A resolver's error as Linear formats it; one without a code is a coercion problem or a crash."""
    formatted: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        crashed = error.original_error is not None and not isinstance(error.original_error, GraphQLError)
        if crashed:
            logger.error("sandbox.linear_resolver_crashed", exc_info=error.original_error)
            formatted["message"] = "Internal server error"
        extensions.update(
            code="INTERNAL_SERVER_ERROR" if crashed else "GRAPHQL_VALIDATION_FAILED",
            type="internal error" if crashed else "graphql error",
            statusCode=500 if crashed else 400,
        )
    formatted["extensions"] = extensions
    return formatted


def _failed(errors: Any, code: str) -> Reply:
    formatted = []
    for error in errors:
        entry = dict(error.formatted)
        entry["extensions"] = {"code": code, "type": "graphql error", "statusCode": 400, "userError": True}
        formatted.append(entry)
    return Reply({"errors": formatted}, 400)
