"""The local scheduler fires the schedules stored in moto (which never fires them), on an injected clock."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.invoke import LocalFunctions
from infra.local.provision import LocalResources, provision
from infra.local.scheduler import LocalScheduler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local-scheduler")]

STAGE = "schedtest"


class Clock:
    """Real time plus an offset the test moves: schedules created "now" in moto line up with it."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    @property
    def now(self) -> datetime:
        return self()

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture(scope="module")
def resources(moto_endpoint: str) -> LocalResources:
    return provision(endpoint_url=moto_endpoint, stage=STAGE)


@pytest.fixture
def invoked() -> dict[str, list[Any]]:
    return {}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scheduler(
    resources: LocalResources, invoked: dict[str, list[Any]], clock: Clock
) -> Iterator[LocalScheduler]:
    def recorder(key: str) -> Any:
        def handler(event: Any, context: Any) -> None:
            invoked.setdefault(key, []).append(event)

        return handler

    functions = LocalFunctions(
        {"sync": recorder("sync"), "scheduler_maintenance": recorder("scheduler_maintenance")}, stage=STAGE
    )
    drain_bodies(resources, "sync")
    drain_bodies(resources, "inbound")
    local = LocalScheduler(resources, functions, clock=clock, maintenance_every=None)
    yield local
    local.stop()
    client = resources.client("scheduler")
    for page in client.get_paginator("list_schedules").paginate(GroupName=resources.schedule_group):
        for schedule in page["Schedules"]:
            client.delete_schedule(Name=schedule["Name"], GroupName=resources.schedule_group)


def create(resources: LocalResources, name: str, expression: str, **extra: Any) -> None:
    target = {
        "Arn": resources.queue_arns["sync"],
        "RoleArn": resources.scheduler_role_arn,
        "Input": json.dumps({"schedule": name}),
    }
    target.update(extra.pop("Target", {}))
    resources.client("scheduler").create_schedule(
        Name=name,
        GroupName=resources.schedule_group,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        **extra,
    )


def drain_bodies(resources: LocalResources, key: str = "sync") -> list[str]:
    sqs = resources.client("sqs")
    bodies: list[str] = []
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=resources.queue_urls[key], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=resources.queue_urls[key], ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_rate_schedule_fires_at_once_then_every_period(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    create(resources, "every-minute", "rate(1 minute)")

    first = scheduler.tick()
    repeated = scheduler.tick()
    clock.advance(seconds=59)
    too_early = scheduler.tick()
    clock.advance(seconds=2)
    second = scheduler.tick()

    assert [f.name for f in first] == ["every-minute"]
    assert repeated == too_early == []
    assert [f.name for f in second] == ["every-minute"]
    assert drain_bodies(resources) == [json.dumps({"schedule": "every-minute"})] * 2


def test_disabled_schedules_do_not_fire(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    create(resources, "paused", "rate(1 minute)", State="DISABLED")

    fired = [scheduler.tick()]
    clock.advance(minutes=5)
    fired.append(scheduler.tick())

    assert fired == [[], []]
    assert drain_bodies(resources) == []


def test_disabling_stops_a_schedule(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    create(resources, "to-pause", "rate(1 minute)")
    scheduler.tick()
    resources.client("scheduler").update_schedule(
        Name="to-pause",
        GroupName=resources.schedule_group,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": resources.queue_arns["sync"], "RoleArn": resources.scheduler_role_arn, "Input": "{}"},
        State="DISABLED",
    )
    clock.advance(minutes=3)

    assert scheduler.tick() == []
    assert len(drain_bodies(resources)) == 1


def test_cron_schedule_fires_on_its_expression_in_its_zone(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    create(resources, "five-minutely", "cron(0/5 * * * ? *)", ScheduleExpressionTimezone="Asia/Kolkata")
    boundary = (clock.now + timedelta(minutes=5)).replace(second=0, microsecond=0)
    boundary -= timedelta(minutes=boundary.minute % 5)  # India is UTC+05:30: the same 5-minute grid

    clock.set(boundary - timedelta(seconds=1))
    before = scheduler.tick()
    clock.set(boundary + timedelta(seconds=1))
    at_boundary = scheduler.tick()

    assert before == []
    assert [(f.name, f.at) for f in at_boundary] == [("five-minutely", boundary)]


def test_start_and_end_dates_bound_a_schedule(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    create(resources, "later", "rate(1 minute)", StartDate=clock.now + timedelta(minutes=10))
    create(resources, "over", "rate(1 minute)", EndDate=clock.now - timedelta(minutes=1))

    now = scheduler.tick()
    clock.advance(minutes=10)
    after_start = scheduler.tick()

    assert now == []
    assert [f.name for f in after_start] == ["later"]


def test_one_time_schedule_fires_once_to_a_fifo_queue_and_deletes_itself(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    at = (clock.now + timedelta(minutes=2)).replace(microsecond=0)
    create(
        resources,
        "once",
        f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
        ActionAfterCompletion="DELETE",
        Target={"Arn": resources.queue_arns["inbound"], "SqsParameters": {"MessageGroupId": "conn-1"}},
    )
    client = resources.client("scheduler")

    early = scheduler.tick()
    clock.set(at + timedelta(seconds=1))
    fired = scheduler.tick()
    later = scheduler.tick()
    messages = resources.client("sqs").receive_message(
        QueueUrl=resources.queue_urls["inbound"], AttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]

    assert early == []
    assert [f.name for f in fired] == ["once"]
    assert later == []
    assert [m["Attributes"]["MessageGroupId"] for m in messages] == ["conn-1"]
    assert [s["Name"] for s in client.list_schedules(GroupName=resources.schedule_group)["Schedules"]] == []


def test_lambda_targets_run_the_handler_in_process(
    resources: LocalResources, scheduler: LocalScheduler, invoked: dict[str, list[Any]]
) -> None:
    function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:trackbridge-{STAGE}-sync"
    create(
        resources, "direct", "rate(5 minutes)", Target={"Arn": function_arn, "Input": '{"connection": "c1"}'}
    )

    scheduler.tick()
    scheduler.drain()

    assert invoked["sync"] == [{"connection": "c1"}]


def test_maintenance_runs_every_5_minutes_as_a_scheduled_event(
    resources: LocalResources, clock: Clock, shared_dir: Path
) -> None:
    fixture = json.loads((shared_dir / "fixtures/aws/eventbridge.scheduled_event.json").read_text())
    invoked: dict[str, list[Any]] = {"scheduler_maintenance": []}
    functions = LocalFunctions(
        {"scheduler_maintenance": lambda event, context: invoked["scheduler_maintenance"].append(event)},
        stage=STAGE,
    )
    scheduler = LocalScheduler(resources, functions, clock=clock)

    scheduler.tick()
    clock.advance(minutes=4)
    scheduler.tick()
    clock.advance(minutes=1)
    scheduler.tick()
    scheduler.drain()
    scheduler.stop()

    events = invoked["scheduler_maintenance"]
    assert len(events) == 1
    assert set(events[0]) == set(fixture)
    assert events[0]["detail-type"] == "Scheduled Event"
    assert events[0]["source"] == "aws.events"
    assert events[0]["resources"][0].startswith("arn:aws:events:us-east-1:123456789012:rule/")


def test_invalid_expressions_stored_in_moto_never_fire(
    resources: LocalResources, scheduler: LocalScheduler, clock: Clock
) -> None:
    create(resources, "bogus", "every 5 minutes")

    fired = scheduler.tick()
    clock.advance(hours=1)
    fired += scheduler.tick()

    assert fired == []
    assert drain_bodies(resources) == []


def test_background_thread_fires_and_stops(resources: LocalResources) -> None:
    drain_bodies(resources)
    functions = LocalFunctions({"sync": lambda event, context: None}, stage=STAGE)
    local = LocalScheduler(resources, functions, interval_s=0.05).start()
    try:
        create(resources, "threaded", "rate(1 hour)")
        deadline = time.monotonic() + 120
        bodies: list[str] = []
        while not bodies and time.monotonic() < deadline:
            bodies = drain_bodies(resources)
    finally:
        local.stop()
        resources.client("scheduler").delete_schedule(Name="threaded", GroupName=resources.schedule_group)

    assert bodies == [json.dumps({"schedule": "threaded"})]
    assert not any(t.name.startswith("local-scheduler") for t in threading.enumerate())
