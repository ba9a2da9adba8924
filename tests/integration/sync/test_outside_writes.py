"""A sync's unconditional batch of new items never overwrites a newer version written meanwhile from outside.

The writer stores items its batch read showed absent with ``BatchWriteItem``, which takes no condition.
These tests force the interleaving the design has to survive, against moto's DynamoDB: a webhook (or a
tracker action's write-through) stores an item between the sync's read and its batch. The outside writer
journals its version first (``storage.write_journal``); the sync puts journaled versions back after its
batch through the newer-wins condition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from tests.unit.sync.fakes import T0, issue
from trackbridge.domain.issues import Comment
from trackbridge.runtime import container
from trackbridge.runtime.sync.writer import ItemWriter, TableItems
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.sync import SYNC_MARK
from trackbridge.storage.table import Item, Table
from trackbridge.storage.write_journal import JOURNAL_PREFIX, write_outside_sync

pytestmark = pytest.mark.usefixtures("aws")

OP = "op_abcdefghijklmnopqrst"


class InterleavedItems(TableItems):
    """The table, with ``between`` run after the writer's read and before its batch lands."""

    def __init__(self, table: Table, between: Callable[[], None]) -> None:
        super().__init__(table)
        self.between = between
        self.batches = 0

    def put_absent(self, items: Sequence[Item]) -> None:
        if self.batches == 0:
            self.between()
        self.batches += 1
        super().put_absent(items)


def stored(table: Table, tenant: str, number: int) -> Item:
    item = table.get(*IssueRepository.key(tenant, issue(number, T0)))
    assert item is not None
    return item


def page(*numbers: int, minutes: int = 5) -> list[Any]:
    return [issue(n, T0 + timedelta(minutes=minutes), title=f"sync {n}") for n in numbers]


class TestANewerOutsideWriteBetweenReadAndBatch:
    def test_survives_the_batch_and_counts_unchanged(self, tenant: str) -> None:
        # Given: a webhook stores issue 2 at minute 9 after the sync read it absent (its listing saw minute 5)
        table = container.table()
        webhook = IssueRepository.item(tenant, issue(2, T0 + timedelta(minutes=9), title="from webhook"))
        items = InterleavedItems(table, lambda: write_outside_sync(table, webhook))
        writer = ItemWriter(items, tenant, operation_id=OP, workers=4)

        # When: the sync writes its page of three new issues
        counts = writer.write(page(1, 2, 3))

        # Then: the webhook's version is stored; the other two are the sync's, marked by its operation
        assert items.batches == 1
        assert stored(table, tenant, 2)["title"] == "from webhook"
        assert SYNC_MARK not in stored(table, tenant, 2)
        assert [stored(table, tenant, n)["title"] for n in (1, 3)] == ["sync 1", "sync 3"]
        assert all(stored(table, tenant, n)[SYNC_MARK].startswith(OP) for n in (1, 3))
        assert counts.as_dict() == {"created": 2, "updated": 0, "unchanged": 1, "deleted": 0, "failed": 0}

    def test_an_outside_comment_survives_too(self, tenant: str) -> None:
        # Given: a comment written by a webhook between the read and the batch, newer than the sync's copy
        table = container.table()
        mine = Comment(
            id="7",
            issue_ref="conn_x.1",
            connection_id="conn_x",
            author="a",
            body="listed",
            created_at=T0,
            updated_at=T0 + timedelta(minutes=1),
        ).with_hash()
        theirs = mine.model_copy(
            update={"body": "edited", "updated_at": T0 + timedelta(minutes=2)}
        ).with_hash()
        items = InterleavedItems(
            table, lambda: write_outside_sync(table, CommentRepository.item(tenant, theirs))
        )

        # When
        counts = ItemWriter(items, tenant, operation_id=OP).write([mine])

        # Then
        assert CommentRepository(table).get(tenant, "conn_x.1", "7").body == "edited"
        assert counts.as_dict()["unchanged"] == 1


class TestAnOlderOutsideWrite:
    def test_between_read_and_batch_is_overwritten_by_the_newer_sync_version(self, tenant: str) -> None:
        # Given: a webhook stores issue 1 at minute 2, older than the listing's minute 5
        table = container.table()
        webhook = IssueRepository.item(tenant, issue(1, T0 + timedelta(minutes=2), title="old webhook"))
        items = InterleavedItems(table, lambda: write_outside_sync(table, webhook))

        # When
        counts = ItemWriter(items, tenant, operation_id=OP).write(page(1))

        # Then: newer wins, whichever writer came last
        assert stored(table, tenant, 1)["title"] == "sync 1"
        assert counts.as_dict()["created"] == 1

    def test_after_the_batch_loses_its_condition(self, tenant: str) -> None:
        # Given: the sync stored issue 1 at minute 5
        table = container.table()
        ItemWriter(TableItems(table), tenant, operation_id=OP).write(page(1))

        # When: a late webhook of minute 2 arrives, and then one of minute 9
        late = write_outside_sync(table, IssueRepository.item(tenant, issue(1, T0 + timedelta(minutes=2))))
        newer = write_outside_sync(
            table, IssueRepository.item(tenant, issue(1, T0 + timedelta(minutes=9), title="newest"))
        )

        # Then
        assert (late, newer) == ("unchanged", "updated")
        assert stored(table, tenant, 1)["title"] == "newest"


class TestTheJournal:
    def test_never_shows_in_listings_or_indexes(self, tenant: str) -> None:
        # Given: an issue and a comment written from outside a sync (each with its journal record)
        table = container.table()
        write_outside_sync(table, IssueRepository.item(tenant, issue(1, T0)))
        comment = Comment(
            id="9", issue_ref="conn_x.1", connection_id="conn_x", body="b", created_at=T0, updated_at=T0
        ).with_hash()
        write_outside_sync(table, CommentRepository.item(tenant, comment))

        # When the listings read them
        issues = IssueRepository(table)
        by_connection = issues.list_for_connection(tenant, issue(1, T0).connection_id).items
        by_update = issues.list_updated(tenant).items
        comments = CommentRepository(table).list_for_issue(tenant, "conn_x.1").items

        # Then: one of each, and the journal records exist beside them
        assert [i.native_id for i in by_connection] == ["1"]
        assert [i.native_id for i in by_update] == ["1"]
        assert [c.id for c in comments] == ["9"]
        pk, sk = IssueRepository.key(tenant, issue(1, T0))
        journaled = table.get(pk, f"{JOURNAL_PREFIX}{sk}")
        assert journaled is not None
        assert journaled["item"]["sk"] == sk

    def test_keeps_the_newest_outside_version(self, tenant: str) -> None:
        # Given: two outside writes arriving out of order
        table = container.table()
        write_outside_sync(
            table, IssueRepository.item(tenant, issue(1, T0 + timedelta(minutes=9), title="new"))
        )
        write_outside_sync(
            table, IssueRepository.item(tenant, issue(1, T0 + timedelta(minutes=3), title="old"))
        )

        # Then: the journal, like the item, holds the newer one
        pk, sk = IssueRepository.key(tenant, issue(1, T0))
        journaled = table.get(pk, f"{JOURNAL_PREFIX}{sk}")
        assert journaled is not None
        assert journaled["item"]["title"] == "new"


def test_an_oversized_item_fails_alone_and_the_rest_of_its_batch_is_written(tenant: str) -> None:
    # Given: a page of three new issues, the middle one far over DynamoDB's 400 KB
    table = container.table()
    items = page(1, 2, 3)
    items[1] = items[1].model_copy(update={"body": "x" * 450_000}).with_hash()

    # When
    counts = ItemWriter(TableItems(table), tenant, operation_id=OP).write(items)

    # Then
    assert counts.as_dict() == {"created": 2, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 1}
    assert table.get(*IssueRepository.key(tenant, items[1])) is None
    assert [stored(table, tenant, n)["title"] for n in (1, 3)] == ["sync 1", "sync 3"]
