"""The suite's AWS side holds on a loaded machine (issue 13 "Tests and tooling").

moto runs inside the test process, so on a busy 2-core machine a DynamoDB call can take seconds. Two things
made that fail tests that pass on an idle machine: the product's 10 s read timeout made botocore retry a
transaction whose first attempt had landed (moto, unlike DynamoDB, ignores ClientRequestToken, so the retry
failed its condition), and moto's TransactWriteItems answered 500 when another thread wrote the table while
it copied it. tests/conftest.py gives this process's clients patient timeouts through
``TB_AWS_CONNECT_TIMEOUT_S`` / ``TB_AWS_READ_TIMEOUT_S``, and every ``infra.local.moto.MotoServer`` (the
tests' and the embedded stack's) serializes moto's DynamoDB handler; these tests keep both in place.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

pytestmark = pytest.mark.integration

# One attempt in all (botocore's "max_attempts" counts retries): a 500 from moto must fail the call, not be
# hidden by a retry.
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=300)


def test_clients_built_in_tests_wait_for_a_slow_moto_and_keep_their_retry_policy() -> None:
    from infra.local import provision
    from trackbridge.runtime import aws
    from trackbridge.runtime.settings import Settings

    for config in (aws.client_config(Settings.from_env()), provision.client_config()):
        assert config.read_timeout >= 300
        assert config.connect_timeout >= 60
        # The retry policy is kept (botocore rewrites max_attempts to total_max_attempts in place).
        retries = config.retries or {}
        assert retries.get("mode") == "standard"
        assert retries.get("total_max_attempts", retries.get("max_attempts", 0) + 1) > 1


def test_every_moto_server_serializes_dynamodb_once(moto_endpoint: str) -> None:
    from moto.dynamodb.responses import DynamoHandler

    from infra.local.moto import MotoServer, dynamodb_serialized, serialize_dynamodb

    # Given: the session's moto server is running
    assert dynamodb_serialized()
    wrapped = DynamoHandler.call_action

    # When: another server starts in the same process, and the serialization is asked for again
    MotoServer().start().stop()
    serialize_dynamodb()

    # Then: moto's handler is wrapped once, not once per server
    assert DynamoHandler.call_action is wrapped


@pytest.fixture
def table(moto_endpoint: str) -> Iterator[tuple[str, Any]]:
    name = f"load-{uuid.uuid4().hex[:12]}"
    client = _client(moto_endpoint)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        yield name, client
    finally:
        client.delete_table(TableName=name)


def _client(endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=ONE_ATTEMPT)


def test_a_transaction_beside_concurrent_writes_neither_fails_nor_loses_them(
    moto_endpoint: str, table: tuple[str, Any]
) -> None:
    # Given: a table with some items (moto copies all of them per transaction), and one attempt per call
    name, client = table
    for start in range(0, 500, 25):
        puts = [{"PutRequest": {"Item": {"pk": {"S": f"seed{start + n}"}}}} for n in range(25)]
        client.batch_write_item(RequestItems={name: puts})
    errors: list[str] = []

    def writes() -> None:
        own = _client(moto_endpoint)
        for n in range(100):
            try:
                own.put_item(TableName=name, Item={"pk": {"S": f"w{n}"}})
            except Exception as exc:  # collected and asserted below
                errors.append(f"put: {exc}")

    def transactions() -> None:
        own = _client(moto_endpoint)
        taken = {
            "TableName": name,
            "Item": {"pk": {"S": "seed1"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        for _ in range(20):
            try:
                own.transact_write_items(TransactItems=[{"Put": taken}])
            except own.exceptions.TransactionCanceledException:
                pass  # the condition fails, as it must: the transaction rolls back
            except Exception as exc:  # collected and asserted below
                errors.append(f"transaction: {exc}")

    # When: one thread writes while another runs transactions that fail their condition and roll back
    threads = [threading.Thread(target=writes), threading.Thread(target=transactions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then: no call failed (unserialized, most transactions were a 500), and a rollback lost no write
    assert errors == []
    missing = [
        n for n in range(100) if "Item" not in client.get_item(TableName=name, Key={"pk": {"S": f"w{n}"}})
    ]
    assert missing == []


class TestPartitionQueries:
    """moto reads one partition for a query on the table's own key (``infra.local.moto``), answering as
    before: order, ``begins_with``, descending order, limits and the cursor, projections; index queries
    unchanged."""

    @pytest.fixture(scope="class")
    @classmethod
    def table(cls, moto_endpoint: str) -> Iterator[tuple[Any, str]]:
        client = boto3.client(
            "dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1", config=ONE_ATTEMPT
        )
        name = f"partitions-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name_, "AttributeType": "S"} for name_ in ("pk", "sk", "g", "gs")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "byg",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "gs", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for pk in ("A", "B", "C"):
            for n in range(12):
                kind = "COMMENT" if n % 2 else "WORKLOG"
                client.put_item(
                    TableName=name,
                    Item={
                        "pk": {"S": pk},
                        "sk": {"S": f"{kind}#{n:02d}"},
                        "g": {"S": "all"},
                        "gs": {"S": f"{pk}{n:02d}"},
                        "body": {"S": "x" * 10},
                    },
                )
        try:
            yield client, name
        finally:
            client.delete_table(TableName=name)

    @staticmethod
    def keys(response: dict[str, Any]) -> list[str]:
        return [item["sk"]["S"] for item in response["Items"]]

    def test_a_partitions_items_come_in_key_order_with_the_cursor(self, table: tuple[Any, str]) -> None:
        client, name = table
        query = {
            "TableName": name,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "B"}, ":s": {"S": "COMMENT#"}},
            "Limit": 4,
        }
        first = client.query(**query)
        second = client.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])
        assert self.keys(first) == ["COMMENT#01", "COMMENT#03", "COMMENT#05", "COMMENT#07"]
        assert first["LastEvaluatedKey"] == {"pk": {"S": "B"}, "sk": {"S": "COMMENT#07"}}
        assert self.keys(second) == ["COMMENT#09", "COMMENT#11"]
        assert "LastEvaluatedKey" not in second

    def test_descending_projected_and_empty_partitions(self, table: tuple[Any, str]) -> None:
        client, name = table
        newest = client.query(
            TableName=name,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "C"}},
            ScanIndexForward=False,
            Limit=2,
            ProjectionExpression="sk",
        )
        assert self.keys(newest) == ["WORKLOG#10", "WORKLOG#08"]
        assert all(set(item) == {"sk"} for item in newest["Items"])
        none = client.query(
            TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "Z"}}
        )
        assert none["Items"] == []

    def test_an_index_query_still_reads_across_partitions(self, table: tuple[Any, str]) -> None:
        client, name = table
        found = client.query(
            TableName=name,
            IndexName="byg",
            KeyConditionExpression="g = :g AND gs >= :from",
            ExpressionAttributeValues={":g": {"S": "all"}, ":from": {"S": "B10"}},
            Limit=4,
        )
        assert [item["gs"]["S"] for item in found["Items"]] == ["B10", "B11", "C00", "C01"]
