"""The in-page cancel check: at most one operation read per interval, never on a page's first request."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from trackbridge.runtime.sync.engine import EngineConfig, OperationCancelled, _CancelGuard


class FakeEngine:
    def __init__(self, interval: float, *, cancelled: bool = False) -> None:
        self.config = EngineConfig(cancel_check_interval_s=interval)
        self.reads = 0
        self.cancelled = cancelled

    def cancel_requested(self, run: Any) -> bool:
        self.reads += 1
        return self.cancelled


def _requests(guard: _CancelGuard, adapter: Any, times: list[float], now: list[float]) -> None:
    for t in times:
        now[0] = t
        adapter.stats.requests += 1
        guard(None)


def test_checks_at_most_once_per_interval_and_skips_the_page_s_first_request() -> None:
    # Given: a page starting after 10 counted requests, a 1 s interval and a fake clock
    engine, adapter, now = FakeEngine(1.0), SimpleNamespace(stats=SimpleNamespace(requests=10)), [0.0]
    guard = _CancelGuard(engine, SimpleNamespace(), adapter, clock=lambda: now[0])  # type: ignore[arg-type]
    guard.step_started(10)

    # When: six requests, the first at 0.0 s (the page's first), then 0.1, 0.5, 1.2, 1.3 and 2.3 s
    _requests(guard, adapter, [0.0, 0.1, 0.5, 1.2, 1.3, 2.3], now)

    # Then: reads at 0.1, 1.2 and 2.3 s only
    assert engine.reads == 3


def test_interval_zero_checks_every_request_and_a_cancel_stops_the_page() -> None:
    engine, adapter, now = (
        FakeEngine(0, cancelled=True),
        SimpleNamespace(stats=SimpleNamespace(requests=0)),
        [0.0],
    )
    guard = _CancelGuard(
        engine, SimpleNamespace(op=SimpleNamespace(id="op_x")), adapter, clock=lambda: now[0]
    )  # type: ignore[arg-type]
    guard.step_started(0)

    _requests(guard, adapter, [0.0], now)  # the page's first request follows a checkpoint: not checked
    with pytest.raises(OperationCancelled):
        _requests(guard, adapter, [0.0], now)
    assert engine.reads == 1
