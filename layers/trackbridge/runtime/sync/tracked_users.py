"""Tracked users of a Jira connection: the use cases behind ``GET/PUT .../tracked-users`` and the sync side.

* :class:`TrackedUsersService` reads and replaces the list (``trackbridge.domain.tracked_users``). A PUT that
  adds users starts their backfill: it writes the list with a :class:`TrackedBackfill` naming an operation
  id chosen beforehand (version-conditioned), starts that full sync operation of the issues entity under
  that id, then appends the audit entry ``connection.tracked_users``. If another sync is running the start
  is a 409 and the list is put back as it was (nothing stored, nothing audited). A PUT that only removes
  users starts nothing (stored issues stay: history is kept) and writes the list and its audit entry in one
  transaction.
* :class:`TrackedUsersScoping` is the sync engine's adapter factory wrapper: it hands a Jira adapter the
  connection's tracked users (``JiraAdapter.track_users``), and the backfill's users when the operation the
  backfill named is the one holding the connection's sync lock (one read of the lock item, only while a
  backfill record exists). A record whose operation ended is inert and is replaced by the next PUT: no
  cleanup hook is needed when a backfill completes, fails or is cancelled.

Why the backfill runs as a ``full`` operation: its full pass reads the new users' issues (however old), its
catch-up pass reads every tracked user's issues from the stored high-water mark, so the entity's cursor can
advance without skipping anything another user changed meanwhile. Its sweep GETs each stored issue the
passes did not meet (a tombstone only on 404/410), which the full mode brings with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from trackbridge.domain.audit import Actor, diff, new_entry
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import NotFound, UnsupportedCapability
from trackbridge.domain.ids import IdPrefix, is_id, new_id
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.times import utcnow
from trackbridge.domain.tracked_users import (
    TRACKED_USERS_CAPABILITY,
    TRACKED_USERS_PROVIDERS,
    TrackedBackfill,
    TrackedUsers,
    TrackedUsersView,
    added_users,
)
from trackbridge.runtime.observability import logger
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.connections import ConnectionRepository

if TYPE_CHECKING:
    from trackbridge.providers.base import TrackerAdapter

AUDIT_ACTION = "connection.tracked_users"
BACKFILL_TRIGGER = "tracked_users"


class ActiveOperations(Protocol):
    """Which operation holds a connection's sync lock (``storage.sync.SyncOperationRepository``)."""

    def active_operation_id(self, tenant: str, connection_id: str) -> str | None: ...


class StartsSyncs(Protocol):
    """``runtime.sync.SyncService.start``, the part used here."""

    def start(
        self,
        tenant: str,
        connection_id: str,
        request: SyncRequest,
        *,
        triggered_by: str,
        operation_id: str | None = None,
    ) -> Any: ...


def view_of(connection: Connection) -> TrackedUsersView:
    backfill = connection.tracked_backfill
    return TrackedUsersView(
        users=list(connection.tracked_users),
        backfill_operation_id=backfill.operation_id if backfill else None,
        backfill_users=list(backfill.users) if backfill else [],
    )


@dataclass
class TrackedUsersService:
    connections: ConnectionRepository
    audit: AuditRepository
    syncs: StartsSyncs
    clock: Callable[[], Any] = utcnow

    def connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        connection = self.connections.get(tenant, connection_id)
        if connection.provider not in TRACKED_USERS_PROVIDERS:
            raise UnsupportedCapability(
                f"{connection.provider} connections cannot track users (capability "
                f"{TRACKED_USERS_CAPABILITY!r}: {', '.join(sorted(TRACKED_USERS_PROVIDERS))} only)",
                details={"capability": TRACKED_USERS_CAPABILITY, "provider": connection.provider},
            )
        return connection

    def get(self, tenant: str, connection_id: str) -> TrackedUsersView:
        return view_of(self.connection(tenant, connection_id))

    def put(self, tenant: str, connection_id: str, body: TrackedUsers, actor: Actor) -> TrackedUsersView:
        current = self.connection(tenant, connection_id)
        users = body.unique()
        if users == current.tracked_users:
            return view_of(current)  # nothing would change: no write, no audit noise, no backfill
        added = added_users(current.tracked_users, users)
        now = self.clock()
        backfill = (
            TrackedBackfill(tenant=tenant, operation_id=new_id(IdPrefix.OPERATION), users=added)
            if added
            else current.tracked_backfill
        )
        updated = current.model_copy(
            update={
                "tracked_users": users,
                "tracked_backfill": backfill,
                "updated_at": now,
                "version": current.version + 1,
            }
        )
        entry = new_entry(
            action=AUDIT_ACTION,
            target=connection_id,
            actor=actor,
            at=now,
            changes=diff({"tracked_users": current.tracked_users}, {"tracked_users": users}),
        )
        if added and backfill is not None:
            # The list first, naming the backfill's operation, so the backfill's first slice finds it; the
            # audit entry once the backfill started (a 409 puts the list back and leaves no trace).
            self.connections.replace(tenant, updated, expected_version=current.version)
            self._start_backfill(tenant, current, updated, backfill)
            self.audit.append(tenant, entry)
        else:
            self.connections.replace(
                tenant, updated, expected_version=current.version, also=(self.audit.put_op(tenant, entry),)
            )
        logger.info(
            "tracked_users.replaced",
            extra={"tenant": tenant, "connection_id": connection_id, "users": len(users), "added": added},
        )
        return view_of(updated)

    def _start_backfill(
        self, tenant: str, before: Connection, updated: Connection, backfill: TrackedBackfill
    ) -> None:
        try:
            self.syncs.start(
                tenant,
                updated.id,
                SyncRequest(mode="full", entities=["issues"]),
                triggered_by=BACKFILL_TRIGGER,
                operation_id=backfill.operation_id,
            )
        except Exception:
            # Another sync holds the lock (409), or the queue refused the start (503): put the list back,
            # so nothing changed and the caller's retry adds the users (and starts their backfill) again.
            restored = before.model_copy(update={"version": updated.version + 1, "updated_at": self.clock()})
            self.connections.replace(tenant, restored, expected_version=updated.version)
            raise


@dataclass(frozen=True)
class TrackedUsersScoping:
    """An adapter factory that narrows a Jira connection's syncs to its tracked users (see module doc)."""

    factory: Callable[..., TrackerAdapter]
    operations: ActiveOperations

    def __call__(
        self, connection: Connection, credentials: Mapping[str, Any], **options: Any
    ) -> TrackerAdapter:
        adapter = self.factory(connection, credentials, **options)
        track = getattr(adapter, "track_users", None)
        if connection.tracked_users and track is not None:
            track(connection.tracked_users, backfill=self.backfill_users(connection))
        return adapter

    def backfill_users(self, connection: Connection) -> list[str]:
        backfill = connection.tracked_backfill
        if backfill is None:
            return []
        running = self.operations.active_operation_id(backfill.tenant, connection.id)
        return list(backfill.users) if running == backfill.operation_id else []


__all__ = [
    "AUDIT_ACTION",
    "BACKFILL_TRIGGER",
    "TrackedUsersScoping",
    "TrackedUsersService",
    "view_of",
]
