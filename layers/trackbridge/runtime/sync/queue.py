"""The sync queue as the engine sees it: send a message, now or after a delay of at most 900 s."""

from __future__ import annotations

from typing import Any, Protocol

from trackbridge.domain.sync_plan import MAX_SQS_DELAY_S, ContinueMessage, ScheduledMessage, StartMessage

Message = StartMessage | ContinueMessage | ScheduledMessage


class SyncQueue(Protocol):
    def send(self, message: Message, *, delay_s: int = 0) -> None: ...


class SqsSyncQueue:
    """The SQS sync queue (standard, so per-message ``DelaySeconds`` works)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, message: Message, *, delay_s: int = 0) -> None:
        if not self.queue_url:
            raise RuntimeError("TB_SYNC_QUEUE_URL is not set: the sync queue is unknown")
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=max(0, min(MAX_SQS_DELAY_S, int(delay_s))),
        )


__all__ = ["Message", "SqsSyncQueue", "SyncQueue"]
