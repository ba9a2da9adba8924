"""Validated pagination cursors: storage's plain form, which the API seals before a client sees it.

A cursor here is the base64url of the DynamoDB key a page ended at. Internal callers use it as it is (a sync
sweep keeps its cursor in its checkpoint, which must outlive a rotation of the API's cursor key); the API
encrypts and authenticates it for clients (``runtime.api.cursors``). A decoded cursor is still trusted only
after it is checked against the query it is used with: exactly the key attributes of that table or index,
all strings, the same partition value as the query, a sort key under the listing's prefix (a cursor of the
connections listing cannot page the API keys of the same partition), and a table key inside the calling
tenant's keyspace. Whatever fails these checks is a 400 ``INVALID_CURSOR``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping

from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.pagination import MAX_CURSOR_LENGTH, invalid_cursor
from trackbridge.storage.keys import PK

_VERSION = 1


def _invalid() -> InvalidInput:
    return invalid_cursor()


def encode_cursor(key: Mapping[str, str]) -> str:
    raw = json.dumps({"v": _VERSION, "k": dict(key)}, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(
    cursor: str,
    *,
    key_attributes: Iterable[str],
    partition_attribute: str,
    partition_value: str,
    sort_attribute: str,
    sort_prefix: str | None = None,
    tenant_prefix: str | None = None,
) -> dict[str, str]:
    """The start key a cursor stands for, or InvalidInput when it does not belong to this query."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    if (
        not isinstance(decoded, dict)
        or decoded.get("v") != _VERSION
        or not isinstance(decoded.get("k"), dict)
    ):
        raise _invalid()
    key = decoded["k"]
    if set(key) != set(key_attributes) or not all(isinstance(v, str) and v for v in key.values()):
        raise _invalid()
    if key[partition_attribute] != partition_value:
        raise _invalid()
    if sort_prefix is not None and not key[sort_attribute].startswith(sort_prefix):
        raise _invalid()
    if tenant_prefix is not None and not (
        key[PK] == tenant_prefix or key[PK].startswith(tenant_prefix + "#")
    ):
        raise _invalid()
    return {str(k): str(v) for k, v in key.items()}


__all__ = ["decode_cursor", "encode_cursor"]
