"""Sync operations, the one-active lock, slice claims, sync state and logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.sync import Progress, SyncLogEntry, SyncOperation, SyncState
from trackbridge.domain.times import utcnow
from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def operation(connection_id: str, minutes: int = 0) -> SyncOperation:
    return SyncOperation(
        id=new_id(IdPrefix.OPERATION),
        connection_id=connection_id,
        mode="incremental",
        entities=["issues"],
        created_at=T0 + timedelta(minutes=minutes),
        triggered_by="k",
    )


@pytest.fixture
def connection_id() -> str:
    return new_id(IdPrefix.CONNECTION)


def test_only_one_active_operation_per_connection(table: Table, tenant: str, connection_id: str) -> None:
    repo = SyncOperationRepository(table)
    lease = T0 + timedelta(minutes=15)
    first = repo.start(tenant, operation(connection_id), owner="w1", lease_until=lease)
    assert repo.active_operation_id(tenant, connection_id) == first.id
    with pytest.raises(Conflict) as running:
        repo.start(tenant, operation(connection_id, 1), owner="w2", lease_until=lease)
    assert running.value.code == "SYNC_RUNNING"
    assert running.value.details == {"operation_id": first.id}
    # Progress is saved under optimistic locking
    started = first.model_copy(
        update={"status": "InProgress", "progress": Progress(stage="issues"), "version": 2}
    )
    repo.save(tenant, started, expected_version=1)
    with pytest.raises(Conflict):
        repo.save(tenant, started.model_copy(update={"version": 3}), expected_version=1)
    assert repo.extend_lease(tenant, connection_id, first.id, lease + timedelta(minutes=5))
    assert not repo.extend_lease(tenant, connection_id, "op_someoneelsexxxxxxxx", lease)
    # Finishing releases the lock, so the next one can start
    done = started.model_copy(update={"status": "Completed", "finished_at": T0, "version": 3})
    repo.finish(tenant, done, expected_version=2)
    assert repo.active_operation_id(tenant, connection_id) is None
    second = repo.start(tenant, operation(connection_id, 2), owner="w1", lease_until=lease)
    assert repo.get(tenant, first.id).status == "Completed"
    assert [op.id for op in repo.list_for_connection(tenant, connection_id).items] == [second.id, first.id]


def test_a_continuation_slice_is_accepted_once(table: Table, tenant: str, connection_id: str) -> None:
    repo = SyncOperationRepository(table)
    op = repo.start(tenant, operation(connection_id), owner="w", lease_until=T0)
    assert repo.claim_slice(tenant, op.id, 0)
    assert not repo.claim_slice(tenant, op.id, 0)  # the duplicate SQS delivery
    assert repo.claim_slice(tenant, op.id, 1)
    assert repo.get(tenant, op.id).slice_no == 2


def test_sync_state(table: Table, tenant: str, connection_id: str) -> None:
    repo = SyncStateRepository(table)
    state = SyncState(connection_id=connection_id, entity="issues", updated_at=T0)
    repo.save(tenant, state, expected_version=None)
    with pytest.raises(Conflict):
        repo.save(tenant, state, expected_version=None)
    advanced = state.model_copy(update={"high_water": T0, "status": "ok", "version": 2})
    repo.save(tenant, advanced, expected_version=1)
    with pytest.raises(Conflict):
        repo.save(tenant, advanced, expected_version=1)
    assert repo.find(tenant, connection_id, "issues") == advanced
    assert repo.find(tenant, connection_id, "comments") is None
    assert repo.list_for_connection(tenant, connection_id) == [advanced]


def test_sync_logs_and_their_expiry(table: Table, tenant: str, connection_id: str) -> None:
    repo = SyncLogRepository(table)
    op_a, op_b = new_id(IdPrefix.OPERATION), new_id(IdPrefix.OPERATION)
    now = utcnow()
    entries = [
        SyncLogEntry(
            operation_id=op,
            connection_id=connection_id,
            seq=n,
            at=now + timedelta(seconds=n),
            event="sync.page",
        )
        for op in (op_a, op_b)
        for n in range(30)  # more than one batch write of 25
    ]
    repo.append(tenant, entries)
    assert [e.seq for e in repo.list_for_operation(tenant, op_a, limit=100).items] == list(range(30))
    newest = repo.list_for_connection(tenant, connection_id, limit=3).items
    assert [(e.seq, e.at) for e in newest] == [(29, now + timedelta(seconds=29))] * 2 + [
        (28, now + timedelta(seconds=28))
    ]
    # Entries past their retention are gone for readers, whether or not DynamoDB has deleted them yet
    expired = SyncLogRepository(table, retention=timedelta(days=-1))
    op_c = new_id(IdPrefix.OPERATION)
    expired.append(
        tenant, [SyncLogEntry(operation_id=op_c, connection_id=connection_id, seq=0, at=now, event="x")]
    )
    assert repo.list_for_operation(tenant, op_c).items == []


def test_another_tenant_cannot_reach_sync_data(
    table: Table, tenant: str, other_tenant: str, connection_id: str
) -> None:
    ops, states, logs = SyncOperationRepository(table), SyncStateRepository(table), SyncLogRepository(table)
    op = ops.start(tenant, operation(connection_id), owner="w", lease_until=T0)
    states.save(
        tenant, SyncState(connection_id=connection_id, entity="issues", updated_at=T0), expected_version=None
    )
    logs.append(
        tenant, [SyncLogEntry(operation_id=op.id, connection_id=connection_id, seq=0, at=utcnow(), event="x")]
    )

    with pytest.raises(NotFound):
        ops.get(other_tenant, op.id)
    with pytest.raises(NotFound):
        ops.save(other_tenant, op.model_copy(update={"version": 2}), expected_version=1)
    assert not ops.claim_slice(other_tenant, op.id, 0)
    assert not ops.extend_lease(other_tenant, connection_id, op.id, T0)
    assert ops.active_operation_id(other_tenant, connection_id) is None
    assert ops.list_for_connection(other_tenant, connection_id).items == []
    assert states.find(other_tenant, connection_id, "issues") is None
    assert states.list_for_connection(other_tenant, connection_id) == []
    assert logs.list_for_operation(other_tenant, op.id).items == []
    assert logs.list_for_connection(other_tenant, connection_id).items == []
    # The other tenant's start on the same connection id takes its own lock
    ops.start(other_tenant, operation(connection_id), owner="w", lease_until=T0)
    assert ops.active_operation_id(tenant, connection_id) == op.id
    assert ops.get(tenant, op.id).slice_no == 0
