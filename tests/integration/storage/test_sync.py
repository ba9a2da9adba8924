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


class TestALeftoverLock:
    """Start and finish are two writes each: a worker that dies between them leaves a lock behind."""

    def test_of_a_finish_that_died_after_its_status_is_taken_over_by_the_next_start(
        self, table: Table, tenant: str, connection_id: str
    ) -> None:
        # Given: an operation stored Completed whose lock was never released
        repo = SyncOperationRepository(table)
        first = repo.start(
            tenant, operation(connection_id), owner="w1", lease_until=utcnow() + timedelta(hours=1)
        )
        repo.save(tenant, first.model_copy(update={"status": "Completed", "version": 2}), expected_version=1)
        assert repo.active_operation_id(tenant, connection_id) == first.id

        # When the next sync starts
        second = repo.start(tenant, operation(connection_id, 1), owner="w2", lease_until=utcnow())

        # Then it holds the lock, and a third is refused while it runs
        assert repo.active_operation_id(tenant, connection_id) == second.id
        with pytest.raises(Conflict) as running:
            repo.start(tenant, operation(connection_id, 2), owner="w3", lease_until=utcnow())
        assert running.value.details == {"operation_id": second.id}

    def test_of_a_start_that_died_before_its_operation_waits_for_its_lease(
        self, table: Table, tenant: str, connection_id: str
    ) -> None:
        # Given: a lock naming an operation that was never stored (its start died between the two writes)
        repo = SyncOperationRepository(table)
        ghost = operation(connection_id)
        lease = T0 + timedelta(minutes=5)
        table.put(
            {
                "pk": f"T#{tenant}#CONN#{connection_id}",
                "sk": "LOCK#SYNC",
                "entity": "sync_lock",
                "operation_id": ghost.id,
                "owner": "dead",
                "lease_until": lease.isoformat().replace("+00:00", "Z"),
            }
        )

        # When a start comes within the lease: refused (that start may still be writing its operation)
        with pytest.raises(Conflict):
            repo.start(tenant, operation(connection_id, 1), owner="w2", lease_until=lease, now=T0)

        # Then after the lease the next start takes the lock over
        later = repo.start(
            tenant,
            operation(connection_id, 2),
            owner="w2",
            lease_until=lease,
            now=lease + timedelta(seconds=1),
        )
        assert repo.active_operation_id(tenant, connection_id) == later.id

    def test_finishing_an_operation_whose_lock_was_taken_over_leaves_the_new_lock(
        self, table: Table, tenant: str, connection_id: str
    ) -> None:
        # Given: the first operation's lock taken over by a second start after the first was stored final
        repo = SyncOperationRepository(table)
        first = repo.start(tenant, operation(connection_id), owner="w1", lease_until=utcnow())
        final = first.model_copy(update={"status": "Failed", "finished_at": T0, "version": 2})
        repo.save(tenant, final, expected_version=1)
        second = repo.start(tenant, operation(connection_id, 1), owner="w2", lease_until=utcnow())

        # When the first one's finish is retried
        repo.finish(tenant, final.model_copy(update={"version": 3}), expected_version=2)

        # Then the second keeps its lock
        assert repo.active_operation_id(tenant, connection_id) == second.id


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
