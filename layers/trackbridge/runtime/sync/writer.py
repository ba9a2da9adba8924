"""Writing one page of synced items: one batch read, then writes only where something changed.

The stored versions of a page (100 keys per ``BatchGetItem``) decide which items need a write at all
(:func:`~trackbridge.domain.sync_plan.decide_write`), so a re-seen page costs one read and no write. What
remains splits in two:

* items the read showed **absent** go out in unconditional ``BatchWriteItem`` requests of 25, several in
  flight; then the versions writers outside the sync (webhooks, tracker actions) stored of those items
  meanwhile are put back through the conditional put (``storage.write_journal`` says why nothing newer is
  lost), and an item where such a version won counts as unchanged. A batch DynamoDB refuses for an
  oversized item falls back to one conditional put per item, so only that item fails;
* items stored before get the conditional ``PutItem`` of DESIGN section 10, so a webhook that wrote a newer
  version meanwhile wins and the page's item counts as unchanged (a put that botocore retried after its
  first attempt landed counts as written: ``storage.issues.put_if_newer`` finds this write's own mark on
  the stored copy).

Both run on a small thread pool (boto3 clients are thread-safe): a first full sync is bound by DynamoDB
round trips, not by the tracker.

Each item written carries the operation's mark, and each item is counted per entity by
:func:`~trackbridge.domain.sync_plan.count_write`: an item the operation met before (``met``) is not
counted twice, and an item this operation already wrote (its mark) counts as that write did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from trackbridge.domain.activity import LanguageShares, RepoCommit, RepoRelease, RepoRequest
from trackbridge.domain.connections import Entity
from trackbridge.domain.errors import PayloadTooLarge
from trackbridge.domain.issues import Comment, Issue, Sprint, User, Worklog
from trackbridge.domain.sync import Counters
from trackbridge.domain.sync_plan import (
    StoredVersion,
    WriteDecision,
    WriteOutcome,
    count_write,
    decide_write,
    earlier_write,
    write_mark,
)
from trackbridge.runtime.sync.checkpoint import MAX_ERRORS_KEPT
from trackbridge.runtime.sync.ports import Key, PutOutcome, SyncedItemStore
from trackbridge.storage.activity import ActivityRepository
from trackbridge.storage.issues import (
    CommentRepository,
    IssueRepository,
    SprintRepository,
    UserRepository,
    WorklogRepository,
    put_if_newer,
)
from trackbridge.storage.keys import PK, SK
from trackbridge.storage.sync import SYNC_MARK, stored_sync_versions
from trackbridge.storage.table import Item, Table
from trackbridge.storage.write_journal import key_pointer, restore_outside_writes

Synced = Issue | Comment | Worklog | User | Sprint | RepoCommit | RepoRequest | RepoRelease | LanguageShares


@dataclass(frozen=True, slots=True)
class SyncedKind:
    """What the writer needs to know about one kind of synced item: the entity it is counted under, its
    table key and item (its repository's), and what an error report names it by. A new synced entity is
    one entry in :data:`SYNCED_KINDS` (its model must carry ``updated_at`` and a content hash)."""

    entity: Entity
    key: Callable[[str, Any], tuple[str, str]]
    item: Callable[[str, Any], Item]
    label: Callable[[Any], str]


SYNCED_KINDS: dict[type[Any], SyncedKind] = {
    Issue: SyncedKind("issues", IssueRepository.key, IssueRepository.item, lambda issue: issue.ref),
    Comment: SyncedKind("comments", CommentRepository.key, CommentRepository.item, lambda c: c.id),
    Worklog: SyncedKind("worklogs", WorklogRepository.key, WorklogRepository.item, lambda w: w.id),
    User: SyncedKind("users", UserRepository.key, UserRepository.item, lambda u: u.id),
    Sprint: SyncedKind("sprints", SprintRepository.key, SprintRepository.item, lambda s: s.id),
    # Repository activity (issue 19): one entity, four kinds of record, each keyed by storage.activity.
    **{
        model: SyncedKind("activity", ActivityRepository.key, ActivityRepository.item, lambda r: r.id)
        for model in (RepoCommit, RepoRequest, RepoRelease, LanguageShares)
    },
}


def kind_of(obj: Any) -> SyncedKind:
    try:
        return SYNCED_KINDS[type(obj)]
    except KeyError:
        raise TypeError(f"the sync writer stores no {type(obj).__name__}") from None


_T = TypeVar("_T")
_A = TypeVar("_A")
# Items per BatchWriteItem request and keys per BatchGetItem request (DynamoDB's limits).
_BATCH = 25
_READ_BATCH = 100


def _chunks(things: Sequence[_T], size: int) -> list[list[_T]]:
    return [list(things[start : start + size]) for start in range(0, len(things), size)]


def entity_of(obj: Synced) -> Entity:
    return kind_of(obj).entity


@dataclass
class WriteCounts:
    """What a page (or part of one) adds to an operation: :class:`Counters` deltas per entity
    (``{"issues": Counters(created=3, ...)}``) and the errors met.

    A delta, not a total: an item met again that changed meanwhile moves one count from ``unchanged`` to
    ``updated``, so one page's ``unchanged`` may be negative; the operation's sums never are
    (:func:`~trackbridge.runtime.sync.checkpoint.add_counts`).
    """

    by_entity: dict[str, Counters] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, entity: str, **counts: int) -> WriteCounts:
        made = cls()
        made.count(entity, Counters(**counts))
        return made

    def count(self, entity: str, deltas: Counters) -> None:
        self.by_entity[entity] = self.by_entity.get(entity, Counters()) + deltas

    def add(self, other: WriteCounts) -> None:
        for entity, deltas in other.by_entity.items():
            self.count(entity, deltas)
        self.errors.extend(other.errors[: max(0, MAX_ERRORS_KEPT - len(self.errors))])

    @property
    def totals(self) -> Counters:
        return Counters.total(self.by_entity.values())

    def total(self, counter: str) -> int:
        return int(getattr(self.totals, counter))

    @property
    def created(self) -> int:
        return self.totals.created

    @property
    def updated(self) -> int:
        return self.totals.updated

    @property
    def unchanged(self) -> int:
        return self.totals.unchanged

    @property
    def deleted(self) -> int:
        return self.totals.deleted

    @property
    def failed(self) -> int:
        return self.totals.failed

    def as_dict(self) -> dict[str, int]:
        """The five totals (a page's log line)."""
        totals = self.totals
        return {c: v for c, v in totals.as_dict().items() if c != "processed"}


class TableItems:
    """:class:`~trackbridge.runtime.sync.ports.SyncedItemStore` over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def versions(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]:
        return stored_sync_versions(self.table, keys)

    def put_if_newer(self, item: Item) -> PutOutcome:
        return put_if_newer(self.table, item)

    def put_absent(self, items: Sequence[Item]) -> None:
        self.table.batch_put(items)

    def restore_outside_writes(self, keys: Sequence[Key]) -> set[Key]:
        return restore_outside_writes(self.table, keys)


def _key(tenant: str, obj: Synced) -> tuple[str, str]:
    return kind_of(obj).key(tenant, obj)


def _item(tenant: str, obj: Synced) -> Item:
    return kind_of(obj).item(tenant, obj)


class ItemWriter:
    def __init__(
        self, store: SyncedItemStore, tenant: str, *, operation_id: str = "", workers: int = 8
    ) -> None:
        self.store = store
        self.tenant = tenant
        # Marks what this writer stores; empty: no mark (writes outside an operation).
        self.operation_id = operation_id
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def versions(self, objects: Sequence[Synced]) -> list[StoredVersion | None]:
        """The stored versions of ``objects`` (None: not stored): batch reads of 100 keys, on the pool."""
        keyed = [_key(self.tenant, obj) for obj in objects]
        stored: dict[Key, StoredVersion] = {}
        for found in self.map(self.store.versions, _chunks(keyed, _READ_BATCH)):
            stored.update(found)
        return [stored.get(key) for key in keyed]

    def decisions(
        self, objects: Sequence[Synced], versions: Sequence[StoredVersion | None] | None = None
    ) -> list[WriteDecision]:
        """What each object needs, against ``versions`` (read here when not given)."""
        if versions is None:
            versions = self.versions(objects)
        return [
            decide_write(stored, obj.updated_at, obj.content_hash or obj.compute_hash())
            for obj, stored in zip(objects, versions, strict=True)
        ]

    def wrote(self, stored: StoredVersion | None) -> bool:
        """Whether this writer's operation wrote the stored copy itself."""
        return earlier_write(stored, self.operation_id) is not None

    def write(
        self,
        objects: Sequence[Synced],
        versions: Sequence[StoredVersion | None] | None = None,
        *,
        met: Sequence[bool] | None = None,
        tombstones: bool = False,
    ) -> WriteCounts:
        """Write what changed and count every object once per operation: ``met`` flags the objects the
        operation met (and counted) before; ``tombstones`` counts successful writes as deletions."""
        if versions is None:
            versions = self.versions(objects)
        decisions = self.decisions(objects, versions)
        flags = list(met) if met is not None else [False] * len(objects)
        outcomes: list[WriteOutcome | dict[str, Any]] = ["skip"] * len(objects)
        items = {
            n: self._marked(objects[n], decision, tombstones)
            for n, decision in enumerate(decisions)
            if decision != "skip"
        }
        absent: list[int] = []
        present: list[int] = []
        keys: set[Key] = set()
        for n, item in items.items():
            key = (item[PK], item[SK])
            # A key met twice in one call (a batch refuses duplicates) is written conditionally.
            (absent if decisions[n] == "create" and key not in keys else present).append(n)
            keys.add(key)
        chunks = [absent[start : start + _BATCH] for start in range(0, len(absent), _BATCH)]
        tasks: list[Callable[[], list[WriteOutcome | dict[str, Any]]]] = [
            partial(self._put_batch, [items[n] for n in chunk]) for chunk in chunks
        ]
        tasks += [partial(self._put_each, [items[n]]) for n in present]
        results = self._run(tasks)
        for n, outcome in zip([*absent, *present], [o for result in results for o in result], strict=True):
            outcomes[n] = outcome
        batched = [n for n in absent if outcomes[n] == "created"]
        if batched:
            created = [(items[n][PK], items[n][SK]) for n in batched]
            won = set().union(*self.map(self.store.restore_outside_writes, _chunks(created, _READ_BATCH)))
            for n in batched:
                if (items[n][PK], items[n][SK]) in won:
                    outcomes[n] = "unchanged"
        self._put_key_pointers([items[n] for n in items if outcomes[n] in ("created", "updated")])
        counts = WriteCounts()
        for obj, stored, seen_before, outcome in zip(objects, versions, flags, outcomes, strict=True):
            earlier = earlier_write(stored, self.operation_id)
            if isinstance(outcome, dict):
                if len(counts.errors) < MAX_ERRORS_KEPT:
                    counts.errors.append({**outcome, "item": kind_of(obj).label(obj)})
                outcome = "failed"
            elif tombstones and outcome in ("created", "updated"):
                outcome = "deleted"
            counts.count(entity_of(obj), count_write(outcome, met=seen_before, earlier=earlier))
        return counts

    def _put_key_pointers(self, written: Sequence[Item]) -> None:
        """The key pointers of the issues this call wrote (``storage.write_journal.key_pointer``), in
        unconditional batches of 25: a pointer only maps a key to an external id, so any copy is right.
        One small item per new or changed Jira issue; none for forge issues, whose key is their id."""
        pointers = [p for p in map(key_pointer, written) if p is not None]
        if pointers:
            self._run([partial(self.store.put_absent, chunk) for chunk in _chunks(pointers, _BATCH)])

    def _marked(self, obj: Synced, decision: WriteDecision, tombstone: bool) -> Item:
        item = _item(self.tenant, obj)
        if self.operation_id:
            item[SYNC_MARK] = write_mark(self.operation_id, decision, tombstone=tombstone)
        return item

    def map(self, function: Callable[[_A], _T], args: Sequence[_A]) -> list[_T]:
        """``function`` over ``args`` on the writer's pool (reads a page needs, one per item), in order."""
        return self._run([partial(function, arg) for arg in args])

    def _run(self, tasks: Sequence[Callable[[], _T]]) -> list[_T]:
        if len(tasks) <= 1 or self._workers == 1:
            return [task() for task in tasks]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="sync-writer")
        return list(self._pool.map(lambda task: task(), tasks))

    def _put_batch(self, items: list[Item]) -> list[WriteOutcome | dict[str, Any]]:
        """Items the read showed absent, in one unconditional batch; one oversized item makes DynamoDB
        refuse the whole request, so that chunk is then written item by item and only it fails."""
        try:
            self.store.put_absent(items)
        except PayloadTooLarge:
            return self._put_each(items)
        return ["created"] * len(items)

    def _put_each(self, items: list[Item]) -> list[WriteOutcome | dict[str, Any]]:
        return [self._put(item) for item in items]

    def _put(self, item: Item) -> WriteOutcome | dict[str, Any]:
        try:
            return self.store.put_if_newer(item)
        except PayloadTooLarge as exc:
            # One oversized item (a huge body) must not stop the sync: it is counted and reported.
            return {
                "code": exc.code,
                "message": exc.message,
                "guidance": "the item exceeds DynamoDB's 400 KB",
            }


__all__ = [
    "MAX_ERRORS_KEPT",
    "SYNCED_KINDS",
    "ItemWriter",
    "SyncedKind",
    "TableItems",
    "WriteCounts",
    "entity_of",
    "kind_of",
]
