"""A conditional put whose first attempt landed and whose retry failed its condition counts as written.

botocore retries a ``PutItem`` whose answer it did not get (a read timeout, a 500). When the first attempt
was applied, the retry finds that very item stored and fails ``put_if_newer``'s condition: DynamoDB answers
ConditionalCheckFailed with the stored item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``). An item the
sync engine writes carries its operation's mark, so the stored copy tells its own write (counted as the
mark records it) from somebody else's, which still counts ``unchanged``. No extra request is made to tell.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.sync.fakes import T0, TENANT, issue
from trackbridge.domain.sync_plan import WriteDecision, write_mark
from trackbridge.runtime.sync.writer import ItemWriter, TableItems
from trackbridge.storage.issues import IssueRepository, put_if_newer
from trackbridge.storage.sync import SYNC_MARK
from trackbridge.storage.table import Item, Table, deserialize, serialize
from trackbridge.storage.write_journal import write_outside_sync

OP = "op_abcdefghijklmnopqrst"
OTHER_OP = "op_zyxwvutsrqponmlkjih"


class DynamoDB:
    """``put_item`` and ``batch_get_item`` as DynamoDB answers them, ``put_if_newer``'s condition evaluated.

    With ``answer_lost``, an applied put's answer never reaches the caller and botocore's retry is what the
    caller hears: ConditionalCheckFailed, with the item the first attempt stored (``ALL_OLD``).
    """

    def __init__(self, *, answer_lost: bool = False) -> None:
        self.answer_lost = answer_lost
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[str] = []

    def store(self, item: Item) -> None:
        self.items[(item["pk"], item["sk"])] = serialize(item)

    def stored(self, item: Item) -> Item:
        return deserialize(self.items[(item["pk"], item["sk"])])

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.requests.append("put_item")
        assert request["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
        new = request["Item"]
        key = (new["pk"]["S"], new["sk"]["S"])
        old = self.items.get(key)
        if old is not None and not _newer_or_different(deserialize(new), deserialize(old)):
            raise _condition_failed(old)
        self.items[key] = new
        if self.answer_lost:
            raise _condition_failed(new)  # the retry's answer: the first attempt's item is stored
        return {"Attributes": old} if old is not None else {}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append("batch_get_item")
        ((name, request),) = RequestItems.items()
        keys = [(k["pk"]["S"], k["sk"]["S"]) for k in request["Keys"]]
        return {"Responses": {name: [self.items[k] for k in keys if k in self.items]}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        """Unconditional, and idempotent: a retried batch changes nothing a first attempt stored."""
        self.requests.append("batch_write_item")
        ((_name, requests),) = RequestItems.items()
        for request in requests:
            item = request["PutRequest"]["Item"]
            self.items[(item["pk"]["S"], item["sk"]["S"])] = item
        return {}


def _newer_or_different(new: Item, old: Item) -> bool:
    return bool(
        old["updated_at"] < new["updated_at"]
        or (old["updated_at"] == new["updated_at"] and old["content_hash"] != new["content_hash"])
    )


def _condition_failed(stored: dict[str, Any]) -> ClientError:
    error = {
        "Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}
    }
    return ClientError({**error, "Item": stored}, "PutItem")


def marked(
    number: int, minutes: int, *, operation: str = OP, decision: WriteDecision = "create", **kw: Any
) -> Item:
    """Issue ``number`` updated ``minutes`` after T0, as ``operation``'s writer stores it."""
    item = IssueRepository.item(TENANT, issue(number, T0 + timedelta(minutes=minutes), **kw))
    item[SYNC_MARK] = write_mark(operation, decision)
    return item


class TestPutIfNewer:
    def test_a_new_item_whose_retry_found_it_stored_counts_created(self) -> None:
        # Given: the put's first attempt lands, and its answer is lost
        client = DynamoDB(answer_lost=True)
        item = marked(1, 5)

        # When
        outcome = put_if_newer(Table(client, "t"), item)

        # Then: the write counts as what it did; one request, no read to find out
        assert outcome == "created"
        assert client.stored(item) == item
        assert client.requests == ["put_item"]

    def test_an_update_whose_retry_found_it_stored_counts_updated(self) -> None:
        # Given: an older copy is stored, and the update's answer is lost after it landed
        client = DynamoDB(answer_lost=True)
        client.store(marked(1, 0, operation=OTHER_OP))
        item = marked(1, 5, decision="update", title="renamed")

        # When / Then
        assert put_if_newer(Table(client, "t"), item) == "updated"
        assert client.stored(item) == item
        assert client.requests == ["put_item"]

    def test_a_lost_race_with_a_newer_copy_stays_unchanged(self) -> None:
        # Given: a webhook stored a newer version (no mark)
        client = DynamoDB()
        newer = IssueRepository.item(TENANT, issue(1, T0 + timedelta(minutes=9)))
        client.store(newer)

        # When: the sync writes its older version
        outcome = put_if_newer(Table(client, "t"), marked(1, 5))

        # Then
        assert outcome == "unchanged"
        assert client.stored(newer) == newer

    @pytest.mark.parametrize(
        "stored",
        [
            pytest.param(marked(1, 5, operation=OTHER_OP), id="another operation wrote the same version"),
            pytest.param(IssueRepository.item(TENANT, issue(1, T0 + timedelta(minutes=5))), id="a webhook"),
            pytest.param(marked(1, 5, decision="update"), id="this operation, as an update"),
        ],
    )
    def test_the_same_version_written_by_another_write_stays_unchanged(self, stored: Item) -> None:
        # Given: the same version is already stored, but not by this very write
        client = DynamoDB()
        client.store(stored)

        # When / Then
        assert put_if_newer(Table(client, "t"), marked(1, 5)) == "unchanged"

    def test_an_unmarked_write_whose_retry_found_it_stored_cannot_tell_and_stays_unchanged(self) -> None:
        # Given: a webhook's put (no mark): an equal copy from elsewhere would look the same
        client = DynamoDB(answer_lost=True)
        item = IssueRepository.item(TENANT, issue(1, T0 + timedelta(minutes=5)))

        # When / Then
        assert put_if_newer(Table(client, "t"), item) == "unchanged"


class TestItemWriter:
    def test_a_page_whose_puts_were_retried_counts_what_it_wrote(self) -> None:
        # Given: issue 1 is new, issue 2 has an older stored copy; every put's answer is lost after it landed
        client = DynamoDB(answer_lost=True)
        client.store(IssueRepository.item(TENANT, issue(2, T0)))
        writer = ItemWriter(TableItems(Table(client, "t")), TENANT, operation_id=OP, workers=1)
        page = [issue(1, T0 + timedelta(minutes=5)), issue(2, T0 + timedelta(minutes=5), title="renamed")]

        # When
        counts = writer.write(page)

        # Then: counted as written; one batch read, the new issue in a batch (no condition to fail), the
        # stored one by its conditional put, and the journal read after the batch
        assert counts.as_dict() == {"created": 1, "updated": 1, "unchanged": 0, "deleted": 0, "failed": 0}
        assert client.requests == ["batch_get_item", "batch_write_item", "put_item", "batch_get_item"]

    def test_a_tombstone_whose_put_was_retried_counts_deleted(self) -> None:
        # Given: a stored issue the tracker no longer has; the tombstone's answer is lost after it landed
        client = DynamoDB(answer_lost=True)
        client.store(IssueRepository.item(TENANT, issue(1, T0)))
        writer = ItemWriter(TableItems(Table(client, "t")), TENANT, operation_id=OP, workers=1)
        gone = issue(1, T0 + timedelta(minutes=5)).model_copy(
            update={"deleted_at": T0 + timedelta(minutes=5), "content_hash": ""}
        )

        # When
        counts = writer.write([gone.with_hash()], tombstones=True)

        # Then
        assert counts.as_dict() == {"created": 0, "updated": 0, "unchanged": 0, "deleted": 1, "failed": 0}

    def test_a_page_that_lost_to_newer_copies_still_counts_unchanged(self) -> None:
        # Given: a newer copy lands between the writer's read and its write (a webhook, which journals it)
        client = DynamoDB()
        writer = ItemWriter(TableItems(Table(client, "t")), TENANT, operation_id=OP, workers=1)
        incoming = issue(1, T0 + timedelta(minutes=5))
        versions = writer.versions([incoming])
        newer = IssueRepository.item(TENANT, issue(1, T0 + timedelta(minutes=9)))
        write_outside_sync(Table(client, "t"), newer)

        # When
        counts = writer.write([incoming], versions)

        # Then: the newer copy is what is stored, and the page counts its item unchanged
        assert counts.as_dict() == {"created": 0, "updated": 0, "unchanged": 1, "deleted": 0, "failed": 0}
        assert client.stored(newer)["updated_at"] == newer["updated_at"]
