"""What DynamoDB can store of a client's free-form JSON (``domain.storable``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from trackbridge.domain.storable import StorableMap, storable_number, storable_problem


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        (0, True),
        (-0.0, True),
        (1.5, True),
        (2**63, True),
        (1e125, True),
        (1e-130, True),
        (123456789012345678901234567890.5, True),
        (10**38 - 1, True),
        (10**40, False),  # 41 digits: boto3 would round it
        (1e126, False),
        (1e-131, False),
        (5e-324, False),
        (1.7976931348623157e308, False),
        (float("nan"), False),
        (float("inf"), False),
    ],
)
def test_numbers_inside_dynamodbs_limits_are_storable(number: float, stored: bool) -> None:
    assert storable_number(number) is stored


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, {"b": "x"}], "c": None, "d": True}, None),
        ({"a": [1, {"b": 1e300}]}, "a[1].b: at most 38 significant digits"),
        ({"a": {"": 1}}, "a has an empty key"),
        ({"": 1}, "the object has an empty key"),
    ],
)
def test_the_problem_names_where_it_is(value: dict[str, Any], problem: str | None) -> None:
    found = storable_problem(value)
    assert found == problem if problem is None else problem in (found or "")


def test_nesting_past_dynamodbs_levels_is_refused() -> None:
    value: dict[str, Any] = {}
    for _ in range(31):
        value = {"k": value}
    assert storable_problem(value) is not None
    assert storable_problem(value["k"]) is None


def test_a_model_field_refuses_with_a_validation_error() -> None:
    class Body(BaseModel):
        data: StorableMap

    assert Body(data={"x": 1}).data == {"x": 1}
    with pytest.raises(ValidationError, match="cannot be stored: x: at most 38"):
        Body(data={"x": 1e-200})
