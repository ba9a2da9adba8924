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
* ``hook`` on the routing item: the hook trackbridge registered at the tracker for this connection
  (:class:`RegisteredHook`: its id, kind and URL, and its liveness: status, fallback, reason, last check).
  A registered hook also puts the item into GSI1 partition :data:`REGISTERED_HOOKS_GSI1PK` (sort key: the
  connection id), so the maintenance run finds every registered hook with one paged query and no scan.
  That partition is not tenant-prefixed, like the item itself; it names connections, nothing else. Every
  write of ``hook`` after the registration is conditioned on its ``hook_id``, so a check that finishes
  after the hook was unregistered or replaced never writes the old hook back.
* the delivery record ``T#{tenant}#DELIVERY#{provider}#{delivery_id}`` / ``DELIVERY`` (TTL): the dedup
  claim. ``pending`` while its delivery is being enqueued, ``enqueued`` once the message is on the inbound
  queue. :meth:`DeliveryRecords.claim` writes it with a condition, so of two copies of one delivery exactly
  one goes on; see :class:`ClaimOutcome` for what the other learns.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import GSI1, GSI1_PK, GSI1_SK, PK, SK, TTL_ATTRIBUTE, delivery_pk
from trackbridge.storage.mapping import datetime_or_none
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

WEBHOOK_ROUTE_PREFIX = "WEBHOOK#"
DELIVERY_SK = "DELIVERY"
# A busy hook writes its connection's last delivery time at most once a minute.
LAST_DELIVERY_RESOLUTION = timedelta(minutes=1)
# GSI1 partition of every routing item that holds a registered hook (the maintenance run's listing).
REGISTERED_HOOKS_GSI1PK = "WEBHOOKS#REGISTERED"

HookKind = Literal["github", "gitlab", "jira_admin", "jira_app"]
HookStatus = Literal["active", "inactive"]


@dataclass(frozen=True, slots=True)
class RegisteredHook:
    """A hook trackbridge registered at the tracker, and what the last liveness check found.

    ``kind`` says how it is managed: ``jira_admin`` is an admin webhook (``/rest/webhooks/1.0``, signed,
    never expires), ``jira_app`` a REST webhook of an OAuth app (``/rest/api/3/webhook``, expires: see
    ``expires_at``; ``failed_after`` is where the replay of its failed deliveries resumes, epoch ms).
    """

    hook_id: str
    kind: HookKind
    url: str
    registered_at: datetime
    status: HookStatus = "active"
    fallback: bool = False
    reason: str | None = None
    checked_at: datetime | None = None
    inactive_since: datetime | None = None
    repaired_at: datetime | None = None
    fallback_synced_at: datetime | None = None
    expires_at: datetime | None = None
    failed_after: int | None = None

    def to_item(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value is None:
                continue
            out[name] = to_iso(value) if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_item(cls, item: Any) -> RegisteredHook | None:
        if not isinstance(item, dict) or not item.get("hook_id"):
            return None

        def when(name: str) -> datetime | None:
            return datetime_or_none(item.get(name))

        failed_after = item.get("failed_after")
        return cls(
            hook_id=str(item["hook_id"]),
            kind=item["kind"],
            url=str(item.get("url") or ""),
            registered_at=from_iso(str(item["registered_at"])),
            status="inactive" if item.get("status") == "inactive" else "active",
            fallback=bool(item.get("fallback", False)),
            reason=str(item["reason"]) if item.get("reason") else None,
            checked_at=when("checked_at"),
            inactive_since=when("inactive_since"),
            repaired_at=when("repaired_at"),
            fallback_synced_at=when("fallback_synced_at"),
            expires_at=when("expires_at"),
            failed_after=int(failed_after) if failed_after is not None else None,
        )

    def but(self, **changes: Any) -> RegisteredHook:
        return replace(self, **changes)


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
    hook: RegisteredHook | None = None


def _route(item: Item) -> WebhookRoute:
    return WebhookRoute(
        tenant=str(item["tenant"]),
        provider=str(item["provider"]),
        connection_id=str(item["connection_id"]),
        last_delivery_at=datetime_or_none(item.get("last_delivery_at")),
        hook=RegisteredHook.from_item(item.get("hook")),
    )


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
        return _route(item) if item is not None else None

    # -- the registered hook ---------------------------------------------------------------------------------

    def register_op(
        self, tenant: str, provider: str, connection_id: str, hook: RegisteredHook
    ) -> TransactItem:
        """Record ``hook`` (the item is written if missing, ``last_delivery_at`` kept) and list it in GSI1;
        refused while another hook is recorded (one registered hook per connection)."""
        key = webhook_route_key(connection_id)
        return self.table.update_op(
            key,
            key,
            update="SET #e = :e, #t = :t, #p = :p, #c = :c, #h = :h, #g = :g, #s = :s",
            condition="attribute_not_exists(#h)",
            names={
                "#e": "entity",
                "#t": "tenant",
                "#p": "provider",
                "#c": "connection_id",
                "#h": "hook",
                "#g": GSI1_PK,
                "#s": GSI1_SK,
            },
            values={
                ":e": "webhook_route",
                ":t": tenant,
                ":p": provider,
                ":c": connection_id,
                ":h": hook.to_item(),
                ":g": REGISTERED_HOOKS_GSI1PK,
                ":s": connection_id,
            },
        )

    def forget_op(self, connection_id: str, hook_id: str) -> TransactItem:
        """Forget the recorded hook ``hook_id`` (the route stays: deliveries signed with the connection's
        secrets still verify)."""
        key = webhook_route_key(connection_id)
        return self.table.update_op(
            key,
            key,
            update="REMOVE #h, #g, #s",
            condition="#h.#i = :i",
            names={"#h": "hook", "#g": GSI1_PK, "#s": GSI1_SK, "#i": "hook_id"},
            values={":i": hook_id},
        )

    def save_hook(self, connection_id: str, previous_hook_id: str, hook: RegisteredHook) -> bool:
        """Write ``hook`` over the recorded hook ``previous_hook_id`` (a re-registration changes the id);
        False when that hook is no longer the recorded one (unregistered or replaced meanwhile)."""
        key = webhook_route_key(connection_id)
        try:
            self.table.update(
                key,
                key,
                update="SET #h = :h",
                condition="#h.#i = :i",
                names={"#h": "hook", "#i": "hook_id"},
                values={":h": hook.to_item(), ":i": previous_hook_id},
            )
        except ConditionFailed:
            return False
        return True

    def registered(
        self, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[WebhookRoute], str | None]:
        """A page of the routes that hold a registered hook (GSI1), in connection id order."""
        items, next_cursor = self.table.query(
            partition=REGISTERED_HOOKS_GSI1PK, index=GSI1, limit=limit, cursor=cursor
        )
        return [_route(item) for item in items if item.get("hook")], next_cursor

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
    "REGISTERED_HOOKS_GSI1PK",
    "WEBHOOK_ROUTE_PREFIX",
    "Claim",
    "ClaimOutcome",
    "DeliveryRecords",
    "DeliveryStatus",
    "HookKind",
    "HookStatus",
    "RegisteredHook",
    "WebhookRoute",
    "WebhookRoutes",
    "webhook_route_key",
]
