"""DynamoDB and EventBridge Scheduler never disagree about a schedule, even when a write fails or races.

Both stores are moto's. Scheduler is written first and only ever from a DynamoDB state
(``runtime.schedule_admin``): a refusal by Scheduler stores nothing, and a DynamoDB write that loses a race
sets Scheduler again from what DynamoDB holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.sandboxes import egress_allowed
from trackbridge.domain.audit import Actor
from trackbridge.domain.backoff import LadderRecord
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.errors import Conflict, DependencyFailure
from trackbridge.runtime import container
from trackbridge.runtime.schedule_admin import ScheduleAdmin, ScheduleLadder
from trackbridge.runtime.sync.schedules import schedule_name

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration]

DISCARD = "http://127.0.0.1:9"  # never called
ACTOR = Actor(id="tests")


@dataclass
class RefusingSchedules:
    """Scheduler refusing every change (a throttle, a missing permission), deleting as usual."""

    def apply(self, tenant: str, connection: Connection, record: LadderRecord) -> None:
        raise DependencyFailure("EventBridge Scheduler did not accept the schedule; retry")

    def delete(self, connection_id: str) -> None:
        container.connection_schedules().delete(connection_id)


@pytest.fixture
def scheduled(local_resources: LocalResources) -> Iterator[tuple[str, Connection]]:
    with egress_allowed(DISCARD):
        tenant = f"sched-{uuid.uuid4().hex[:12]}"
        body = ConnectionCreate.model_validate(
            {
                "name": "consistency",
                "provider": "github",
                "base_url": DISCARD,
                "scope": {"repo": "acme/widgets"},
                "credentials": {"token": "-".join(("fake", "consistency", "token"))},
                "schedule": {"expression": "rate(15 minutes)"},
            }
        )
        yield tenant, container.connection_service().create(tenant, body, ACTOR)


def _scheduler(resources: LocalResources, connection_id: str) -> dict[str, Any]:
    found: dict[str, Any] = resources.client("scheduler").get_schedule(
        Name=schedule_name(connection_id), GroupName=resources.schedule_group
    )
    return found


def _ladder(schedules: Any) -> ScheduleLadder:
    return ScheduleLadder(container.connection_repository(), container.schedule_records(), schedules)


def test_a_change_scheduler_refuses_is_not_stored_or_audited(
    local_resources: LocalResources, scheduled: tuple[str, Connection]
) -> None:
    tenant, connection = scheduled
    admin = ScheduleAdmin(
        _ladder(RefusingSchedules()), container.audit_repository(), container.sync_service()
    )

    with pytest.raises(DependencyFailure):
        admin.pause(tenant, connection.id, ACTOR)

    assert container.schedule_records().find(tenant, connection.id).version == 0
    assert _scheduler(local_resources, connection.id)["State"] == "ENABLED"
    actions = [e.action for e in container.audit_repository().list(tenant, limit=50).items]
    assert "schedule.pause" not in actions


def test_a_write_that_loses_a_race_sets_scheduler_from_what_dynamodb_holds(
    local_resources: LocalResources, scheduled: tuple[str, Connection]
) -> None:
    tenant, connection = scheduled
    ladder = _ladder(container.connection_schedules())
    admin = ScheduleAdmin(ladder, container.audit_repository(), container.sync_service())
    # Given: a ladder step decided on a record that an admin's pause then replaced
    stale = container.schedule_records().find(tenant, connection.id)
    admin.pause(tenant, connection.id, ACTOR)
    stepped = stale.model_copy(update={"ladder_step": 1, "consecutive_failures": 3, "last_code": "TIMEOUT"})

    # When: the stale step is stored
    with pytest.raises(Conflict):
        ladder.change(tenant, connection, stale, stepped)

    # Then: both stores hold the pause, not the step
    record = container.schedule_records().find(tenant, connection.id)
    assert (record.paused_by, record.ladder_step) == ("admin", 0)
    stored = _scheduler(local_resources, connection.id)
    assert (stored["State"], stored["ScheduleExpression"]) == ("DISABLED", "rate(15 minutes)")
