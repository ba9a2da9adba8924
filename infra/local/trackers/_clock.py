"""Time for the sandbox trackers: one controllable clock and second-precision ISO 8601 helpers.

Seeded data lies before :data:`SEED_EPOCH`, a fixed instant, so a seed always produces the same timestamps;
mutations use :meth:`Clock.now`, which is real time unless a test freezes or advances it (page drift and
``since`` cursors are easier to test when "now" is under the test's control).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

# 2025-01-01T00:00:00Z: seeded items are created and updated before this instant.
SEED_EPOCH = 1_735_689_600


class Clock:
    """Epoch seconds, real by default; ``freeze``/``advance`` let a test decide what "now" is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: int | None = None
        self._offset = 0

    def now(self) -> int:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return int(time.time()) + self._offset

    def freeze(self, at: int | None = None) -> None:
        """Stop the clock at ``at`` (default: the current reading)."""
        current = self.now()
        with self._lock:
            self._frozen = current if at is None else int(at)

    def advance(self, seconds: int) -> None:
        """Move "now" forward; a frozen clock stays frozen at the new instant."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += int(seconds)
            else:
                self._offset += int(seconds)

    def unfreeze(self) -> None:
        with self._lock:
            self._frozen = None
            self._offset = 0


def iso_z(epoch: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: GitHub's (and GitLab's second-precision) timestamp shape."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_iso(text: str) -> int:
    """Epoch seconds from an ISO 8601 timestamp (``Z`` or an offset; a bare date means midnight UTC).

    Raises ``ValueError`` on anything else, so a caller can answer with its provider's 4xx.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())
