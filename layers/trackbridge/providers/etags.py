"""ETags per listing URL, so an idle sync costs 304s instead of full pages (and no GitHub quota).

The sync engine owns persistence: it builds an :class:`ETagCache` from what it stored in its SyncState
(:meth:`ETagCache.from_dict`), hands it to the adapter, and stores :meth:`ETagCache.to_dict` with the next
checkpoint. Each entry keeps the page's next cursor beside the ETag, because a 304 has no body and may have
no ``Link`` header: without the remembered cursor a listing could not go past an unchanged page.

The cache is bounded (oldest entries go first) so a SyncState item cannot grow without limit, and loading
is forgiving: an entry that is not well-formed is dropped, never an exception (stored data may rot).

One cache may be read and written by several threads sharing an adapter: every access takes the cache's
lock, so an eviction never races a lookup and :meth:`ETagCache.to_dict` never sees a dict mid-change.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trackbridge.providers.pagination import PageCursor

DEFAULT_MAX_ENTRIES = 200


@dataclass(frozen=True, slots=True)
class CachedPage:
    etag: str
    next_cursor: PageCursor | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"etag": self.etag}
        if self.next_cursor is not None:
            data["next"] = self.next_cursor.to_dict()
        return data


class ConditionalCache(Protocol):
    """What the adapter needs from a cache; :class:`ETagCache` is the stock implementation."""

    def get(self, key: str) -> CachedPage | None: ...

    def put(self, key: str, page: CachedPage) -> None: ...


class ETagCache:
    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._entries: dict[str, CachedPage] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedPage | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, page: CachedPage) -> None:
        with self._lock:
            self._entries.pop(key, None)  # re-insert: the dict's order is the eviction order
            self._entries[key] = page
            while len(self._entries) > self._max:
                self._entries.pop(next(iter(self._entries)))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def to_dict(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            entries = list(self._entries.items())
        return {key: page.to_dict() for key, page in entries}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, *, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> ETagCache:
        cache = cls(max_entries=max_entries)
        if not isinstance(data, Mapping):
            return cache
        for key, raw in data.items():
            if not isinstance(key, str) or not isinstance(raw, Mapping):
                continue
            etag = raw.get("etag")
            if not isinstance(etag, str) or not etag:
                continue
            next_cursor: PageCursor | None = None
            if raw.get("next") is not None:
                try:
                    next_cursor = PageCursor.from_dict(raw["next"])
                except ValueError:
                    continue
            cache.put(key, CachedPage(etag, next_cursor))
        return cache


__all__ = ["CachedPage", "ConditionalCache", "ETagCache"]
