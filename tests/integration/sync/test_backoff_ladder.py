"""The back-off ladder end to end: real syncs against the sandbox trackers, moto's DynamoDB and Scheduler.

Each sync runs through the real queue consumer (``handle_body``, which hands final results to
``SyncService.finished``), the real engine and adapters, and the real ``ScheduleLadder`` over moto; faults
are the sandboxes' own (HTTP 401, 503) and Jira's points-based headers are the Jira sandbox's. Operator
alerts are a recording fake with ``OperatorAlerts``' signature. The engine gives transient failures no
slice-level retries here, so each faulted sync fails at once (the adapter still retries each request).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.support import TEST_CONFIG, Harness
from tests.support.alerts_topic import published, subscribed_queue
from tests.support.sandboxes import fresh
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.schedule_admin import ScheduleLadder
from trackbridge.runtime.sync.pacing import RateLimitWatch
from trackbridge.runtime.sync.schedules import schedule_name
from trackbridge.runtime.sync.service import SyncService

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

EXPRESSION = "rate(15 minutes)"


@dataclass
class RecordingAlerts:
    """``OperatorAlerts``' two methods the ladder calls, recorded."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[str] = field(default_factory=list)

    def incident(
        self,
        tenant: str,
        connection: Connection,
        *,
        code: str,
        detail: str,
        operation_id: str | None,
        at: datetime,
    ) -> None:
        self.incidents.append({"connection_id": connection.id, "code": code, "operation_id": operation_id})

    def recovered(self, tenant: str, connection: Connection, *, at: datetime) -> None:
        self.recoveries.append(connection.id)


@dataclass
class Ladder:
    harness: Harness
    alerts: RecordingAlerts
    tenant: str
    connection: Connection
    aws: LocalResources

    def sync(self) -> SyncOperation:
        """One scheduled-style incremental sync, drained to its end."""
        op = self.harness.service.start(
            self.tenant, self.connection.id, SyncRequest(), triggered_by="schedule"
        )
        self.harness.drain(pages_per_slice=50)
        return self.harness.service.get(self.tenant, op.id)

    def state(self) -> dict[str, Any]:
        return container.schedule_admin().state(self.tenant, self.connection.id).model_dump()

    def scheduler(self) -> dict[str, Any]:
        found: dict[str, Any] = self.aws.client("scheduler").get_schedule(
            Name=schedule_name(self.connection.id), GroupName=self.aws.schedule_group
        )
        return found


@pytest.fixture
def ladder_for(
    aws: LocalResources, tenant: str, harness_factory: Callable[..., Harness]
) -> Callable[[SandboxTracker[Any]], Ladder]:
    def build(tracker: SandboxTracker[Any]) -> Ladder:
        request = tracker.connection_request()
        body = ConnectionCreate.model_validate(
            {**request, "name": f"{tracker.kind} ladder", "schedule": {"expression": EXPRESSION}}
        )
        connection = container.connection_service().create(tenant, body, Actor(id="tests"))
        harness = harness_factory(config=dataclasses.replace(TEST_CONFIG, max_transient_retries=0))
        watch = RateLimitWatch(harness.engine.adapter_factory)
        harness.engine.adapter_factory = watch
        alerts = RecordingAlerts()
        ladder = ScheduleLadder(
            container.connection_repository(),
            container.schedule_records(),
            container.connection_schedules(),
            alerts=alerts,
        )
        plain = harness.service
        harness.service = SyncService(
            operations=plain.operations,
            states=plain.states,
            logs=plain.logs,
            connections=plain.connections,
            queue=harness.queue,
            clock=harness.clock,
            results=ladder,
            pacing=watch,
        )
        return Ladder(harness, alerts, tenant, connection, aws)

    return build


def _listings(tracker: SandboxTracker[Any]) -> str:
    return {"github": "GET /repos/*", "gitlab": "GET /projects/*", "jira": "* /rest/api/3/search/*"}[
        tracker.kind
    ]


def test_a_401_is_classified_pauses_the_schedule_and_alerts_once(
    small_sandboxes: dict[str, SandboxTracker[Any]], ladder_for: Callable[[SandboxTracker[Any]], Ladder]
) -> None:
    # Given: a GitHub connection whose tracker now refuses its token
    tracker = fresh(small_sandboxes["github"])
    ladder = ladder_for(tracker)
    tracker.add_faults([{"route": _listings(tracker), "status": 401, "times": 100}])

    # When: a sync runs, and then a manual one fails the same way
    first = ladder.sync()
    second = ladder.sync()

    # Then: classified AUTH_INVALID, the schedule paused in DynamoDB and in Scheduler, one alert in all
    assert first.status == second.status == "Failed"
    assert first.results.errors[-1]["code"] == "AUTH_INVALID"
    state = ladder.state()
    assert (state["paused"], state["paused_reason"], state["last_code"]) == (
        True,
        "AUTH_INVALID",
        "AUTH_INVALID",
    )
    assert ladder.scheduler()["State"] == "DISABLED"
    assert [i["code"] for i in ladder.alerts.incidents] == ["AUTH_INVALID"]
    assert ladder.alerts.incidents[0]["operation_id"] == first.id

    # When: the token works again and a (manual) sync succeeds
    tracker.clear_faults()
    assert ladder.sync().status == "Completed"

    # Then: the ladder's pause is lifted, Scheduler runs again, and one recovery is sent
    assert ladder.state()["paused"] is False
    assert ladder.scheduler()["State"] == "ENABLED"
    assert ladder.alerts.recoveries == [ladder.connection.id]


def test_the_ladder_s_incident_reaches_the_alerts_topic_once_and_its_recovery_follows(
    small_sandboxes: dict[str, SandboxTracker[Any]],
    ladder_for: Callable[[SandboxTracker[Any]], Ladder],
) -> None:
    """The same 401 through the real wiring: the container's OperatorAlerts, the e-mail channel, SNS."""
    tracker = fresh(small_sandboxes["github"])
    ladder = ladder_for(tracker)
    ladder.harness.service.results = ScheduleLadder(
        container.connection_repository(),
        container.schedule_records(),
        container.connection_schedules(),
        alerts=container.operator_alerts(),
    )
    tracker.add_faults([{"route": _listings(tracker), "status": 401, "times": 100}])
    with subscribed_queue() as queue:
        # When: two syncs fail the same way, then the token works again
        first = ladder.sync()
        ladder.sync()
        tracker.clear_faults()
        assert ladder.sync().status == "Completed"

        # Then: one alert naming the code and the connection, then one recovery, on the topic
        seen = published(queue, ladder.tenant, expected=2)
    kinds = [envelope["MessageAttributes"]["alert"]["Value"] for envelope in seen]
    assert len(seen) == 2, seen
    assert "AUTH_INVALID" in seen[0]["Message"]
    assert ladder.connection.id in seen[0]["Message"]
    assert first.id in seen[0]["Message"]
    assert kinds[0] != kinds[1]


def test_three_503s_step_the_schedule_down_and_the_first_success_restores_it(
    small_sandboxes: dict[str, SandboxTracker[Any]], ladder_for: Callable[[SandboxTracker[Any]], Ladder]
) -> None:
    # Given: a connection whose tracker keeps answering 503
    tracker = fresh(small_sandboxes["github"])
    ladder = ladder_for(tracker)
    tracker.add_faults([{"route": _listings(tracker), "status": 503, "times": 1000}])

    # When: two syncs fail
    for _ in range(2):
        assert ladder.sync().results.errors[-1]["code"] == "PROVIDER_UNAVAILABLE"
    # Then: still the normal pace
    assert (ladder.state()["ladder_step"], ladder.scheduler()["ScheduleExpression"]) == (0, EXPRESSION)
    assert ladder.alerts.incidents == []

    # When: the third fails
    ladder.sync()
    # Then: one rung down in both stores, the original expression kept, one incident
    state = ladder.state()
    assert (state["ladder_step"], state["consecutive_failures"]) == (1, 3)
    assert (state["expression"], state["effective_expression"]) == (EXPRESSION, "rate(1 hour)")
    assert ladder.scheduler()["ScheduleExpression"] == "rate(1 hour)"
    assert ladder.scheduler()["State"] == "ENABLED"
    assert [i["code"] for i in ladder.alerts.incidents] == ["PROVIDER_UNAVAILABLE"]

    # When: the tracker recovers and the next sync succeeds
    tracker.clear_faults()
    assert ladder.sync().status == "Completed"
    # Then: the expression is restored everywhere and the incident recovered
    state = ladder.state()
    assert (state["ladder_step"], state["effective_expression"]) == (0, EXPRESSION)
    assert ladder.scheduler()["ScheduleExpression"] == EXPRESSION
    assert ladder.alerts.recoveries == [ladder.connection.id]


def test_jira_near_its_points_quota_slows_the_schedule(
    small_sandboxes: dict[str, SandboxTracker[Any]], ladder_for: Callable[[SandboxTracker[Any]], Ladder]
) -> None:
    # Given: a Jira connection whose points budget is down to under a fifth (the sandbox's hourly window
    # stands in for the points quota)
    tracker = fresh(small_sandboxes["jira"])
    tracker.reset(rate_limit=200)
    ladder = ladder_for(tracker)
    info = tracker.describe()
    with httpx.Client(auth=(info["email"], info["token"]), timeout=60.0) as client:
        for _ in range(165):
            client.get(f"{tracker.url}/rest/api/3/myself").raise_for_status()
        headers = client.get(f"{tracker.url}/rest/api/3/myself").headers
    assert headers["X-Beta-RateLimit-NearLimit"] == "true"
    assert headers["Beta-RateLimit"].startswith('"global-app-quota";r=')

    # When: a sync succeeds while near the limit
    assert ladder.sync().status == "Completed"

    # Then: the schedule runs one rung slower until the quota resets, in both stores; not a failure
    state = ladder.state()
    assert state["slowed_until"] is not None
    assert (state["ladder_step"], state["effective_expression"]) == (0, "rate(1 hour)")
    assert ladder.scheduler()["ScheduleExpression"] == "rate(1 hour)"
    assert ladder.alerts.incidents == []
