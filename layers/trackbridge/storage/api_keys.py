"""API keys, two items per key written in one transaction.

* the lookup item ``APIKEY#{key_id}`` / ``APIKEY#{key_id}``: tenant, ``sha256(secret)``, scopes, created,
  last used. The authorizer must find the key before it knows the tenant, so this is the one partition key
  not prefixed by a tenant; its key id is random and the item only names the tenant it belongs to.
* the tenant-side item ``T#{tenant}`` / ``APIKEY#{key_id}``: for listing a tenant's keys; no hash.

``last_used_at`` is written at most once a minute per key by a conditional update, so a busy client costs
one write a minute instead of one per request (and the API Gateway cache absorbs most checks anyway).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trackbridge.domain.api_keys import ApiKey, StoredApiKey
from trackbridge.domain.errors import NotFound
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import API_KEY_PREFIX, PK, SK, api_key_lookup_pk, api_key_sk, tenant_pk
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _public(key: ApiKey) -> Item:
        return {
            "key_id": key.key_id,
            "tenant": key.tenant,
            "scopes": list(key.scopes),
            "created_at": to_iso(key.created_at),
        }

    @staticmethod
    def _model(item: Item) -> ApiKey:
        last_used = item.get("last_used_at")
        return ApiKey(
            key_id=item["key_id"],
            tenant=item["tenant"],
            scopes=tuple(item["scopes"]),
            created_at=from_iso(item["created_at"]),
            last_used_at=from_iso(last_used) if last_used else None,
        )

    def create(self, key: StoredApiKey, *, also: tuple[TransactItem, ...] = ()) -> None:
        lookup = {
            PK: api_key_lookup_pk(key.key_id),
            SK: api_key_sk(key.key_id),
            "entity": "api_key",
            **self._public(key),
            "secret_hash": key.secret_hash,
        }
        tenant_side = {
            PK: tenant_pk(key.tenant),
            SK: api_key_sk(key.key_id),
            "entity": "api_key",
            **self._public(key),
        }
        guard, names = "attribute_not_exists(#pk)", {"#pk": PK}
        self.table.transact(
            [
                self.table.put_op(lookup, condition=guard, names=names),
                self.table.put_op(tenant_side, condition=guard, names=names),
                *also,
            ]
        )

    def lookup(self, key_id: str) -> StoredApiKey | None:
        """The authorizer's read: by key id alone, before the tenant is known."""
        item = self.table.get(api_key_lookup_pk(key_id), api_key_sk(key_id))
        if item is None:
            return None
        return StoredApiKey(**self._model(item).model_dump(), secret_hash=item["secret_hash"])

    def get(self, tenant: str, key_id: str) -> ApiKey:
        item = self.table.get(tenant_pk(tenant), api_key_sk(key_id))
        if item is None:
            raise NotFound(f"no API key {key_id!r}", details={"key_id": key_id})
        return self._model(item)

    def list(self, tenant: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[ApiKey]:
        items, next_cursor = self.table.query(
            partition=tenant_pk(tenant),
            sk_prefix=API_KEY_PREFIX,
            limit=limit,
            cursor=cursor,
            tenant_prefix=tenant_pk(tenant),
        )
        return Page[ApiKey](items=[self._model(item) for item in items], next_cursor=next_cursor)

    def touch(self, key_id: str, now: datetime) -> bool:
        """Record a use, unless one was recorded less than a minute ago. True when this call wrote."""
        try:
            self.table.update(
                api_key_lookup_pk(key_id),
                api_key_sk(key_id),
                update="SET #lu = :now",
                condition="attribute_exists(#pk) AND (attribute_not_exists(#lu) OR #lu < :threshold)",
                names={"#pk": PK, "#lu": "last_used_at"},
                values={":now": to_iso(now), ":threshold": to_iso(now - LAST_USED_RESOLUTION)},
            )
        except ConditionFailed:
            return False
        return True

    def revoke(self, tenant: str, key_id: str, *, also: tuple[TransactItem, ...] = ()) -> None:
        """Delete both items; the lookup item only if it belongs to ``tenant`` (else: NotFound)."""
        try:
            self.table.transact(
                [
                    self.table.delete_op(
                        api_key_lookup_pk(key_id),
                        api_key_sk(key_id),
                        condition="attribute_exists(#pk) AND #t = :tenant",
                        names={"#pk": PK, "#t": "tenant"},
                        values={":tenant": tenant},
                    ),
                    self.table.delete_op(tenant_pk(tenant), api_key_sk(key_id)),
                    *also,
                ]
            )
        except ConditionFailed as exc:
            if exc.index == 0:
                raise NotFound(f"no API key {key_id!r}", details={"key_id": key_id}) from exc
            raise


__all__ = ["LAST_USED_RESOLUTION", "ApiKeyRepository"]
