"""The adapters tracker actions use: one per connection per process, leased, rebuilt when stale.

The pool is given its adapter factory (the composition root passes ``sync.adapters.AdapterBuilder``), so it
imports nothing that builds clients; the retry and timeout options are the API's, tighter than a sync's.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from trackbridge.domain.connections import Connection
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import AuthenticationError
from trackbridge.providers.retry import RetryPolicy

# An API request must answer within API Gateway's 29 s: fewer, shorter retries than a sync slice, and no
# in-process wait for a rate limit longer than 5 s (the client gets 429 with Retry-After instead).
API_RETRY = RetryPolicy(
    max_attempts=3, base_delay_s=0.25, max_delay_s=2.0, max_wait_s=5.0, max_rate_limit_waits=1
)
API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
API_ADAPTER_OPTIONS: Mapping[str, Any] = {"retry": API_RETRY, "timeout": API_TIMEOUT}


class CredentialSource(Protocol):
    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None: ...


AdapterFactory = Callable[..., TrackerAdapter]


@dataclass
class _Pooled:
    adapter: TrackerAdapter
    version: int
    expires_at: float
    users: int = 0
    retired: bool = False


class AdapterPool:
    """One adapter (one httpx client, one credentials read) per connection per process, for ``ttl_s``.

    An entry is rebuilt when the connection's version changes (a PATCH may have rotated its credentials) or
    its time is up. Adapters are leased, so one retired while a request still uses it is closed when that
    request returns, never under it. At most ``max_size`` connections are kept (least recently used go).
    """

    def __init__(
        self,
        secrets: CredentialSource,
        *,
        factory: AdapterFactory,
        options: Mapping[str, Any] = API_ADAPTER_OPTIONS,
        ttl_s: float = 300.0,
        max_size: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secrets = secrets
        self.factory = factory
        self.options = dict(options)
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], _Pooled] = OrderedDict()
        self._lock = threading.Lock()

    def build(self, tenant: str, connection: Connection) -> TrackerAdapter:
        """A new adapter the caller owns (and closes)."""
        credentials = self.secrets.credentials(tenant, connection.id)
        if not credentials:
            raise AuthenticationError(
                "the connection has no stored credentials",
                code=ErrorCode.AUTH_INVALID,
                provider=connection.provider,
                guidance="Set credentials with PATCH /v1/connections/{id}.",
            )
        return self.factory(connection, credentials, **self.options)

    @contextmanager
    def lease(self, tenant: str, connection: Connection) -> Iterator[TrackerAdapter]:
        entry = self._acquire(tenant, connection)
        try:
            yield entry.adapter
        finally:
            with self._lock:
                entry.users -= 1
                close = entry.retired and entry.users == 0
            if close:
                entry.adapter.close()

    def _acquire(self, tenant: str, connection: Connection) -> _Pooled:
        key = (tenant, connection.id)
        to_close: list[TrackerAdapter] = []
        with self._lock:
            now = self.clock()
            entry = self._entries.get(key)
            if entry is not None and (entry.version != connection.version or entry.expires_at <= now):
                to_close.extend(self._retire(key))
                entry = None
            if entry is None:
                entry = _Pooled(self.build(tenant, connection), connection.version, now + self.ttl_s)
                self._entries[key] = entry
                while len(self._entries) > self.max_size:
                    to_close.extend(self._retire(next(iter(self._entries))))
            self._entries.move_to_end(key)
            entry.users += 1
        for adapter in to_close:
            adapter.close()
        return entry

    def _retire(self, key: tuple[str, str]) -> list[TrackerAdapter]:
        entry = self._entries.pop(key)
        entry.retired = True
        return [entry.adapter] if entry.users == 0 else []

    def close(self) -> None:
        with self._lock:
            to_close = [a for key in list(self._entries) for a in self._retire(key)]
        for adapter in to_close:
            adapter.close()


__all__ = [
    "API_ADAPTER_OPTIONS",
    "API_RETRY",
    "API_TIMEOUT",
    "AdapterFactory",
    "AdapterPool",
    "CredentialSource",
]
