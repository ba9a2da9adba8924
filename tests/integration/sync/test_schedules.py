"""A connection's EventBridge schedule follows its ``schedule`` field: created, replaced, removed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from tests.support.sandboxes import egress_allowed
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import ConnectionCreate, ConnectionPatch
from trackbridge.domain.sync_plan import ScheduledMessage, parse_message
from trackbridge.runtime import container
from trackbridge.runtime.sync.schedules import schedule_name

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


# Loopback's discard port: were the connection ever called, nothing would answer (and nothing would leave).
DISCARD = "http://127.0.0.1:9"


def test_schedule_follows_the_connection(aws: LocalResources, tenant: str) -> None:
    with egress_allowed(DISCARD):
        _schedule_follows_the_connection(aws, tenant)


def _schedule_follows_the_connection(aws: LocalResources, tenant: str) -> None:
    service = container.connection_service()
    scheduler = aws.client("scheduler")
    body = ConnectionCreate.model_validate(
        {
            "name": "scheduled",
            "provider": "github",
            "base_url": DISCARD,
            "scope": {"repo": "acme/widgets"},
            "credentials": {"token": "tok-schedule-test"},
            "schedule": {"expression": "rate(15 minutes)", "timezone": "Europe/Paris"},
        }
    )
    connection = service.create(tenant, body, Actor(id="tests"))
    stored = scheduler.get_schedule(Name=schedule_name(connection.id), GroupName=aws.schedule_group)
    assert stored["ScheduleExpression"] == "rate(15 minutes)"
    assert stored["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert stored["Target"]["Arn"] == aws.queue_arns["sync"]
    assert stored["Target"]["RoleArn"] == aws.scheduler_role_arn
    message = parse_message(stored["Target"]["Input"])
    assert message == ScheduledMessage(tenant=tenant, connection_id=connection.id)
    assert "tok-schedule-test" not in json.dumps(stored, default=str)

    patched = service.update(
        tenant,
        connection.id,
        ConnectionPatch.model_validate({"schedule": {"expression": "rate(1 hour)"}}),
        Actor(id="t"),
    )
    stored = scheduler.get_schedule(Name=schedule_name(patched.id), GroupName=aws.schedule_group)
    assert stored["ScheduleExpression"] == "rate(1 hour)"

    service.update(tenant, connection.id, ConnectionPatch.model_validate({"schedule": None}), Actor(id="t"))
    with pytest.raises(ClientError):
        scheduler.get_schedule(Name=schedule_name(connection.id), GroupName=aws.schedule_group)

    service.update(
        tenant,
        connection.id,
        ConnectionPatch.model_validate({"schedule": {"expression": "rate(5 minutes)"}}),
        Actor(id="t"),
    )
    service.delete(tenant, connection.id, Actor(id="t"))
    with pytest.raises(ClientError):
        scheduler.get_schedule(Name=schedule_name(connection.id), GroupName=aws.schedule_group)
