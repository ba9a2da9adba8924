"""Audit entries: ``T#{tenant}#AUDIT`` / ``{at}#{id}``, listed newest first.

Entries are written with the change they describe (``put_op`` inside the change's transaction) and never
updated or deleted through trackbridge.
"""

from __future__ import annotations

from trackbridge.domain.audit import AuditEntry, FieldChange
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import PK, SK, audit_pk, audit_sk
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import Item, Table, TransactItem


class AuditRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def item(tenant: str, entry: AuditEntry) -> Item:
        at = to_iso(entry.at)
        return {
            PK: audit_pk(tenant),
            SK: audit_sk(at, entry.id),
            "entity": "audit",
            "id": entry.id,
            "at": at,
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "request_id": entry.request_id,
            "changes": {name: change.model_dump(mode="json") for name, change in entry.changes.items()},
        }

    @staticmethod
    def model(item: Item) -> AuditEntry:
        return AuditEntry(
            id=item["id"],
            at=from_iso(item["at"]),
            actor=item["actor"],
            action=item["action"],
            target=item["target"],
            request_id=item.get("request_id"),
            changes={name: FieldChange(**change) for name, change in (item.get("changes") or {}).items()},
        )

    def put_op(self, tenant: str, entry: AuditEntry) -> TransactItem:
        # Ids are random, so the condition only guards against a bug writing the same entry twice.
        return self.table.put_op(
            self.item(tenant, entry), condition="attribute_not_exists(#pk)", names={"#pk": PK}
        )

    def append(self, tenant: str, entry: AuditEntry) -> None:
        self.table.write(self.put_op(tenant, entry))

    def list(
        self, tenant: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[AuditEntry]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=audit_pk(tenant),
            forward=False,
            limit=limit,
            cursor=cursor,
        )


__all__ = ["AuditRepository"]
