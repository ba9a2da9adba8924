"""Primary rate limits per principal, in fixed windows, with a fault hook to exhaust them on demand.

Providers own the headers and the error (GitHub's ``x-ratelimit-*`` and 403, GitLab's ``RateLimit-*`` and
429, ...); this module only counts. Reset times are real epoch seconds because clients compare them with
their own clock. A provider with more than one bucket (GitHub's ``search`` resource: 30 a minute beside
``core``'s 5000 an hour) gives that bucket its own key and ``window_s``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateBucket:
    """One principal's standing in the current window, as a provider renders it in headers."""

    limit: int
    remaining: int
    used: int
    reset: int  # epoch seconds at which the window (or an injected exhaustion) ends
    resource: str = "core"

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0


class RateLimiter:
    """Fixed-window counters keyed by principal (token), plus a global "exhausted until" override."""

    def __init__(self, window_s: int) -> None:
        self._window_s = window_s
        self._lock = threading.Lock()
        # key -> (window start, used)
        self._windows: dict[str, tuple[int, int]] = {}
        self._exhausted_until = 0

    def _window(self, key: str, now: int, window_s: int) -> tuple[int, int]:
        start, used = self._windows.get(key, (now, 0))
        if now >= start + window_s:
            start, used = now, 0
        self._windows[key] = (start, used)
        return start, used

    def peek(
        self, key: str, limit: int, *, resource: str = "core", window_s: int | None = None
    ) -> RateBucket:
        """``key``'s standing, not charged; ``window_s`` overrides the limiter's window for this key."""
        window = window_s or self._window_s
        now = int(time.time())
        with self._lock:
            start, used = self._window(key, now, window)
            if now < self._exhausted_until:
                return RateBucket(limit, 0, max(used, limit), self._exhausted_until, resource)
            return RateBucket(limit, max(limit - used, 0), used, start + window, resource)

    def charge(
        self,
        key: str,
        limit: int,
        *,
        cost: int = 1,
        resource: str = "core",
        window_s: int | None = None,
    ) -> RateBucket:
        """Count ``cost`` requests against ``key`` and return the standing after them."""
        window = window_s or self._window_s
        now = int(time.time())
        with self._lock:
            start, used = self._window(key, now, window)
            if now >= self._exhausted_until:
                used = min(used + cost, limit)
                self._windows[key] = (start, used)
        return self.peek(key, limit, resource=resource, window_s=window)

    def exhaust(self, seconds: float) -> int:
        """Every principal has 0 remaining until now + ``seconds``; returns that reset time."""
        with self._lock:
            self._exhausted_until = int(time.time() + seconds + 0.999)
            return self._exhausted_until

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
            self._exhausted_until = 0
