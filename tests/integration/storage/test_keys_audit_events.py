"""API keys (lookup + tenant items), audit entries newest first, and received events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.api_keys import StoredApiKey, generate_key
from trackbridge.domain.audit import Actor, new_entry
from trackbridge.domain.automation import Event
from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.times import utcnow
from trackbridge.storage.api_keys import LAST_USED_RESOLUTION, ApiKeyRepository
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.automation import EventRepository
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def stored_key(tenant: str) -> StoredApiKey:
    issued = generate_key()
    return StoredApiKey(key_id=issued.key_id, tenant=tenant, created_at=T0, secret_hash=issued.secret_hash)


def test_api_keys(table: Table, tenant: str, other_tenant: str) -> None:
    repo = ApiKeyRepository(table)
    key = stored_key(tenant)
    repo.create(key)
    assert repo.lookup(key.key_id) == key
    assert repo.get(tenant, key.key_id).tenant == tenant
    assert [k.key_id for k in repo.list(tenant).items] == [key.key_id]
    with pytest.raises(Conflict):
        repo.create(key)
    # last_used moves at most once per LAST_USED_RESOLUTION, on the lookup and the tenant-side item
    assert repo.touch(key.key_id, T0)
    assert not repo.touch(key.key_id, T0 + LAST_USED_RESOLUTION - timedelta(seconds=1))
    later = T0 + LAST_USED_RESOLUTION + timedelta(seconds=1)
    assert repo.touch(key.key_id, later)
    assert repo.lookup(key.key_id).last_used_at == later  # type: ignore[union-attr]
    assert repo.get(tenant, key.key_id).last_used_at == later
    assert repo.list(tenant).items[0].last_used_at == later
    assert not repo.touch("abcdefghijklmnopqrst", T0)  # an unknown key is not created by a touch
    assert repo.lookup("abcdefghijklmnopqrst") is None
    # Another tenant can neither read nor revoke it
    with pytest.raises(NotFound):
        repo.get(other_tenant, key.key_id)
    assert repo.list(other_tenant).items == []
    with pytest.raises(NotFound):
        repo.revoke(other_tenant, key.key_id, at=T0)
    assert repo.lookup(key.key_id) is not None
    assert repo.get(tenant, key.key_id).revoked_at is None
    # Revoking drops the lookup item (and the hash) and keeps the key listed as revoked
    revoked_at = later + timedelta(minutes=1)
    assert repo.revoke(tenant, key.key_id, at=revoked_at)
    assert repo.lookup(key.key_id) is None
    assert [(k.key_id, k.revoked_at) for k in repo.list(tenant).items] == [(key.key_id, revoked_at)]
    assert not repo.touch(key.key_id, revoked_at + LAST_USED_RESOLUTION)  # a revoked key is not "used"
    # Revoking again changes nothing (revoked_at keeps the first time); an unknown id is NotFound
    assert not repo.revoke(tenant, key.key_id, at=revoked_at + timedelta(minutes=1))
    assert repo.get(tenant, key.key_id).revoked_at == revoked_at
    with pytest.raises(NotFound):
        repo.revoke(tenant, "abcdefghijklmnopqrst", at=T0)


def test_audit_is_newest_first_and_paged(table: Table, tenant: str, other_tenant: str) -> None:
    repo = AuditRepository(table)
    for n in range(5):
        repo.append(
            tenant,
            new_entry(
                action=f"a.{n}", target="x", actor=Actor(id="k"), at=T0 + timedelta(seconds=n), changes={}
            ),
        )
    first = repo.list(tenant, limit=3)
    second = repo.list(tenant, limit=3, cursor=first.next_cursor)
    assert [e.action for e in first.items + second.items] == ["a.4", "a.3", "a.2", "a.1", "a.0"]
    assert second.next_cursor is None
    assert repo.list(other_tenant).items == []


def test_events(table: Table, tenant: str, other_tenant: str) -> None:
    repo = EventRepository(table)
    now = utcnow()
    event = Event(id=new_id(IdPrefix.EVENT), type="alarm", source="test", occurred_at=now, received_at=now)
    repo.record(tenant, event)
    with pytest.raises(Conflict):
        repo.record(tenant, event)
    repo.set_status(tenant, event.id, "processed", issue_ref="conn_abcdefghijklmnopqrst.1")
    stored = repo.get(tenant, event.id)
    assert (stored.status, stored.issue_ref) == ("processed", "conn_abcdefghijklmnopqrst.1")
    with pytest.raises(NotFound):
        repo.get(other_tenant, event.id)
    with pytest.raises(NotFound):
        repo.set_status(other_tenant, event.id, "ignored")
    # An event past its retention is gone for readers
    old = Event(
        id=new_id(IdPrefix.EVENT),
        type="alarm",
        source="t",
        occurred_at=now,
        received_at=now - timedelta(days=31),
    )
    repo.record(tenant, old)
    with pytest.raises(NotFound):
        repo.get(tenant, old.id)
