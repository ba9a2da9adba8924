"""The apply Lambda's logic: one inbound delivery (:mod:`.messages`) -> its changes, stored as a sync would.

``functions/apply.py`` is decorators plus :func:`apply_record`. For each record:

1. the body is read as an :class:`~trackbridge.runtime.webhooks.messages.InboundDelivery`; a body that is
   not one fails the record (:class:`UnreadableDelivery`, logged with its reason), so SQS keeps it and, after
   ``maxReceiveCount`` receives, parks it in the queue's DLQ for a person to look at;
2. the connection is read; a deleted connection has nothing left to apply: the record is acknowledged;
3. the connection's adapter (leased from an adapter pool, which builds it with the connection's stored
   credentials) parses the raw body again (``parse_webhook``): a ping or an ignored event applies nothing;
4. each change is written through :func:`~trackbridge.storage.write_journal.write_outside_sync` with the
   items :class:`~trackbridge.storage.issues.IssueRepository` / ``CommentRepository`` build, exactly what a
   sync stores: the journal first (so a concurrent sync's unconditional batch cannot bury this version),
   then DESIGN section 10's conditional put, so an older event never overwrites newer state and a replayed
   delivery writes nothing (``unchanged``).

What a change becomes (:class:`ChangeResult`):

* an upsert carrying its item writes it; one without (``needs_fetch``) asks the tracker for that one item
  (``get_issue`` / ``get_comment``) and writes the answer; a 404/410 answer means the item is gone and it is
  tombstoned, timed when the answer came;
* a delete tombstones the stored item (``deleted_at`` set, ``updated_at`` the later of the deletion time
  and the stored one, the hash recomputed: ``Issue.tombstone``, as the sync's), and an issue's stored comments
  with it, as the sync's sweep does; a delete of something never stored (or already a tombstone) is a
  no-op. The deletion time is the later of the tracker's time for the change and the delivery's receipt:
  GitHub names only the item's last update time, and a tombstone timed at it would tie with (and, by the
  equal-time rule, could lose to) the last live version a racing sync still holds;
* what the connection does not sync is skipped: comments when ``comments`` is not among its entities,
  issues likewise, and a closed issue never stored under ``include_closed=false`` (one already stored is
  updated, as the sync's ``_write`` does, so the stored copy never claims it is still open);
* a comment change touches that comment only, never the issue record (unless the change carries the issue).

Development activity (a GitHub ``push`` or ``pull_request``, a GitLab ``Push Hook`` or ``Merge Request Hook``:
``DeliveryKind.ACTIVITY``) changes no synced item: its commits or request go to the link detector
(``runtime.link_detection``), which links the issues they name from the synced copy, without a tracker
request; the result is ``activity``.

Failures (each logged under a stable event name, with the code and the guidance a person needs): a rate
limit or a tracker outage on a fetch fails the record, and SQS retries it after the visibility timeout;
refused credentials or permissions (``TrackerAccessError``) and a connection without usable credentials fail
it too, logged ``apply.needs_person`` with the guidance. A tracker answer the adapter cannot read fails it.
The FIFO processor of ``functions/apply.py`` then holds back the later records of the same issue only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

import httpx
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection
from trackbridge.domain.dev_refs import DevActivity
from trackbridge.domain.errors import InvalidInput, NotFound, TrackbridgeError
from trackbridge.domain.ids import parse_issue_ref
from trackbridge.domain.issues import Comment, Issue, tombstone
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import NotFoundError, TrackerAccessError, TrackerError
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import (
    DeliveryKind,
    WebhookAction,
    WebhookChange,
    WebhookDelivery,
    WebhookEntity,
)
from trackbridge.providers.webhooks import WebhookPayloadError
from trackbridge.runtime.link_detection import DetectionResult
from trackbridge.runtime.observability import logger, metrics
from trackbridge.runtime.webhooks.messages import InboundDelivery
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.keys import PK, SK, comment_sk, connection_pk, issue_pk, issue_sk
from trackbridge.storage.table import Item, Table
from trackbridge.storage.write_journal import write_outside_sync

# The apply function has 60 s for a batch of up to 10 records: short timeouts, few retries, and no
# in-process wait for a rate limit (the record fails and SQS brings it back after the visibility timeout).
APPLY_RETRY = RetryPolicy(
    max_attempts=3, base_delay_s=0.25, max_delay_s=2.0, max_wait_s=5.0, max_rate_limit_waits=0
)
APPLY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
APPLY_ADAPTER_OPTIONS: dict[str, Any] = {"retry": APPLY_RETRY, "timeout": APPLY_TIMEOUT}
# Pages of stored comments read when an issue is deleted (an issue's comments are its own partition).
COMMENT_PAGE = 100
MAX_COMMENT_PAGES = 1_000

Clock = Callable[[], datetime]
Outcome = Literal["created", "updated", "unchanged", "deleted", "skipped"]
Status = Literal["applied", "ping", "ignored", "connection_gone", "activity"]
_Synced = TypeVar("_Synced", Issue, Comment, list[Comment])


class UnreadableDelivery(InvalidInput):
    """An inbound message that is not an :class:`InboundDelivery`, or that does not match its connection.
    Retrying cannot help: the record fails so that the DLQ keeps it for a person."""


class ConnectionStore(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...


class ActivityDetector(Protocol):
    """``runtime.link_detection.LinkDetector``: links what commits and pull/merge requests name."""

    def detect(
        self, tenant: str, connection: Connection, activity: Sequence[DevActivity], *, actor: Actor
    ) -> DetectionResult: ...


class AdapterSource(Protocol):
    """Where a connection's adapter comes from (``runtime.adapter_pool.AdapterPool`` in production)."""

    def lease(self, tenant: str, connection: Connection) -> AbstractContextManager[TrackerAdapter]: ...

    def close(self) -> None:
        """Close every adapter kept (their httpx clients hold sockets)."""


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What one change of a delivery came to. ``outcome``: the conditional put's answer (``unchanged``: a
    newer or equal copy is stored), ``deleted`` for a tombstone written, ``skipped`` with a ``reason``."""

    entity: WebhookEntity
    action: WebhookAction
    issue_ref: str
    outcome: Outcome
    comment_id: str | None = None
    fetched: bool = False
    comments_deleted: int = 0
    reason: str | None = None

    def log_extra(self) -> dict[str, Any]:
        return {
            "entity": str(self.entity),
            "action": str(self.action),
            "issue_ref": self.issue_ref,
            "comment_id": self.comment_id,
            "outcome": self.outcome,
            "fetched": self.fetched,
            "comments_deleted": self.comments_deleted,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ApplyResult:
    delivery_id: str
    status: Status
    event: str | None = None
    changes: tuple[ChangeResult, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    """One delivery's context while its changes are applied."""

    delivery: InboundDelivery
    connection: Connection
    adapter: TrackerAdapter

    @property
    def tenant(self) -> str:
        return self.delivery.tenant

    def syncs(self, entity: str) -> bool:
        return entity in self.connection.entities


def read_delivery(body: str) -> InboundDelivery:
    """The record body as an :class:`InboundDelivery`; anything else is :class:`UnreadableDelivery`. The
    reason names the fields that failed, never their values (a body may hold anything)."""
    try:
        return InboundDelivery.model_validate_json(body)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['type']}" for e in exc.errors()[:5]]
        raise UnreadableDelivery(
            "the message is not an inbound webhook delivery",
            details={"errors": exc.error_count(), "problems": problems},
            guidance="The webhook Lambda writes these messages (runtime.webhooks.messages); compare its "
            "version with this one's, then redrive the message from the DLQ.",
        ) from exc


class WebhookApplier:
    """Applies inbound deliveries; one per process (its adapter source keeps one adapter per connection)."""

    def __init__(
        self,
        *,
        table: Table,
        connections: ConnectionStore,
        adapters: AdapterSource,
        clock: Clock = utcnow,
        detector: Callable[[], ActivityDetector] | None = None,
    ) -> None:
        self.table = table
        self.connections = connections
        self.adapters = adapters
        self.clock = clock
        # Built on first use (the first push or request delivery); None: activity is acknowledged only.
        self.detector = detector
        self.comments = CommentRepository(table)

    def close(self) -> None:
        self.adapters.close()

    # ---- a delivery ------------------------------------------------------------------------------
    def apply_body(self, body: str) -> ApplyResult:
        try:
            delivery = read_delivery(body)
        except UnreadableDelivery as exc:
            logger.error("apply.unreadable", extra={"reason": exc.message, **(exc.details or {})})
            raise
        return self.apply(delivery)

    def apply(self, delivery: InboundDelivery) -> ApplyResult:
        context = {
            "tenant": delivery.tenant,
            "connection_id": delivery.connection_id,
            "provider": delivery.provider,
            "delivery_id": delivery.delivery_id,
        }
        try:
            connection = self.connections.get(delivery.tenant, delivery.connection_id)
        except NotFound:
            # Nothing of a deleted connection is kept up to date: acknowledge, so the queue moves on.
            logger.info("apply.connection_gone", extra=context)
            return ApplyResult(delivery.delivery_id, "connection_gone", reason="the connection was deleted")
        if connection.provider != delivery.provider:
            error = UnreadableDelivery(
                f"a {delivery.provider} delivery for a {connection.provider} connection",
                details={"provider": delivery.provider, "connection_provider": connection.provider},
                guidance="The webhook URL names the provider and the connection: check the hook's URL.",
            )
            logger.error("apply.unreadable", extra={**context, "reason": error.message})
            raise error
        with ExitStack() as stack:
            try:
                adapter = stack.enter_context(self.adapters.lease(delivery.tenant, connection))
            except TrackbridgeError as exc:
                # No usable adapter: no stored credentials, an OAuth connection not (or no longer) authorized.
                logger.error(
                    "apply.needs_person",
                    extra={**context, "code": str(exc.code), "reason": exc.message, "guidance": exc.guidance},
                )
                raise
            parsed = self._parse(adapter, delivery, context)
            if parsed.kind is DeliveryKind.ACTIVITY:
                return self._detect(delivery, connection, parsed, context)
            if parsed.kind is not DeliveryKind.CHANGES:
                logger.info(
                    f"apply.{parsed.kind}", extra={**context, "event": parsed.event, "reason": parsed.reason}
                )
                status: Status = "ping" if parsed.kind is DeliveryKind.PING else "ignored"
                return ApplyResult(delivery.delivery_id, status, parsed.event, reason=parsed.reason)
            target = _Target(delivery, connection, adapter)
            results: list[ChangeResult] = []
            for change in parsed.changes:
                try:
                    result = self._apply_change(target, change)
                except UnreadableDelivery as exc:
                    logger.error(
                        "apply.unreadable", extra={**context, "event": parsed.event, "reason": exc.message}
                    )
                    raise
                # Each change is logged as it lands: a later change that fails does not hide this one.
                logger.info("apply.change", extra={**context, "event": parsed.event, **result.log_extra()})
                metrics.add_metric(
                    name=f"WebhookChange{result.outcome.title()}", unit=MetricUnit.Count, value=1
                )
                results.append(result)
        return ApplyResult(delivery.delivery_id, "applied", parsed.event, tuple(results))

    def _detect(
        self,
        delivery: InboundDelivery,
        connection: Connection,
        parsed: WebhookDelivery,
        context: dict[str, Any],
    ) -> ApplyResult:
        """Commits or a pull/merge request: links for the issues they name (module docstring)."""
        if self.detector is None:
            logger.info("apply.activity_ignored", extra={**context, "event": parsed.event})
            return ApplyResult(delivery.delivery_id, "ignored", parsed.event, reason="no link detector")
        actor = Actor(id=f"webhook:{delivery.provider}", request_id=delivery.delivery_id)
        result = self.detector().detect(delivery.tenant, connection, parsed.activity, actor=actor)
        logger.info(
            "apply.activity",
            extra={**context, "event": parsed.event, "items": len(parsed.activity), **result.model_dump()},
        )
        return ApplyResult(delivery.delivery_id, "activity", parsed.event)

    def _parse(
        self, adapter: TrackerAdapter, delivery: InboundDelivery, context: dict[str, Any]
    ) -> WebhookDelivery:
        try:
            return adapter.parse_webhook(delivery.headers, delivery.raw_body)
        except WebhookPayloadError as exc:
            # The webhook Lambda parsed this body before enqueueing it: a body it accepted and this adapter
            # refuses means the two disagree (versions, or the connection changed scope). Kept in the DLQ.
            logger.error(
                "apply.unreadable",
                extra={**context, "code": str(exc.code), "reason": exc.message, "guidance": exc.guidance},
            )
            raise

    # ---- a change --------------------------------------------------------------------------------
    def _apply_change(self, target: _Target, change: WebhookChange) -> ChangeResult:
        if change.entity is WebhookEntity.ISSUE:
            return self._issue_change(target, change)
        return self._comment_change(target, change)

    def _issue_change(self, target: _Target, change: WebhookChange) -> ChangeResult:
        if not target.syncs("issues"):
            return _skipped(change, "this connection does not sync issues")
        if change.action is WebhookAction.DELETE:
            return self._delete_issue(target, change, self._deletion_time(target, change))
        issue = change.issue
        if issue is None:
            issue = self._fetch(target, change, lambda: target.adapter.get_issue(change.issue_key))
            if issue is None:
                return self._delete_issue(target, change, self._gone_time(target), fetched=True)
            return self._write_issue(target, change, issue, fetched=True)
        return self._write_issue(target, change, issue)

    def _comment_change(self, target: _Target, change: WebhookChange) -> ChangeResult:
        if change.issue is not None and target.syncs("issues"):
            # Only when the payload carried the whole issue (no tracker sends that today).
            self._write_issue(target, change, change.issue)
        if not target.syncs("comments"):
            return _skipped(change, "this connection does not sync comments")
        if change.action is WebhookAction.DELETE:
            return self._delete_comment(target, change, self._deletion_time(target, change))
        comment = change.comment
        if comment is None and change.comment_id is None:
            return self._relist_comments(target, change)
        if comment is None:
            comment_id = _comment_id(change)
            comment = self._fetch(
                target, change, lambda: target.adapter.get_comment(change.issue_key, comment_id)
            )
            if comment is None:
                return self._delete_comment(target, change, self._gone_time(target), fetched=True)
            return self._write(change, CommentRepository.item(target.tenant, comment), fetched=True)
        return self._write(change, CommentRepository.item(target.tenant, comment))

    def _relist_comments(self, target: _Target, change: WebhookChange) -> ChangeResult:
        """A comment change that names no comment (Azure DevOps' ``workitem.commented``): the issue's
        comments are listed and each written as the sync writes them (newer wins); the result says whether
        any was new or changed."""
        listed = self._fetch(target, change, lambda: target.adapter.list_issue_comments(change.issue_key))
        if listed is None:
            return _skipped(change, "the issue is gone", fetched=True)
        outcomes = {write_outside_sync(self.table, CommentRepository.item(target.tenant, c)) for c in listed}
        outcome: Outcome = next((o for o in ("created", "updated") if o in outcomes), "unchanged")
        return ChangeResult(change.entity, change.action, change.issue_ref, outcome, fetched=True)

    def _write_issue(
        self, target: _Target, change: WebhookChange, issue: Issue, *, fetched: bool = False
    ) -> ChangeResult:
        item = IssueRepository.item(target.tenant, issue)
        if (
            not target.connection.include_closed
            and issue.status_category == "done"
            and issue.deleted_at is None
            and self.table.get(item[PK], item[SK]) is None
        ):
            # Never start storing a closed issue the connection excludes; one already stored is updated.
            return _skipped(change, "closed issues are not synced by this connection", fetched=fetched)
        return self._write(change, item, fetched=fetched)

    def _write(self, change: WebhookChange, item: Item, *, fetched: bool = False) -> ChangeResult:
        outcome = write_outside_sync(self.table, item)
        return ChangeResult(
            change.entity, change.action, change.issue_ref, outcome, change.comment_id, fetched=fetched
        )

    # ---- deletions -------------------------------------------------------------------------------
    def _deletion_time(self, target: _Target, change: WebhookChange) -> datetime:
        received = target.delivery.received_at
        return max(received, change.updated_at) if change.updated_at is not None else received

    def _gone_time(self, target: _Target) -> datetime:
        """When a fetch answered 404/410: the deletion is known now (never before the delivery arrived)."""
        return max(self.clock(), target.delivery.received_at)

    def _delete_issue(
        self, target: _Target, change: WebhookChange, at: datetime, *, fetched: bool = False
    ) -> ChangeResult:
        parsed = parse_issue_ref(change.issue_ref)
        if parsed is None or parsed[0] != target.connection.id:
            raise UnreadableDelivery(
                f"the change names issue {change.issue_ref!r}, not one of connection {target.connection.id}"
            )
        external_id = target.connection.external_id(parsed[1])
        stored = self.table.get(connection_pk(target.tenant, target.connection.id), issue_sk(external_id))
        if stored is None:
            return _skipped(change, "not stored", fetched=fetched)
        issue = IssueRepository.model(stored)
        if issue.deleted_at is not None:
            return _skipped(change, "already deleted", fetched=fetched)
        # The issue's comments went with it (as the sync's sweep records it): their tombstones first, so a
        # crash in between leaves the issue live and a redelivery finds it to delete again.
        gone = 0
        for comment in self._stored_comments(target.tenant, change.issue_ref):
            if comment.deleted_at is None:
                item = CommentRepository.item(target.tenant, tombstone(comment, at))
                gone += write_outside_sync(self.table, item) != "unchanged"
        outcome = write_outside_sync(self.table, IssueRepository.item(target.tenant, tombstone(issue, at)))
        return ChangeResult(
            change.entity,
            change.action,
            change.issue_ref,
            "unchanged" if outcome == "unchanged" else "deleted",
            fetched=fetched,
            comments_deleted=gone,
        )

    def _delete_comment(
        self, target: _Target, change: WebhookChange, at: datetime, *, fetched: bool = False
    ) -> ChangeResult:
        comment_id = _comment_id(change)
        stored = self.table.get(issue_pk(target.tenant, change.issue_ref), comment_sk(comment_id))
        if stored is None:
            return _skipped(change, "not stored", fetched=fetched)
        comment = CommentRepository.model(stored)
        if comment.deleted_at is not None:
            return _skipped(change, "already deleted", fetched=fetched)
        outcome = write_outside_sync(
            self.table, CommentRepository.item(target.tenant, tombstone(comment, at))
        )
        return ChangeResult(
            change.entity,
            change.action,
            change.issue_ref,
            "unchanged" if outcome == "unchanged" else "deleted",
            comment_id,
            fetched=fetched,
        )

    def _stored_comments(self, tenant: str, issue_ref: str) -> Iterator[Comment]:
        cursor: str | None = None
        for _ in range(MAX_COMMENT_PAGES):
            page = self.comments.list_for_issue(tenant, issue_ref, limit=COMMENT_PAGE, cursor=cursor)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    # ---- fetching one item -----------------------------------------------------------------------
    def _fetch(self, target: _Target, change: WebhookChange, get: Callable[[], _Synced]) -> _Synced | None:
        """The item as the tracker has it now; None when it answers 404/410 (the item is gone)."""
        extra = {
            "tenant": target.tenant,
            "connection_id": target.connection.id,
            "delivery_id": target.delivery.delivery_id,
            "entity": str(change.entity),
            "issue_key": change.issue_key,
            "comment_id": change.comment_id,
        }
        try:
            return get()
        except NotFoundError:
            return None
        except TrackerAccessError as exc:
            # Nothing a retry fixes: a person must renew the token or grant access. The record fails all the
            # same, so the delivery is applied once they have (or lands in the DLQ, to redrive).
            logger.error("apply.needs_person", extra={**extra, **_error_extra(exc)})
            raise
        except TrackerError as exc:
            # Rate limited, an outage, an unreadable answer: SQS retries after the visibility timeout.
            logger.warning("apply.fetch_failed", extra={**extra, **_error_extra(exc)})
            raise


def _skipped(change: WebhookChange, reason: str, *, fetched: bool = False) -> ChangeResult:
    return ChangeResult(
        change.entity,
        change.action,
        change.issue_ref,
        "skipped",
        change.comment_id,
        fetched=fetched,
        reason=reason,
    )


def _comment_id(change: WebhookChange) -> str:
    if not change.comment_id:
        raise UnreadableDelivery(f"a comment change of issue {change.issue_ref!r} without a comment id")
    return change.comment_id


def _error_extra(exc: TrackerError) -> dict[str, Any]:
    return {
        "code": str(exc.code),
        "reason": exc.message,
        "tracker_status": exc.status,
        "retryable": exc.retryable,
        "retry_after_s": exc.retry_after_s,
        "guidance": exc.guidance,
    }


def apply_record(record: Any, *, applier: WebhookApplier) -> str:
    """One SQS record (Powertools' ``SQSRecord`` or the raw dict) through the applier; returns its status.
    Raising fails the record: Powertools reports it in ``batchItemFailures``."""
    body = record.body if hasattr(record, "body") else record["body"]
    return applier.apply_body(body).status


__all__ = [
    "APPLY_ADAPTER_OPTIONS",
    "APPLY_RETRY",
    "APPLY_TIMEOUT",
    "ActivityDetector",
    "AdapterSource",
    "ApplyResult",
    "ChangeResult",
    "ConnectionStore",
    "UnreadableDelivery",
    "WebhookApplier",
    "apply_record",
    "read_delivery",
]
