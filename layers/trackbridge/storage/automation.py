"""Rules and templates (``T#{t}`` / ``RULE#{name}``, ``TEMPLATE#{name}``), received events, and the
auto-issue fingerprint claims (``T#{t}`` / ``FP#{rule}#{fingerprint}``, DESIGN section 10).

A claim in state ``claimed`` is also in a sparse GSI1 partition of its connection,
``T#{t}#CONN#{c}#FPCLAIMED`` / ``{claimed_at}#{rule}#{fingerprint}`` (:meth:`FingerprintRepository.pending`):
every write of a claim puts the whole item, so the keys go with the state and no extra write keeps the index.
The sync's record matching (``runtime.sync.record_matching``) reads it once per page that creates issues.

Rules and templates are named documents with optimistic locking (see ``documents.py``). Events live in
``T#{t}#EVENTS`` / ``EVENT#{id}`` and expire after ``retention`` (TTL): they are a receipt and a status for
``POST /v1/events``, not a history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from trackbridge.domain.automation import Dedup, Event, FingerprintClaim, IssueFields, Rule, Template
from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.links import ObjectRef
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.documents import VersionedDocuments
from trackbridge.storage.keys import (
    EVENT_PREFIX,
    GSI1,
    GSI1_PK,
    GSI1_SK,
    PK,
    RULE_PREFIX,
    SK,
    TEMPLATE_PREFIX,
    TTL_ATTRIBUTE,
    event_pk,
    event_sk,
    fingerprint_sk,
    tenant_pk,
)
from trackbridge.storage.mapping import datetime_or_none, iso_or_none
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

DEFAULT_EVENT_RETENTION = timedelta(days=30)
# How long a fingerprint remembers the ids of the events it counted (SQS keeps a message 14 days at most).
SEEN_RETENTION = timedelta(days=14)


class RuleRepository(VersionedDocuments[Rule]):
    sk_prefix: ClassVar[str] = RULE_PREFIX
    kind: ClassVar[str] = "rule"

    def document_id(self, model: Rule) -> str:
        return model.name

    def attributes(self, model: Rule) -> Item:
        return {
            "name": model.name,
            "event_type": model.event_type,
            "condition": model.condition,
            "connection_id": model.connection_id,
            "template": model.template,
            "priority": model.priority,
            "labels": list(model.labels),
            "assignee": model.assignee,
            "issue": model.issue.model_dump(),
            "dedup": model.dedup.model_dump(),
            "on_repeat": model.on_repeat,
            "on_resolve": model.on_resolve,
            "settle_s": model.settle_s,
            "enabled": model.enabled,
            "created_at": iso_or_none(model.created_at),
            "updated_at": iso_or_none(model.updated_at),
            "version": model.version,
        }

    def model(self, item: Item) -> Rule:
        return Rule(
            name=item["name"],
            event_type=item["event_type"],
            condition=item["condition"],
            connection_id=item["connection_id"],
            template=item["template"],
            priority=item["priority"],
            labels=item["labels"],
            assignee=item.get("assignee"),
            issue=IssueFields(**item.get("issue", {})),
            dedup=Dedup(**item["dedup"]),
            on_repeat=item["on_repeat"],
            on_resolve=item["on_resolve"],
            settle_s=item.get("settle_s", 300),
            enabled=item["enabled"],
            created_at=datetime_or_none(item.get("created_at")),
            updated_at=datetime_or_none(item.get("updated_at")),
            version=item["version"],
        )

    def for_event_type(self, tenant: str, event_type: str, *, max_pages: int = 20) -> list[Rule]:
        """The tenant's rules for ``event_type`` (a tenant has few rules: read in at most ``max_pages``)."""
        found: list[Rule] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page = self.list(tenant, cursor=cursor)
            found.extend(rule for rule in page.items if rule.event_type == event_type)
            cursor = page.next_cursor
            if not cursor:
                break
        return found


class TemplateRepository(VersionedDocuments[Template]):
    sk_prefix: ClassVar[str] = TEMPLATE_PREFIX
    kind: ClassVar[str] = "template"

    def document_id(self, model: Template) -> str:
        return model.name

    def attributes(self, model: Template) -> Item:
        return {
            "name": model.name,
            "title": model.title,
            "body": model.body,
            "description": model.description,
            "created_at": iso_or_none(model.created_at),
            "updated_at": iso_or_none(model.updated_at),
            "version": model.version,
        }

    def model(self, item: Item) -> Template:
        return Template(
            name=item["name"],
            title=item["title"],
            body=item["body"],
            description=item["description"],
            created_at=datetime_or_none(item.get("created_at")),
            updated_at=datetime_or_none(item.get("updated_at")),
            version=item["version"],
        )


class EventRepository:
    def __init__(self, table: Table, *, retention: timedelta = DEFAULT_EVENT_RETENTION) -> None:
        self.table = table
        self.retention = retention

    def item(self, tenant: str, event: Event) -> Item:
        return {
            PK: event_pk(tenant),
            SK: event_sk(event.id),
            TTL_ATTRIBUTE: int((event.received_at + self.retention).timestamp()),
            "entity": "event",
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "severity": event.severity,
            "subject": event.subject.model_dump(by_alias=True) if event.subject else None,
            "data": event.data,
            "occurred_at": to_iso(event.occurred_at),
            "received_at": to_iso(event.received_at),
            "status": event.status,
            "issue_ref": event.issue_ref,
            "resolved": event.resolved,
        }

    @staticmethod
    def model(item: Item) -> Event:
        subject = item.get("subject")
        return Event(
            id=item["id"],
            type=item["type"],
            source=item["source"],
            severity=item["severity"],
            subject=ObjectRef.model_validate(subject) if subject else None,
            data=item.get("data") or {},
            occurred_at=from_iso(item["occurred_at"]),
            received_at=from_iso(item["received_at"]),
            status=item["status"],
            issue_ref=item.get("issue_ref"),
            resolved=bool(item.get("resolved", False)),
        )

    def record(self, tenant: str, event: Event) -> Event:
        try:
            self.table.put(self.item(tenant, event), condition="attribute_not_exists(#pk)", names={"#pk": PK})
        except ConditionFailed as exc:
            raise Conflict(f"event {event.id!r} was already received", code="ALREADY_EXISTS") from exc
        return event

    def get(self, tenant: str, event_id: str) -> Event:
        item = self.table.get(event_pk(tenant), event_sk(event_id))
        if item is None:
            raise NotFound(f"no event {event_id!r}", details={"id": event_id})
        return self.model(item)

    def set_status(self, tenant: str, event_id: str, status: str, *, issue_ref: str | None = None) -> None:
        """Move an event on from ``queued``; NotFound when it expired or never existed."""
        try:
            self.table.update(
                event_pk(tenant),
                event_sk(event_id),
                update="SET #s = :s, #r = :r",
                condition="attribute_exists(#pk)",
                names={"#pk": PK, "#s": "status", "#r": "issue_ref"},
                values={":s": status, ":r": issue_ref},
            )
        except ConditionFailed as exc:
            raise NotFound(f"no event {event_id!r}", details={"id": event_id}) from exc


# Claims stuck in ``claimed`` are rare (a worker died between the tracker call and the record): one page.
PENDING_CLAIMS_READ = 100


def pending_claims_pk(tenant: str, connection_id: str) -> str:
    """GSI1 partition of a connection's claims in state ``claimed``."""
    return f"{tenant_pk(tenant)}#CONN#{connection_id}#FPCLAIMED"


class FingerprintRepository:
    """One item per fingerprint; every write is conditional, so two workers never both move a claim on.

    :meth:`claim` puts a new claim only where none exists; :meth:`replace` writes the next version only over
    the version the caller read. Either raises :class:`ClaimLost` carrying what is stored instead.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def item(tenant: str, claim: FingerprintClaim) -> Item:
        item = FingerprintRepository._attributes(tenant, claim)
        if claim.state == "claimed":
            item[GSI1_PK] = pending_claims_pk(tenant, claim.connection_id)
            item[GSI1_SK] = f"{to_iso(claim.claimed_at)}#{claim.rule}#{claim.fingerprint}"
        return item

    @staticmethod
    def _attributes(tenant: str, claim: FingerprintClaim) -> Item:
        return {
            PK: tenant_pk(tenant),
            SK: fingerprint_sk(claim.rule, claim.fingerprint),
            "entity": "fingerprint",
            "rule": claim.rule,
            "fingerprint": claim.fingerprint,
            "connection_id": claim.connection_id,
            "state": claim.state,
            "owner": claim.owner,
            "claimed_at": to_iso(claim.claimed_at),
            "generation": claim.generation,
            "issue_ref": claim.issue_ref,
            "issue_key": claim.issue_key,
            "issue_url": claim.issue_url,
            "previous_issue_ref": claim.previous_issue_ref,
            "previous_issue_url": claim.previous_issue_url,
            "count": claim.count,
            "recent_events": list(claim.recent_events),
            "last_seen_at": iso_or_none(claim.last_seen_at),
            "last_comment_at": iso_or_none(claim.last_comment_at),
            "resolved_at": iso_or_none(claim.resolved_at),
            "closed_at": iso_or_none(claim.closed_at),
            "version": claim.version,
        }

    @staticmethod
    def model(item: Item) -> FingerprintClaim:
        return FingerprintClaim(
            rule=item["rule"],
            fingerprint=item["fingerprint"],
            connection_id=item["connection_id"],
            state=item["state"],
            owner=item["owner"],
            claimed_at=from_iso(item["claimed_at"]),
            generation=item.get("generation", 1),
            issue_ref=item.get("issue_ref"),
            issue_key=item.get("issue_key"),
            issue_url=item.get("issue_url"),
            previous_issue_ref=item.get("previous_issue_ref"),
            previous_issue_url=item.get("previous_issue_url"),
            count=item.get("count", 1),
            recent_events=item.get("recent_events") or [],
            last_seen_at=datetime_or_none(item.get("last_seen_at")),
            last_comment_at=datetime_or_none(item.get("last_comment_at")),
            resolved_at=datetime_or_none(item.get("resolved_at")),
            closed_at=datetime_or_none(item.get("closed_at")),
            version=item["version"],
        )

    def find(self, tenant: str, rule: str, fingerprint: str) -> FingerprintClaim | None:
        item = self.table.get(tenant_pk(tenant), fingerprint_sk(rule, fingerprint))
        return self.model(item) if item else None

    def pending(
        self, tenant: str, connection_id: str, *, limit: int = PENDING_CLAIMS_READ
    ) -> list[FingerprintClaim]:
        """The connection's claims in state ``claimed``, oldest first: one query of the sparse index, which
        reads nothing when there are none. Eventually consistent, as any GSI: a claim's version may be
        behind, which the conditional write that acts on it settles."""
        items, _ = self.table.query(
            partition=pending_claims_pk(tenant, connection_id),
            index=GSI1,
            limit=limit,
            tenant_prefix=tenant_pk(tenant),
        )
        return [self.model(item) for item in items if item.get("state") == "claimed"]

    def claim(self, tenant: str, claim: FingerprintClaim) -> FingerprintClaim:
        """Put ``claim`` where no claim exists (``ClaimLost`` with the stored one otherwise)."""
        try:
            self.table.put(self.item(tenant, claim), condition="attribute_not_exists(#pk)", names={"#pk": PK})
        except ConditionFailed as exc:
            raise ClaimLost(self._stored(exc)) from exc
        return claim

    def replace(
        self, tenant: str, claim: FingerprintClaim, *, counting: str | None = None, at: datetime | None = None
    ) -> FingerprintClaim:
        """Write ``claim`` (whose version is the stored one + 1) only over the version it was made from.

        ``counting``: the id of the event this write counts; written in the same transaction as a marker
        (``T#{t}#FP#{rule}#{fingerprint}`` / ``EVENT#{id}``, expiring after :data:`SEEN_RETENTION`) that
        must not exist yet, so a duplicate delivery of a counted event raises :class:`AlreadyCounted`.
        """
        put = self.table.put_op(
            self.item(tenant, claim),
            condition="#v = :expected",
            names={"#v": "version"},
            values={":expected": claim.version - 1},
        )
        also: tuple[TransactItem, ...] = ()
        if counting is not None:
            seen_at = at or claim.last_seen_at or claim.claimed_at
            marker = {
                PK: f"{tenant_pk(tenant)}#{fingerprint_sk(claim.rule, claim.fingerprint)}",
                SK: f"{EVENT_PREFIX}{counting}",
                TTL_ATTRIBUTE: int((seen_at + SEEN_RETENTION).timestamp()),
                "entity": "fingerprint_event",
            }
            also = (self.table.put_op(marker, condition="attribute_not_exists(#pk)", names={"#pk": PK}),)
        try:
            self.table.write(put, *also)
        except ConditionFailed as exc:
            if exc.index == 1:
                raise AlreadyCounted(counting or "") from exc
            raise ClaimLost(self._stored(exc)) from exc
        return claim

    def release(self, tenant: str, claim: FingerprintClaim) -> bool:
        """Delete a ``claimed`` claim its owner could not act on (the tracker refused: nothing exists)."""
        try:
            self.table.delete(
                tenant_pk(tenant),
                fingerprint_sk(claim.rule, claim.fingerprint),
                condition="#v = :v AND #s = :claimed",
                names={"#v": "version", "#s": "state"},
                values={":v": claim.version, ":claimed": "claimed"},
            )
        except ConditionFailed:
            return False
        return True

    def _stored(self, exc: ConditionFailed) -> FingerprintClaim | None:
        return self.model(exc.old_item) if exc.old_item else None


class AlreadyCounted(Conflict):
    """The event was counted before: a duplicate delivery."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id!r} was counted already", code="ALREADY_EXISTS")
        self.event_id = event_id


class ClaimLost(Conflict):
    """A conditional write of a claim found something else stored (``stored``; None: nothing)."""

    def __init__(self, stored: FingerprintClaim | None) -> None:
        super().__init__("the fingerprint claim changed meanwhile", code="CONCURRENT_CHANGE")
        self.stored = stored


__all__ = [
    "DEFAULT_EVENT_RETENTION",
    "PENDING_CLAIMS_READ",
    "SEEN_RETENTION",
    "AlreadyCounted",
    "ClaimLost",
    "EventRepository",
    "FingerprintRepository",
    "RuleRepository",
    "TemplateRepository",
    "pending_claims_pk",
]
