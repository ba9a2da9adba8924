"""Links: three items in one transaction, both directions queryable, no duplicates, tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.links import Link, ObjectRef
from trackbridge.storage.links import LinkRepository
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, tzinfo=UTC)
ORDERS = ObjectRef(kind="table", database="sales", schema="public", name="orders")


def link(obj: ObjectRef, ref: str) -> Link:
    return Link(id=new_id(IdPrefix.LINK), object=obj, issue_ref=ref, created_by="k", created_at=T0)


@pytest.fixture
def refs() -> list[str]:
    connection = new_id(IdPrefix.CONNECTION)
    return [f"{connection}.{n}" for n in range(3)]


def test_links_both_ways(table: Table, tenant: str, refs: list[str]) -> None:
    repo = LinkRepository(table)
    view = ObjectRef(kind="view", database="sales", schema="public", name="v_orders")
    a = repo.create(tenant, link(ORDERS, refs[0]))
    b = repo.create(tenant, link(ORDERS, refs[1]))
    c = repo.create(tenant, link(view, refs[0]))
    assert repo.get(tenant, a.id) == a
    assert {x.id for x in repo.list_for_object(tenant, ORDERS).items} == {a.id, b.id}
    assert {x.id for x in repo.list_for_issue(tenant, refs[0]).items} == {a.id, c.id}
    # The same pair cannot be linked twice
    with pytest.raises(Conflict) as duplicate:
        repo.create(tenant, link(ORDERS, refs[0]))
    assert duplicate.value.details == {"link_id": a.id}
    # Deleting removes every side
    repo.delete(tenant, a.id)
    assert {x.id for x in repo.list_for_object(tenant, ORDERS).items} == {b.id}
    assert {x.id for x in repo.list_for_issue(tenant, refs[0]).items} == {c.id}
    with pytest.raises(NotFound):
        repo.get(tenant, a.id)
    with pytest.raises(NotFound):
        repo.delete(tenant, a.id)
    # And the pair can be linked again afterwards
    repo.create(tenant, link(ORDERS, refs[0]))


def test_another_tenant_cannot_reach_links(
    table: Table, tenant: str, other_tenant: str, refs: list[str]
) -> None:
    repo = LinkRepository(table)
    mine = repo.create(tenant, link(ORDERS, refs[0]))
    with pytest.raises(NotFound):
        repo.get(other_tenant, mine.id)
    with pytest.raises(NotFound):
        repo.delete(other_tenant, mine.id)
    assert repo.list_for_object(other_tenant, ORDERS).items == []
    assert repo.list_for_issue(other_tenant, refs[0]).items == []
    # The other tenant may link the same pair in its own keyspace
    repo.create(other_tenant, link(ORDERS, refs[0]))
    assert [x.id for x in repo.list_for_object(tenant, ORDERS).items] == [mine.id]
