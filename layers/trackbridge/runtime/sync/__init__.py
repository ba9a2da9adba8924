"""The sync engine (DESIGN sections 5 and 10): slices, checkpoints, continuations, parking and cancel.

Modules, outermost first:

* ``handler``: one queue message -> one slice (or a scheduled start); ``service``: the API's use cases;
* ``engine``: runs a slice (claim, pages, checkpoint writes, continue / park / fail / complete);
* ``syncers``: one page of one pass per entity, chosen by the adapter's declared capabilities;
  ``deletion_check``: the id listings of the deletion check; ``writer``: a page's conditional writes;
* ``checkpoint``: the state machine, the one place an entity's checkpoint, high-water mark, state and the
  operation's counters move;
* ``ports``: what the engine and the service need of storage and time, as Protocols the DynamoDB
  repositories satisfy structurally; ``queue``, ``adapters``, ``schedules``: the other collaborators.
"""

from __future__ import annotations

from trackbridge.runtime.sync.engine import EngineConfig, SliceOutcome, SyncEngine
from trackbridge.runtime.sync.service import SyncService

__all__ = ["EngineConfig", "SliceOutcome", "SyncEngine", "SyncService"]
