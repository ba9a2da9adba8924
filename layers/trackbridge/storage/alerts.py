"""Operator alerts in DynamoDB: channels and the policy (tenant documents), incidents, the send outbox and
each channel's last outcome.

=================================== ======================================================================
item                                key
=================================== ======================================================================
an alert channel (no URL, no secret) ``T#{t}`` / ``ALERTCH#{name}`` (versioned document)
the alert policy                    ``T#{t}`` / ``ALERTPOLICY#default`` (versioned document)
an open incident                    ``T#{t}#ALERTS`` / ``OPEN#{connection_id}#{code}``
a closed incident                   ``T#{t}#ALERTS`` / ``CLOSED#{closed_at}#{incident_id}``
a send waiting or given up          ``T#{t}#ALERTS`` / ``SEND#{send_id}``; while pending also GSI1
                                    ``ALERTS#PENDING`` / ``{next_attempt_at}#{t}#{send_id}``
a channel's last outcome            ``T#{t}#ALERTS`` / ``CHSTATUS#{name}``
=================================== ======================================================================

Races are settled by conditions, never by reading first: an incident is opened by a put with
``attribute_not_exists`` (of two concurrent failures one opens it, the other counts), in one transaction with
its sends; it is closed by deleting exactly the open item read (``id = :id``) in one transaction with the
closed copy and the recovery sends, so two concurrent successes send one recovery. A maintenance run claims a
due send by its attempt count before trying it. The GSI1 partition of pending sends is the one place keyed
by no tenant (like the registered hooks' listing): the maintenance run reads it across tenants, and each
entry names its tenant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from trackbridge.domain.alerts import AlertChannel, AlertMessage, AlertPolicy, AlertRoute, AlertSend, Incident
from trackbridge.domain.pagination import MAX_PAGE_SIZE, Page
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.documents import VersionedDocuments
from trackbridge.storage.keys import GSI1, GSI1_PK, GSI1_SK, PK, SK
from trackbridge.storage.mapping import datetime_or_none, iso_or_none
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

CHANNEL_PREFIX = "ALERTCH#"
POLICY_PREFIX = "ALERTPOLICY#"
POLICY_ID = "default"
OPEN_PREFIX = "OPEN#"
CLOSED_PREFIX = "CLOSED#"
SEND_PREFIX = "SEND#"
STATUS_PREFIX = "CHSTATUS#"
PENDING_SENDS_GSI1PK = "ALERTS#PENDING"
# A tenant's channels, sends and open incidents are few; listings of them stop after this many pages.
MAX_PAGES = 20


def alerts_pk(tenant: str) -> str:
    return f"T#{tenant}#ALERTS"


def open_sk(connection_id: str, code: str) -> str:
    return f"{OPEN_PREFIX}{connection_id}#{code}"


def closed_sk(closed_at: datetime, incident_id: str) -> str:
    return f"{CLOSED_PREFIX}{to_iso(closed_at)}#{incident_id}"


def send_sk(send_id: str) -> str:
    return f"{SEND_PREFIX}{send_id}"


def status_sk(channel: str) -> str:
    return f"{STATUS_PREFIX}{channel}"


def pending_gsi1sk(next_attempt_at: datetime, tenant: str, send_id: str) -> str:
    return f"{to_iso(next_attempt_at)}#{tenant}#{send_id}"


class AlertChannelRepository(VersionedDocuments[AlertChannel]):
    sk_prefix: ClassVar[str] = CHANNEL_PREFIX
    kind: ClassVar[str] = "alert channel"

    def document_id(self, model: AlertChannel) -> str:
        return model.name

    def attributes(self, model: AlertChannel) -> Item:
        return {
            "name": model.name,
            "channel_kind": model.kind,
            "url": model.url,
            "has_secret": model.has_secret,
            "created_at": iso_or_none(model.created_at),
            "updated_at": iso_or_none(model.updated_at),
            "version": model.version,
        }

    def model(self, item: Item) -> AlertChannel:
        return AlertChannel(
            name=item["name"],
            kind=item["channel_kind"],
            url=item.get("url"),
            has_secret=bool(item.get("has_secret")),
            created_at=datetime_or_none(item.get("created_at")),
            updated_at=datetime_or_none(item.get("updated_at")),
            version=item["version"],
        )

    def all(self, tenant: str) -> list[AlertChannel]:
        found: list[AlertChannel] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = self.list(tenant, limit=MAX_PAGE_SIZE, cursor=cursor)
            found.extend(page.items)
            cursor = page.next_cursor
            if not cursor:
                break
        return found


class AlertPolicyRepository(VersionedDocuments[AlertPolicy]):
    sk_prefix: ClassVar[str] = POLICY_PREFIX
    kind: ClassVar[str] = "alert policy"

    def document_id(self, model: AlertPolicy) -> str:
        return POLICY_ID

    def attributes(self, model: AlertPolicy) -> Item:
        return {
            "routes": [route.model_dump() for route in model.routes],
            "recovery": model.recovery,
            "updated_at": iso_or_none(model.updated_at),
            "version": model.version,
        }

    def model(self, item: Item) -> AlertPolicy:
        return AlertPolicy(
            routes=[AlertRoute(**route) for route in item["routes"]],
            recovery=bool(item.get("recovery", True)),
            updated_at=datetime_or_none(item.get("updated_at")),
            version=item["version"],
        )

    def current(self, tenant: str) -> AlertPolicy | None:
        return self.find(tenant, POLICY_ID)


def _incident_item(tenant: str, sk: str, incident: Incident) -> Item:
    data = incident.model_dump(mode="json")
    for name in ("first_seen", "last_seen", "closed_at"):
        data[name] = iso_or_none(getattr(incident, name))
    return {PK: alerts_pk(tenant), SK: sk, "entity": "incident", **data}


def _incident(item: Item) -> Incident:
    fields = {name: value for name, value in item.items() if name in Incident.model_fields}
    return Incident.model_validate(fields)


class IncidentRepository:
    """Open and closed incidents; see the module doc for how concurrent failures and successes settle."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def open(self, tenant: str, incident: Incident, *, also: Sequence[TransactItem] = ()) -> bool:
        """Store ``incident`` as the open one of its (connection, code), with ``also`` (its sends); False
        (nothing written) when one is open already."""
        op = self.table.put_op(
            _incident_item(tenant, open_sk(incident.connection_id, incident.code), incident),
            condition="attribute_not_exists(#pk)",
            names={"#pk": PK},
        )
        try:
            self.table.write(op, *also)
        except ConditionFailed as exc:
            if exc.index == 0:
                return False
            raise
        return True

    def count(
        self,
        tenant: str,
        connection_id: str,
        code: str,
        *,
        at: datetime,
        detail: str,
        operation_id: str | None,
    ) -> Incident | None:
        """One more failure of the open incident (linked to ``operation_id``, the newest failing operation,
        when given); None when none is open (it closed meanwhile)."""
        names = {"#pk": PK, "#n": "count", "#l": "last_seen", "#d": "detail"}
        values: dict[str, Any] = {":one": 1, ":at": to_iso(at), ":detail": detail}
        update = "SET #n = #n + :one, #l = :at, #d = :detail"
        if operation_id is not None:
            update += ", #o = :op"
            names["#o"] = "operation_id"
            values[":op"] = operation_id
        try:
            item = self.table.update(
                alerts_pk(tenant),
                open_sk(connection_id, code),
                update=update,
                condition="attribute_exists(#pk)",
                names=names,
                values=values,
            )
        except ConditionFailed:
            return None
        return _incident(item)

    def open_of(self, tenant: str, connection_id: str) -> list[Incident]:
        items, _ = self.table.query(
            partition=alerts_pk(tenant), sk_prefix=f"{OPEN_PREFIX}{connection_id}#", limit=MAX_PAGE_SIZE
        )
        return [_incident(item) for item in items]

    def close_ops(self, tenant: str, incidents: Sequence[Incident], at: datetime) -> list[TransactItem]:
        """Delete each open item as read (its ``id``) and store its closed copy."""
        ops: list[TransactItem] = []
        for incident in incidents:
            ops.append(
                self.table.delete_op(
                    alerts_pk(tenant),
                    open_sk(incident.connection_id, incident.code),
                    condition="#i = :id",
                    names={"#i": "id"},
                    values={":id": incident.id},
                )
            )
            closed = incident.model_copy(update={"state": "closed", "closed_at": at})
            ops.append(self.table.put_op(_incident_item(tenant, closed_sk(at, incident.id), closed)))
        return ops

    def close(
        self, tenant: str, incidents: Sequence[Incident], at: datetime, *, also: Sequence[TransactItem] = ()
    ) -> bool:
        """Close ``incidents`` and write ``also`` (the recovery sends), all or nothing; False when one of
        them was closed or replaced meanwhile (nothing written)."""
        try:
            self.table.transact([*self.close_ops(tenant, incidents, at), *also])
        except ConditionFailed:
            return False
        return True

    def list(self, tenant: str, *, state: str, limit: int, cursor: str | None) -> Page[Incident]:
        """Open incidents by connection, or closed ones newest first."""
        return query_page(
            self.table,
            tenant,
            _incident,
            partition=alerts_pk(tenant),
            sk_prefix=OPEN_PREFIX if state == "open" else CLOSED_PREFIX,
            forward=state == "open",
            limit=limit,
            cursor=cursor,
        )


def _send_item(tenant: str, send: AlertSend) -> Item:
    item: Item = {
        PK: alerts_pk(tenant),
        SK: send_sk(send.id),
        "entity": "alert_send",
        "tenant": tenant,
        "id": send.id,
        "channel": send.channel,
        "message": send.message.model_dump(mode="json"),
        "state": send.state,
        "attempts": send.attempts,
        "created_at": to_iso(send.created_at),
        "next_attempt_at": to_iso(send.next_attempt_at),
        "last_error_code": send.last_error_code,
        "last_error": send.last_error,
    }
    if send.state == "pending":
        item[GSI1_PK] = PENDING_SENDS_GSI1PK
        item[GSI1_SK] = pending_gsi1sk(send.next_attempt_at, tenant, send.id)
    return item


def _send(item: Item) -> AlertSend:
    return AlertSend(
        id=item["id"],
        channel=item["channel"],
        message=AlertMessage.model_validate(item["message"]),
        state=item["state"],
        attempts=item["attempts"],
        created_at=from_iso(item["created_at"]),
        next_attempt_at=from_iso(item["next_attempt_at"]),
        last_error_code=item.get("last_error_code"),
        last_error=item.get("last_error"),
    )


class AlertSendRepository:
    """The outbox: a send is written before its first attempt and deleted once delivered."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def put_op(self, tenant: str, send: AlertSend) -> TransactItem:
        # The id names the alert and the channel: a second write of the same send is refused.
        return self.table.put_op(
            _send_item(tenant, send), condition="attribute_not_exists(#pk)", names={"#pk": PK}
        )

    def delivered(self, tenant: str, send: AlertSend) -> None:
        self.table.delete(alerts_pk(tenant), send_sk(send.id))

    def failed(self, tenant: str, send: AlertSend) -> None:
        """Store ``send`` after a failed attempt: pending again (listed for the maintenance run) or
        abandoned (kept for ``channel_health``, out of the listing)."""
        self.table.put(_send_item(tenant, send))

    def claim(self, tenant: str, send: AlertSend, *, lease_until: datetime) -> bool:
        """Take a due send for one attempt: only if nobody tried it since it was read (same ``attempts``);
        its listing entry moves to ``lease_until`` so a run that dies leaves it due again later."""
        try:
            self.table.update(
                alerts_pk(tenant),
                send_sk(send.id),
                update="SET #g = :g",
                condition="#a = :a AND #s = :pending",
                names={"#g": GSI1_SK, "#a": "attempts", "#s": "state"},
                values={
                    ":g": pending_gsi1sk(lease_until, tenant, send.id),
                    ":a": send.attempts,
                    ":pending": "pending",
                },
            )
        except ConditionFailed:
            return False
        return True

    def of_tenant(self, tenant: str) -> list[AlertSend]:
        found: list[AlertSend] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = query_page(
                self.table,
                tenant,
                _send,
                partition=alerts_pk(tenant),
                sk_prefix=SEND_PREFIX,
                limit=MAX_PAGE_SIZE,
                cursor=cursor,
            )
            found.extend(page.items)
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    def due(self, now: datetime, *, limit: int = MAX_PAGE_SIZE) -> Iterator[tuple[str, AlertSend]]:
        """``(tenant, send)`` of pending sends due by ``now``, earliest first, at most ``limit``."""
        items, _ = self.table.query(partition=PENDING_SENDS_GSI1PK, index=GSI1, limit=limit)
        threshold = to_iso(now)
        for item in items:
            if str(item.get(GSI1_SK, "")) > threshold:
                break
            yield str(item["tenant"]), _send(item)


class ChannelStatusRepository:
    """Each channel's last success and last failure (what ``channel_health`` reports)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def _set(self, tenant: str, channel: str, values: dict[str, Any]) -> None:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(values)))
        self.table.update(
            alerts_pk(tenant),
            status_sk(channel),
            update=f"SET {assignments}",
            names=names,
            values={f":v{i}": value for i, value in enumerate(values.values())},
        )

    def succeeded(self, tenant: str, channel: str, at: datetime) -> None:
        self._set(tenant, channel, {"entity": "alert_channel_status", "last_success_at": to_iso(at)})

    def failed(self, tenant: str, channel: str, at: datetime, *, code: str, error: str) -> None:
        self._set(
            tenant,
            channel,
            {
                "entity": "alert_channel_status",
                "last_failure_at": to_iso(at),
                "last_error_code": code,
                "last_error": error,
            },
        )

    def forget(self, tenant: str, channel: str) -> TransactItem:
        return self.table.delete_op(alerts_pk(tenant), status_sk(channel))

    def all(self, tenant: str) -> dict[str, Item]:
        items, _ = self.table.query(partition=alerts_pk(tenant), sk_prefix=STATUS_PREFIX, limit=MAX_PAGE_SIZE)
        return {str(item[SK]).removeprefix(STATUS_PREFIX): item for item in items}


__all__ = [
    "PENDING_SENDS_GSI1PK",
    "AlertChannelRepository",
    "AlertPolicyRepository",
    "AlertSendRepository",
    "ChannelStatusRepository",
    "IncidentRepository",
    "alerts_pk",
]
