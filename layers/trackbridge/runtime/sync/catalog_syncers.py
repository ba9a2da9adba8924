"""Syncers of a connection's catalogs: its people (``users``) and its boards' sprints (``sprints``).

A catalog is small (a project's assignable people, a board's sprints: tens to a few thousand) and its
listings have no "changed since" filter, so every pass, full or incremental, lists it whole in one step and
decides by content hash alone (:class:`~trackbridge.domain.issues.Sprint` and ``User`` say why their
``updated_at`` is trackbridge's, not the tracker's):

* an item whose hash equals the stored one keeps its stored ``updated_at``, so the writer's usual decision
  skips it: an unchanged catalog costs its listing requests, one batch read per 100 items, and no write;
* a new or changed item is stamped with the pass's time (after the stored one), and written through the
  writer's conditional put like any synced item;
* an item stored but no longer listed: a **user** who left the scope stays, with ``active`` false (their
  account still names assignees and authors of stored issues); a **sprint** is asked for by id first and
  tombstoned only on 404/410 (DESIGN section 10: never on absence alone); one that still answers (its board
  left the project) is written as it is now, and counted as that write. A user the tracker itself lists as
  inactive now (Jira's deactivated accounts) has left too. A user who left and a tombstoned sprint count as
  ``deleted``.

Wiring: :func:`catalog_plan` (by the adapter's ``users`` and ``sprints`` capabilities) is one of
``runtime.sync.plans``' opt-in plans: a connection or an operation syncs a catalog when it names the entity.

The listing is read whole before anything is written, so a failure part way (a 5xx, a rate limit) writes
nothing and the engine retries or parks the step as it does any other. The step ends the entity's passes:
its checkpoint is ``done`` and its high-water mark the operation's start (when the catalog was last read
whole).

The stored catalog is read from the table behind the run's writer (``TableItems``): the run's ports hold
the issue and comment stores only, and a catalog is one query under the connection's partition.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from trackbridge.domain.connections import Entity
from trackbridge.domain.issues import Sprint, User, tombstone
from trackbridge.domain.sync_plan import Checkpoint, StoredVersion
from trackbridge.domain.times import from_iso
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Capabilities, Page
from trackbridge.runtime.sync.checkpoint import next_high_water
from trackbridge.runtime.sync.syncers import ListingSyncer, StepResult, SyncRun
from trackbridge.runtime.sync.writer import WriteCounts
from trackbridge.storage.issues import SprintRepository, UserRepository
from trackbridge.storage.table import Table

_T = TypeVar("_T", User, Sprint)
# A changed item's new time is at least this much after the stored one: the conditional put needs newer.
_TICK = timedelta(milliseconds=1)


@runtime_checkable
class GetsSprints(Protocol):
    """An adapter that reads one sprint by id (Jira's agile API): how a vanished sprint is confirmed."""

    def get_sprint(self, sprint_id: str) -> Sprint: ...


def _table(run: SyncRun) -> Table:
    table = getattr(run.writer.store, "table", None)
    if not isinstance(table, Table):
        raise TypeError("catalog syncers read the stored catalog from the writer's table (TableItems)")
    return table


def _later(now: datetime, stored: datetime | None) -> datetime:
    """The time a changed item is written with: now, or just after the stored time if that is not before."""
    return now if stored is None or stored < now else stored + _TICK


class CatalogSyncer(ListingSyncer, Generic[_T]):
    """One catalog, listed whole per step; subclasses name the listing, the store and what "gone" means."""

    entity: ClassVar[Entity]

    @abstractmethod
    def listing(self, run: SyncRun) -> list[_T]:
        """The whole catalog as the tracker lists it now."""

    @abstractmethod
    def stored(self, run: SyncRun) -> list[_T]:
        """Every stored item of the connection's catalog (gone ones too)."""

    @abstractmethod
    def gone(self, run: SyncRun, missing: Sequence[_T]) -> WriteCounts:
        """Write what became of stored live items the listing no longer holds."""

    @staticmethod
    @abstractmethod
    def live(item: _T) -> bool:
        """Whether a stored item still counts as present (an active user, a sprint not deleted)."""

    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        items = tuple(self.listing(run))
        return Page(items=items, raw_count=len(items), next_cursor=None)

    def step(self, run: SyncRun, cp: Checkpoint, high_water: datetime | None) -> StepResult:
        listed = list({item.id: item for item in self.listing(run)}.values())
        stored = {item.id: item for item in self.stored(run)}
        versions = run.writer.versions(listed)
        now = run.now()
        stamped = [self._stamped(item, version, now) for item, version in zip(listed, versions, strict=True)]
        # A live item the tracker now lists as gone (a deactivated account) counts as deleted, as one it no
        # longer lists does.
        leaving = [
            not self.live(item) and item.id in stored and self.live(stored[item.id]) for item in stamped
        ]
        counts = WriteCounts()
        for flag in (False, True):
            chosen = [n for n, left in enumerate(leaving) if left is flag]
            if chosen:
                counts.add(
                    run.writer.write(
                        [stamped[n] for n in chosen], [versions[n] for n in chosen], tombstones=flag
                    )
                )
        present = {item.id for item in listed}
        missing = [item for item in stored.values() if self.live(item) and item.id not in present]
        if missing:
            counts.add(self.gone(run, missing))
        high_water = next_high_water(high_water, cp.signpost, cp.signpost)
        done = cp.model_copy(
            update={
                "phase": "done",
                "page": None,
                "retries": 0,
                "seen_max": cp.signpost,
                "processed": cp.processed + len(listed),
                "last_total": len(listed),
            }
        )
        return StepResult(done, counts, len(listed), high_water)

    @staticmethod
    def _stamped(item: _T, stored: StoredVersion | None, now: datetime) -> _T:
        """``item`` with its hash, and the stored time if its content is what is stored, else a later one."""
        digest = item.compute_hash()
        stored_at = from_iso(stored.updated_at) if stored is not None and stored.updated_at else None
        same = stored is not None and not stored.deleted and stored.content_hash == digest
        at = stored_at if same and stored_at is not None else _later(now, stored_at)
        return item.model_copy(update={"updated_at": at, "content_hash": digest})


class UsersSyncer(CatalogSyncer[User]):
    """The scope's people (GitHub assignees, GitLab project members, Jira assignable users)."""

    entity = "users"

    def listing(self, run: SyncRun) -> list[User]:
        return run.adapter.list_users()

    def stored(self, run: SyncRun) -> list[User]:
        return UserRepository(_table(run)).list_all(run.tenant, run.connection_id)

    @staticmethod
    def live(item: User) -> bool:
        return item.active

    def gone(self, run: SyncRun, missing: Sequence[User]) -> WriteCounts:
        now = run.now()
        left = [
            u.model_copy(
                update={"active": False, "updated_at": _later(now, u.updated_at), "content_hash": ""}
            ).with_hash()
            for u in missing
        ]
        return run.writer.write(left, tombstones=True)


class SprintsSyncer(CatalogSyncer[Sprint]):
    """Sprints of the boards of the connection's project (Jira Software)."""

    entity = "sprints"

    def listing(self, run: SyncRun) -> list[Sprint]:
        return run.adapter.list_sprints()

    def stored(self, run: SyncRun) -> list[Sprint]:
        return SprintRepository(_table(run)).list_all(run.tenant, run.connection_id)

    @staticmethod
    def live(item: Sprint) -> bool:
        return item.deleted_at is None

    def gone(self, run: SyncRun, missing: Sequence[Sprint]) -> WriteCounts:
        adapter = run.adapter
        if not isinstance(adapter, GetsSprints):
            raise TypeError(f"{run.adapter.name} cannot read a sprint by id")
        deleted: list[Sprint] = []
        current: list[Sprint] = []
        for sprint in missing:
            try:
                current.append(adapter.get_sprint(sprint.id))
            except NotFoundError:
                deleted.append(tombstone(sprint, run.now()))
        counts = run.writer.write(deleted, tombstones=True) if deleted else WriteCounts()
        if current:
            stored = run.writer.versions(current)
            now = run.now()
            counts.add(
                run.writer.write(
                    [self._stamped(s, v, now) for s, v in zip(current, stored, strict=True)], stored
                )
            )
        return counts


USERS = UsersSyncer()
SPRINTS = SprintsSyncer()


def catalog_plan(capabilities: Capabilities) -> dict[Entity, ListingSyncer]:
    """The catalogs an adapter with ``capabilities`` syncs, for connections and operations that name them."""
    plan: dict[Entity, ListingSyncer] = {}
    if capabilities.users:
        plan["users"] = USERS
    if capabilities.sprints:
        plan["sprints"] = SPRINTS
    return plan


__all__ = ["SPRINTS", "USERS", "CatalogSyncer", "GetsSprints", "SprintsSyncer", "UsersSyncer", "catalog_plan"]
