"""The schedule admin through the API on moto: DynamoDB and EventBridge Scheduler read back in step.

Given/When/Then in each test: a connection created through ``POST /v1/connections`` gets its Scheduler
schedule; ``GET/PUT .../schedule``, ``pause``, ``resume`` and ``trigger`` change both stores (or neither) and
write one audit entry each; bad input is a 422 naming why; another tenant's connection is a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container
from trackbridge.runtime.sync.schedules import schedule_name

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration]

# Loopback's discard port: nothing here calls the tracker (and nothing would answer).
DISCARD = "http://127.0.0.1:9"


@pytest.fixture
def allowed(stack: LocalResources) -> Iterator[None]:
    with egress_allowed(DISCARD):
        yield


def _create(api: ApiClient, **extra: Any) -> str:
    body = {
        "name": "scheduled",
        "provider": "github",
        "base_url": DISCARD,
        "scope": {"repo": "acme/widgets"},
        "credentials": {"token": "-".join(("fake", "schedule", "token"))},
        **extra,
    }
    answer = api.call("POST", "/v1/connections", body=body)
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def _scheduler(stack: LocalResources, connection_id: str) -> dict[str, Any]:
    found: dict[str, Any] = stack.client("scheduler").get_schedule(
        Name=schedule_name(connection_id), GroupName=stack.schedule_group
    )
    return found


def _actions(tenant: str, connection_id: str) -> list[str]:
    entries = container.audit_repository().list(tenant, limit=100).items
    return sorted(e.action for e in entries if e.target == connection_id)


def test_the_schedule_lifecycle_keeps_dynamodb_and_scheduler_in_step(
    allowed: None, api: ApiClient, stack: LocalResources, tenant: str
) -> None:
    # Given: a connection created with a schedule
    connection_id = _create(api, schedule={"expression": "rate(15 minutes)", "timezone": "Europe/Paris"})
    path = f"/v1/connections/{connection_id}/schedule"

    # Then: the API and Scheduler show it, enabled, ladder at rest; GET /v1/connections/{id} carries it too
    shown = api.call("GET", path)
    assert shown.status == 200
    assert shown.body["expression"] == shown.body["effective_expression"] == "rate(15 minutes)"
    assert (shown.body["timezone"], shown.body["paused"], shown.body["ladder_step"]) == (
        "Europe/Paris",
        False,
        0,
    )
    assert _scheduler(stack, connection_id)["State"] == "ENABLED"
    assert api.call("GET", f"/v1/connections/{connection_id}").body["schedule_state"]["ladder_step"] == 0

    # When: it is set to a cron in another zone
    changed = api.call("PUT", path, body={"expression": "cron(0 8 ? * MON-FRI *)", "timezone": "Asia/Tokyo"})
    # Then: both stores say so
    assert changed.status == 200, changed.body
    stored = _scheduler(stack, connection_id)
    assert (stored["ScheduleExpression"], stored["ScheduleExpressionTimezone"]) == (
        "cron(0 8 ? * MON-FRI *)",
        "Asia/Tokyo",
    )
    connection = api.call("GET", f"/v1/connections/{connection_id}").body
    assert connection["schedule"] == {"expression": "cron(0 8 ? * MON-FRI *)", "timezone": "Asia/Tokyo"}

    # When: paused with a reason
    paused = api.call("POST", f"{path}/pause", body={"reason": "tracker maintenance"})
    # Then: DynamoDB's record and Scheduler's state agree
    assert (paused.status, paused.body["paused"], paused.body["paused_reason"]) == (
        200,
        True,
        "tracker maintenance",
    )
    assert _scheduler(stack, connection_id)["State"] == "DISABLED"
    record = container.schedule_records().find(tenant, connection_id)
    assert (record.paused_by, record.paused_reason) == ("admin", "tracker maintenance")

    # When: a sync is triggered while paused, and again while it is pending
    first = api.call("POST", f"{path}/trigger")
    second = api.call("POST", f"{path}/trigger")
    # Then: the first is queued (202), the second is a 409 naming it
    assert first.status == 202, first.body
    assert (first.body["mode"], first.body["status"]) == ("incremental", "Pending")
    assert second.status == 409
    assert second.body["error"]["details"]["operation_id"] == first.body["id"]

    # When: resumed
    resumed = api.call("POST", f"{path}/resume")
    assert (resumed.status, resumed.body["paused"], resumed.body["paused_reason"]) == (200, False, None)
    assert _scheduler(stack, connection_id)["State"] == "ENABLED"

    # Then: every change is audited once, by its stable name
    assert _actions(tenant, connection_id) == [
        "connection.create",
        "schedule.pause",
        "schedule.resume",
        "schedule.trigger",
        "schedule.update",
    ]

    # When: the connection is deleted, its schedule goes with it
    assert api.call("DELETE", f"/v1/connections/{connection_id}").status == 204
    with pytest.raises(stack.client("scheduler").exceptions.ResourceNotFoundException):
        _scheduler(stack, connection_id)
    assert api.call("GET", path).status == 404


def test_pausing_twice_changes_nothing_the_second_time(
    allowed: None, api: ApiClient, stack: LocalResources, tenant: str
) -> None:
    connection_id = _create(api, schedule={"expression": "rate(30 minutes)"})
    path = f"/v1/connections/{connection_id}/schedule/pause"
    assert api.call("POST", path).status == 200
    assert api.call("POST", path).status == 200
    assert _actions(tenant, connection_id).count("schedule.pause") == 1
    assert container.schedule_records().find(tenant, connection_id).version == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"expression": "rate(0 minutes)"}, "positive integer"),
        ({"expression": "rate(5 minute)"}, "rate(5 minutes)"),
        ({"expression": "cron(0 8 * * * *)"}, "exactly one of day-of-month and day-of-week"),
        ({"expression": "at(2026-03-02T10:00:00)"}, "repeats"),
        ({"expression": "rate(1 hour)", "timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"expression": "rate(1 hour)", "ladder": {"steps": ["rate(1 hour)", "rate(5 minutes)"]}}, "slower"),
    ],
)
def test_a_bad_schedule_is_a_422_naming_why_and_nothing_changes(
    allowed: None, api: ApiClient, stack: LocalResources, body: dict[str, Any], why: str
) -> None:
    connection_id = _create(api, schedule={"expression": "rate(15 minutes)"})
    answer = api.call("PUT", f"/v1/connections/{connection_id}/schedule", body=body)
    assert answer.status == 422
    assert why in str(answer.body["error"])
    assert _scheduler(stack, connection_id)["ScheduleExpression"] == "rate(15 minutes)"
    assert (
        api.call("GET", f"/v1/connections/{connection_id}/schedule").body["expression"] == "rate(15 minutes)"
    )


def test_another_tenants_connection_is_a_404_everywhere(
    allowed: None, api: ApiClient, other_api: ApiClient, stack: LocalResources, tenant: str
) -> None:
    connection_id = _create(api, schedule={"expression": "rate(15 minutes)"})
    path = f"/v1/connections/{connection_id}/schedule"
    assert other_api.call("GET", path).status == 404
    assert other_api.call("PUT", path, body={"expression": "rate(1 hour)"}).status == 404
    for action in ("pause", "resume", "trigger"):
        assert other_api.call("POST", f"{path}/{action}").status == 404, action
    assert _scheduler(stack, connection_id)["State"] == "ENABLED"
    assert _actions(tenant, connection_id) == ["connection.create"]
    assert api.call("GET", "/v1/connections/conn_doesnotexist0000000/schedule").status == 404


def test_a_new_connection_syncs_every_15_minutes_starting_one_period_later(
    allowed: None, api: ApiClient, stack: LocalResources
) -> None:
    connection_id = _create(api)

    shown = api.call("GET", f"/v1/connections/{connection_id}/schedule").body
    scheduled = _scheduler(stack, connection_id)

    assert (shown["expression"], shown["effective_expression"]) == ("rate(15 minutes)", "rate(15 minutes)")
    assert scheduled["ScheduleExpression"] == "rate(15 minutes)"
    # Creating a connection does not start a sync by itself: the first scheduled one is a period away.
    created = datetime.fromisoformat(api.call("GET", f"/v1/connections/{connection_id}").body["created_at"])
    assert scheduled["StartDate"] - created >= timedelta(minutes=14)


def test_a_connection_created_without_a_schedule_gets_one_from_put(
    allowed: None, api: ApiClient, stack: LocalResources
) -> None:
    connection_id = _create(api, schedule=None)
    shown = api.call("GET", f"/v1/connections/{connection_id}/schedule").body
    assert (shown["expression"], shown["effective_expression"]) == (None, None)
    answer = api.call("PUT", f"/v1/connections/{connection_id}/schedule", body={"expression": "rate(1 hour)"})
    assert answer.status == 200, answer.body
    assert _scheduler(stack, connection_id)["ScheduleExpression"] == "rate(1 hour)"


def test_a_connections_own_ladder_is_kept_and_null_returns_to_the_default(
    allowed: None, api: ApiClient, stack: LocalResources, tenant: str
) -> None:
    connection_id = _create(api, schedule={"expression": "rate(15 minutes)"})
    path = f"/v1/connections/{connection_id}/schedule"
    ladder = {"steps": ["rate(15 minutes)", "rate(2 hours)"], "threshold": 2, "thresholds": {"TIMEOUT": 5}}

    answer = api.call("PUT", path, body={"expression": "rate(15 minutes)", "ladder": ladder})

    assert answer.status == 200, answer.body
    assert answer.body["ladder"] == ladder
    assert container.schedule_records().find(tenant, connection_id).policy is not None
    # An expression-only PUT leaves the ladder alone; "ladder": null returns to the default
    assert api.call("PUT", path, body={"expression": "rate(20 minutes)"}).body["ladder"] == ladder
    reset = api.call("PUT", path, body={"expression": "rate(20 minutes)", "ladder": None}).body
    assert reset["ladder"]["steps"] == ["rate(15 minutes)", "rate(1 hour)", "rate(6 hours)", "rate(24 hours)"]
    assert container.schedule_records().find(tenant, connection_id).policy is None
