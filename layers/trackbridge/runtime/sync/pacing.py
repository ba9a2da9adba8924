"""What the trackers said about their rate limits during a sync, for the back-off ladder to slow down by.

A sync's adapters are built and closed inside the engine; :class:`RateLimitWatch` wraps the adapter
factory the engine is given and remembers, per connection, the last adapter built for it. When an
operation ends, ``SyncService.finished`` asks :meth:`near_limit_until`: the adapter's last rate-limit view
(``TrackerAdapter.last_rate_limit``, read from every response) says whether the tracker's budget is nearly
spent (Jira's ``X-Beta-RateLimit-NearLimit``, a points quota under 20%) and when it resets. Only one
operation runs per connection at a time, so "the last adapter of the connection" is that operation's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from trackbridge.domain.connections import Connection
from trackbridge.providers.base import TrackerAdapter

# When a tracker says it is near its limit but not when the limit resets: slow down for this long.
DEFAULT_NEAR_LIMIT_HOLD = timedelta(hours=1)


class RateLimitWatch:
    """An adapter factory (the engine's ``adapter_factory``) that remembers each connection's last adapter."""

    def __init__(self, factory: Callable[..., TrackerAdapter]) -> None:
        self.factory = factory
        self._lock = threading.Lock()
        self._last: dict[str, TrackerAdapter] = {}

    def __call__(
        self, connection: Connection, credentials: Mapping[str, Any], **options: Any
    ) -> TrackerAdapter:
        adapter = self.factory(connection, credentials, **options)
        with self._lock:
            self._last[connection.id] = adapter
        return adapter

    def near_limit_until(self, connection_id: str, now: datetime) -> datetime | None:
        """Until when the connection's tracker asked to be spared (None: it did not); forgets the adapter."""
        with self._lock:
            adapter = self._last.pop(connection_id, None)
        info = getattr(adapter, "last_rate_limit", None)
        if info is None or not info.near_limit:
            return None
        until = info.resume_at(now)
        return until if until is not None and until > now else now + DEFAULT_NEAR_LIMIT_HOLD


__all__ = ["DEFAULT_NEAR_LIMIT_HOLD", "RateLimitWatch"]
