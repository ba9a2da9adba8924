"""Webhooks: the webhook function (verify, dedupe, enqueue, 202) and the apply function behind it.

The webhook function only acknowledges fast; applying a change talks to DynamoDB and maybe the tracker, so it
runs behind the FIFO inbound queue (grouped by issue, so one issue's changes apply in order) with its
concurrency capped.
"""

from __future__ import annotations

from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.data import Data
from infra.constructs.function import FunctionKit, TrackbridgeFunction
from infra.constructs.queues import WorkQueue
from infra.constructs.secrets import SecretsScope


class Webhooks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        data: Data,
        inbound: WorkQueue,
        secrets: SecretsScope,
        alerts: Alerts,
    ) -> None:
        super().__init__(scope, construct_id)
        self.webhook = TrackbridgeFunction(self, "Webhook", key="webhook", kit=kit)
        # Delivery dedupe items and the connection lookup.
        data.grant_read_write(self.webhook)
        inbound.queue.grant_send_messages(self.webhook.function)
        # The connection's webhook secrets, to verify signatures.
        secrets.grant_read(self.webhook)

        self.apply = TrackbridgeFunction(self, "Apply", key="apply", kit=kit)
        self.apply.consume(inbound)
        data.grant_read_write(self.apply)
        # A thin webhook payload is completed from the tracker with the connection's credentials.
        secrets.grant_tracker_credentials(self.apply)
        alerts.grant_publish(self.apply)


__all__ = ["Webhooks"]
