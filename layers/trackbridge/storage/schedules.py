"""A connection's ladder record: ``T#{tenant}#CONN#{id}`` / ``SCHEDULE``, one item, optimistic on ``version``.

The connection item keeps the schedule as set (``schedule``: expression and time zone); this item keeps what
the back-off ladder and the admin's pause add to it (``domain.backoff.LadderRecord``). Writes are
version-conditioned (``0`` means "never stored": the item must be absent) and take ``also`` items (an audit
entry) into the same transaction, so concurrent sync results and admin changes never overwrite each other.
"""

from __future__ import annotations

from typing import Any, Final

from trackbridge.domain.backoff import LadderPolicy, LadderRecord
from trackbridge.domain.errors import Conflict
from trackbridge.storage.keys import PK, SK, connection_pk
from trackbridge.storage.mapping import datetime_or_none, iso_or_none
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

SCHEDULE_SK: Final = "SCHEDULE"


class ScheduleStateRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def item(tenant: str, connection_id: str, record: LadderRecord) -> Item:
        return {
            PK: connection_pk(tenant, connection_id),
            SK: SCHEDULE_SK,
            "entity": "schedule",
            "connection_id": connection_id,
            "paused_by": record.paused_by,
            "paused_reason": record.paused_reason,
            "ladder_step": record.ladder_step,
            "consecutive_failures": record.consecutive_failures,
            "last_code": record.last_code,
            "last_result_at": iso_or_none(record.last_result_at),
            "last_operation_id": record.last_operation_id,
            "slowed_until": iso_or_none(record.slowed_until),
            "policy": record.policy.model_dump() if record.policy else None,
            "version": record.version,
        }

    @staticmethod
    def model(item: Item) -> LadderRecord:
        policy: Any = item.get("policy")
        return LadderRecord(
            paused_by=item.get("paused_by"),
            paused_reason=item.get("paused_reason"),
            ladder_step=item.get("ladder_step", 0),
            consecutive_failures=item.get("consecutive_failures", 0),
            last_code=item.get("last_code"),
            last_result_at=datetime_or_none(item.get("last_result_at")),
            last_operation_id=item.get("last_operation_id"),
            slowed_until=datetime_or_none(item.get("slowed_until")),
            policy=LadderPolicy.model_validate(policy) if policy else None,
            version=item["version"],
        )

    def find(self, tenant: str, connection_id: str) -> LadderRecord:
        """The stored record, or a fresh one (version 0) when none was stored yet."""
        item = self.table.get(connection_pk(tenant, connection_id), SCHEDULE_SK)
        return self.model(item) if item is not None else LadderRecord()

    def put_op(
        self, tenant: str, connection_id: str, record: LadderRecord, *, expected_version: int
    ) -> TransactItem:
        """Store ``record`` (its version must be ``expected_version + 1``) if nothing changed meanwhile."""
        if record.version != expected_version + 1:
            raise ValueError("a stored record's version moves by one")
        if expected_version == 0:
            return self.table.put_op(
                self.item(tenant, connection_id, record),
                condition="attribute_not_exists(#pk)",
                names={"#pk": PK},
            )
        return self.table.put_op(
            self.item(tenant, connection_id, record),
            condition="#v = :expected",
            names={"#v": "version"},
            values={":expected": expected_version},
        )

    def put(
        self,
        tenant: str,
        connection_id: str,
        record: LadderRecord,
        *,
        expected_version: int,
        also: tuple[TransactItem, ...] = (),
    ) -> LadderRecord:
        try:
            self.table.write(
                self.put_op(tenant, connection_id, record, expected_version=expected_version), *also
            )
        except ConditionFailed as exc:
            if exc.index not in (0, None):
                raise
            raise Conflict(
                "the schedule changed meanwhile; read it again and retry",
                code="VERSION_CONFLICT",
                details={"connection_id": connection_id, "expected_version": expected_version},
            ) from exc
        return record

    def delete_op(self, tenant: str, connection_id: str) -> TransactItem:
        return self.table.delete_op(connection_pk(tenant, connection_id), SCHEDULE_SK)


__all__ = ["SCHEDULE_SK", "ScheduleStateRepository"]
