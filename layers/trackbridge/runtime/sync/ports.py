"""What the sync engine, its syncers and the sync service need of the world, as Protocols (STYLE habit 11).

The DynamoDB repositories in ``trackbridge.storage`` satisfy these structurally (nothing here is imported
there); ``tests/unit/sync/fakes.py`` holds in-memory ones, so the engine's logic runs in unit tests on a
fake clock, and the moto-backed integration tests check the real ones. Clocks are ports too: the engine
reads wall time (``Clock``) for leases, signposts and parking, and a monotonic one (``Monotonic``) to space
its in-page cancel checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Comment, Issue
from trackbridge.domain.pagination import Page
from trackbridge.domain.sync import SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import StoredVersion

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]
# A DynamoDB key, (partition, sort).
Key = tuple[str, str]
# What a conditional put of a synced item came to (``unchanged``: a newer copy is stored).
PutOutcome = Literal["created", "updated", "unchanged"]


class RemainingTime(Protocol):
    """The Lambda context, as far as a slice's time budget goes."""

    def get_remaining_time_in_millis(self) -> int: ...


class CredentialSource(Protocol):
    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None: ...


class ConnectionStore(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...


class OperationStore(Protocol):
    """Sync operations and the connection's one-active-operation lock (``storage.sync``)."""

    def get(self, tenant: str, operation_id: str) -> SyncOperation: ...

    def start(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        owner: str,
        lease_until: datetime,
        now: datetime | None = None,
    ) -> SyncOperation: ...

    def save(self, tenant: str, op: SyncOperation, *, expected_version: int) -> SyncOperation: ...

    def finish(self, tenant: str, op: SyncOperation, *, expected_version: int) -> SyncOperation: ...

    def checkpoint(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        expected_version: int,
        state: SyncState,
        expected_state_version: int | None,
    ) -> None: ...

    def claim_slice(self, tenant: str, operation_id: str, slice_no: int) -> bool: ...

    def take_over_slice(
        self,
        tenant: str,
        op: SyncOperation,
        slice_no: int,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> bool: ...

    def extend_lease(
        self, tenant: str, connection_id: str, operation_id: str, lease_until: datetime
    ) -> bool: ...

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = ..., cursor: str | None = None
    ) -> Page[SyncOperation]: ...


class StateStore(Protocol):
    """Per connection x entity sync states, optimistic locking on ``version``."""

    def find(self, tenant: str, connection_id: str, entity: str) -> SyncState | None: ...

    def save(self, tenant: str, state: SyncState, *, expected_version: int | None) -> SyncState: ...

    def list_for_connection(self, tenant: str, connection_id: str) -> list[SyncState]: ...


class LogStore(Protocol):
    def append(self, tenant: str, entries: Iterable[SyncLogEntry]) -> None: ...

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = ..., cursor: str | None = None
    ) -> Page[SyncLogEntry]: ...


class StoredIssues(Protocol):
    """The stored issues a sweep walks (``storage.issues.IssueRepository``)."""

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = ..., cursor: str | None = None
    ) -> Page[Issue]: ...


class StoredComments(Protocol):
    """The stored comments a sweep and a complete comment list are checked against."""

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = ..., cursor: str | None = None
    ) -> Page[Comment]: ...

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = ..., cursor: str | None = None
    ) -> Page[Comment]: ...


class SyncedItemStore(Protocol):
    """Where synced items land: one batch read of versions, then DESIGN section 10's conditional put
    (``created``, ``updated``, or ``unchanged`` when a newer copy is stored) for items stored before, and
    an unconditional batch for items the read showed absent, after which the versions writers outside the
    sync stored meanwhile are put back (``storage.write_journal``)."""

    def versions(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]: ...

    def put_if_newer(self, item: dict[str, Any]) -> PutOutcome: ...

    def put_absent(self, items: Sequence[dict[str, Any]]) -> None:
        """Write items the batch read showed absent, without a condition (at most 25 a call)."""
        ...

    def restore_outside_writes(self, keys: Sequence[Key]) -> set[Key]:
        """Put back what writers outside the sync stored of ``keys``; the keys where their version won."""
        ...


__all__ = [
    "Clock",
    "ConnectionStore",
    "CredentialSource",
    "Key",
    "LogStore",
    "Monotonic",
    "OperationStore",
    "PutOutcome",
    "RemainingTime",
    "StateStore",
    "StoredComments",
    "StoredIssues",
    "SyncedItemStore",
]
