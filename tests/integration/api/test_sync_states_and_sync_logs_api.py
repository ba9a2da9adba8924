"""``GET /v1/sync-states`` and ``GET /v1/sync-logs`` on moto: the tenant-wide views of sync bookkeeping.

States and log entries are stored the way the sync engine stores them (its repositories); the API pages
the states by connection and the logs by connection or operation, through sealed cursors, and answers 404
for another tenant's ids and 422 when no log is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.sync import SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.sync_plan import Checkpoint
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES

pytestmark = pytest.mark.integration

# Recent: log entries carry a 30-day TTL, and an expired one reads as absent.
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


@dataclass
class Seeded:
    connections: list[str]
    operations: dict[str, str]  # connection -> its operation
    signpost: datetime


def _walk(api: ApiClient, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(30):
        answer = api.call("GET", path, query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        items.extend(answer.body["items"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the listing never ended")


@pytest.fixture
def seeded(api: ApiClient, tenant: str) -> Seeded:
    connections = container.connection_repository()
    states = container.sync_state_repository()
    operations = container.sync_operation_repository()
    logs = container.sync_log_repository()
    ids: list[str] = []
    ops: dict[str, str] = {}
    for n in range(3):
        example = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
        connection = connections.create(tenant, Connection.model_validate(example))
        ids.append(connection.id)
        op = SyncOperation(
            id=new_id(IdPrefix.OPERATION),
            connection_id=connection.id,
            mode="incremental",
            entities=["issues", "comments"],
            created_at=T0 + timedelta(minutes=n),
            triggered_by="test",
        )
        operations.start(tenant, op, owner="test", lease_until=T0 + timedelta(hours=1), now=T0)
        ops[connection.id] = op.id
        checkpoint = Checkpoint(
            operation_id=op.id,
            phase="incremental",
            phases=("incremental",),
            signpost=T0 + timedelta(minutes=n),
        )
        for entity in ("issues", "comments"):
            state = SyncState(
                connection_id=connection.id,
                entity=entity,  # type: ignore[arg-type]
                high_water=T0 - timedelta(days=1),
                cursor=checkpoint.to_json() if entity == "issues" else None,
                status="running" if entity == "issues" else "ok",
                last_operation_id=op.id,
                updated_at=T0,
            )
            states.save(tenant, state, expected_version=None)
        logs.append(
            tenant,
            [
                SyncLogEntry(
                    operation_id=op.id,
                    connection_id=connection.id,
                    seq=seq,
                    at=T0 + timedelta(minutes=n, seconds=seq),
                    level="info",
                    event="sync.page",
                    message=f"page {seq}",
                )
                for seq in range(5)
            ],
        )
    return Seeded(ids, ops, T0)


def test_every_state_of_every_connection_is_listed_with_its_signpost(api: ApiClient, seeded: Seeded) -> None:
    # When: the tenant's states are walked one connection a page
    items = _walk(api, "/v1/sync-states", {"limit": "1"})

    # Then: each connection's two entities, once; the running one shows its signpost and phase
    assert sorted((i["connection_id"], i["entity"]) for i in items) == sorted(
        (c, e) for c in seeded.connections for e in ("issues", "comments")
    )
    for item in items:
        if item["entity"] == "issues":
            assert item["status"] == "running"
            assert item["phase"] == "incremental"
            assert item["signpost"] is not None
            assert item["last_operation_id"] == seeded.operations[item["connection_id"]]
        else:
            assert item["signpost"] is None
        assert "cursor" not in item


def test_the_states_narrow_to_one_connection_and_another_tenants_is_a_404(
    api: ApiClient, other_api: ApiClient, seeded: Seeded
) -> None:
    one = seeded.connections[1]
    answer = api.call("GET", "/v1/sync-states", query={"connection": one})
    assert answer.status == 200
    assert {i["connection_id"] for i in answer.body["items"]} == {one}
    assert answer.body["next_cursor"] is None

    assert other_api.call("GET", "/v1/sync-states", query={"connection": one}).status == 404
    assert other_api.call("GET", "/v1/sync-states").body["items"] == []
    assert api.call("GET", "/v1/sync-states", query={"limit": "26"}).status == 422


def test_sync_logs_by_connection_newest_first_and_by_operation_in_order(
    api: ApiClient, seeded: Seeded
) -> None:
    connection = seeded.connections[2]
    operation = seeded.operations[connection]

    by_connection = _walk(api, "/v1/sync-logs", {"connection": connection, "limit": "2"})
    by_operation = _walk(api, "/v1/sync-logs", {"operation": operation, "limit": "2"})
    both = _walk(api, "/v1/sync-logs", {"operation": operation, "connection": connection})

    assert [e["seq"] for e in by_connection] == [4, 3, 2, 1, 0]
    assert {e["connection_id"] for e in by_connection} == {connection}
    assert [e["seq"] for e in by_operation] == [0, 1, 2, 3, 4]
    assert {e["operation_id"] for e in by_operation} == {operation}
    assert both == by_operation


def test_sync_logs_refuse_what_they_cannot_serve(
    api: ApiClient, other_api: ApiClient, seeded: Seeded
) -> None:
    first, second = seeded.connections[:2]

    nothing_named = api.call("GET", "/v1/sync-logs")
    assert nothing_named.status == 422
    assert "connection" in nothing_named.body["error"]["message"]
    # An operation of another connection, and another tenant's ids, are not found
    mismatch = {"operation": seeded.operations[first], "connection": second}
    assert api.call("GET", "/v1/sync-logs", query=mismatch).status == 404
    assert other_api.call("GET", "/v1/sync-logs", query={"connection": first}).status == 404
    assert other_api.call("GET", "/v1/sync-logs", query={"operation": seeded.operations[first]}).status == 404
    assert api.call("GET", "/v1/sync-logs", query={"connection": "not-an-id"}).status == 404
