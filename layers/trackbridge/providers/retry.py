"""How long and how often an adapter retries before it gives up and raises.

Two budgets, kept apart because they mean different things:

- **transient failures** (5xx, timeouts, refused or reset connections): at most ``max_attempts`` tries in
  all, sleeping a jittered exponential backoff between them ("full jitter": uniform between 0 and the
  capped exponential, which spreads a crowd of clients best). Only requests that are safe to repeat are
  retried: idempotent methods, or any method when the connection failed before the request was sent.
- **rate limits** (429, GitHub's 403 with ``x-ratelimit-remaining: 0``, secondary limits): the tracker says
  how long to wait. Waits up to ``max_wait_s`` are slept in-process (at most ``max_rate_limit_waits``
  times); a longer one raises :class:`~trackbridge.providers.errors.RateLimitedError` at once so the sync
  engine can park the slice until the reset instead of burning Lambda time asleep.

4xx other than rate limits are never retried: the same request would fail the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_wait_s: float = 30.0
    max_rate_limit_waits: int = 2
    # When a 429 carries no hint at all: wait this long (then count it as one rate-limit wait).
    unhinted_rate_limit_wait_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay_s, self.max_delay_s, self.max_wait_s) < 0 or self.max_rate_limit_waits < 0:
            raise ValueError("delays and wait counts must not be negative")

    def backoff_s(self, retry_number: int, rng: random.Random) -> float:
        """Sleep before retry ``retry_number`` (1 = first retry): full jitter over a capped exponential."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** max(0, retry_number - 1)))
        return rng.uniform(0.0, ceiling)

    def rate_limit_sleep_s(self, wait_s: float, rng: random.Random) -> float:
        """The tracker's wait plus jitter (up to 10 %, at most 1 s) so clients do not all return at once."""
        return wait_s + rng.uniform(0.0, min(1.0, wait_s * 0.1))

    @property
    def bound(self) -> int:
        """Upper bound on requests one call may send: every loop over attempts stops by itself."""
        return self.max_attempts + self.max_rate_limit_waits


NO_RETRY = RetryPolicy(max_attempts=1, max_rate_limit_waits=0, max_wait_s=0.0)

__all__ = ["IDEMPOTENT_METHODS", "NO_RETRY", "RetryPolicy"]
