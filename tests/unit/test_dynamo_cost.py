"""The benchmark's DynamoDB cost arithmetic against DynamoDB's documented sizes and rounding.

Sources: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html (item
sizes) and .../read-write-operations.html (units: a 3,500-byte read is a 4 KB read, a 10 KB read 12 KB, an
8 KB item 2 strongly consistent or 1 eventually consistent units, BatchGetItem of 1.5 KB + 6.5 KB = 12 KB).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from benchmarks.dynamo_cost import (
    INTERVALS_PER_MONTH,
    MonthlyEstimate,
    Usage,
    batch_get_units,
    dollars,
    index_write_sizes,
    item_size,
    number_size,
    query_units,
    read_units,
    value_size,
    write_units,
)
from benchmarks.dynamo_meter import DynamoMeter

KB = 1024
INDEXES = [("GSI1", "gsi1pk", "gsi1sk"), ("GSI2", "gsi2pk", "gsi2sk")]


# ---- item sizes ------------------------------------------------------------------------------------


def test_a_string_counts_its_name_and_its_utf8_bytes() -> None:
    # Given a name of 4 bytes and a value of 5 characters, one of them 2 bytes in UTF-8
    item = {"name": {"S": "caf\u00e9!"}}

    # Then the size is 4 + 6
    assert item_size(item) == 10


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("1", 2),  # one significant digit: 1 byte + 1
        ("12", 2),
        ("123", 3),  # two bytes of digits + 1
        ("1000", 2),  # trailing zeros are trimmed
        ("0.0012", 2),  # leading zeros too
        ("-12.34", 3),  # 4 significant digits: 2 bytes + 1
        ("12345678901234567890123456789012345678", 20),  # 38 digits, DynamoDB's maximum
    ],
)
def test_a_number_is_one_byte_per_two_significant_digits_plus_one(number: str, size: int) -> None:
    assert number_size(number) == size


def test_null_and_boolean_are_one_byte_and_binary_its_raw_bytes() -> None:
    raw = bytes(range(10))
    item: dict[str, Any] = {
        "gone": {"NULL": True},
        "ok": {"BOOL": False},
        "blob": {"B": base64.b64encode(raw).decode()},
    }

    # 4+1, 2+1, 4 + 10 raw bytes (not the 16 of base64)
    assert item_size(item) == 5 + 3 + 14


def test_lists_and_maps_cost_three_bytes_plus_one_per_element() -> None:
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    # ["ab", "c"]: 3 + (1 + 2) + (1 + 1)
    assert value_size({"L": [{"S": "ab"}, {"S": "c"}]}) == 8
    # {"k": "vv"}: 3 + (1 + 1 + 2)
    assert value_size({"M": {"k": {"S": "vv"}}}) == 7
    # nested: {"l": [true]} = 3 + (1 + 1 + (3 + (1 + 1)))
    assert value_size({"M": {"l": {"L": [{"BOOL": True}]}}}) == 10


def test_sets_are_the_sum_of_their_elements() -> None:
    assert value_size({"SS": ["a", "bcd"]}) == 4
    assert value_size({"NS": ["1", "123"]}) == 5


def test_no_item_has_size_zero_and_an_unknown_type_is_refused() -> None:
    assert item_size(None) == 0
    with pytest.raises(ValueError, match="unknown DynamoDB attribute type"):
        value_size({"X": "?"})


# ---- units ------------------------------------------------------------------------------------------


def test_writes_are_one_unit_per_kilobyte_rounded_up_and_transactions_double() -> None:
    assert write_units(0) == 1
    assert write_units(500) == 1
    assert write_units(KB) == 1
    assert write_units(KB + 1) == 2
    assert write_units(int(2.5 * KB)) == 3
    assert write_units(int(2.5 * KB), transactional=True) == 6


def test_reads_follow_the_documented_examples() -> None:
    # A 3,500-byte item reads as 4 KB; a 10 KB item as 12 KB.
    assert read_units(3_500) == 1
    assert read_units(10 * KB) == 3
    # An 8 KB item: 2 units strongly consistent, 1 eventually consistent.
    assert read_units(8 * KB) == 2
    assert read_units(8 * KB, consistent=False) == 1
    # Reading an item that does not exist still costs a unit (half, eventually consistent).
    assert read_units(0) == 1
    assert read_units(0, consistent=False) == 0.5


def test_batch_get_rounds_each_item_and_query_rounds_the_sum() -> None:
    # The documented BatchGetItem: 1.5 KB and 6.5 KB are read as 4 KB + 8 KB = 12 KB -> 3 units.
    assert batch_get_units([int(1.5 * KB), int(6.5 * KB)]) == 3
    # The same items in one Query are 8 KB -> 2 units strongly consistent, 1 eventually consistent.
    assert query_units([int(1.5 * KB), int(6.5 * KB)], consistent=True) == 2
    assert query_units([int(1.5 * KB), int(6.5 * KB)]) == 1
    # An empty query page still costs the minimum.
    assert query_units([]) == 0.5


# ---- index writes --------------------------------------------------------------------------------------


def _issue(updated: str, *, status: str | None = "todo", title: str = "t") -> dict[str, dict[str, str]]:
    item = {
        "pk": {"S": "T#a#CONN#c"},
        "sk": {"S": "ISSUE#1"},
        "gsi1pk": {"S": "T#a#ISSUES"},
        "gsi1sk": {"S": updated},
        "title": {"S": title},
    }
    if status is not None:
        item |= {"gsi2pk": {"S": f"T#a#STATUS#{status}"}, "gsi2sk": {"S": updated}}
    return item


def test_a_new_item_puts_one_entry_in_each_index_it_belongs_to() -> None:
    new = _issue("2026-01-01")
    assert index_write_sizes(None, new, INDEXES) == [item_size(new), item_size(new)]
    tombstone = _issue("2026-01-01", status=None)
    assert index_write_sizes(None, tombstone, INDEXES) == [item_size(tombstone)]


def test_an_index_key_that_changes_costs_a_delete_and_a_put() -> None:
    old, new = _issue("2026-01-01"), _issue("2026-01-02")
    # Both indexes sort by the update time: each loses the old entry and gets the new one.
    assert index_write_sizes(old, new, INDEXES) == [item_size(old), item_size(new)] * 2


def test_an_unchanged_key_costs_one_update_and_a_removed_entry_one_delete() -> None:
    old = _issue("2026-01-01", title="t")
    retitled = _issue("2026-01-01", title="a longer title")
    assert index_write_sizes(old, retitled, INDEXES) == [item_size(retitled)] * 2
    tombstone = _issue("2026-01-01", status=None, title="t")
    assert index_write_sizes(old, tombstone, INDEXES) == [
        max(item_size(old), item_size(tombstone)),
        item_size(old),
    ]


def test_rewriting_the_same_item_writes_no_index() -> None:
    item = _issue("2026-01-01")
    assert index_write_sizes(item, dict(item), INDEXES) == []


# ---- prices ------------------------------------------------------------------------------------------


def test_on_demand_prices_per_million_units() -> None:
    assert dollars(1_000_000, 0) == pytest.approx(0.625)
    assert dollars(0, 1_000_000) == pytest.approx(0.125)
    usage = Usage(wru=3, index_wru=1, rru=8)
    assert usage.total_wru == 4
    assert usage.dollars == pytest.approx(4 * 0.625e-6 + 8 * 0.125e-6)
    assert Usage.from_dict(usage.to_dict()) == usage


def test_the_monthly_estimate_adds_the_idle_cost_and_the_changed_issues() -> None:
    # Given an idle incremental of 10 WRU + 4 RRU, and 7 WRU + 2 RRU per changed issue
    estimate = MonthlyEstimate(
        provider="github",
        issues=10_000,
        changed_share=0.01,
        idle_wru=10,
        idle_rru=4,
        per_changed_wru=7,
        per_changed_rru=2,
    )

    # Then 100 issues change per interval, in 2,880 intervals of 15 minutes
    assert estimate.changed_per_interval == 100
    assert INTERVALS_PER_MONTH == 2_880
    assert estimate.idle_dollars == pytest.approx(2_880 * (10 * 0.625e-6 + 4 * 0.125e-6))
    assert estimate.changed_dollars == pytest.approx(2_880 * 100 * (7 * 0.625e-6 + 2 * 0.125e-6))
    assert estimate.total_dollars == pytest.approx(estimate.idle_dollars + estimate.changed_dollars)
    sentence = estimate.sentence()
    assert sentence.startswith("Syncing 10,000 github issues every 15 minutes costs about $")
    assert f"${estimate.total_dollars:,.2f} a month" in sentence
    assert "1% of the issues (100)" in sentence
    assert "https://aws.amazon.com/dynamodb/pricing/on-demand/" in sentence


# ---- the meter inside moto -------------------------------------------------------------------------------


@pytest.fixture
def metered(moto_endpoint: str) -> Iterator[tuple[Any, str, DynamoMeter]]:
    """A table with one index projecting ALL on the session's moto, and a meter counting its calls."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"meter-{uuid.uuid4().hex[:10]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g1pk", "g1sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "KeySchema": [
                    {"AttributeName": "g1pk", "KeyType": "HASH"},
                    {"AttributeName": "g1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    meter = DynamoMeter([("GSI1", "g1pk", "g1sk")])
    meter.install()
    meter.start(name)
    try:
        yield client, name, meter
    finally:
        meter.stop()
        client.delete_table(TableName=name)


def _item(sk: str, body: str, updated: str = "2026-01-01") -> dict[str, Any]:
    return {
        "pk": {"S": "P"},
        "sk": {"S": sk},
        "g1pk": {"S": "G"},
        "g1sk": {"S": updated},
        "body": {"S": body},
    }


@pytest.mark.integration
def test_the_meter_bills_writes_with_their_index_and_failed_conditions(
    metered: tuple[Any, str, DynamoMeter],
) -> None:
    client, name, meter = metered
    big = _item("a", "x" * 1500)  # over 1 KB: 2 units for the table, 2 for the index entry

    # When an item is put, a conditional put of it fails, and the batch write of a small one lands
    client.put_item(TableName=name, Item=big)
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=name, Item=big, ConditionExpression="attribute_not_exists(pk)")
    client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": _item("b", "y")}}]})
    usage = meter.stop()

    # Then: 2 + 2 (the failed put still consumes its units) + 1 on the table; 2 + 1 in the index
    assert usage.wru == 5
    assert usage.index_wru == 3
    assert usage.items_written == 2
    assert usage.calls == {"PutItem": 2, "BatchWriteItem": 1}


@pytest.mark.integration
def test_the_meter_bills_projected_reads_by_the_whole_item(metered: tuple[Any, str, DynamoMeter]) -> None:
    client, name, meter = metered
    client.put_item(TableName=name, Item=_item("a", "x" * 5000))  # 5 KB: two 4 KB read units
    client.put_item(TableName=name, Item=_item("b", "y"))
    meter.stop()
    meter.start(name)

    # When two present keys and an absent one are read strongly consistent with a projection of the keys,
    keys = [{"pk": {"S": "P"}, "sk": {"S": sk}} for sk in ("a", "b", "c")]
    client.batch_get_item(
        RequestItems={name: {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "pk, sk"}}
    )
    # and the index is queried for both items, keys only
    client.query(
        TableName=name,
        IndexName="GSI1",
        KeyConditionExpression="g1pk = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
        ProjectionExpression="pk, sk, g1pk, g1sk",
    )
    usage = meter.stop()

    # Then the batch read is 2 + 1 + 1 (the absent key too) and the query half of ceil((5 KB + small) / 4 KB)
    assert usage.rru == 4 + 1
    assert usage.wru == 0
