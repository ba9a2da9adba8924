"""The embedded stack's EventBridge Scheduler: fires the schedules stored in moto, which never does.

Every second it lists the schedules of the stack's group, reads each one, works out from its expression,
time zone, state and start/end dates whether it is due, and delivers the target the way Scheduler does: an
SQS queue gets ``Target.Input`` as the message body (with the FIFO group id from ``SqsParameters``), one of
our Lambda functions is invoked in-process with the input, an EventBridge bus gets a PutEvents entry.
One-time ``at()`` schedules with ``ActionAfterCompletion=DELETE`` are deleted after they fire.

It also stands in for the EventBridge rule that runs ``scheduler_maintenance`` every 15 minutes.

Missed fires are not replayed: a due schedule fires once and its next fire is computed from now. The
clock is injectable, so tests move time instead of waiting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from infra.definition import APP
from infra.local.invoke import LocalFunctions
from infra.local.provision import MOTO_ACCOUNT_ID, LocalResources
from infra.local.worker import WorkerLifecycle, WorkerThread
from trackbridge.domain.schedules import (
    InvalidScheduleExpression,
    InvalidTimeZone,
    RateExpression,
    ScheduleExpression,
    parse_schedule_expression,
)

logger = logging.getLogger(__name__)

MAINTENANCE_FUNCTION = "scheduler_maintenance"
MAINTENANCE_EVERY = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def scheduled_event(*, region: str, rule_arn: str, time: datetime) -> dict[str, Any]:
    """An EventBridge "Scheduled Event", as a rate/cron rule delivers it to Lambda."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": MOTO_ACCOUNT_ID,
        "time": _utc(time).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass
class _Tracked:
    """What the scheduler remembers about one schedule between ticks."""

    modified: datetime
    cursor: datetime  # fires strictly after this moment are still to come
    schedule: dict[str, Any]
    fired: int = 0


@dataclass(frozen=True)
class Fired:
    name: str
    target_arn: str
    at: datetime


class LocalScheduler(WorkerLifecycle):
    """Polls moto's Scheduler for ``resources.schedule_group`` and fires what is due."""

    def __init__(
        self,
        resources: LocalResources,
        functions: LocalFunctions,
        *,
        clock: Callable[[], datetime] = utc_now,
        interval_s: float = 1.0,
        maintenance_every: timedelta | None = MAINTENANCE_EVERY,
    ) -> None:
        self._resources = resources
        self._functions = functions
        self._clock = clock
        self._scheduler = resources.client("scheduler")
        self._sqs = resources.client("sqs")
        self._events = resources.client("events")
        self._tracked: dict[str, _Tracked] = {}
        self._queue_urls: dict[str, str] = {}
        self._maintenance_every = maintenance_every
        self._next_maintenance = _utc(clock()) + maintenance_every if maintenance_every else None
        rule = f"{APP}-{resources.stage}-scheduler-maintenance"
        self._maintenance_rule_arn = f"arn:aws:events:{resources.region}:{MOTO_ACCOUNT_ID}:rule/{rule}"
        # Lambda targets are invoked asynchronously, as Scheduler does, so a slow handler delays no schedule.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="local-scheduler-invoke")
        self._pending: set[Future[Any]] = set()
        self._worker = WorkerThread(
            self.tick,
            name="local-scheduler",
            logger=logger,
            failure_event="scheduler.tick_failed",
            interval_s=interval_s,
        )

    # ---------------------------------------------------------------------------------------- ticking

    def tick(self) -> list[Fired]:
        """One pass: fire every due schedule (and maintenance when due); returns what fired."""
        now = _utc(self._clock())
        fired: list[Fired] = []
        seen: set[str] = set()
        for summary in self._list_schedules():
            arn = summary["Arn"]
            seen.add(arn)
            schedule = self._schedule(summary)
            if schedule is None:
                continue  # deleted between list and get
            result = self._consider(schedule, now)
            if result is not None:
                fired.append(result)
        for gone in set(self._tracked) - seen:
            del self._tracked[gone]
        if self._next_maintenance is not None and now >= self._next_maintenance:
            self._fire_maintenance(now)
            fired.append(Fired("scheduler-maintenance", self._maintenance_rule_arn, now))
        return fired

    def _list_schedules(self) -> list[dict[str, Any]]:
        schedules: list[dict[str, Any]] = []
        paginator = self._scheduler.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self._resources.schedule_group):
            schedules.extend(page.get("Schedules", []))
        return schedules

    def _schedule(self, summary: dict[str, Any]) -> dict[str, Any] | None:
        """The full schedule; read again only when its LastModificationDate moved."""
        tracked = self._tracked.get(summary["Arn"])
        modified = _utc(summary.get("LastModificationDate") or summary["CreationDate"])
        if tracked is not None and tracked.modified == modified:
            return tracked.schedule
        try:
            schedule: dict[str, Any] = self._scheduler.get_schedule(
                Name=summary["Name"], GroupName=summary["GroupName"]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        # New or updated: count from the (re)definition, as Scheduler does.
        self._tracked[summary["Arn"]] = _Tracked(
            modified=modified, cursor=modified - timedelta(microseconds=1), schedule=schedule
        )
        return schedule

    def _consider(self, schedule: dict[str, Any], now: datetime) -> Fired | None:
        arn, name = schedule["Arn"], schedule["Name"]
        tracked = self._tracked[arn]
        if schedule.get("State", "ENABLED") != "ENABLED":
            tracked.cursor = now
            return None
        try:
            expression = parse_schedule_expression(schedule["ScheduleExpression"])
            timezone = schedule.get("ScheduleExpressionTimezone") or "UTC"
            due = self._due(expression, schedule, tracked, timezone)
        except (InvalidScheduleExpression, InvalidTimeZone) as exc:
            # moto accepts any string; AWS would have refused it at creation. Say so once per version.
            if tracked.cursor < now:
                logger.warning("scheduler.invalid_schedule %s: %s", name, exc)
                tracked.cursor = now + timedelta(days=36500)
            return None
        end = schedule.get("EndDate")
        past_end = expression.recurring and end is not None and due is not None and due > _utc(end)
        if due is None or past_end:
            self._complete(schedule)
            return None
        if due > now:
            return None
        tracked.cursor = now
        tracked.fired += 1
        self._deliver(schedule, due)
        if not expression.recurring:
            self._complete(schedule)
        return Fired(name, schedule["Target"]["Arn"], due)

    @staticmethod
    def _due(
        expression: ScheduleExpression, schedule: dict[str, Any], tracked: _Tracked, timezone: str
    ) -> datetime | None:
        if not expression.recurring:
            # One-time schedules ignore StartDate and EndDate.
            return expression.next_fire_after(tracked.cursor, timezone)
        start = schedule.get("StartDate")
        after = tracked.cursor
        if start is not None:
            after = max(after, _utc(start) - timedelta(microseconds=1))
        anchor = None
        if isinstance(expression, RateExpression):
            # A rate schedule starts at StartDate, else as soon as it exists.
            anchor = _utc(start) if start is not None else tracked.modified
        return expression.next_fire_after(after, timezone, anchor=anchor)

    def _complete(self, schedule: dict[str, Any]) -> None:
        if schedule.get("ActionAfterCompletion") != "DELETE":
            return
        try:
            self._scheduler.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        self._tracked.pop(schedule["Arn"], None)

    # -------------------------------------------------------------------------------------- delivery

    def _deliver(self, schedule: dict[str, Any], due: datetime) -> None:
        target = schedule["Target"]
        arn: str = target["Arn"]
        payload: str = target.get("Input") or "{}"
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if service == "sqs":
                self._send_to_queue(schedule, target, payload, due)
            elif service == "lambda":
                self._invoke_function(arn, payload)
            elif service == "events" and ":event-bus/" in arn:
                self._put_event(schedule, target, payload)
            else:
                logger.warning("scheduler.unsupported_target %s: %s", schedule["Name"], arn)
        except Exception:
            # Scheduler retries and then drops (or DLQs) a failed delivery; one failure must not stop others.
            logger.exception("scheduler.delivery_failed %s", schedule["Name"])

    def _queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            name, account = arn.split(":")[5], arn.split(":")[4]
            self._queue_urls[arn] = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
        return self._queue_urls[arn]

    def _send_to_queue(
        self, schedule: dict[str, Any], target: dict[str, Any], payload: str, due: datetime
    ) -> None:
        request: dict[str, Any] = {"QueueUrl": self._queue_url(target["Arn"]), "MessageBody": payload}
        if target["Arn"].endswith(".fifo"):
            group = (target.get("SqsParameters") or {}).get("MessageGroupId") or schedule["Name"]
            request["MessageGroupId"] = group
            # One message per fire, even when the queue does not deduplicate by content.
            request["MessageDeduplicationId"] = hashlib.sha256(
                f"{schedule['Arn']}@{due.isoformat()}".encode()
            ).hexdigest()
        self._sqs.send_message(**request)

    def _invoke_function(self, arn: str, payload: str) -> None:
        function_name = arn.split(":")[6]
        key = self._functions.key_for_name(function_name)
        if key is None:
            logger.warning("scheduler.unknown_function %s", function_name)
            return
        try:
            event: Any = json.loads(payload)
        except json.JSONDecodeError:
            event = payload
        self._submit(key, event)

    def _put_event(self, schedule: dict[str, Any], target: dict[str, Any], payload: str) -> None:
        params = target.get("EventBridgeParameters") or {}
        entry = {
            "EventBusName": target["Arn"],
            "Source": params.get("Source", "aws.scheduler"),
            "DetailType": params.get("DetailType", "Scheduled Event"),
            "Detail": payload,
            "Resources": [schedule["Arn"]],
        }
        self._events.put_events(Entries=[entry])

    def _fire_maintenance(self, now: datetime) -> None:
        assert self._maintenance_every is not None
        assert self._next_maintenance is not None
        event = scheduled_event(region=self._resources.region, rule_arn=self._maintenance_rule_arn, time=now)
        self._submit(MAINTENANCE_FUNCTION, event)
        while self._next_maintenance <= now:
            self._next_maintenance += self._maintenance_every

    def _submit(self, key: str, event: Any) -> None:
        future = self._executor.submit(self._functions.invoke, key, event)
        self._pending.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[Any]) -> None:
        self._pending.discard(future)
        if future.exception() is not None:
            logger.error("scheduler.invoke_failed", exc_info=future.exception())

    def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for in-flight function invocations (tests use it to observe their effects)."""
        wait(list(self._pending), timeout=timeout_s)

    # ------------------------------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        """Stop ticking, then wait for the invocations in flight (queued ones are cancelled)."""
        super().stop()
        self._executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["Fired", "LocalScheduler", "scheduled_event"]
