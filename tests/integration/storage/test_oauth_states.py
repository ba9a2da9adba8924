"""Issued OAuth states: recorded once, consumed once, only under their tenant, gone at their expiry."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.errors import Conflict
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE
from trackbridge.storage.oauth_states import (
    IssuedOAuthState,
    OAuthStateRepository,
    oauth_state_sk,
    oauth_states_pk,
)
from trackbridge.storage.table import Table, deserialize

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CONNECTION = "conn_abcdefghijklmnopqrst"


@pytest.fixture
def repo(table: Table) -> OAuthStateRepository:
    # The table's clock decides what has expired (moto never deletes by TTL): pinned to T0.
    return OAuthStateRepository(Table(table.client, table.name, clock=lambda: T0.timestamp()))


def issued(*, expires_at: datetime = T0 + timedelta(minutes=10)) -> IssuedOAuthState:
    return IssuedOAuthState(
        state_id=secrets.token_hex(32),
        connection_id=CONNECTION,
        nonce_hash=secrets.token_hex(32),
        created_at=T0,
        expires_at=expires_at,
    )


def test_a_state_is_recorded_once_with_its_expiry_as_ttl(repo: OAuthStateRepository, tenant: str) -> None:
    state = issued()

    repo.issue(tenant, state)

    assert repo.get(tenant, state.state_id) == state
    with pytest.raises(Conflict) as caught:
        repo.issue(tenant, state)
    assert caught.value.code == "ALREADY_EXISTS"
    raw = repo.table.client.get_item(
        TableName=repo.table.name,
        Key=Table.key(oauth_states_pk(tenant), oauth_state_sk(state.state_id)),
    )["Item"]
    item = deserialize(raw)
    assert item[PK].startswith(f"T#{tenant}#")
    assert item[SK] == f"OAUTHSTATE#{state.state_id}"
    assert item[TTL_ATTRIBUTE] == int(state.expires_at.timestamp())
    assert "nonce" not in item


def test_a_state_is_consumed_exactly_once(repo: OAuthStateRepository, tenant: str) -> None:
    state = issued()
    repo.issue(tenant, state)

    first = repo.consume(tenant, state.state_id, connection_id=CONNECTION, now=T0)
    again = repo.consume(tenant, state.state_id, connection_id=CONNECTION, now=T0 + timedelta(seconds=1))

    assert (first, again) == (True, False)
    stored = repo.get(tenant, state.state_id)
    assert stored is not None
    assert stored.consumed
    assert stored.consumed_at == T0


def test_racing_callbacks_consume_a_state_once(repo: OAuthStateRepository, tenant: str) -> None:
    state = issued()
    repo.issue(tenant, state)
    start = threading.Barrier(6, timeout=120)

    def consume(_: int) -> bool:
        start.wait()
        return repo.consume(tenant, state.state_id, connection_id=CONNECTION, now=T0)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(consume, range(6)))

    assert sorted(results) == [False] * 5 + [True]


def test_another_tenant_or_connection_cannot_consume_it(
    repo: OAuthStateRepository, tenant: str, other_tenant: str
) -> None:
    state = issued()
    repo.issue(tenant, state)

    assert repo.get(other_tenant, state.state_id) is None
    assert not repo.consume(other_tenant, state.state_id, connection_id=CONNECTION, now=T0)
    assert not repo.consume(tenant, state.state_id, connection_id="conn_zzzzzzzzzzzzzzzzzzzz", now=T0)
    stored = repo.get(tenant, state.state_id)
    assert stored is not None
    assert not stored.consumed
    # Refused attempts left it usable by its own tenant and connection.
    assert repo.consume(tenant, state.state_id, connection_id=CONNECTION, now=T0)


def test_an_expired_or_unknown_state_cannot_be_consumed(repo: OAuthStateRepository, tenant: str) -> None:
    state = issued(expires_at=T0 + timedelta(minutes=10))
    stale = issued(expires_at=T0 - timedelta(seconds=1))
    repo.issue(tenant, state)
    repo.issue(tenant, stale)

    assert repo.get(tenant, stale.state_id) is None  # past its TTL: absent, though moto keeps it
    assert not repo.consume(tenant, stale.state_id, connection_id=CONNECTION, now=T0)
    assert not repo.consume(
        tenant, state.state_id, connection_id=CONNECTION, now=state.expires_at + timedelta(seconds=1)
    )
    assert not repo.consume(tenant, secrets.token_hex(32), connection_id=CONNECTION, now=T0)
