"""Tracker actions as use cases: create, update, transition, comment, attach, search and bulk.

They take plain values (``IssueDraft``, ``IssueChanges``, a :class:`TransitionTarget`, a comment's text), so
the API (``runtime.api.actions``), auto-issue and mirrors call the same code; request bodies and their
validation live with the API (``runtime.api.action_models``).

Each action runs in the same order, so every outcome is one a client can reason about:

1. the connection is read (404 for an unknown one or another tenant's) and an adapter is leased from the
   :class:`~trackbridge.runtime.adapter_pool.AdapterPool`;
2. the tracker call; any failure is the adapter's ``TrackerError`` or another ``TrackbridgeError``, and
   nothing else has happened yet;
3. write-through: the issue or comment the tracker answered with goes into the synced copy with the same
   ordering rule as syncs and webhooks (``put_if_newer``), so ``GET /v1/issues/{ref}`` shows it at once;
4. an audit entry (``issue.create``, ``issue.update``, ``issue.transition``, ``issue.comment``,
   ``issue.attach``) whose target is the issue ref, which names the connection.

Once the tracker has acted, a DynamoDB failure in steps 3 and 4 is logged (``actions.write_through_failed``,
``actions.audit_failed``) and the action still answers success: the change exists on the tracker, and an
error would invite the client to repeat a create. The next sync or webhook repairs the copy.

Bulk (:meth:`TrackerActions.bulk`) takes items already read (a draft, an update, or the error that refused
the item), so a bad item fails alone; it runs them on a small thread pool sized per tracker (the tracker
declaration's ``bulk_concurrency``: GitHub asks for serial content-creating requests, so 1 there), and
stops starting items when the time budget runs out: those are answered ``NOT_ATTEMPTED`` (503, retryable),
never silently dropped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from trackbridge.domain.audit import Actor, FieldChange, diff, new_entry
from trackbridge.domain.connections import Connection
from trackbridge.domain.error_codes import ErrorCode, guidance_for
from trackbridge.domain.errors import (
    DependencyFailure,
    NotFound,
    TrackbridgeError,
    ValidationFailed,
    error_body,
)
from trackbridge.domain.issues import Comment, Issue
from trackbridge.domain.times import utcnow
from trackbridge.domain.trackers import tracker
from trackbridge.runtime.observability import logger

if TYPE_CHECKING:
    # Types only: the API imports this module at cold start (its routes' ``TrackerActions``), and the adapter
    # side pulls in httpx and the provider modules; the adapters themselves come from the pool at run time.
    from trackbridge.providers.base import TrackerAdapter
    from trackbridge.providers.types import Attachment, ConnectionReport, IssueChanges, IssueDraft, Transition
    from trackbridge.runtime.adapter_pool import AdapterPool
    from trackbridge.storage.audit import AuditRepository
    from trackbridge.storage.issues import CommentRepository, IssueRepository

MAX_BULK_ITEMS = 100
# API Gateway gives an integration 29 s; a bulk request stops starting items before that.
BULK_BUDGET_S = 25.0

CloseReason = Literal["completed", "not_planned", "duplicate"]
_CLOSE_TARGETS: Mapping[str, str] = {
    "completed": "close",
    "not_planned": "close_not_planned",
    "duplicate": "close_duplicate",
}


@dataclass(frozen=True, slots=True)
class TransitionTarget:
    """Where to move an issue: a status, transition name or id, or a status category (``to``), and GitHub's
    close ``reason`` (trackers without one ignore it)."""

    to: str
    reason: CloseReason | None = None

    def for_provider(self, provider: str) -> str:
        """The adapter's ``transition_issue`` target on ``provider``."""
        if self.reason is None or provider != "github":
            return self.to
        if self.to.strip().lower() not in {"done", "close", "closed", "completed"}:
            raise ValidationFailed(
                "a close reason applies only when closing an issue",
                details={"errors": [{"path": "body.reason", "message": "only with a move to done/closed"}]},
            )
        return _CLOSE_TARGETS[self.reason]


@dataclass(frozen=True, slots=True)
class IssueUpdate:
    """One bulk update: the issue's key and what to change."""

    key: str
    changes: IssueChanges


# A bulk item as read: a new issue, an update, or the error that refused it before the tracker was asked.
# (A string: ``IssueDraft`` is imported for type checking only, and nothing asks the alias at run time.)
BulkItem: TypeAlias = "IssueDraft | IssueUpdate | TrackbridgeError"


@dataclass(frozen=True, slots=True)
class BulkItemOutcome:
    index: int
    status: int  # 201 created, 200 updated, else the error's HTTP status
    issue: Issue | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    items: list[BulkItemOutcome]

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.items if r.error is None)

    @property
    def failed(self) -> int:
        return len(self.items) - self.succeeded


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


def error_of(exc: TrackbridgeError) -> tuple[int, dict[str, Any]]:
    """An error as a bulk item answers it: the status and the body's ``error`` object."""
    return exc.http_status, exc.to_body()["error"]


_NOT_ATTEMPTED = error_body(
    ErrorCode.NOT_ATTEMPTED,
    "the request's time ran out before this item was started",
    guidance=guidance_for(ErrorCode.NOT_ATTEMPTED),
)["error"]
_INTERNAL = error_body(ErrorCode.INTERNAL, "internal error")["error"]


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
    def create_issue(self, tenant: str, connection_id: str, draft: IssueDraft, actor: Actor) -> Issue:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            return self._create(target, adapter, draft, actor)

    def update_issue(
        self, tenant: str, connection_id: str, key: str, changes: IssueChanges, actor: Actor
    ) -> Issue:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            return self._update(target, adapter, key, changes, actor)

    def transition_issue(
        self, tenant: str, connection_id: str, key: str, to: TransitionTarget, actor: Actor
    ) -> Issue:
        target = self._target(tenant, connection_id)
        wanted = to.for_provider(target.connection.provider)
        with self.pool.lease(tenant, target.connection) as adapter:
            issue = adapter.transition_issue(key, wanted)
        self._record_issue(target, "issue.transition", issue, actor, extra={"target": wanted})
        return issue

    def add_comment(self, tenant: str, connection_id: str, key: str, body: str, actor: Actor) -> Comment:
        target = self._target(tenant, connection_id)
        with self.pool.lease(tenant, target.connection) as adapter:
            comment = adapter.add_comment(key, body)
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
        items: Sequence[BulkItem],
        actor: Actor,
        *,
        budget_s: float = BULK_BUDGET_S,
    ) -> BulkOutcome:
        if len(items) > MAX_BULK_ITEMS:
            raise ValidationFailed(
                f"at most {MAX_BULK_ITEMS} items per request",
                details={"errors": [{"path": "body.items", "message": f"at most {MAX_BULK_ITEMS} items"}]},
            )
        target = self._target(tenant, connection_id)
        deadline = self.monotonic() + budget_s
        workers = tracker(target.connection.provider).bulk_concurrency
        with (
            self.pool.lease(tenant, target.connection) as adapter,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool,
        ):
            futures = [
                pool.submit(self._bulk_item, target, adapter, index, item, actor, deadline)
                for index, item in enumerate(items)
            ]
            outcome = BulkOutcome([f.result() for f in futures])
        logger.info(
            "actions.bulk",
            extra={
                "tenant": tenant,
                "connection_id": connection_id,
                "items": len(outcome.items),
                "succeeded": outcome.succeeded,
                "workers": workers,
            },
        )
        return outcome

    def _bulk_item(
        self,
        target: _Target,
        adapter: TrackerAdapter,
        index: int,
        item: BulkItem,
        actor: Actor,
        deadline: float,
    ) -> BulkItemOutcome:
        if self.monotonic() >= deadline:
            return BulkItemOutcome(index=index, status=503, error=_NOT_ATTEMPTED)
        if isinstance(item, TrackbridgeError):
            status, error = error_of(item)
            return BulkItemOutcome(index=index, status=status, error=error)
        try:
            if isinstance(item, IssueUpdate):
                issue = self._update(target, adapter, item.key, item.changes, actor)
                return BulkItemOutcome(index=index, status=200, issue=issue)
            issue = self._create(target, adapter, item, actor)
            return BulkItemOutcome(index=index, status=201, issue=issue)
        except TrackbridgeError as exc:  # tracker failures included: each carries its own status and body
            status, error = error_of(exc)
            return BulkItemOutcome(index=index, status=status, error=error)
        except Exception:
            # A bug must not cost the other items their answers; it is logged with its traceback.
            logger.exception("actions.bulk_item_failed", extra={"index": index})
            return BulkItemOutcome(index=index, status=500, error=_INTERNAL)

    def _create(self, target: _Target, adapter: TrackerAdapter, draft: IssueDraft, actor: Actor) -> Issue:
        issue = adapter.create_issue(draft)
        self._record_issue(target, "issue.create", issue, actor)
        return issue

    def _update(
        self, target: _Target, adapter: TrackerAdapter, key: str, changes: IssueChanges, actor: Actor
    ) -> Issue:
        issue = adapter.update_issue(key, changes)
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
    "BULK_BUDGET_S",
    "MAX_BULK_ITEMS",
    "BulkItem",
    "BulkItemOutcome",
    "BulkOutcome",
    "CloseReason",
    "IssueUpdate",
    "TrackerActions",
    "TransitionTarget",
]
