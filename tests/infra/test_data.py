"""The DynamoDB table: keys, GSIs, billing, recovery, TTL, encryption, and production protection."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definition import TABLE
from tests.infra.cfn import one

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]


def test_table_has_the_definition_keys_and_indexes(dev_template: dict[str, Any]) -> None:
    _, table = one(dev_template, "AWS::DynamoDB::Table", TableName=TABLE.name("dev"))
    props = table["Properties"]

    assert props["KeySchema"] == [
        {"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
        {"AttributeName": TABLE.sort_key, "KeyType": "RANGE"},
    ]
    indexes = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index.name for index in TABLE.indexes}
    for spec in TABLE.indexes:
        assert indexes[spec.name]["KeySchema"] == [
            {"AttributeName": spec.partition_key, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
        ]
        assert indexes[spec.name]["Projection"] == {"ProjectionType": "ALL"}
    assert all(attribute["AttributeType"] == "S" for attribute in props["AttributeDefinitions"])


def test_table_is_on_demand_recoverable_expiring_and_encrypted(dev_template: dict[str, Any]) -> None:
    _, table = one(dev_template, "AWS::DynamoDB::Table", TableName=TABLE.name("dev"))
    props = table["Properties"]

    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": TABLE.ttl_attribute, "Enabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def test_dev_table_can_be_torn_down(dev_template: dict[str, Any]) -> None:
    _, table = one(dev_template, "AWS::DynamoDB::Table", TableName=TABLE.name("dev"))

    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_prod_table_is_retained_and_protected(prod_template: dict[str, Any]) -> None:
    _, table = one(prod_template, "AWS::DynamoDB::Table", TableName=TABLE.name("prod"))

    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
