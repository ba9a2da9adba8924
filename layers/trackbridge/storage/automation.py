"""Rules and templates (``T#{t}`` / ``RULE#{name}``, ``TEMPLATE#{name}``) and received events.

Rules and templates are named documents with optimistic locking (see ``documents.py``). Events live in
``T#{t}#EVENTS`` / ``EVENT#{id}`` and expire after ``retention`` (TTL): they are a receipt and a status for
``POST /v1/events``, not a history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from trackbridge.domain.automation import Dedup, Event, Rule, Template
from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.links import ObjectRef
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.documents import VersionedDocuments
from trackbridge.storage.keys import PK, RULE_PREFIX, SK, TEMPLATE_PREFIX, TTL_ATTRIBUTE, event_pk, event_sk
from trackbridge.storage.mapping import datetime_or_none, iso_or_none
from trackbridge.storage.table import ConditionFailed, Item, Table

DEFAULT_EVENT_RETENTION = timedelta(days=30)


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
            "dedup": model.dedup.model_dump(),
            "on_repeat": model.on_repeat,
            "on_resolve": model.on_resolve,
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
            dedup=Dedup(**item["dedup"]),
            on_repeat=item["on_repeat"],
            on_resolve=item["on_resolve"],
            enabled=item["enabled"],
            created_at=datetime_or_none(item.get("created_at")),
            updated_at=datetime_or_none(item.get("updated_at")),
            version=item["version"],
        )


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


__all__ = ["DEFAULT_EVENT_RETENTION", "EventRepository", "RuleRepository", "TemplateRepository"]
