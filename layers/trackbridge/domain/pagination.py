"""One page of a listing: ``{"items": [...], "next_cursor"}`` (DESIGN section 9).

The cursor is opaque to callers. Storage builds a plain one (the DynamoDB key a page ended at) and checks it
against the query it comes back to; the API seals it before it leaves (``runtime.api.cursors``: encrypted
and authenticated, bound to the tenant and the listing), so a client can neither read nor forge one.
``next_cursor`` is None on the last page. Either layer refuses a cursor it did not issue with
:func:`invalid_cursor`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from trackbridge.domain.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 2048
INVALID_CURSOR = "INVALID_CURSOR"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def invalid_cursor() -> InvalidInput:
    """400 ``INVALID_CURSOR``: tampered, truncated, from another listing or tenant, or from an older key."""
    return InvalidInput(
        "invalid cursor",
        code=INVALID_CURSOR,
        guidance="pass next_cursor exactly as a previous page of the same listing returned it, or start the "
        "listing again without a cursor",
    )


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "INVALID_CURSOR",
    "MAX_CURSOR_LENGTH",
    "MAX_PAGE_SIZE",
    "Page",
    "invalid_cursor",
]
