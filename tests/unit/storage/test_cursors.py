"""Cursors come back from clients: only a cursor of the same listing, of the caller's tenant, is accepted."""

from __future__ import annotations

import base64
import json

import pytest

from trackbridge.domain.errors import InvalidInput
from trackbridge.storage.cursors import decode_cursor, encode_cursor

KEY = {"pk": "T#acme", "sk": "CONN#conn_b"}
QUERY = {
    "key_attributes": ("pk", "sk"),
    "partition_attribute": "pk",
    "partition_value": "T#acme",
    "sort_attribute": "sk",
    "sort_prefix": "CONN#",
    "tenant_prefix": "T#acme",
}


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_round_trip() -> None:
    cursor = encode_cursor(KEY)
    assert "=" not in cursor
    assert "+" not in cursor
    assert "/" not in cursor
    assert decode_cursor(cursor, **QUERY) == KEY  # type: ignore[arg-type]


def test_gsi_cursor_round_trip() -> None:
    key = {"pk": "T#acme#CONN#c", "sk": "ISSUE#x", "gsi1pk": "T#acme#ISSUES", "gsi1sk": "2026#c.1"}
    cursor = encode_cursor(key)
    decoded = decode_cursor(
        cursor,
        key_attributes=("pk", "sk", "gsi1pk", "gsi1sk"),
        partition_attribute="gsi1pk",
        partition_value="T#acme#ISSUES",
        sort_attribute="gsi1sk",
        tenant_prefix="T#acme",
    )
    assert decoded == key


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "a" * 3000,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        forge([1, 2]),
        forge({"v": 2, "k": KEY}),
        forge({"v": 1, "k": "x"}),
        forge({"v": 1, "k": {"pk": "T#acme"}}),  # missing the sort key
        forge({"v": 1, "k": {**KEY, "extra": "x"}}),
        forge({"v": 1, "k": {"pk": "T#acme", "sk": 5}}),
        forge({"v": 1, "k": {"pk": "T#other", "sk": "CONN#x"}}),  # another tenant's partition
        forge({"v": 1, "k": {"pk": "T#acme", "sk": "APIKEY#x"}}),  # another listing of the same partition
        forge({"v": 1, "k": {"pk": "T#acme-evil", "sk": "CONN#x"}}),
    ],
)
def test_tampered_or_foreign_cursors_are_a_400(cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(cursor, **QUERY)  # type: ignore[arg-type]
    assert caught.value.status == 400
    assert caught.value.code == "INVALID_CURSOR"


def test_gsi_cursor_must_point_into_the_tenant() -> None:
    key = {"pk": "T#other#CONN#c", "sk": "ISSUE#x", "gsi1pk": "T#acme#ISSUES", "gsi1sk": "2026#c.1"}
    with pytest.raises(InvalidInput):
        decode_cursor(
            encode_cursor(key),
            key_attributes=("pk", "sk", "gsi1pk", "gsi1sk"),
            partition_attribute="gsi1pk",
            partition_value="T#acme#ISSUES",
            sort_attribute="gsi1sk",
            tenant_prefix="T#acme",
        )
