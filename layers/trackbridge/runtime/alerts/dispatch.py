"""Delivering one send from the outbox: a few attempts now, then the maintenance run's, and every outcome
recorded where ``channel_health`` reads it.

A send (``domain.alerts.AlertSend``) is in DynamoDB before its first attempt, so a crash loses nothing:
the maintenance run finds it pending. :meth:`Dispatcher.deliver` tries it up to ``attempts`` times with
doubling waits (or the receiver's ``Retry-After``, when short enough to wait out in the call), then:

- delivered: the send is deleted and the channel's last success recorded;
- refused for good (a Slack channel archived, a URL the outbound policy refuses) or tried
  ``MAX_SEND_ATTEMPTS`` times: kept as ``abandoned``, counted by ``channel_health``;
- otherwise: pending until ``next_attempt_at`` (doubling, capped at an hour), for the maintenance run.

Each failed attempt records the channel's last failure at once, so health shows a flaky channel even when
its second attempt succeeds. Log lines name the tenant, channel and code, never a URL or a message body.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from trackbridge.domain.alerts import MAX_SEND_ATTEMPTS, AlertSend, next_attempt_at
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.times import utcnow
from trackbridge.runtime.alerts.channels import Channel, ChannelFailure
from trackbridge.runtime.observability import logger


class ChannelSource(Protocol):
    def build(self, tenant: str, name: str) -> Channel:
        """The channel ``name`` of ``tenant``, ready to send; ChannelFailure when it cannot be built."""
        ...


class SendStore(Protocol):
    def delivered(self, tenant: str, send: AlertSend) -> None: ...
    def failed(self, tenant: str, send: AlertSend) -> None: ...


class StatusStore(Protocol):
    def succeeded(self, tenant: str, channel: str, at: datetime) -> None: ...
    def failed(self, tenant: str, channel: str, at: datetime, *, code: str, error: str) -> None: ...


class Dispatcher:
    def __init__(
        self,
        channels: ChannelSource,
        sends: SendStore,
        statuses: StatusStore,
        *,
        attempts: int = 3,
        first_wait_s: float = 0.5,
        max_wait_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = channels
        self.sends = sends
        self.statuses = statuses
        self.attempts = attempts
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.sleep = sleep

    def _attempt(self, tenant: str, send: AlertSend) -> ChannelFailure | None:
        """One try; the failure, recorded, or None once delivered."""
        try:
            self.channels.build(tenant, send.channel).send(send.message, delivery_id=send.id)
        except ChannelFailure as failure:
            self.statuses.failed(tenant, send.channel, self.clock(), code=failure.code, error=failure.detail)
            return failure
        return None

    def _wait(self, failure: ChannelFailure, tries: int) -> float | None:
        """How long to wait before the next try in this call; None: leave it to the maintenance run."""
        if failure.permanent or tries >= self.attempts:
            return None
        wait = self.first_wait_s * 2 ** (tries - 1)
        if failure.retry_after_s is not None:
            wait = max(wait, failure.retry_after_s)
        return wait if wait <= self.max_wait_s else None

    def deliver(self, tenant: str, send: AlertSend) -> bool:
        """Try ``send`` now (bounded); True once delivered. Never raises for a channel's failure."""
        failure: ChannelFailure | None = None
        tries = 0
        while tries < self.attempts:
            tries += 1
            failure = self._attempt(tenant, send)
            if failure is None:
                self.sends.delivered(tenant, send)
                self.statuses.succeeded(tenant, send.channel, self.clock())
                return True
            wait = self._wait(failure, tries)
            if wait is None:
                break
            self.sleep(wait)
        assert failure is not None  # the loop ran at least once and did not return
        self._keep(tenant, send, failure, tries)
        return False

    def _keep(self, tenant: str, send: AlertSend, failure: ChannelFailure, tries: int) -> None:
        now = self.clock()
        attempts = send.attempts + tries
        abandoned = failure.permanent or attempts >= MAX_SEND_ATTEMPTS
        kept = send.model_copy(
            update={
                "attempts": attempts,
                "state": "abandoned" if abandoned else "pending",
                "next_attempt_at": now
                if abandoned
                else next_attempt_at(now, attempts, failure.retry_after_s),
                "last_error_code": failure.code,
                "last_error": failure.detail,
            }
        )
        self.sends.failed(tenant, kept)
        event = "alerts.send_abandoned" if abandoned else "alerts.send_deferred"
        logger.warning(
            event,
            extra={
                "tenant": tenant,
                "channel": send.channel,
                "send_id": send.id,
                "error_code": failure.code,
                "attempts": attempts,
            },
        )


def unusable(detail: str) -> ChannelFailure:
    """The failure of a channel that cannot be built (deleted, or its secret gone): no retry helps."""
    return ChannelFailure(ErrorCode.NOT_FOUND, detail, permanent=True)


__all__ = ["ChannelSource", "Dispatcher", "SendStore", "StatusStore", "unusable"]
