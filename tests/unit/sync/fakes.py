"""In-memory fakes of the sync engine's ports (``runtime.sync.ports``) and of a tracker adapter.

They keep the rules the real ones enforce and the engine relies on: versions checked on every save
(``VERSION_CONFLICT``), one lock per connection released by ``finish``, ``slice_no`` claimed once, a lease
that a redelivery may take over only once it ran out, and DESIGN section 10's conditional put of synced
items. The synced items are stored as the DynamoDB repositories map them (``IssueRepository.item``...), so
the writer's marks and the counters work exactly as against the table. Time is a :class:`FakeClock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.issues import Comment, Issue
from trackbridge.domain.pagination import Page
from trackbridge.domain.sync import SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import StoredVersion
from trackbridge.domain.times import to_iso
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Capabilities, RequestStats
from trackbridge.providers.types import Page as TrackerPage
from trackbridge.runtime.sync.queue import Message
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.sync import SYNC_MARK

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "acme"
CONNECTION_ID = "conn_aaaaaaaaaaaaaaaaaaaa"
Key = tuple[str, str]


# ----------------------------------------------------------------------------------------------- clocks


@dataclass
class FakeClock:
    """Wall time and a monotonic clock that move only when a test says so."""

    now: datetime = T0
    ticks: float = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.ticks += seconds


@dataclass
class Budget:
    """A Lambda context whose remaining time is what the test sets."""

    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# ------------------------------------------------------------------------------------ sync bookkeeping


def _conflict(what: str) -> Conflict:
    return Conflict(f"{what} was changed meanwhile", code="VERSION_CONFLICT")


class MemoryStates:
    def __init__(self) -> None:
        self.states: dict[tuple[str, str, str], SyncState] = {}

    def find(self, tenant: str, connection_id: str, entity: str) -> SyncState | None:
        return self.states.get((tenant, connection_id, entity))

    def save(self, tenant: str, state: SyncState, *, expected_version: int | None) -> SyncState:
        key = (tenant, state.connection_id, state.entity)
        current = self.states.get(key)
        if (current.version if current else None) != expected_version:
            raise _conflict(f"sync state of {state.entity}")
        self.states[key] = state
        return state

    def list_for_connection(self, tenant: str, connection_id: str) -> list[SyncState]:
        return [s for (t, c, _), s in self.states.items() if (t, c) == (tenant, connection_id)]


@dataclass
class Lock:
    operation_id: str
    owner: str
    lease_until: datetime


class MemoryOperations:
    def __init__(self, states: MemoryStates) -> None:
        self.states = states
        self.ops: dict[tuple[str, str], SyncOperation] = {}
        self.locks: dict[tuple[str, str], Lock] = {}

    def get(self, tenant: str, operation_id: str) -> SyncOperation:
        try:
            return self.ops[(tenant, operation_id)]
        except KeyError:
            raise NotFound(f"no sync operation {operation_id!r}") from None

    def start(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        owner: str,
        lease_until: datetime,
        now: datetime | None = None,
    ) -> SyncOperation:
        if (tenant, op.connection_id) in self.locks:
            raise Conflict("a sync is already running for this connection", code="SYNC_RUNNING")
        self.locks[(tenant, op.connection_id)] = Lock(op.id, owner, lease_until)
        self.ops[(tenant, op.id)] = op
        return op

    def save(self, tenant: str, op: SyncOperation, *, expected_version: int) -> SyncOperation:
        if self.get(tenant, op.id).version != expected_version:
            raise _conflict(f"sync operation {op.id!r}")
        self.ops[(tenant, op.id)] = op
        return op

    def finish(self, tenant: str, op: SyncOperation, *, expected_version: int) -> SyncOperation:
        self.save(tenant, op, expected_version=expected_version)
        lock = self.locks.get((tenant, op.connection_id))
        if lock is not None and lock.operation_id == op.id:
            del self.locks[(tenant, op.connection_id)]
        return op

    def checkpoint(
        self,
        tenant: str,
        op: SyncOperation,
        *,
        expected_version: int,
        state: SyncState,
        expected_state_version: int | None,
    ) -> None:
        self.save(tenant, op, expected_version=expected_version)
        self.states.save(tenant, state, expected_version=expected_state_version)

    def claim_slice(self, tenant: str, operation_id: str, slice_no: int) -> bool:
        op = self.get(tenant, operation_id)
        if op.slice_no != slice_no:
            return False
        self.ops[(tenant, operation_id)] = op.model_copy(update={"slice_no": slice_no + 1})
        return True

    def take_over_slice(
        self,
        tenant: str,
        op: SyncOperation,
        slice_no: int,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        stored = self.get(tenant, op.id)
        lock = self.locks.get((tenant, op.connection_id))
        if (
            stored.slice_no <= slice_no
            or lock is None
            or lock.operation_id != op.id
            or lock.lease_until >= now
        ):
            return False
        self.ops[(tenant, op.id)] = stored.model_copy(update={"slice_no": stored.slice_no + 1})
        self.locks[(tenant, op.connection_id)] = Lock(op.id, owner, lease_until)
        return True

    def extend_lease(self, tenant: str, connection_id: str, operation_id: str, lease_until: datetime) -> bool:
        lock = self.locks.get((tenant, connection_id))
        if lock is None or lock.operation_id != operation_id:
            return False
        lock.lease_until = lease_until
        return True

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[SyncOperation]:
        mine = [o for (t, _), o in self.ops.items() if t == tenant and o.connection_id == connection_id]
        mine.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        return Page[SyncOperation](items=mine[:limit])


class MemoryLogs:
    def __init__(self) -> None:
        self.entries: list[SyncLogEntry] = []
        self.batches: list[int] = []  # the size of each append

    def append(self, tenant: str, entries: Iterable[SyncLogEntry]) -> None:
        added = list(entries)
        self.batches.append(len(added))
        self.entries.extend(added)

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[SyncLogEntry]:
        return Page[SyncLogEntry](items=[e for e in self.entries if e.connection_id == connection_id][:limit])

    def events(self, event: str) -> list[SyncLogEntry]:
        return [e for e in self.entries if e.event == event]


class MemoryConnections:
    def __init__(self, *connections: Connection) -> None:
        self.connections = {c.id: c for c in connections}

    def get(self, tenant: str, connection_id: str) -> Connection:
        try:
            return self.connections[connection_id]
        except KeyError:
            raise NotFound(f"no connection {connection_id!r}") from None


class Secrets:
    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None:
        return {"token": "fake"}


@dataclass
class MemoryQueue:
    sent: list[tuple[Message, int]] = field(default_factory=list)

    def send(self, message: Message, *, delay_s: int = 0) -> None:
        self.sent.append((message, delay_s))

    def pop(self) -> tuple[Message, int]:
        return self.sent.pop(0)


# -------------------------------------------------------------------------------------- synced items


class MemoryItems:
    """The synced items, stored as the repositories map them; satisfies ``SyncedItemStore`` and, through
    :attr:`issues` and :attr:`comments`, ``StoredIssues`` and ``StoredComments``."""

    def __init__(self) -> None:
        self.items: dict[Key, dict[str, Any]] = {}
        self.journal: dict[Key, dict[str, Any]] = {}
        self.puts = 0
        self.batch_puts = 0
        self.issues = _StoredIssues(self)
        self.comments = _StoredComments(self)

    def versions(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]:
        found = {key: self.items[key] for key in keys if key in self.items}
        return {
            key: StoredVersion(
                updated_at=str(item.get("updated_at") or ""),
                content_hash=str(item.get("content_hash") or ""),
                deleted=bool(item.get("deleted_at")),
                mark=str(item[SYNC_MARK]) if item.get(SYNC_MARK) else None,
            )
            for key, item in found.items()
        }

    def put_if_newer(self, item: dict[str, Any]) -> Literal["created", "updated", "unchanged"]:
        key = (item["pk"], item["sk"])
        old = self.items.get(key)
        self.puts += 1
        if old is not None and not (
            old["updated_at"] < item["updated_at"]
            or (old["updated_at"] == item["updated_at"] and old["content_hash"] != item["content_hash"])
        ):
            return "unchanged"
        self.items[key] = dict(item)
        return "updated" if old is not None else "created"

    def put_absent(self, items: Sequence[dict[str, Any]]) -> None:
        assert len(items) <= 25, "a BatchWriteItem holds at most 25 items"
        self.batch_puts += 1
        for item in items:
            self.items[(item["pk"], item["sk"])] = dict(item)

    def write_outside_sync(self, item: dict[str, Any]) -> str:
        """What a webhook or a tracker action does (``storage.write_journal``): journal, then put."""
        key = (item["pk"], item["sk"])
        journaled = self.journal.get(key)
        if journaled is None or (journaled["updated_at"], journaled["content_hash"]) < (
            item["updated_at"],
            item["content_hash"],
        ):
            self.journal[key] = dict(item)
        return self.put_if_newer(item)

    def restore_outside_writes(self, keys: Sequence[Key]) -> set[Key]:
        won: set[Key] = set()
        for key in keys:
            if key in self.journal and self.put_if_newer(self.journal[key]) != "unchanged":
                won.add(key)
        return won

    def of(self, entity: str) -> list[dict[str, Any]]:
        return [i for i in self.items.values() if i.get("entity") == entity]

    def stored_issues(self) -> list[Issue]:
        return sorted((IssueRepository.model(i) for i in self.of("issue")), key=lambda i: int(i.native_id))


def _page(items: list[Any], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    start = int(cursor or 0)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


@dataclass
class _StoredIssues:
    store: MemoryItems
    # The ``limit`` of every listing asked for (the sweep's pages, the engine's "anything stored?" probe).
    listings: list[int] = field(default_factory=list)

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Issue]:
        self.listings.append(limit)
        mine = [i for i in self.store.stored_issues() if i.connection_id == connection_id]
        items, following = _page(mine, limit, cursor)
        return Page[Issue](items=items, next_cursor=following)


@dataclass
class _StoredComments:
    store: MemoryItems

    def _all(self) -> list[Comment]:
        return sorted(
            (CommentRepository.model(i) for i in self.store.of("comment")), key=lambda c: (c.issue_ref, c.id)
        )

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Comment]:
        items, following = _page([c for c in self._all() if c.issue_ref == issue_ref], limit, cursor)
        return Page[Comment](items=items, next_cursor=following)

    def list_for_connection(
        self, tenant: str, connection_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Comment]:
        items, following = _page([c for c in self._all() if c.connection_id == connection_id], limit, cursor)
        return Page[Comment](items=items, next_cursor=following)


# ------------------------------------------------------------------------------------------- a tracker


def connection(provider: str = "gitlab") -> Connection:
    scope = {"github": {"repo": "acme/widgets"}, "gitlab": {"project": "acme/widgets"}}[provider]
    base = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}[provider]
    body = ConnectionCreate.model_validate(
        {
            "name": "c",
            "provider": provider,
            "base_url": base,
            "scope": scope,
            "credentials": {"token": "t"},
            "entities": ["issues"],
        }
    )
    return Connection.from_create(body, connection_id=CONNECTION_ID, now=T0)


def issue(number: int, updated: datetime, *, title: str = "t", closed: bool = False) -> Issue:
    return Issue(
        ref=f"{CONNECTION_ID}.{number}",
        external_id=f"gitlab:https://gitlab.com/acme/widgets:{number}",
        connection_id=CONNECTION_ID,
        provider="gitlab",
        key=f"#{number}",
        title=title,
        status="closed" if closed else "opened",
        status_category="done" if closed else "todo",
        created_at=T0 - timedelta(days=30) + timedelta(minutes=number),
        updated_at=updated,
    ).with_hash()


class FakeTracker:
    """A tracker adapter over a dict of issues: full listings in number order, ``since`` listings in update
    order (keyset-friendly), pages of ``page_size``; every call is one counted request.

    ``faults`` are raised, one per request, before the request is answered (``None`` lets one through);
    ``on_request`` runs before each (a test cancels an operation there). ``since_asked`` records every
    ``since`` an update-ordered listing was asked with.
    """

    name = "fake"
    display_name = "Fake"

    def __init__(
        self,
        issues: Iterable[Issue] = (),
        *,
        page_size: int = 2,
        capabilities: Capabilities | None = None,
        overlap: timedelta = timedelta(seconds=90),
    ) -> None:
        self.issues = {int(i.native_id): i for i in issues}
        self.page_size = page_size
        self.capabilities = capabilities or Capabilities()
        self.incremental_overlap = overlap
        self.stats = RequestStats()
        self.etag_cache: Any = None
        self.client = None
        self.faults: list[Exception | None] = []
        self.on_request: Callable[[int], None] | None = None
        self.since_asked: list[datetime | None] = []
        self.closed = False

    # the request pipeline ---------------------------------------------------------------------------
    def _request(self) -> None:
        self.stats.requests += 1
        if self.on_request is not None:
            self.on_request(self.stats.requests)
        if self.faults:
            fault = self.faults.pop(0)
            if fault is not None:
                raise fault

    def close(self) -> None:
        self.closed = True

    # listings ---------------------------------------------------------------------------------------
    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[TrackerPage[Issue]]:
        offset = cursor.offset if cursor is not None and cursor.offset is not None else 0
        while True:
            self._request()
            if since is None:
                listed = [self.issues[n] for n in sorted(self.issues)]
            else:
                self.since_asked.append(since)
                listed = sorted(
                    (i for i in self.issues.values() if i.updated_at >= since),
                    key=lambda i: (i.updated_at, int(i.native_id)),
                )
            if not include_closed:
                listed = [i for i in listed if i.status_category != "done"]
            items = listed[offset : offset + self.page_size]
            offset += self.page_size
            following = PageCursor(offset=offset) if offset < len(listed) else None
            yield TrackerPage(items=tuple(items), raw_count=len(items), next_cursor=following)
            if following is None:
                return

    def get_issue(self, key: str) -> Issue:
        self._request()
        found = self.issues.get(int(key.lstrip("#")))
        if found is None:
            raise NotFoundError("gone", status=404)
        return found

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        self._request()
        return []

    def get_comment(self, key: str, comment_id: str) -> Comment:
        self._request()
        raise NotFoundError("gone", status=404)

    # changes the tracker sees meanwhile ----------------------------------------------------------------
    def update(self, number: int, updated: datetime, **changes: Any) -> None:
        current = self.issues[number]
        self.issues[number] = current.model_copy(update={"updated_at": updated, **changes}).with_hash()


def stored_iso(moment: datetime) -> str:
    return to_iso(moment)
