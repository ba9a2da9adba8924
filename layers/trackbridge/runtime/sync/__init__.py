"""The sync engine (DESIGN sections 5 and 10): slices, checkpoints, continuations, parking and cancel."""

from __future__ import annotations

from trackbridge.runtime.sync.engine import EngineConfig, SliceOutcome, SyncEngine
from trackbridge.runtime.sync.service import SyncService

__all__ = ["EngineConfig", "SliceOutcome", "SyncEngine", "SyncService"]
