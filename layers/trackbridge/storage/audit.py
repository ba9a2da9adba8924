"""Audit entries: ``T#{tenant}#AUDIT`` / ``{at}#{id}``, listed newest first.

Entries are written with the change they describe (``put_op`` inside the change's transaction) and never
updated or deleted through trackbridge.

A listing narrows by time with the sort key (``since``: ``{at}`` sorts as time) and by actor, action and
target by reading the partition newest first and keeping the entries that match. An audit partition is
small next to what a filter index would cost on every write, so no GSI serves these filters; a filtered page
reads at most :data:`FILTER_SCAN_PAGES` pages of the partition and may hold fewer than ``limit`` entries
while ``next_cursor`` is not null (the caller follows it, as with any page).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from trackbridge.domain.audit import AuditEntry, FieldChange
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.cursors import encode_cursor
from trackbridge.storage.keys import PK, SK, audit_pk, audit_sk, tenant_pk
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import Item, Table, TransactItem

# A filtered page stops after this many reads of the partition (each at most MAX_PAGE_SIZE entries).
FILTER_SCAN_PAGES = 10


class AuditFilter(BaseModel):
    """What ``GET /v1/audit`` narrows by; every given field must match (an empty filter keeps everything).

    ``action`` is a dotted name (``schedule.pause``) or a family ending in ``.*`` (``schedule.*``).
    """

    model_config = ConfigDict(frozen=True)

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None

    @property
    def narrows(self) -> bool:
        """Whether anything besides ``since`` (which the sort key serves) is asked for."""
        return bool(self.actor or self.action or self.target)

    def matches(self, entry: AuditEntry) -> bool:
        if self.actor and entry.actor != self.actor:
            return False
        if self.target and entry.target != self.target:
            return False
        if self.action:
            family = self.action.removesuffix("*")
            if family.endswith("."):
                return entry.action.startswith(family)
            return entry.action == self.action
        return True


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
        self,
        tenant: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        where: AuditFilter | None = None,
    ) -> Page[AuditEntry]:
        """The tenant's entries newest first, those at or after ``where.since`` and matching ``where``."""
        where = where or AuditFilter()
        since = to_iso(where.since) if where.since else None
        if not where.narrows:
            return query_page(
                self.table,
                tenant,
                self.model,
                partition=audit_pk(tenant),
                sk_after=since,
                forward=False,
                limit=limit,
                cursor=cursor,
            )
        matched: list[AuditEntry] = []
        next_cursor = cursor
        for _ in range(FILTER_SCAN_PAGES):
            items, after = self.table.query(
                partition=audit_pk(tenant),
                sk_after=since,
                forward=False,
                limit=MAX_PAGE_SIZE,
                cursor=next_cursor,
                tenant_prefix=tenant_pk(tenant),
            )
            for position, item in enumerate(items, start=1):
                entry = self.model(item)
                if not where.matches(entry):
                    continue
                matched.append(entry)
                if len(matched) == limit:
                    # Resume right after this entry, unless it was the partition's last.
                    more = position < len(items) or after is not None
                    resume = encode_cursor({PK: item[PK], SK: item[SK]}) if more else None
                    return Page[AuditEntry](items=matched, next_cursor=resume)
            next_cursor = after
            if after is None:
                break
        return Page[AuditEntry](items=matched, next_cursor=next_cursor)


__all__ = ["FILTER_SCAN_PAGES", "AuditFilter", "AuditRepository"]
