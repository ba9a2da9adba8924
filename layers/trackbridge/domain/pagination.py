"""One page of a listing: ``{"items": [...], "next_cursor"}`` (DESIGN section 9).

The cursor is opaque to callers; storage builds and checks it. ``next_cursor`` is None on the last page.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 2048


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


__all__ = ["DEFAULT_PAGE_SIZE", "MAX_CURSOR_LENGTH", "MAX_PAGE_SIZE", "Page"]
