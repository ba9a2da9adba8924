"""Pagination that is computed, not copied: sorted key indexes, page arithmetic and RFC 8288 Link headers.

A sandbox holding 100,000 issues must answer a 100-item page in milliseconds, so providers keep their items
in a list addressed by number plus :class:`SortedKeys` indexes (kept sorted on every write with ``bisect``),
and a page is a slice of an index, never a filtered copy of the data. Filters the indexes cannot answer
go through :class:`ViewCache`: computed once per data version and reused by every later page of the walk.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode


class SortedKeys:
    """A list of comparable keys (usually tuples such as ``(updated_at, number)``) kept in order.

    Insert and remove are ``O(log n)`` searches plus one ``memmove``; ranges are ``bisect`` lookups.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[Any] = ()) -> None:
        self._keys: list[Any] = sorted(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys)

    def __getitem__(self, index: slice) -> list[Any]:
        return self._keys[index]

    def add(self, key: Any) -> None:
        bisect.insort(self._keys, key)

    def remove(self, key: Any) -> None:
        index = bisect.bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] == key:
            del self._keys[index]

    def replace(self, old: Any, new: Any) -> None:
        self.remove(old)
        self.add(new)

    def index_at_or_after(self, key: Any) -> int:
        """Position of the first key ``>= key``."""
        return bisect.bisect_left(self._keys, key)

    def keys(self) -> list[Any]:
        """The underlying sorted list (do not mutate it)."""
        return self._keys


class ListWindow(Sequence[Any]):
    """A read-only window ``[start, stop)`` over a list, optionally reversed and projected, never copied.

    ``ListWindow(index.keys(), start, reverse=True, project=lambda key: key[1])`` is "numbers by updated,
    newest first, from ``start`` on"; slicing it copies only the slice.
    """

    __slots__ = ("_items", "_project", "_reverse", "_start", "_stop")

    def __init__(
        self,
        items: list[Any],
        start: int = 0,
        stop: int | None = None,
        *,
        reverse: bool = False,
        project: Callable[[Any], Any] | None = None,
    ) -> None:
        self._items = items
        self._start = max(start, 0)
        self._stop = len(items) if stop is None else min(stop, len(items))
        self._reverse = reverse
        self._project = project

    def __len__(self) -> int:
        return max(self._stop - self._start, 0)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            lo, hi, step = index.indices(len(self))
            if step != 1:
                raise ValueError("ListWindow supports contiguous slices only")
            if self._reverse:
                chunk = self._items[max(self._stop - hi, self._start) : self._stop - lo][::-1]
            else:
                chunk = self._items[self._start + lo : self._start + hi]
            return [self._project(item) for item in chunk] if self._project else chunk
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(index)
        item = (
            self._items[self._stop - 1 - position] if self._reverse else self._items[self._start + position]
        )
        return self._project(item) if self._project else item


class ViewCache:
    """Filtered, ordered key lists memoised per ``(query, data version)``.

    The first page of a walk computes the view once; every later page slices it. Any write bumps the
    version (``SandboxTracker.touch``), so a client paging while data changes sees drift exactly as it would
    on the real service.
    """

    def __init__(self, capacity: int = 32) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[Hashable, int], Sequence[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: Hashable, version: int, compute: Callable[[], Sequence[Any]]) -> Sequence[Any]:
        key = (query, version)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        value = compute()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def last_page(total: int, per_page: int) -> int:
    """Number of the last page (1-based); an empty listing still has page 1."""
    return max(1, math.ceil(total / per_page)) if per_page > 0 else 1


def page_slice(page: int, per_page: int) -> slice:
    """The slice of an ordered view that 1-based ``page`` covers."""
    start = (max(page, 1) - 1) * per_page
    return slice(start, start + per_page)


def page_url(base_url: str, path: str, params: dict[str, str], **changes: Any) -> str:
    """``base_url + path`` with ``params`` updated by ``changes`` (``None`` removes a parameter)."""
    merged = dict(params)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    query = urlencode(merged)
    return f"{base_url}{path}?{query}" if query else f"{base_url}{path}"


def link_header(links: Sequence[tuple[str, str]]) -> str | None:
    """RFC 8288 ``Link`` value from ``(rel, url)`` pairs; ``None`` when there is nothing to link."""
    if not links:
        return None
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links)


def numbered_page_links(
    url_for_page: Callable[[int], str],
    page: int,
    last: int,
    *,
    order: Sequence[str] = ("prev", "next", "last", "first"),
) -> list[tuple[str, str]]:
    """``prev``/``next``/``last``/``first`` links for page-number pagination.

    Nothing when everything fits on one page (GitHub and GitLab omit the header then); ``prev``/``first``
    only after page 1, ``next``/``last`` only before the last page. ``order`` is the provider's own order.
    """
    if last <= 1 and page <= 1:
        return []
    available: dict[str, int] = {}
    if page > 1:
        available["prev"] = min(page - 1, last)
        available["first"] = 1
    if page < last:
        available["next"] = page + 1
        available["last"] = last
    return [(rel, url_for_page(available[rel])) for rel in order if rel in available]
