"""Tracker actions: create, update, transition, comment, attach, search and bulk, on any connection.

Each action runs in the same order, so every outcome is one a client can reason about:

1. the connection is read (404 for an unknown one or another tenant's) and an adapter is leased from the
   :class:`AdapterPool`;
2. the tracker call; any failure is the adapter's ``TrackerError`` (mapped to HTTP in ``api/errors.py``) or
   a domain error, and nothing else has happened yet;
3. write-through: the issue or comment the tracker answered with goes into the synced copy with the same
   ordering rule as syncs and webhooks (``put_if_newer``), so ``GET /v1/issues/{ref}`` shows it at once;
4. an audit entry (``issue.create``, ``issue.update``, ``issue.transition``, ``issue.comment``,
   ``issue.attach``) whose target is the issue ref, which names the connection.

Once the tracker has acted, a DynamoDB failure in steps 3 and 4 is logged (``actions.write_through_failed``,
``actions.audit_failed``) and the action still answers success: the change exists on the tracker, and an
error would invite the client to repeat a create. The next sync or webhook repairs the copy.

Bulk (:meth:`TrackerActions.bulk`) validates each item on its own (a bad item fails alone), runs them on a
small thread pool sized per tracker (GitHub asks for serial content-creating requests, so 1 there), and
stops starting items when the request's time budget runs out: those are answered ``NOT_ATTEMPTED`` (503,
retryable), never silently dropped.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trackbridge.domain.audit import Actor, FieldChange, diff, new_entry
from trackbridge.domain.connections import Connection
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import DependencyFailure, NotFound, TrackbridgeError, ValidationFailed
from trackbridge.domain.issues import Comment, Issue, StatusCategory
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import AuthenticationError, RateLimitedError, TrackerError
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import Attachment, ConnectionReport, IssueChanges, IssueDraft, Transition
from trackbridge.runtime.issues import IssueView
from trackbridge.runtime.observability import logger
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.issues import CommentRepository, IssueRepository

MAX_BULK_ITEMS = 100
MAX_TITLE = 1_000
# GitHub's own cap on issue and comment bodies (characters); the other trackers accept at least as much.
MAX_BODY = 65_536
MAX_LIST = 100
MAX_SEARCH_LIMIT = 100
# Threads per bulk request. GitHub's secondary limits punish concurrent content-creating requests.
BULK_CONCURRENCY: Mapping[str, int] = {"github": 1}
DEFAULT_BULK_CONCURRENCY = 4
# API Gateway gives an integration 29 s; a bulk request stops starting items before that.
BULK_BUDGET_S = 25.0

# An API request must answer within API Gateway's 29 s: fewer, shorter retries than a sync slice, and no
# in-process wait for a rate limit longer than 5 s (the client gets 429 with Retry-After instead).
API_RETRY = RetryPolicy(
    max_attempts=3, base_delay_s=0.25, max_delay_s=2.0, max_wait_s=5.0, max_rate_limit_waits=1
)
API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
API_ADAPTER_OPTIONS: Mapping[str, Any] = {"retry": API_RETRY, "timeout": API_TIMEOUT}


# ---- request bodies ---------------------------------------------------------------------------------------

_Label = Field(min_length=1, max_length=255)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IssueCreate(_Body):
    """A new issue. ``body`` is Markdown (rendered as ADF for Jira); ``assignees`` are logins (GitHub),
    usernames (GitLab) or one account id (Jira); ``fields`` are tracker-native extras sent as they are."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field("", max_length=MAX_BODY)
    labels: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    assignees: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    priority: str | None = Field(None, min_length=1, max_length=255)
    type: str | None = Field(None, min_length=1, max_length=255, description="issue type, e.g. Bug")
    fields: dict[str, Any] = Field(default_factory=dict, description="tracker-native fields")

    def draft(self) -> IssueDraft:
        return IssueDraft(
            title=self.title,
            body=self.body,
            labels=tuple(self.labels),
            assignees=tuple(self.assignees),
            priority=self.priority,
            issue_type=self.type,
            fields=dict(self.fields),
        )


class IssuePatch(_Body):
    """A partial update: absent fields stay as they are. ``labels`` replaces the set; ``add_labels`` and
    ``remove_labels`` edit it. Status changes go through ``/transitions``."""

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE)
    body: str | None = Field(None, max_length=MAX_BODY)
    labels: list[str] | None = Field(None, max_length=MAX_LIST)
    add_labels: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    remove_labels: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    assignees: list[str] | None = Field(None, max_length=MAX_LIST)
    priority: str | None = Field(None, min_length=1, max_length=255)
    fields: dict[str, Any] = Field(default_factory=dict, description="tracker-native fields")

    @model_validator(mode="after")
    def _something(self) -> IssuePatch:
        if self.changes().empty:
            raise ValueError("nothing to change: give at least one field")
        return self

    def changes(self) -> IssueChanges:
        return IssueChanges(
            title=self.title,
            body=self.body,
            labels=tuple(self.labels) if self.labels is not None else None,
            add_labels=tuple(self.add_labels),
            remove_labels=tuple(self.remove_labels),
            assignees=tuple(self.assignees) if self.assignees is not None else None,
            priority=self.priority,
            fields=dict(self.fields),
        )


CloseReason = Literal["completed", "not_planned", "duplicate"]


class TransitionRequest(_Body):
    """Where to move: a status (or transition) by name, or a status category. ``reason`` is GitHub's close
    reason; trackers without one ignore it."""

    to: str | None = Field(
        None, min_length=1, max_length=255, description="a status or transition name or id"
    )
    status_category: StatusCategory | None = None
    reason: CloseReason | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransitionRequest:
        if (self.to is None) == (self.status_category is None):
            raise ValueError("give exactly one of 'to' and 'status_category'")
        return self

    def target(self, provider: str) -> str:
        """The adapter's ``transition_issue`` target for this request on ``provider``."""
        target = self.to if self.to is not None else str(self.status_category)
        if self.reason is None or provider != "github":
            return target
        if target.strip().lower() not in {"done", "close", "closed", "completed"}:
            raise ValidationFailed(
                "a close reason applies only when closing an issue",
                details={"errors": [{"path": "body.reason", "message": "only with a move to done/closed"}]},
            )
        return {"completed": "close", "not_planned": "close_not_planned", "duplicate": "close_duplicate"}[
            self.reason
        ]


class CommentCreate(_Body):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown")


class BulkRequest(_Body):
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BULK_ITEMS,
        description='each {"op": "create", ...issue fields} or {"op": "update", "key", ...changes}',
    )


class BulkCreate(IssueCreate):
    op: Literal["create"]


class BulkUpdate(IssuePatch):
    op: Literal["update"]
    key: str = Field(min_length=1, max_length=255)


# ---- answers -----------------------------------------------------------------------------------------------


class TransitionView(BaseModel):
    id: str
    name: str
    to_status: str
    to_category: str

    @classmethod
    def of(cls, t: Transition) -> TransitionView:
        return cls(id=t.id, name=t.name, to_status=t.to_status, to_category=t.to_category)


class AttachmentView(BaseModel):
    id: str
    issue_key: str
    filename: str
    url: str | None = None
    size: int | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An error as the API answers it: status, the ``error`` object, and headers (``Retry-After``)."""

    status: int
    error: dict[str, Any]
    headers: Mapping[str, str]

    def body(self) -> dict[str, Any]:
        return {"error": self.error}


def _retry_after(exc: TrackerError, now: datetime) -> float | None:
    if exc.retry_after_s is not None:
        return exc.retry_after_s
    if isinstance(exc, RateLimitedError) and exc.reset_at is not None:
        return max(0.0, (exc.reset_at - now).total_seconds())
    return None


def tracker_failure(exc: TrackerError, *, now: datetime | None = None) -> Failure:
    """How a tracker failure is answered: ``error_codes`` gives the status (401s from the tracker are 502:
    the connection's credentials, not the caller's key, were refused), the tracker's own message, and
    guidance for whoever must act."""
    details: dict[str, Any] = {
        "provider": exc.provider,
        "tracker_status": exc.status,
        "retryable": exc.retryable,
        "field_errors": [f.to_dict() for f in exc.field_errors],
    }
    if exc.reset_at is not None:
        details["reset_at"] = exc.reset_at.isoformat()
    headers: dict[str, str] = {}
    wait = _retry_after(exc, now or datetime.now(UTC))
    if wait is not None:
        details["retry_after_s"] = wait
        headers["Retry-After"] = str(max(1, round(wait)))
    error = {"code": str(exc.code), "message": exc.message, "details": details, "guidance": exc.guidance}
    return Failure(exc.http_status, error, headers)


class BulkItemResult(BaseModel):
    index: int
    status: int = Field(description="201 created, 200 updated, else the error's HTTP status")
    issue: IssueView | None = None
    error: dict[str, Any] | None = None


class BulkResult(BaseModel):
    items: list[BulkItemResult]
    succeeded: int
    failed: int


# ---- adapters ----------------------------------------------------------------------------------------------


class CredentialSource(Protocol):
    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None: ...


AdapterFactory = Callable[..., TrackerAdapter]


@dataclass
class _Pooled:
    adapter: TrackerAdapter
    version: int
    expires_at: float
    users: int = 0
    retired: bool = False


class AdapterPool:
    """One adapter (one httpx client, one credentials read) per connection per process, for ``ttl_s``.

    An entry is rebuilt when the connection's version changes (a PATCH may have rotated its credentials) or
    its time is up. Adapters are leased, so one retired while a request still uses it is closed when that
    request returns, never under it. At most ``max_size`` connections are kept (least recently used go).
    """

    def __init__(
        self,
        secrets: CredentialSource,
        *,
        factory: AdapterFactory | None = None,
        options: Mapping[str, Any] = API_ADAPTER_OPTIONS,
        ttl_s: float = 300.0,
        max_size: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if factory is None:
            from trackbridge.runtime.sync.adapters import default_adapter_factory

            factory = default_adapter_factory
        self.secrets = secrets
        self.factory = factory
        self.options = dict(options)
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], _Pooled] = OrderedDict()
        self._lock = threading.Lock()

    def build(self, tenant: str, connection: Connection) -> TrackerAdapter:
        """A new adapter the caller owns (and closes)."""
        credentials = self.secrets.credentials(tenant, connection.id)
        if not credentials:
            raise AuthenticationError(
                "the connection has no stored credentials",
                code=ErrorCode.AUTH_INVALID,
                provider=connection.provider,
                guidance="Set credentials with PATCH /v1/connections/{id}.",
            )
        return self.factory(connection, credentials, **self.options)

    @contextmanager
    def lease(self, tenant: str, connection: Connection) -> Iterator[TrackerAdapter]:
        entry = self._acquire(tenant, connection)
        try:
            yield entry.adapter
        finally:
            with self._lock:
                entry.users -= 1
                close = entry.retired and entry.users == 0
            if close:
                entry.adapter.close()

    def _acquire(self, tenant: str, connection: Connection) -> _Pooled:
        key = (tenant, connection.id)
        to_close: list[TrackerAdapter] = []
        with self._lock:
            now = self.clock()
            entry = self._entries.get(key)
            if entry is not None and (entry.version != connection.version or entry.expires_at <= now):
                to_close.extend(self._retire(key))
                entry = None
            if entry is None:
                entry = _Pooled(self.build(tenant, connection), connection.version, now + self.ttl_s)
                self._entries[key] = entry
                while len(self._entries) > self.max_size:
                    to_close.extend(self._retire(next(iter(self._entries))))
            self._entries.move_to_end(key)
            entry.users += 1
        for adapter in to_close:
            adapter.close()
        return entry

    def _retire(self, key: tuple[str, str]) -> list[TrackerAdapter]:
        entry = self._entries.pop(key)
        entry.retired = True
        return [entry.adapter] if entry.users == 0 else []

    def close(self) -> None:
        with self._lock:
            to_close = [a for key in list(self._entries) for a in self._retire(key)]
        for adapter in to_close:
            adapter.close()


# ---- the service -------------------------------------------------------------------------------------------


class ConnectionSource(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...


def _body_digest(body: str) -> str:
    # The audit trail says that a body changed, not what it says (it may hold anything a person typed).
    return f"sha256:{hashlib.sha256(body.encode('utf-8')).hexdigest()[:16]} ({len(body)} chars)"


def _audited(issue: Issue | None) -> dict[str, Any] | None:
    if issue is None:
        return None
    return {
        "key": issue.key,
        "title": issue.title,
        "body": _body_digest(issue.body),
        "status": issue.status,
        "status_category": issue.status_category,
        "labels": sorted(issue.labels),
        "assignees": sorted(issue.assignees),
        "priority": issue.priority,
    }


@dataclass(frozen=True, slots=True)
class _Target:
    tenant: str
    connection: Connection


class TrackerActions:
    def __init__(
        self,
        connections: ConnectionSource,
        pool: AdapterPool,
        issues: IssueRepository,
        comments: CommentRepository,
        audit: AuditRepository,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connections = connections
        self.pool = pool
        self.issues = issues
        self.comments = comments
        self.audit = audit
        self.clock = clock
        self.monotonic = monotonic

    def _target(self, tenant: str, connection_id: str) -> _Target:
        return _Target(tenant, self.connections.get(tenant, connection_id))

    # -- reads -----------------------------------------------------------------------------------------------
    def test_connection(self, tenant: str, connection_id: str) -> ConnectionReport:
        target = self._target(tenant, connection_id)
        # A fresh adapter: a test must not reuse what an earlier request learned (identity, cached state).
        with self.pool.build(tenant, target.connection) as adapter:
            report = adapter.test_connection()
        logger.info(
            "actions.connection_tested",
            extra={"tenant": tenant, "connection_id": connection_id, "ok": report.ok},
        )
        return report

    def list_transitions(self, tenant: str, connection_id: str, key: str) -> list[Transition]:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            return adapter.list_transitions(key)

    def search(self, tenant: str, connection_id: str, query: str, *, limit: int) -> list[Issue]:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            return adapter.search_issues(query, limit=limit)

    # -- writes ----------------------------------------------------------------------------------------------
    def create_issue(self, tenant: str, connection_id: str, body: IssueCreate, actor: Actor) -> Issue:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            return self._create(target, adapter, body, actor)

    def update_issue(
        self, tenant: str, connection_id: str, key: str, body: IssuePatch, actor: Actor
    ) -> Issue:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            return self._update(target, adapter, key, body, actor)

    def transition_issue(
        self, tenant: str, connection_id: str, key: str, body: TransitionRequest, actor: Actor
    ) -> Issue:
        target = self._target(tenant, connection_id)
        wanted = body.target(target.connection.provider)
        with self.pool.lease(tenant, target.connection) as adapter:
            issue = adapter.transition_issue(key, wanted)
        self._record_issue(target, "issue.transition", issue, actor, extra={"target": wanted})
        return issue

    def add_comment(
        self, tenant: str, connection_id: str, key: str, body: CommentCreate, actor: Actor
    ) -> Comment:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            comment = adapter.add_comment(key, body.body)
        self._write_through(tenant, lambda: self.comments.put_if_newer(tenant, comment), comment.issue_ref)
        self._append_audit(
            target,
            "issue.comment",
            comment.issue_ref,
            actor,
            {
                "comment_id": FieldChange(new=comment.id),
                "body": FieldChange(new=_body_digest(comment.body)),
            },
        )
        return comment

    def attach_file(
        self,
        tenant: str,
        connection_id: str,
        key: str,
        *,
        filename: str,
        content: bytes,
        content_type: str,
        actor: Actor,
    ) -> Attachment:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            # Asked before any upload, so a tracker without attachments costs no request.
            adapter.require("attachments")
            attachment = adapter.attach_file(key, filename, content, content_type)
            # The issue as it is now: its ref names the audit entry, and its copy gets the update time.
            issue = adapter.get_issue(key)
        extra = {"attachment_id": attachment.id, "filename": attachment.filename, "size": len(content)}
        self._record_issue(target, "issue.attach", issue, actor, extra=extra)
        return attachment

    def bulk(
        self,
        tenant: str,
        connection_id: str,
        items: Sequence[Mapping[str, Any]],
        actor: Actor,
        *,
        budget_s: float = BULK_BUDGET_S,
    ) -> BulkResult:
        if len(items) > MAX_BULK_ITEMS:
            raise ValidationFailed(
                f"at most {MAX_BULK_ITEMS} items per request",
                details={"errors": [{"path": "body.items", "message": f"at most {MAX_BULK_ITEMS} items"}]},
            )
        target = self._target(tenant, connection_id)
        deadline = self.monotonic() + budget_s
        workers = BULK_CONCURRENCY.get(target.connection.provider, DEFAULT_BULK_CONCURRENCY)
        with (
            self.pool.lease(tenant, target.connection) as adapter,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool,
        ):
            futures = [
                pool.submit(self._bulk_item, target, adapter, index, raw, actor, deadline)
                for index, raw in enumerate(items)
            ]
            results = [f.result() for f in futures]
        succeeded = sum(1 for r in results if r.error is None)
        logger.info(
            "actions.bulk",
            extra={
                "tenant": tenant,
                "connection_id": connection_id,
                "items": len(results),
                "succeeded": succeeded,
                "workers": workers,
            },
        )
        return BulkResult(items=results, succeeded=succeeded, failed=len(results) - succeeded)

    def _bulk_item(
        self,
        target: _Target,
        adapter: TrackerAdapter,
        index: int,
        raw: Mapping[str, Any],
        actor: Actor,
        deadline: float,
    ) -> BulkItemResult:
        if self.monotonic() >= deadline:
            return BulkItemResult(
                index=index,
                status=503,
                error={
                    "code": "NOT_ATTEMPTED",
                    "message": "the request's time ran out before this item was started",
                    "details": None,
                    "guidance": "Nothing was sent for this item: send it again.",
                },
            )
        try:
            op = raw.get("op") if isinstance(raw, Mapping) else None
            if op == "update":
                update = BulkUpdate.model_validate(raw)
                issue = self._update(target, adapter, update.key, update, actor)
                return BulkItemResult(index=index, status=200, issue=IssueView.of(issue))
            create = BulkCreate.model_validate(raw)
            issue = self._create(target, adapter, create, actor)
            return BulkItemResult(index=index, status=201, issue=IssueView.of(issue))
        except ValidationError as exc:
            errors = [
                {"path": ".".join(str(p) for p in ("body", "items", index, *e["loc"])), "message": e["msg"]}
                for e in exc.errors()
            ]
            return BulkItemResult(
                index=index,
                status=422,
                error={"code": "VALIDATION_FAILED", "message": "invalid item", "details": {"errors": errors}},
            )
        except TrackerError as exc:
            failure = tracker_failure(exc)
            return BulkItemResult(index=index, status=failure.status, error=failure.error)
        except TrackbridgeError as exc:
            return BulkItemResult(index=index, status=exc.status, error=exc.to_body()["error"])
        except Exception:
            # A bug must not cost the other items their answers; it is logged with its traceback.
            logger.exception("actions.bulk_item_failed", extra={"index": index})
            return BulkItemResult(
                index=index,
                status=500,
                error={"code": "INTERNAL", "message": "internal error", "details": None},
            )

    def _create(self, target: _Target, adapter: TrackerAdapter, body: IssueCreate, actor: Actor) -> Issue:
        issue = adapter.create_issue(body.draft())
        self._record_issue(target, "issue.create", issue, actor)
        return issue

    def _update(
        self, target: _Target, adapter: TrackerAdapter, key: str, body: IssuePatch, actor: Actor
    ) -> Issue:
        issue = adapter.update_issue(key, body.changes())
        self._record_issue(target, "issue.update", issue, actor)
        return issue

    # -- write-through and audit -----------------------------------------------------------------------------
    def _record_issue(
        self,
        target: _Target,
        action: str,
        issue: Issue,
        actor: Actor,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        tenant = target.tenant
        before: Issue | None = None
        try:
            before = self.issues.get(tenant, issue.connection_id, issue.external_id)
        except NotFound:
            before = None
        except DependencyFailure:
            before = None  # the audit then shows new values only; the write below reports the outage
        self._write_through(tenant, lambda: self.issues.put_if_newer(tenant, issue), issue.ref)
        changes = diff(_audited(before), _audited(issue))
        for name, value in (extra or {}).items():
            changes[name] = FieldChange(new=value)
        self._append_audit(target, action, issue.ref, actor, changes)

    def _write_through(self, tenant: str, write: Callable[[], Any], ref: str) -> None:
        try:
            write()
        except DependencyFailure as exc:
            logger.warning(
                "actions.write_through_failed",
                extra={"tenant": tenant, "ref": ref, "code": exc.code, "details": exc.details},
            )

    def _append_audit(
        self, target: _Target, action: str, subject: str, actor: Actor, changes: dict[str, FieldChange]
    ) -> None:
        entry = new_entry(action=action, target=subject, actor=actor, at=self.clock(), changes=changes)
        try:
            self.audit.append(target.tenant, entry)
        except DependencyFailure as exc:
            logger.error(
                "actions.audit_failed",
                extra={"tenant": target.tenant, "action": action, "target": subject, "code": exc.code},
            )


__all__ = [
    "API_ADAPTER_OPTIONS",
    "BULK_CONCURRENCY",
    "MAX_BULK_ITEMS",
    "AdapterPool",
    "AttachmentView",
    "BulkRequest",
    "BulkResult",
    "CommentCreate",
    "Failure",
    "IssueCreate",
    "IssuePatch",
    "TrackerActions",
    "TransitionRequest",
    "TransitionView",
    "tracker_failure",
]
