"""Webhook items: the routing item a delivery URL resolves through, and the record of a delivery seen.

* the routing item ``WEBHOOK#{connection_id}`` / ``WEBHOOK#{connection_id}``: the webhook URL
  (``/v1/webhooks/{provider}/{connection_id}``) carries no tenant, so the webhook Lambda must find the
  tenant from the connection id alone, as the authorizer finds an API key. Like the API-key lookup item it
  is not tenant-prefixed, and like it holds only what routing needs: tenant, provider, connection id (and
  ``last_delivery_at``, see below). Connection ids are random (``conn_`` + 20 characters), so a URL cannot
  be guessed into another tenant's connection, and the delivery must still carry that connection's
  signature. The item is written in the connection's own create transaction and deleted in its delete
  transaction (``runtime.connections``), so a connection and its route exist together or not at all.
* ``last_delivery_at`` on the routing item: when a verified delivery last arrived (webhook liveness). It is
  written at most once per :data:`LAST_DELIVERY_RESOLUTION`: the webhook Lambda reads the routing item
  anyway, so it knows whether a write is due without a failed conditional write, and the condition settles
  concurrent deliveries (one writes).
* the delivery record ``T#{tenant}#DELIVERY#{provider}#{delivery_id}`` / ``DELIVERY`` (TTL): the dedup
  claim. ``pending`` while its delivery is being enqueued, ``enqueued`` once the message is on the inbound
  queue. :meth:`DeliveryRecords.claim` writes it with a condition, so of two copies of one delivery exactly
  one goes on; see :class:`ClaimOutcome` for what the other learns.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE, delivery_pk
from trackbridge.storage.mapping import datetime_or_none
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

WEBHOOK_ROUTE_PREFIX = "WEBHOOK#"
DELIVERY_SK = "DELIVERY"
# A busy hook writes its connection's last delivery time at most once a minute.
LAST_DELIVERY_RESOLUTION = timedelta(minutes=1)


def webhook_route_key(connection_id: str) -> str:
    """Partition and sort key of a connection's routing item (not tenant-prefixed: see module docstring)."""
    return f"{WEBHOOK_ROUTE_PREFIX}{connection_id}"


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """Where a delivery for ``connection_id`` belongs."""

    tenant: str
    provider: str
    connection_id: str
    last_delivery_at: datetime | None = None


class WebhookRoutes:
    """The routing items: written and deleted inside the connection's own transactions (``*_op``)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create_op(self, tenant: str, provider: str, connection_id: str) -> TransactItem:
        key = webhook_route_key(connection_id)
        item: Item = {
            PK: key,
            SK: key,
            "entity": "webhook_route",
            "tenant": tenant,
            "provider": provider,
            "connection_id": connection_id,
        }
        return self.table.put_op(item, condition="attribute_not_exists(#pk)", names={"#pk": PK})

    def restore_op(self, tenant: str, provider: str, connection_id: str) -> TransactItem:
        """Write the routing item whether it exists or not, keeping ``last_delivery_at``: gives a connection
        created before routing items existed its route (rotation does this)."""
        key = webhook_route_key(connection_id)
        return self.table.update_op(
            key,
            key,
            update="SET #e = :e, #t = :t, #p = :p, #c = :c",
            names={"#e": "entity", "#t": "tenant", "#p": "provider", "#c": "connection_id"},
            values={":e": "webhook_route", ":t": tenant, ":p": provider, ":c": connection_id},
        )

    def delete_op(self, connection_id: str) -> TransactItem:
        """Unconditional: a connection created before routing items existed has none to delete."""
        key = webhook_route_key(connection_id)
        return self.table.delete_op(key, key)

    def lookup(self, connection_id: str) -> WebhookRoute | None:
        key = webhook_route_key(connection_id)
        item = self.table.get(key, key)
        if item is None:
            return None
        return WebhookRoute(
            tenant=str(item["tenant"]),
            provider=str(item["provider"]),
            connection_id=str(item["connection_id"]),
            last_delivery_at=datetime_or_none(item.get("last_delivery_at")),
        )

    @staticmethod
    def due(last_delivery_at: datetime | None, now: datetime) -> bool:
        """Whether a delivery at ``now`` is worth a write of ``last_delivery_at``."""
        return last_delivery_at is None or now - last_delivery_at >= LAST_DELIVERY_RESOLUTION

    def touch(self, connection_id: str, now: datetime) -> bool:
        """Record a delivery at ``now`` unless one was recorded less than a resolution ago, or the route is
        gone (a deleted connection is not brought back). True when this call wrote."""
        key = webhook_route_key(connection_id)
        try:
            self.table.update(
                key,
                key,
                update="SET #l = :now",
                condition="attribute_exists(#pk) AND (attribute_not_exists(#l) OR #l < :threshold)",
                names={"#pk": PK, "#l": "last_delivery_at"},
                values={":now": to_iso(now), ":threshold": to_iso(now - LAST_DELIVERY_RESOLUTION)},
            )
        except ConditionFailed:
            return False
        return True


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    ENQUEUED = "enqueued"


class ClaimOutcome(StrEnum):
    """What :meth:`DeliveryRecords.claim` decided.

    ``claimed``: first seen (or seen before by an attempt that failed or died): enqueue it. ``seen``: a
    copy was already enqueued, acknowledge and drop this one. ``in_flight``: another attempt claimed it
    moments ago and has not finished; this copy must be retried later, not acknowledged (if that attempt
    then fails, acknowledging this one would lose the delivery).
    """

    CLAIMED = "claimed"
    SEEN = "seen"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    claimed_at: datetime


class DeliveryRecords:
    """The dedup records of webhook deliveries (TTL), keyed by tenant, provider and the tracker's id."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(
        self,
        tenant: str,
        provider: str,
        delivery_id: str,
        *,
        connection_id: str,
        now: datetime,
        ttl: timedelta,
        stale_after: timedelta,
    ) -> Claim:
        """Write a ``pending`` record unless a live one says the delivery was enqueued or is being enqueued.

        A ``pending`` record older than ``stale_after`` belongs to an attempt that died between its claim
        and its send (longer than the function may run): it is taken over. An expired record counts as
        absent, since DynamoDB deletes expired items only eventually.
        """
        item: Item = {
            PK: delivery_pk(tenant, provider, delivery_id),
            SK: DELIVERY_SK,
            "entity": "webhook_delivery",
            "status": str(DeliveryStatus.PENDING),
            "connection_id": connection_id,
            "claimed_at": to_iso(now),
            TTL_ATTRIBUTE: int((now + ttl).timestamp()),
        }
        try:
            self.table.put(
                item,
                condition="attribute_not_exists(#pk) OR #x <= :epoch OR (#s = :pending AND #c < :stale)",
                names={"#pk": PK, "#x": TTL_ATTRIBUTE, "#s": "status", "#c": "claimed_at"},
                values={
                    ":epoch": int(now.timestamp()),
                    ":pending": str(DeliveryStatus.PENDING),
                    ":stale": to_iso(now - stale_after),
                },
            )
        except ConditionFailed as exc:
            stored = exc.old_item or {}
            if stored.get("status") == DeliveryStatus.PENDING:
                return Claim(ClaimOutcome.IN_FLIGHT, from_iso(str(stored["claimed_at"])))
            return Claim(ClaimOutcome.SEEN, now)
        return Claim(ClaimOutcome.CLAIMED, now)

    def mark_enqueued(
        self, tenant: str, provider: str, delivery_id: str, *, claimed_at: datetime, now: datetime
    ) -> bool:
        """``pending`` -> ``enqueued``, only while the record is still this attempt's claim."""
        try:
            self.table.update(
                delivery_pk(tenant, provider, delivery_id),
                DELIVERY_SK,
                update="SET #s = :enqueued, #q = :now",
                condition="#c = :mine",
                names={"#s": "status", "#q": "enqueued_at", "#c": "claimed_at"},
                values={
                    ":enqueued": str(DeliveryStatus.ENQUEUED),
                    ":now": to_iso(now),
                    ":mine": to_iso(claimed_at),
                },
            )
        except ConditionFailed:
            return False
        return True

    def release(self, tenant: str, provider: str, delivery_id: str, *, claimed_at: datetime) -> None:
        """Forget this attempt's ``pending`` claim (its send failed), so the tracker's retry is not taken
        for a duplicate; a record another attempt holds is left alone."""
        with suppress(ConditionFailed):
            self.table.delete(
                delivery_pk(tenant, provider, delivery_id),
                DELIVERY_SK,
                condition="#s = :pending AND #c = :mine",
                names={"#s": "status", "#c": "claimed_at"},
                values={":pending": str(DeliveryStatus.PENDING), ":mine": to_iso(claimed_at)},
            )

    def status(self, tenant: str, provider: str, delivery_id: str) -> DeliveryStatus | None:
        item = self.table.get(delivery_pk(tenant, provider, delivery_id), DELIVERY_SK)
        return DeliveryStatus(str(item["status"])) if item is not None else None


__all__ = [
    "DELIVERY_SK",
    "LAST_DELIVERY_RESOLUTION",
    "WEBHOOK_ROUTE_PREFIX",
    "Claim",
    "ClaimOutcome",
    "DeliveryRecords",
    "DeliveryStatus",
    "WebhookRoute",
    "WebhookRoutes",
    "webhook_route_key",
]
