"""Free-form JSON a client sends that trackbridge stores (a rule's tracker-native fields, an event's data).

DynamoDB stores what JSON can say with three exceptions, and each one used to surface as a 500: a number
with more than 38 significant digits or outside 1E-130..9.99E+125 in magnitude (boto3 refuses it with a
``decimal`` trap before the request leaves), a map key that is an empty string, and nesting deeper than 32
levels. :data:`StorableMap` refuses those at validation, where the 422 can name the field; the table's
serializer refuses the same numbers as a safety net (``storage.table``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Context, Decimal, DecimalException, Inexact, Overflow, Rounded, Underflow
from typing import Annotated, Any, Final

from pydantic import AfterValidator

# DynamoDB's number limits (the same context boto3 serializes with).
NUMBER_CONTEXT: Final = Context(Emin=-128, Emax=126, prec=38, traps=[Inexact, Overflow, Rounded, Underflow])
# Top-level attribute, the map itself, then 30 more: within DynamoDB's 32 levels.
MAX_DEPTH: Final = 30
NUMBER_LIMITS: Final = "at most 38 significant digits, magnitude between 1E-130 and 9.99E+125"


def storable_number(value: int | float | Decimal) -> bool:
    """Whether DynamoDB stores ``value`` exactly as given."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    try:
        number = NUMBER_CONTEXT.create_decimal(repr(value) if isinstance(value, float) else value)
    except DecimalException:
        return False
    if not number.is_finite():
        return False
    return number.is_zero() or Decimal("1E-130") <= abs(number) < Decimal("1E+126")


def storable_problem(value: Any, path: str = "", depth: int = 0) -> str | None:
    """Why ``value`` cannot be stored (naming where in it), or None when it can."""
    if depth > MAX_DEPTH:
        return f"{path or 'the value'} nests deeper than {MAX_DEPTH} levels"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, (int, float, Decimal)):
        return None if storable_number(value) else f"{path or 'the number'}: {NUMBER_LIMITS}"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "":
                return f"{path or 'the object'} has an empty key"
            problem = storable_problem(item, f"{path}.{key}" if path else str(key), depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = storable_problem(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
    return None


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    problem = storable_problem(value)
    if problem:
        raise ValueError(f"cannot be stored: {problem}")
    return value


StorableMap = Annotated[dict[str, Any], AfterValidator(_storable)]

__all__ = [
    "MAX_DEPTH",
    "NUMBER_CONTEXT",
    "NUMBER_LIMITS",
    "StorableMap",
    "storable_number",
    "storable_problem",
]
