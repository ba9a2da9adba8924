"""Dead-letter queues: list what failed every retry, move it back to its queue, or discard it, with an audit
entry for every move and discard.

Each work queue (``sync``, ``inbound``, ``auto_issue``) finds its DLQ from its own ``RedrivePolicy``, so no
setting names the DLQs and the two can never disagree.

**Peeking.** SQS has no peek: a message is read by receiving it, which hides it for a visibility timeout.
A listing receives with a short timeout (:data:`PEEK_VISIBILITY_S`), keeps what it read hidden until the
listing is complete (so no message is read twice) and then makes all of it visible again
(``ChangeMessageVisibility`` to 0). Nothing is deleted, and nothing consumes a DLQ, so "without consuming"
holds; what a listing does change is each message's ``ApproximateReceiveCount`` (a DLQ has no redrive
policy, so the count has no effect). Under concurrency: while one listing (or redrive) holds messages, a
second one does not see them, so two operators listing at once can each get a partial list; a listing that
crashes leaves its messages hidden for at most :data:`PEEK_VISIBILITY_S`. A FIFO DLQ hides the rest of a
message group behind the messages in flight, so one listing shows the first messages of each group
(up to 10, one receive's worth). ``complete`` in the answer says when the listing stopped at its bounds.

**Tenants.** Every message names its tenant (``tenant`` at the top of the body; CloudWatch alarms on the
auto-issue queue belong to the deployment's alarm tenant, ``TB_AUTO_ISSUE_TENANT``). The API passes the
caller's tenant and sees, moves and discards only that tenant's messages; the operator's CLI, which runs
with the deployment's AWS credentials, passes none and sees all of them.

**Redrive.** A message is sent to its work queue first and deleted from the DLQ after, so a crash between
the two duplicates it (every consumer is idempotent) and never loses it. FIFO messages keep their group id
and deduplication id: SQS drops a redriven message whose deduplication id the work queue saw in the last
5 minutes, which a DLQ message (5 receives x the visibility timeout) is normally older than.

**Failure reasons.** Lambda does not say why a message failed; the consumers note it
(:meth:`FailureNotes.note`, one write per failed receive, kept 14 days like the DLQ's messages) and a
listing shows the last note of each message (the message id survives the move to the DLQ).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.errors import DependencyFailure, NotFound, TrackbridgeError
from trackbridge.domain.ids import is_tenant
from trackbridge.domain.times import UtcDatetime, from_iso, to_iso, utcnow
from trackbridge.runtime.observability import logger
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE
from trackbridge.storage.table import Item, Table

QUEUES: Final = ("sync", "inbound", "auto_issue")
# Long enough to finish a listing of MAX_MESSAGES, short enough that a crashed listing hides little for long.
PEEK_VISIBILITY_S: Final = 30
MAX_MESSAGES: Final = 100
RECEIVE_ROUNDS: Final = 20  # receives per listing, 10 messages each at most
PREVIEW_CHARS: Final = 2000
NOTE_TTL_S: Final = 14 * 24 * 3600  # the DLQs' retention
ALARM_TENANT_ENV: Final = "TB_AUTO_ISSUE_TENANT"  # runtime.automation.consumer reads the same variable
DLQ_REDRIVE_ACTION: Final = "dlq.redrive"
DLQ_DISCARD_ACTION: Final = "dlq.discard"
CLI_ACTOR: Final = Actor(id="cli")
P = ParamSpec("P")
R = TypeVar("R")


class FailureNote(BaseModel):
    """Why a consumer last failed a message: an error code (or exception class) and a short message."""

    code: str
    message: str | None = None
    at: UtcDatetime


class DeadLetter(BaseModel):
    id: str = Field(description="the SQS message id (kept from the work queue)")
    queue: str
    tenant: str | None
    sent_at: UtcDatetime | None = Field(None, description="when it was first sent to its work queue")
    receive_count: int = Field(description="receives so far, listings included")
    group_id: str | None = Field(None, description="FIFO message group (inbound: one issue)")
    failure: FailureNote | None = Field(None, description="the consumer's last recorded failure, if any")
    body: str = Field(description=f"the message body, cut at {PREVIEW_CHARS} characters")


class DeadLetterList(BaseModel):
    queue: str
    items: list[DeadLetter]
    approximate_depth: int = Field(description="messages in the DLQ, all tenants, as SQS estimates it")
    complete: bool = Field(description="false when the listing stopped at its bounds or saw hidden messages")


class DeadLetterMove(BaseModel):
    """What a redrive or discard did: the ids it handled and the asked-for ids it did not find."""

    queue: str
    moved: list[str] = Field(default_factory=list, description="redriven (redrive) or deleted (discard)")
    missing: list[str] = Field(default_factory=list)


def tenant_of(queue: str, body: str) -> str | None:
    """The tenant a message belongs to, or None when its body names none that is valid."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    tenant = decoded.get("tenant") if isinstance(decoded, dict) else None
    if tenant is None and queue == "auto_issue":
        tenant = os.environ.get(ALARM_TENANT_ENV, "default")
    return tenant if is_tenant(tenant) else None


def _note_key(tenant: str, queue: str, message_id: str) -> tuple[str, str]:
    return f"T#{tenant}#DLQNOTE#{queue}", f"MSG#{message_id}"


class FailureNotes:
    """The consumers' notes of why a message failed, tenant-keyed like everything else."""

    def __init__(self, table: Table, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.table = table
        self.clock = clock

    def note(self, queue: str, message_id: str, body: str, exc: BaseException) -> None:
        tenant = tenant_of(queue, body)
        if tenant is None or not message_id:
            return
        code = exc.code if isinstance(exc, TrackbridgeError) else type(exc).__name__
        # Only our own errors' messages are shown: they are written for a reader and carry no secret.
        message = str(exc)[:300] if isinstance(exc, TrackbridgeError) else None
        now = self.clock()
        pk, sk = _note_key(tenant, queue, message_id)
        expires = int(now.timestamp()) + NOTE_TTL_S
        item: Item = {PK: pk, SK: sk, "code": code, "message": message, "at": to_iso(now)}
        item[TTL_ATTRIBUTE] = expires
        try:
            self.table.put(item)
        except DependencyFailure:
            logger.warning("dlq.note_failed", extra={"queue": queue, "message_id": message_id})

    def last(self, tenant: str, queue: str, message_id: str) -> FailureNote | None:
        item = self.table.get(*_note_key(tenant, queue, message_id), consistent=False)
        if item is None:
            return None
        return FailureNote(code=item["code"], message=item.get("message"), at=from_iso(item["at"]))

    @contextmanager
    def noting(self, queue: str, record: Any) -> Iterator[None]:
        """Around a consumer's record handler: note the failure, then let it propagate unchanged."""
        try:
            yield
        except Exception as exc:
            raw = record.raw_event if hasattr(record, "raw_event") else record
            self.note(queue, str(raw.get("messageId") or ""), str(raw.get("body") or ""), exc)
            raise


def _sqs_failures(method: Callable[P, R]) -> Callable[P, R]:
    """SQS failing (or a work queue without a redrive policy) as a 503 ``DependencyFailure``, never a 500;
    the reason is the AWS error code or the exception's class, never its message (ARNs, account ids)."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            raise DependencyFailure("SQS refused the request; retry", details={"reason": code}) from exc
        except (BotoCoreError, KeyError, ValueError) as exc:
            details = {"reason": type(exc).__name__}
            raise DependencyFailure("the dead-letter queue could not be read", details=details) from exc

    return guarded


class _Received(BaseModel):
    receipt: str
    body: str
    letter: DeadLetter
    attributes: dict[str, Any]
    message_attributes: dict[str, Any]


class DeadLetterQueues:
    """The DLQ of each work queue: list, redrive, discard."""

    def __init__(
        self,
        sqs: Any,
        queue_urls: Mapping[str, str],
        *,
        notes: FailureNotes,
        audit: AuditRepository,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sqs = sqs
        self.queue_urls = dict(queue_urls)
        self.notes = notes
        self.audit = audit
        self.clock = clock
        self._dlq_urls: dict[str, str] = {}

    # -- lookups --------------------------------------------------------------------------------------

    def _source_url(self, queue: str) -> str:
        url = self.queue_urls.get(queue) if queue in QUEUES else None
        if not url:
            raise NotFound(f"no dead-letter queue {queue!r}", details={"queues": list(QUEUES)})
        return url

    def dlq_url(self, queue: str) -> str:
        """The DLQ of ``queue``, from the work queue's redrive policy (cached for the process)."""
        if queue not in self._dlq_urls:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self._source_url(queue), AttributeNames=["RedrivePolicy"]
            )["Attributes"]
            arn = str(json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"])
            *_, account, name = arn.split(":")
            url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self._dlq_urls[queue] = str(url)
        return self._dlq_urls[queue]

    @_sqs_failures
    def depth(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dlq_url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    # -- reading --------------------------------------------------------------------------------------

    def _letter(self, queue: str, message: Mapping[str, Any]) -> _Received:
        attributes = dict(message.get("Attributes") or {})
        body = str(message.get("Body") or "")
        tenant = tenant_of(queue, body)
        sent = attributes.get("SentTimestamp")
        letter = DeadLetter(
            id=str(message["MessageId"]),
            queue=queue,
            tenant=tenant,
            sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
            receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
            group_id=attributes.get("MessageGroupId"),
            body=body[:PREVIEW_CHARS],
        )
        return _Received(
            receipt=str(message["ReceiptHandle"]),
            body=body,
            letter=letter,
            attributes=attributes,
            message_attributes=dict(message.get("MessageAttributes") or {}),
        )

    def _receive_all(self, queue: str, limit: int) -> tuple[list[_Received], bool]:
        """Up to ``limit`` messages, each read once and still hidden; whether the DLQ seemed exhausted."""
        url, seen, received = self.dlq_url(queue), set[str](), list[_Received]()
        for _ in range(RECEIVE_ROUNDS):
            if len(received) >= limit:
                return received, False
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(received)),
                VisibilityTimeout=PEEK_VISIBILITY_S,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return received, True
            for message in messages:
                if message["MessageId"] not in seen:
                    seen.add(message["MessageId"])
                    received.append(self._letter(queue, message))
        return received, False

    def _release(self, queue: str, held: Sequence[_Received]) -> None:
        """Make what a listing held visible again (10 per call, SQS's batch limit)."""
        url = self.dlq_url(queue)
        for start in range(0, len(held), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": h.receipt, "VisibilityTimeout": 0}
                for i, h in enumerate(held[start : start + 10])
            ]
            self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)

    @contextmanager
    def _held(self, queue: str, limit: int) -> Iterator[tuple[list[_Received], bool]]:
        received, exhausted = self._receive_all(queue, limit)
        try:
            yield received, exhausted
        finally:
            # What was deleted meanwhile has no receipt left; everything else becomes visible again.
            self._release(queue, [r for r in received if r.receipt])

    @_sqs_failures
    def list(self, queue: str, *, tenant: str | None = None, limit: int = MAX_MESSAGES) -> DeadLetterList:
        """The DLQ's messages (the tenant's only, when one is given), each with its last failure note."""
        self._source_url(queue)
        with self._held(queue, MAX_MESSAGES) as (received, exhausted):
            mine = [r.letter for r in received if tenant is None or r.letter.tenant == tenant][:limit]
        for letter in mine:
            if letter.tenant is not None:
                letter.failure = self.notes.last(letter.tenant, queue, letter.id)
        return DeadLetterList(
            queue=queue, items=mine, approximate_depth=self.depth(queue), complete=exhausted
        )

    # -- moving ---------------------------------------------------------------------------------------

    def redrive(
        self,
        queue: str,
        *,
        tenant: str | None = None,
        ids: Sequence[str] | None = None,
        actor: Actor = CLI_ACTOR,
    ) -> DeadLetterMove:
        """Move the DLQ's messages (all of the tenant's, or those of ``ids``) back to ``queue``."""
        return self._move(queue, tenant=tenant, ids=ids, actor=actor, redrive=True)

    def discard(
        self, queue: str, *, ids: Sequence[str], tenant: str | None = None, actor: Actor = CLI_ACTOR
    ) -> DeadLetterMove:
        """Delete the DLQ messages of ``ids`` (the tenant's only), each with an audit entry."""
        return self._move(queue, tenant=tenant, ids=ids, actor=actor, redrive=False)

    @_sqs_failures
    def _move(
        self,
        queue: str,
        *,
        tenant: str | None,
        ids: Sequence[str] | None,
        actor: Actor,
        redrive: bool,
    ) -> DeadLetterMove:
        source, dlq = self._source_url(queue), self.dlq_url(queue)
        wanted = set(ids) if ids is not None else None
        result = DeadLetterMove(queue=queue)
        with self._held(queue, MAX_MESSAGES) as (received, _):
            for held in received:
                letter = held.letter
                if (tenant is not None and letter.tenant != tenant) or (
                    wanted is not None and letter.id not in wanted
                ):
                    continue
                if redrive:
                    self.sqs.send_message(**self._resend(source, held))
                self.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=held.receipt)
                held.receipt = ""  # deleted: nothing to release
                result.moved.append(letter.id)
                self._audit(letter, actor, redrive=redrive)
        result.missing = sorted((wanted or set()) - set(result.moved))
        logger.info(
            "dlq.redriven" if redrive else "dlq.discarded",
            extra={"queue": queue, "moved": len(result.moved), "missing": len(result.missing)},
        )
        return result

    @staticmethod
    def _resend(source: str, held: _Received) -> dict[str, Any]:
        request: dict[str, Any] = {"QueueUrl": source, "MessageBody": held.body}
        if held.message_attributes:
            request["MessageAttributes"] = held.message_attributes
        if held.letter.group_id:
            request["MessageGroupId"] = held.letter.group_id
            dedup = held.attributes.get("MessageDeduplicationId")
            if dedup:
                request["MessageDeduplicationId"] = dedup
        return request

    def _audit(self, letter: DeadLetter, actor: Actor, *, redrive: bool) -> None:
        if letter.tenant is None:
            return  # a message without a tenant has no tenant's log to go to; the log line above records it
        entry = new_entry(
            action=DLQ_REDRIVE_ACTION if redrive else DLQ_DISCARD_ACTION,
            target=letter.id,
            actor=actor,
            at=self.clock(),
            changes={"queue": FieldChange(old=f"{letter.queue}-dlq", new=letter.queue if redrive else None)},
        )
        self.audit.append(letter.tenant, entry)


__all__ = [
    "DLQ_DISCARD_ACTION",
    "DLQ_REDRIVE_ACTION",
    "MAX_MESSAGES",
    "PEEK_VISIBILITY_S",
    "QUEUES",
    "DeadLetter",
    "DeadLetterList",
    "DeadLetterMove",
    "DeadLetterQueues",
    "FailureNote",
    "FailureNotes",
    "tenant_of",
]
