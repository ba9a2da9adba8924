"""Connections, rules and templates: conditional create, optimistic locking, cursors, tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from trackbridge.domain.audit import Actor, new_entry
from trackbridge.domain.automation import Dedup, Rule, Template
from trackbridge.domain.connections import Connection, Scope
from trackbridge.domain.errors import Conflict, InvalidInput, NotFound
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.automation import RuleRepository, TemplateRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.documents import VersionedDocuments
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def connection(n: int = 0) -> Connection:
    return Connection(
        id=new_id(IdPrefix.CONNECTION),
        name=f"repo {n}",
        provider="github",
        base_url="https://api.github.com",
        scope=Scope(repo=f"acme/r{n}"),
        created_at=T0,
        updated_at=T0,
    )


def rule(n: int = 0) -> Rule:
    return Rule(
        name=f"rule-{n}-{new_id('r')[2:8]}",
        event_type="alarm",
        connection_id="conn_abcdefghijklmnopqrst",
        template="alarm",
        dedup=Dedup(key="{{ event.subject.name }}"),
    )


def template(n: int = 0) -> Template:
    return Template(name=f"tpl-{n}-{new_id('t')[2:8]}", title="{{ event.type }}")


KINDS: list[tuple[type[VersionedDocuments[Any]], Callable[[int], Any], dict[str, Any]]] = [
    (ConnectionRepository, connection, {"name": "renamed"}),
    (RuleRepository, rule, {"priority": 5}),
    (TemplateRepository, template, {"title": "changed"}),
]
IDS = ["connection", "rule", "template"]


@pytest.mark.parametrize(("repo_cls", "make", "change"), KINDS, ids=IDS)
def test_create_get_replace_delete(
    table: Table,
    tenant: str,
    repo_cls: type[VersionedDocuments[Any]],
    make: Callable[[int], Any],
    change: dict[str, Any],
) -> None:
    repo = repo_cls(table)
    doc = repo.create(tenant, make(0))
    doc_id = repo.document_id(doc)
    assert repo.get(tenant, doc_id) == doc
    # A second create of the same id loses
    with pytest.raises(Conflict) as duplicate:
        repo.create(tenant, doc)
    assert duplicate.value.code == "ALREADY_EXISTS"
    # Optimistic locking: the expected version wins once
    v2 = doc.model_copy(update={**change, "version": 2})
    repo.replace(tenant, v2, expected_version=1)
    assert repo.get(tenant, doc_id) == v2
    with pytest.raises(Conflict) as stale:
        repo.replace(tenant, doc.model_copy(update={"version": 2}), expected_version=1)
    assert stale.value.code == "VERSION_CONFLICT"
    assert stale.value.details["version"] == 2
    with pytest.raises(Conflict):
        repo.delete(tenant, doc_id, expected_version=1)
    repo.delete(tenant, doc_id, expected_version=2)
    assert repo.find(tenant, doc_id) is None
    with pytest.raises(NotFound):
        repo.get(tenant, doc_id)
    with pytest.raises(NotFound):
        repo.replace(tenant, v2, expected_version=2)
    with pytest.raises(NotFound):
        repo.delete(tenant, doc_id)


@pytest.mark.parametrize(("repo_cls", "make", "change"), KINDS, ids=IDS)
def test_another_tenant_cannot_reach_a_document(
    table: Table,
    tenant: str,
    other_tenant: str,
    repo_cls: type[VersionedDocuments[Any]],
    make: Callable[[int], Any],
    change: dict[str, Any],
) -> None:
    repo = repo_cls(table)
    doc = repo.create(tenant, make(0))
    doc_id = repo.document_id(doc)
    with pytest.raises(NotFound):
        repo.get(other_tenant, doc_id)
    assert repo.find(other_tenant, doc_id) is None
    assert repo.list(other_tenant).items == []
    with pytest.raises(NotFound):
        repo.replace(other_tenant, doc.model_copy(update={**change, "version": 2}), expected_version=1)
    with pytest.raises(NotFound):
        repo.delete(other_tenant, doc_id)
    # The owner's document is untouched
    assert repo.get(tenant, doc_id) == doc


def test_listing_pages_with_cursors(table: Table, tenant: str, other_tenant: str) -> None:
    repo = ConnectionRepository(table)
    created = {repo.create(tenant, connection(n)).id for n in range(5)}
    seen: list[str] = []
    cursor = None
    pages = 0
    for _ in range(10):  # bounded: 5 items in pages of 2 take 3 pages
        page = repo.list(tenant, limit=2, cursor=cursor)
        pages += 1
        seen.extend(c.id for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(created)
    # A cursor is only good for the listing and tenant it came from
    first = repo.list(tenant, limit=2)
    assert first.next_cursor is not None
    with pytest.raises(InvalidInput):
        repo.list(other_tenant, limit=2, cursor=first.next_cursor)
    with pytest.raises(InvalidInput):
        repo.list(tenant, cursor=first.next_cursor[:-3] + "abc")
    with pytest.raises(InvalidInput):
        RuleRepository(table).list(tenant, cursor=first.next_cursor)


def test_a_change_and_its_audit_entry_land_together_or_not_at_all(table: Table, tenant: str) -> None:
    repo, audit = ConnectionRepository(table), AuditRepository(table)
    doc = repo.create(tenant, connection())
    entry = new_entry(action="connection.update", target=doc.id, actor=Actor(id="k"), at=T0, changes={})
    audit.append(tenant, entry)
    # Given an audit write that must fail (its id is already taken)
    with pytest.raises(Conflict):
        repo.replace(
            tenant,
            doc.model_copy(update={"name": "x", "version": 2}),
            expected_version=1,
            also=(audit.put_op(tenant, entry),),
        )
    # Then the change did not land either
    assert repo.get(tenant, doc.id).version == 1
    assert len(audit.list(tenant).items) == 1
