"""Writing one page of synced items: one batch read, then conditional puts only where something changed.

The stored versions of a page (100 keys per ``BatchGetItem``) decide which items need a write at all
(:func:`~trackbridge.domain.sync_plan.decide_write`), so a re-seen page costs one read and no write. The
writes that remain are the conditional ``PutItem`` of DESIGN section 10, so a webhook that wrote a newer
version meanwhile wins and the page's item counts as unchanged. Puts run on a small thread pool (boto3
clients are thread-safe): a first full sync is bound by DynamoDB round trips, not by the tracker.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trackbridge.domain.errors import PayloadTooLarge
from trackbridge.domain.issues import Comment, Issue
from trackbridge.domain.sync_plan import WriteDecision, decide_write
from trackbridge.storage.issues import CommentRepository, IssueRepository, put_if_newer, stored_versions
from trackbridge.storage.table import Item, Table

Synced = Issue | Comment
MAX_ERRORS_KEPT = 20


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: WriteCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.failed += other.failed
        self.errors.extend(other.errors[: max(0, MAX_ERRORS_KEPT - len(self.errors))])

    @property
    def written(self) -> int:
        return self.created + self.updated + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
        }


def _key_and_item(tenant: str, obj: Synced) -> tuple[tuple[str, str], Item]:
    if isinstance(obj, Issue):
        return IssueRepository.key(tenant, obj), IssueRepository.item(tenant, obj)
    return CommentRepository.key(tenant, obj), CommentRepository.item(tenant, obj)


class ItemWriter:
    def __init__(self, table: Table, tenant: str, *, workers: int = 8) -> None:
        self.table = table
        self.tenant = tenant
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def decisions(self, objects: Sequence[Synced]) -> list[WriteDecision]:
        """What each object needs, from one batch read of the stored versions."""
        keyed = [_key_and_item(self.tenant, obj)[0] for obj in objects]
        stored = stored_versions(self.table, keyed) if keyed else {}
        return [
            decide_write(stored.get(key), obj.updated_at, obj.content_hash or obj.compute_hash())
            for key, obj in zip(keyed, objects, strict=True)
        ]

    def write(
        self,
        objects: Sequence[Synced],
        decisions: Sequence[WriteDecision] | None = None,
        *,
        tombstones: bool = False,
    ) -> WriteCounts:
        """Write what changed; ``tombstones`` counts successful writes as deletions."""
        counts = WriteCounts()
        if decisions is None:
            decisions = self.decisions(objects)
        todo = [obj for obj, decision in zip(objects, decisions, strict=True) if decision != "skip"]
        counts.unchanged += len(objects) - len(todo)
        if not todo:
            return counts
        items = [_key_and_item(self.tenant, obj)[1] for obj in todo]
        if len(items) == 1 or self._workers == 1:
            outcomes = [self._put(item) for item in items]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="sync-writer")
            outcomes = list(self._pool.map(self._put, items))
        for obj, outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, dict):
                counts.failed += 1
                if len(counts.errors) < MAX_ERRORS_KEPT:
                    counts.errors.append({**outcome, "item": obj.ref if isinstance(obj, Issue) else obj.id})
            elif outcome == "unchanged":
                counts.unchanged += 1
            elif tombstones:
                counts.deleted += 1
            elif outcome == "created":
                counts.created += 1
            else:
                counts.updated += 1
        return counts

    def _put(self, item: Item) -> str | dict[str, Any]:
        try:
            return put_if_newer(self.table, item)
        except PayloadTooLarge as exc:
            # One oversized item (a huge body) must not stop the sync: it is counted and reported.
            return {
                "code": exc.code,
                "message": exc.message,
                "guidance": "the item exceeds DynamoDB's 400 KB",
            }


__all__ = ["MAX_ERRORS_KEPT", "ItemWriter", "WriteCounts"]
