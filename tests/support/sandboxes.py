"""Handing a session's sandbox tracker to one test: started once per process, reset for every test."""

from __future__ import annotations

from typing import Any, TypeVar

from infra.local.trackers.core import SandboxTracker

_S = TypeVar("_S", bound=SandboxTracker[Any])


def fresh(sandbox: _S) -> _S:
    """``sandbox`` on the real clock and re-seeded: data, hooks, faults and counters as if just started."""
    sandbox.clock.unfreeze()
    sandbox.reset()
    return sandbox
