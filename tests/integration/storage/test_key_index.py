"""The Jira key index on moto: ``KEY#{key}`` pointers written beside issues, read by key in batches.

Both writers keep it: the sync writer's batches and ``write_outside_sync`` (webhooks, tracker actions). A
key resolves with two batch reads whatever the connection's size (a counting client checks no query runs),
a deleted issue stays findable but is no live ref, and a forge issue (``#12``, found by its number) gets
no pointer at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trackbridge.domain.issues import Issue
from trackbridge.runtime.sync.writer import ItemWriter, TableItems
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.keys import ISSUE_KEY_PREFIX, connection_pk
from trackbridge.storage.links import LinkRepository
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
CONNECTION = "conn_keyindexkeyindexab"


def _jira(n: int, *, key: str | None = None, minutes: int = 0, deleted: bool = False) -> Issue:
    at = T0 + timedelta(minutes=minutes)
    return Issue(
        ref=f"{CONNECTION}.{10000 + n}",
        external_id=f"jira:https://acme.atlassian.net:{10000 + n}",
        connection_id=CONNECTION,
        provider="jira",
        key=key or f"ACME-{n}",
        title=f"issue {n}",
        status="To Do",
        status_category="todo",
        created_at=T0,
        updated_at=at,
        deleted_at=at if deleted else None,
    ).with_hash()


def _github(n: int) -> Issue:
    return Issue(
        ref=f"{CONNECTION}.{n}",
        external_id=f"github:https://github.com/acme/web:{n}",
        connection_id=CONNECTION,
        provider="github",
        key=f"#{n}",
        title=f"issue {n}",
        status="open",
        status_category="todo",
        created_at=T0,
        updated_at=T0,
    ).with_hash()


class CountingClient:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def counted(**request: Any) -> Any:
            self.calls.append(name)
            return method(**request)

        return counted if callable(method) else method


def _pointer_keys(table: Table, tenant: str) -> list[str]:
    items, _ = table.query(partition=connection_pk(tenant, CONNECTION), sk_prefix=ISSUE_KEY_PREFIX, limit=100)
    return sorted(str(item["key"]) for item in items)


def test_a_sync_batch_writes_pointers_for_jira_keys_only(table: Table, tenant: str) -> None:
    # When: a sync page of 30 Jira issues and two GitHub issues is written
    ItemWriter(TableItems(table), tenant, operation_id="op_abcdefghijklmnopqrst").write(
        [*(_jira(n) for n in range(30)), _github(1), _github(2)]
    )

    # Then: one pointer per Jira key, none for "#1" and "#2"
    assert _pointer_keys(table, tenant) == sorted(f"ACME-{n}" for n in range(30))


def test_keys_resolve_with_two_batch_reads_and_no_query(
    table: Table, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ItemWriter(TableItems(table), tenant).write([_jira(n) for n in range(150)])
    meter = CountingClient(table.client)
    monkeypatch.setattr(table, "client", meter)

    found = IssueRepository(table).find_by_keys(tenant, CONNECTION, ["ACME-7", "ACME-149", "ACME-999", "#7"])

    assert {key: issue.ref for key, issue in found.items()} == {
        "ACME-7": f"{CONNECTION}.10007",
        "ACME-149": f"{CONNECTION}.10149",
    }
    assert meter.calls == ["batch_get_item", "batch_get_item"]


def test_outside_writes_keep_the_index_and_a_deleted_issue_is_no_live_ref(
    table: Table, tenant: str, other_tenant: str
) -> None:
    repo = IssueRepository(table)
    links = LinkRepository(table)
    assert repo.put_if_newer(tenant, _jira(1)) == "created"
    assert repo.put_if_newer(tenant, _jira(2)) == "created"
    assert links.issue_refs_by_key(tenant, CONNECTION, ["ACME-1", "ACME-2"]) == {
        "ACME-1": f"{CONNECTION}.10001",
        "ACME-2": f"{CONNECTION}.10002",
    }

    # When: issue 1 moves to another project (a new key) and issue 2 is deleted at the tracker
    assert repo.put_if_newer(tenant, _jira(1, key="OPS-3", minutes=5)) == "updated"
    assert repo.put_if_newer(tenant, _jira(2, minutes=5, deleted=True)) == "updated"

    # Then: both keys of the moved issue find it, the deleted one is found but is no live ref
    refs = links.issue_refs_by_key(tenant, CONNECTION, ["ACME-1", "OPS-3", "ACME-2"])
    assert refs == {"ACME-1": f"{CONNECTION}.10001", "OPS-3": f"{CONNECTION}.10001"}
    assert repo.find_by_keys(tenant, CONNECTION, ["ACME-2"])["ACME-2"].deleted_at is not None
    # And: another tenant's lookup of the same connection id finds nothing
    assert links.issue_refs_by_key(other_tenant, CONNECTION, ["ACME-1", "OPS-3"]) == {}
