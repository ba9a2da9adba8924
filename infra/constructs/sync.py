"""Sync: the sync function behind the sync queue.

Schedules (through the scheduler role), the api and the maintenance job put work on the sync queue; the
function works one message at a time (batch size 1: a slice uses most of the 900 s budget) and re-enqueues
a continuation before its time runs out, so it both consumes and sends to the same queue.
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.data import Data
from infra.constructs.function import FunctionKit, TrackbridgeFunction
from infra.constructs.queues import WorkQueue
from infra.constructs.scheduling import Scheduling
from infra.constructs.secrets import SecretsScope


class Sync(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        data: Data,
        sync_queue: WorkQueue,
        secrets: SecretsScope,
        alerts: Alerts,
        scheduling: Scheduling,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = TrackbridgeFunction(self, "Sync", key="sync", kit=kit)
        self.handler.consume(sync_queue)
        # Continuations and parked slices (delayed messages, chained when a reset is beyond 900 s).
        sync_queue.queue.grant_send_messages(self.handler.function)
        data.grant_read_write(self.handler)
        secrets.grant_tracker_credentials(self.handler)
        alerts.grant_publish(self.handler)
        # The back-off ladder moves the connection's schedule (runtime.schedule_admin.ScheduleLadder).
        scheduling.grant_manage_schedules(self.handler)


__all__ = ["Sync"]
