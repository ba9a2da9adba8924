"""Issued OAuth ``state`` values, so each completes at most one authorization.

One item per state, ``T#{tenant}#OAUTH`` / ``OAUTHSTATE#{state_id}`` (``state_id``: a digest of the state
string), written with ``attribute_not_exists`` when the authorization URL is issued and carrying a TTL
(``expires_at``) equal to the state's own expiry. It names the connection the state was issued for and
holds the digest of the starter's session nonce, never the nonce. The callback marks it consumed with one
conditional update (exists, not consumed, not expired): of two callbacks racing with the same state,
exactly one wins. A consumed item stays until its TTL, so a replay is told "already used" rather than
"unknown".

The keys live here rather than in ``keys.py`` only because this piece was added alongside other work on
that file; they follow its rules (tenant first, no raw input in a key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trackbridge.domain.errors import Conflict
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE
from trackbridge.storage.mapping import datetime_or_none
from trackbridge.storage.table import ConditionFailed, Item, Table

ENTITY = "oauth_state"


def oauth_states_pk(tenant: str) -> str:
    return f"T#{tenant}#OAUTH"


def oauth_state_sk(state_id: str) -> str:
    return f"OAUTHSTATE#{state_id}"


@dataclass(frozen=True, slots=True)
class IssuedOAuthState:
    """A state as issued: for which connection, the digest of the session nonce, and until when."""

    state_id: str
    connection_id: str
    nonce_hash: str
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None

    @property
    def consumed(self) -> bool:
        return self.consumed_at is not None


class OAuthStateRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _item(tenant: str, state: IssuedOAuthState) -> Item:
        return {
            PK: oauth_states_pk(tenant),
            SK: oauth_state_sk(state.state_id),
            TTL_ATTRIBUTE: int(state.expires_at.timestamp()),
            "entity": ENTITY,
            "state_id": state.state_id,
            "connection_id": state.connection_id,
            "nonce_hash": state.nonce_hash,
            "created_at": to_iso(state.created_at),
            "state_expires_at": to_iso(state.expires_at),
        }

    @staticmethod
    def _model(item: Item) -> IssuedOAuthState:
        return IssuedOAuthState(
            state_id=item["state_id"],
            connection_id=item["connection_id"],
            nonce_hash=item["nonce_hash"],
            created_at=from_iso(item["created_at"]),
            expires_at=from_iso(item["state_expires_at"]),
            consumed_at=datetime_or_none(item.get("consumed_at")),
        )

    def issue(self, tenant: str, state: IssuedOAuthState) -> None:
        """Record a new state; a second record under the same id (never expected: 128 random bits and a
        timestamp are signed into every state) is a 409 rather than an overwrite."""
        try:
            self.table.put(
                self._item(tenant, state), condition="attribute_not_exists(#pk)", names={"#pk": PK}
            )
        except ConditionFailed as exc:
            raise Conflict("this OAuth state was already issued", code="ALREADY_EXISTS") from exc

    def get(self, tenant: str, state_id: str) -> IssuedOAuthState | None:
        """The record, or None when it was never issued under ``tenant`` or has expired."""
        item = self.table.get(oauth_states_pk(tenant), oauth_state_sk(state_id))
        return self._model(item) if item is not None else None

    def consume(self, tenant: str, state_id: str, *, connection_id: str, now: datetime) -> bool:
        """Mark the state used. True for the one call that did; False when it is absent, expired, for
        another connection, or already consumed (by an earlier or a concurrent callback)."""
        try:
            self.table.update(
                oauth_states_pk(tenant),
                oauth_state_sk(state_id),
                update="SET #consumed = :now",
                condition=(
                    "attribute_exists(#pk) AND attribute_not_exists(#consumed) "
                    "AND #conn = :conn AND #ttl > :epoch"
                ),
                names={
                    "#pk": PK,
                    "#consumed": "consumed_at",
                    "#conn": "connection_id",
                    "#ttl": TTL_ATTRIBUTE,
                },
                values={":now": to_iso(now), ":conn": connection_id, ":epoch": int(now.timestamp())},
            )
        except ConditionFailed:
            return False
        return True


__all__ = ["IssuedOAuthState", "OAuthStateRepository", "oauth_state_sk", "oauth_states_pk"]
