"""The DynamoDB boundary without DynamoDB: value encoding and how AWS failures map onto the error tree."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from trackbridge.domain.errors import Conflict, DependencyFailure, PayloadTooLarge, ValidationFailed
from trackbridge.storage.table import ConditionFailed, _translate, deserialize, serialize


def client_error(code: str, message: str = "", status: int = 400, **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, "PutItem")  # type: ignore[arg-type]


def test_values_survive_the_round_trip() -> None:
    item = {"s": "x", "i": 3, "f": 0.25, "b": True, "n": None, "l": [1, "a", {"z": 1.5}], "m": {"k": [2]}}
    wire = serialize(item)
    assert wire["f"] == {"N": "0.25"}
    assert deserialize(wire) == item
    assert isinstance(deserialize(serialize({"i": 3}))["i"], int)


@pytest.mark.parametrize("number", [1e-200, 1.7976931348623157e308, 10**40])
def test_a_number_dynamodb_cannot_hold_is_a_validation_failure_not_a_crash(number: float) -> None:
    with pytest.raises(ValidationFailed, match="38 significant digits"):
        serialize({"m": {"x": [number]}})


def test_unmapped_values_are_refused() -> None:
    with pytest.raises(TypeError, match="map it to plain values"):
        serialize({"x": object()})


def test_condition_failure_carries_the_stored_item() -> None:
    stored = serialize({"pk": "T#a", "sk": "CONN#x", "version": 3})
    translated = _translate(client_error("ConditionalCheckFailedException", Item=stored))
    assert isinstance(translated, ConditionFailed)
    assert isinstance(translated, Conflict)
    assert translated.old_item == {"pk": "T#a", "sk": "CONN#x", "version": 3}
    absent = _translate(client_error("ConditionalCheckFailedException"))
    assert isinstance(absent, ConditionFailed)
    assert absent.old_item is None


def test_transaction_cancellation_names_the_failed_operation() -> None:
    reasons = [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Item": serialize({"version": Decimal(2)})},
    ]
    translated = _translate(client_error("TransactionCanceledException", CancellationReasons=reasons))
    assert isinstance(translated, ConditionFailed)
    assert translated.index == 1
    assert translated.old_item == {"version": 2}
    conflict = _translate(
        client_error("TransactionCanceledException", CancellationReasons=[{"Code": "TransactionConflict"}])
    )
    assert isinstance(conflict, Conflict)
    assert conflict.code == "CONCURRENT_CHANGE"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ProvisionedThroughputExceededException"), DependencyFailure),
        (client_error("ResourceNotFoundException"), DependencyFailure),
        (client_error("InternalServerError", status=500), DependencyFailure),
        (
            client_error("ValidationException", "Item size has exceeded the maximum allowed size"),
            PayloadTooLarge,
        ),
    ],
)
def test_aws_failures_map_to_the_error_tree(error: ClientError, expected: type[Exception]) -> None:
    assert isinstance(_translate(error), expected)


def test_bugs_are_not_disguised() -> None:
    # A malformed expression is our bug: it must surface as itself (a 500 with a correlation id), not a 503
    assert _translate(client_error("ValidationException", "Invalid UpdateExpression")) is None


WIRE_VALUES: list[dict[str, Any]] = [
    {"S": ""},
    {"S": "é ✓"},
    {"N": "0"},
    {"N": "-3"},
    {"N": "12345678901234567890"},
    {"N": "1.0"},
    {"N": "1.5"},
    {"N": "-0.1"},
    {"N": "1e3"},
    {"N": "2.5E-3"},
    {"BOOL": True},
    {"BOOL": False},
    {"NULL": True},
    {"L": []},
    {"M": {}},
    {"L": [{"S": "a"}, {"N": "2"}, {"M": {"k": {"L": [{"NULL": True}, {"BOOL": False}]}}}]},
    {"M": {"nested": {"M": {"n": {"N": "7.25"}, "s": {"S": "x"}}}}},
    {"SS": ["b", "a"]},
    {"NS": ["1", "2.5"]},
    {"B": b"\x00\x01"},
]


@pytest.mark.parametrize("value", WIRE_VALUES, ids=[str(v)[:40] for v in WIRE_VALUES])
def test_the_direct_decoder_reads_each_type_as_boto3_plus_the_mapping_does(value: dict[str, Any]) -> None:
    from boto3.dynamodb.types import TypeDeserializer

    from trackbridge.storage.table import _from_wire_value

    expected = _from_wire_value(TypeDeserializer().deserialize(value))
    decoded = deserialize({"a": value})["a"]
    if "SS" in value or "NS" in value:
        assert sorted(decoded) == sorted(expected)
    else:
        assert decoded == expected
        assert type(decoded) is type(expected)


def test_a_value_with_two_type_tags_is_refused() -> None:
    with pytest.raises(ValueError, match="one type tag"):
        deserialize({"a": {"S": "x", "N": "1"}})
