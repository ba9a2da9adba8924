"""The YouTrack sandbox's pipeline hooks, shared helpers and ``/_sandbox/mutate`` actions."""

from __future__ import annotations

import hmac
import json
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ..core import (
    ApiError,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    SandboxTracker,
    Sizes,
    WebhookRequest,
    is_loopback_url,
    mutation,
)
from ._query import QueryError, parse_command, parse_fields, parse_query, project
from ._render import issue_json
from ._state import (
    BOT_LOGIN,
    PROJECT_KEY,
    Comment,
    Hook,
    Issue,
    YouTrackState,
    seed_state,
)

__all__ = ["YouTrackBase"]

HOOK_EVENTS = {"issue": "issues", "comment": "comments"}
# The activity categories the stream records (developer portal, "Activity Category"): an issue created or
# deleted, a comment added or removed (deleted, or moved to the recycle bin, and back).
ISSUE_CATEGORY = "IssueCreatedCategory"
COMMENT_CATEGORY = "CommentsCategory"


class YouTrackBase(SandboxTracker[YouTrackState]):
    """What every YouTrack route and mutation shares: auth, errors, limits, app webhooks, state writes."""

    # YouTrack Cloud documents no request limit; the sandbox keeps one so the fault cases have a budget.
    default_rate_limit = 10_000
    rate_limit_window_s = 3600
    webhook_timeout_s = 10.0
    webhook_retry_delays_s = ()
    unknown_method_status = 405
    bad_json_message = "Unexpected JSON"

    def build_state(self, sizes: Sizes, rng: random.Random) -> YouTrackState:
        return seed_state(rng, **sizes.seeding())

    @property
    def token(self) -> str:
        return f"perm:sandbox-youtrack-token-{self.sizes.seed}"

    def describe_extra(self) -> dict[str, Any]:
        return {"project": PROJECT_KEY, "api_url": f"{self.url}/api"}

    # ------------------------------------------------------------------ pipeline hooks

    def authenticate(self, request: SandboxRequest) -> Principal:
        scheme, _, credential = (request.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            return Principal(key="user:sandbox-bot", login=BOT_LOGIN)
        raise ApiError(401, "Invalid token, expired or revoked")

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        body = {
            "error": error.details.get("error") or _error_name(error.status),
            "error_description": error.message,
        }
        return Reply(body, error.status, dict(error.headers))

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        return {}

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        retry_after = max(bucket.reset - int(time.time()), 1)
        return ApiError(429, "Too many requests", headers={"Retry-After": str(retry_after)})

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        group = HOOK_EVENTS.get(event.partition(".")[0])
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        requests = []
        for hook in self.state.hooks.values():
            if group not in hook.events:
                continue
            delivery = str(uuid.uuid4())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "YouTrack Workflow",
                "X-Trackbridge-Token": hook.secret,
                "X-Trackbridge-Delivery": delivery,
                "X-Trackbridge-Event": event,
            }
            requests.append(WebhookRequest(hook.url, headers, body, event, delivery, hook.id))
        return requests

    # ------------------------------------------------------------------ helpers the routes share

    def now_ms(self) -> int:
        return self.now() * 1000

    def issue_or_404(self, ref: str) -> Issue:
        issue = self.state.issue(ref)
        if issue is None:
            raise ApiError(404, f"Entity with id {ref} not found")
        return issue

    def selection(self, request: SandboxRequest) -> Any:
        try:
            return parse_fields(request.args.get("fields"))
        except ValueError as exc:
            raise ApiError(400, f"Invalid fields: {exc}", error="invalid_query") from exc

    def window(self, request: SandboxRequest) -> tuple[int, int]:
        values = []
        for name, default in (("$skip", 0), ("$top", 42)):
            raw = request.args.get(name)
            if raw is None:
                values.append(default)
                continue
            try:
                number = int(raw)
            except ValueError:
                raise ApiError(400, f"Invalid value of {name}: {raw}", error="invalid_query") from None
            values.append(number if number >= 0 else default)
        return values[0], values[1]

    def matching(self, query_text: str | None) -> list[int]:
        try:
            query = parse_query(query_text)
        except QueryError as exc:
            raise ApiError(400, str(exc), error="invalid_query") from exc
        return list(self.view(("issues", query.key()), lambda: self._filter(query)))

    def _filter(self, query: Any) -> list[int]:
        if query.project not in (None, PROJECT_KEY):
            return []
        field, descending = query.sort
        index = self.state.by_created if field == "created" else self.state.by_updated
        keys = reversed(index.keys()) if descending else iter(index.keys())
        found = []
        for _, number in keys:
            issue = self.state.issues[number]
            if query.resolved is not None and (issue.resolved is not None) != query.resolved:
                continue
            if not all(_within(getattr(issue, name), span) for name, span in query.ranges.items()):
                continue
            if query.words:
                text = f"{issue.summary} {issue.description or ''}".lower()
                if not all(word in text for word in query.words):
                    continue
            found.append(number)
        return found

    def changed(self, issue: Issue, event: str, comment: Comment | None = None) -> None:
        """After a write: move ``updated``, bump the data version, fire the app's workflow delivery."""
        self.state.set_updated(issue, self.now_ms())
        self.touch()
        self.emit_change(issue, event, comment)

    def emit_change(self, issue: Issue, event: str, comment: Comment | None = None) -> None:
        payload: dict[str, Any] = {
            "event": event,
            "project": PROJECT_KEY,
            "timestamp": self.now_ms(),
            "issue": {"id": issue.id, "idReadable": issue.key, "updated": issue.updated},
        }
        if comment is not None:
            payload["comment"] = {"id": comment.id, "updated": comment.updated}
        self.emit(event, payload)

    def apply_command(self, issue: Issue, text: str) -> None:
        try:
            pairs = parse_command(text)
        except QueryError as exc:
            raise ApiError(400, str(exc), error="bad_request") from exc
        for name, value in pairs:
            self._apply(issue, name, value)

    def _apply(self, issue: Issue, name: str, value: str) -> None:
        from ._state import PRIORITIES, STATES, TYPES

        if name == "tag":
            if value not in issue.tags:
                issue.tags.append(value)
        elif name == "untag":
            if value in issue.tags:
                issue.tags.remove(value)
        elif name == "state":
            names = {state.lower(): state for state, _ in STATES}
            if value.lower() not in names:
                raise ApiError(400, f"Unknown state: {value}", error="bad_request")
            self.state.set_state(issue, names[value.lower()], self.now_ms())
        elif name in ("priority", "type"):
            allowed = {v.lower(): v for v in (PRIORITIES if name == "priority" else TYPES)}
            if value.lower() not in allowed:
                raise ApiError(400, f"Unknown {name}: {value}", error="bad_request")
            setattr(issue, name, allowed[value.lower()])
        elif value.lower() == "unassigned":
            issue.assignee = None
        elif value in self.state.users:
            issue.assignee = value
        else:
            raise ApiError(400, f"Unknown user: {value}", error="bad_request")

    def render_issue(self, issue: Issue, selection: Any) -> Any:
        return project(issue_json(issue, self.state.users), selection)

    def register_hook(self, body: Mapping[str, Any]) -> Hook:
        url, secret, events = (
            body.get("url"),
            body.get("secret"),
            body.get("events") or ["issues", "comments"],
        )
        if body.get("project") != PROJECT_KEY:
            raise ApiError(404, f"Project {body.get('project')} not found")
        if not isinstance(url, str) or not is_loopback_url(url):
            raise ApiError(400, "url must be a loopback http(s) URL", error="bad_request")
        if not isinstance(secret, str) or not secret:
            raise ApiError(400, "secret is required", error="bad_request")
        hook = Hook(f"hook-{self.state.next_hook}", url, secret, tuple(str(e) for e in events))
        self.state.next_hook += 1
        self.state.hooks[hook.id] = hook
        return hook

    # ------------------------------------------------------------------ /_sandbox/mutate

    def _mutation_issue(self, key: Any) -> Issue:
        issue = self.state.issue(str(key)) if key is not None else None
        if issue is None:
            raise KeyError(f"issue {key}")
        return issue

    @mutation("create")
    def mutate_create(self, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        values = dict(fields or {})
        issue = self.create(
            str(values.get("summary") or f"Sandbox issue at {self.now_ms()}"), values.get("description")
        )
        for tag in values.get("tags") or []:
            self._apply(issue, "tag", str(tag))
        if values.get("assignee"):
            self._apply(issue, "assignee", str(values["assignee"]))
        return {"key": issue.key, "id": issue.id, "updated": issue.updated}

    @mutation("update")
    def mutate_update(
        self, key: Any = None, fields: dict[str, Any] | None = None, touch_only: bool = False
    ) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        values = dict(fields or {}) if not touch_only else {}
        if "summary" in values:
            issue.summary = str(values["summary"])
        if "description" in values:
            issue.description = values["description"]
        for name in ("state", "assignee"):
            if values.get(name):
                try:
                    self._apply(issue, name, str(values[name]))
                except ApiError as exc:
                    raise ValueError(exc.message) from exc
        if "tags" in values:
            issue.tags = [str(tag) for tag in values["tags"] or []]
        self.changed(issue, "issue.updated")
        return {"key": issue.key, "updated": issue.updated, "state": issue.state}

    @mutation("comment")
    def mutate_comment(self, key: Any = None, body: str | None = None) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        comment = self.add_comment(issue, body or f"Sandbox comment at {self.now_ms()}")
        return {"key": issue.key, "comment_id": comment.id, "updated": issue.updated}

    def _mutation_comment(self, comment_id: Any) -> tuple[Issue, Comment]:
        comment = self.state.comment(str(comment_id))
        issue = self.state.issues.get(comment.issue) if comment is not None else None
        if comment is None or issue is None:
            raise KeyError(f"comment {comment_id}")
        return issue, comment

    @mutation("edit_comment")
    def mutate_edit_comment(self, comment_id: Any = None, body: str | None = None) -> dict[str, Any]:
        issue, comment = self._mutation_comment(comment_id)
        comment.text = body or comment.text
        comment.updated = max(self.now_ms(), comment.created + 1)
        self.changed(issue, "comment.updated", comment)
        return {"comment_id": comment.id, "updated": comment.updated}

    @mutation("delete_comment")
    def mutate_delete_comment(self, comment_id: Any = None) -> dict[str, Any]:
        issue, comment = self._mutation_comment(comment_id)
        self.drop_comment(issue, comment)
        return {"comment_id": comment.id, "deleted": True}

    @mutation("delete")
    def mutate_delete(self, key: Any = None) -> dict[str, Any]:
        issue = self._mutation_issue(key)
        self.drop_issue(issue)
        return {"key": issue.key, "deleted": True}

    # ------------------------------------------------------------------ writes the API and mutations share

    def create(self, summary: str, description: Any) -> Issue:
        now = self.now_ms()
        issue = Issue(
            self.state.next_issue,
            summary,
            description if isinstance(description, str) else None,
            BOT_LOGIN,
            "Submitted",
            [],
            None,
            "Normal",
            "Bug",
            now,
            now,
        )
        self.state.add_issue(issue)
        self.state.record(ISSUE_CATEGORY, issue, now, added=True)
        self.touch()
        self.emit_change(issue, "issue.created")
        return issue

    def add_comment(self, issue: Issue, text: str) -> Comment:
        comment = self.state.add_comment(issue, BOT_LOGIN, text, self.now_ms())
        self.state.record(COMMENT_CATEGORY, issue, comment.created, added=True, comment=comment.number)
        self.changed(issue, "comment.added", comment)
        return comment

    def drop_comment(self, issue: Issue, comment: Comment) -> None:
        self.state.comments.pop(comment.number, None)
        issue.comments.remove(comment.number)
        self.state.record(COMMENT_CATEGORY, issue, self.now_ms(), added=False, comment=comment.number)
        self.changed(issue, "comment.removed", comment)

    def drop_issue(self, issue: Issue) -> None:
        self.state.remove_issue(issue)
        self.state.record(ISSUE_CATEGORY, issue, self.now_ms(), added=False)
        self.touch()
        self.emit_change(issue, "issue.removed")


def _within(value: int, span: tuple[int | None, int | None]) -> bool:
    low, high = span
    return (low is None or value >= low) and (high is None or value <= high)


def _error_name(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
