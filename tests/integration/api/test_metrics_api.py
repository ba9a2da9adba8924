"""Per-tenant daily counters on moto: atomic ``ADD`` batches from the handlers' results, read back by
``GET /v1/metrics`` for the calling tenant only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.sync import Results, SyncOperation
from trackbridge.runtime import container, handler_metrics
from trackbridge.storage.metrics import MetricCounters

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

DAY_ONE = datetime(2026, 3, 3, 23, 59, tzinfo=UTC)
DAY_TWO = datetime(2026, 3, 4, 0, 1, tzinfo=UTC)


@dataclass
class FakeConnection:
    provider: str = "github"


class FakeOperations:
    """A finished operation as ``SyncService.get`` returns it."""

    def get(self, tenant: str, operation_id: str) -> SyncOperation:
        return SyncOperation(
            id=operation_id,
            connection_id="conn_k7mq4xw2p5rtz3nb6hcd",
            mode="incremental",
            entities=["issues"],
            status="Completed",
            results=Results(created=3, updated=2, unchanged=40),
            requests=7,
            created_at=DAY_ONE,
            triggered_by="schedule",
        )

    def connection(self, tenant: str, connection_id: str) -> FakeConnection:
        return FakeConnection()


def _record(body: dict[str, object]) -> dict[str, str]:
    return {"messageId": "m-1", "body": json.dumps(body)}


def test_handler_results_become_daily_counters_read_per_tenant(
    stack: LocalResources, api: ApiClient, other_api: ApiClient, tenant: str
) -> None:
    # Given: two Lambda instances counting the same tenant's work on two days, each flushing once
    first = MetricCounters(container.table(), clock=lambda: DAY_ONE)
    second = MetricCounters(container.table(), clock=lambda: DAY_TWO)
    finished = _record({"tenant": tenant, "kind": "continue", "operation_id": "op_x", "slice_no": 2})
    for counters in (first, second):
        with handler_metrics.flushing(counters):
            handler_metrics.sync_slice(finished, "completed", operations=FakeOperations(), counters=counters)
            handler_metrics.sync_slice(finished, "parked", operations=FakeOperations(), counters=counters)
            inbound = _record({"tenant": tenant, "provider": "github"})
            handler_metrics.applied(inbound, "applied", counters=counters)
    with handler_metrics.flushing(first):  # the same day again: ADD, not overwrite
        handler_metrics.sync_slice(finished, "completed", operations=FakeOperations(), counters=first)

    # When: the tenant reads its metrics for the two days
    answer = api.call("GET", "/v1/metrics", query={"since": "2026-03-03", "until": "2026-03-04"})

    # Then: per day and in total, only this tenant's counts
    assert answer.status == 200, answer.body
    assert answer.body["totals"] == {
        "items.created": 9,
        "items.unchanged": 120,
        "items.updated": 6,
        "parked": 2,
        "requests.github": 21,
        "syncs.completed": 3,
        "webhooks.applied": 2,
    }
    assert [d["day"] for d in answer.body["days"]] == ["2026-03-03", "2026-03-04"]
    assert answer.body["days"][0]["counters"]["syncs.completed"] == 2
    other = other_api.call("GET", "/v1/metrics", query={"since": "2026-03-03", "until": "2026-03-04"})
    assert other.body["totals"] == {}


def test_the_default_period_is_the_last_seven_days(stack: LocalResources, api: ApiClient) -> None:
    answer = api.call("GET", "/v1/metrics")
    assert answer.status == 200
    until = date.fromisoformat(answer.body["until"])
    assert (until - date.fromisoformat(answer.body["since"])).days == 6


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-03-05", "until": "2026-03-04"},
        {"since": "2025-01-01", "until": "2026-03-04"},
        {"since": "x"},
        {"until": "0"},
        {"since": "20260304"},
    ],
)
def test_a_bad_period_is_a_422(stack: LocalResources, api: ApiClient, query: dict[str, str]) -> None:
    assert api.call("GET", "/v1/metrics", query=query).status == 422


def test_a_failed_flush_never_fails_the_work(stack: LocalResources, tenant: str) -> None:
    class Broken:
        def update(self, *args: object, **kwargs: object) -> None:
            from trackbridge.domain.errors import DependencyFailure

            raise DependencyFailure("throttled")

    counters = MetricCounters(Broken(), clock=lambda: DAY_ONE)  # type: ignore[arg-type]
    counters.add(tenant, "syncs.completed")
    with handler_metrics.flushing(counters):
        pass
    assert counters.flush() == 0  # cleared: nothing pending any more
