"""Stored transitions (issue 19): per issue, in time order, written once, invisible to another tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Transition
from trackbridge.storage.changelogs import TransitionRepository
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def transition(connection_id: str, issue: int, history: int, minutes: int, to: str) -> Transition:
    return Transition(
        id=f"{history}:status",
        issue_ref=f"{connection_id}.{issue}",
        connection_id=connection_id,
        field="status",
        from_value="10000",
        from_name="To Do",
        to_value="3",
        to_name=to,
        author="acct-1",
        at=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def connection_id() -> str:
    return new_id(IdPrefix.CONNECTION)


def test_history_reads_in_time_order_and_a_rewrite_stores_nothing(
    table: Table, tenant: str, connection_id: str
) -> None:
    repo = TransitionRepository(table)
    later = transition(connection_id, 1, 20, 30, "Done")
    earlier = transition(connection_id, 1, 21, 5, "In Progress")  # a higher id, an earlier time
    elsewhere = transition(connection_id, 2, 22, 1, "Done")
    assert repo.store(tenant, [later, earlier, elsewhere]).created == 3
    again = repo.store(tenant, [later, earlier])
    assert (again.created, again.unchanged) == (0, 2)
    assert repo.history(tenant, later.issue_ref) == [earlier, later]
    assert repo.history(tenant, elsewhere.issue_ref) == [elsewhere]


def test_pages_follow_the_cursor(table: Table, tenant: str, connection_id: str) -> None:
    repo = TransitionRepository(table)
    stored = [transition(connection_id, 3, 100 + n, n, "Done") for n in range(5)]
    repo.store(tenant, stored)
    first = repo.list_for_issue(tenant, stored[0].issue_ref, limit=2)
    assert first.items == stored[:2]
    assert first.next_cursor is not None
    rest = repo.list_for_issue(tenant, stored[0].issue_ref, limit=10, cursor=first.next_cursor)
    assert rest.items == stored[2:]


def test_another_tenant_sees_nothing_and_cannot_use_the_cursor(
    table: Table, tenant: str, other_tenant: str, connection_id: str
) -> None:
    repo = TransitionRepository(table)
    stored = [transition(connection_id, 4, 200 + n, n, "Done") for n in range(3)]
    repo.store(tenant, stored)
    assert repo.history(other_tenant, stored[0].issue_ref) == []
    cursor = repo.list_for_issue(tenant, stored[0].issue_ref, limit=1).next_cursor
    with pytest.raises(InvalidInput):
        repo.list_for_issue(other_tenant, stored[0].issue_ref, cursor=cursor)
