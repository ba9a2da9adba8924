"""API keys, two items per key written in one transaction.

* the lookup item ``APIKEY#{key_id}`` / ``APIKEY#{key_id}``: tenant, ``sha256(secret)``, scopes, created,
  last used. The authorizer must find the key before it knows the tenant, so this is the one partition key
  not prefixed by a tenant; its key id is random and the item only names the tenant it belongs to.
* the tenant-side item ``T#{tenant}`` / ``APIKEY#{key_id}``: for listing a tenant's keys; no hash.

``last_used_at`` is written at most once per :data:`LAST_USED_RESOLUTION` per key: a conditional update of
the lookup item decides (so concurrent authorizers write once), and only the one that won copies the time
to the tenant-side item, so a busy client costs two writes every few minutes, not one per request (and the
API Gateway cache absorbs most checks anyway).

Revoking deletes the lookup item (the authorizer no longer finds the key, and the hash is gone for good) and
marks the tenant-side item ``revoked_at``, in one transaction, so the listing and audit keep naming it.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from trackbridge.domain.api_keys import ApiKey, StoredApiKey
from trackbridge.domain.errors import NotFound
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import API_KEY_PREFIX, PK, SK, api_key_lookup_pk, api_key_sk, tenant_pk
from trackbridge.storage.mapping import datetime_or_none
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

LAST_USED_RESOLUTION = timedelta(minutes=5)


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
        return ApiKey(
            key_id=item["key_id"],
            tenant=item["tenant"],
            scopes=tuple(item["scopes"]),
            created_at=from_iso(item["created_at"]),
            last_used_at=datetime_or_none(item.get("last_used_at")),
            revoked_at=datetime_or_none(item.get("revoked_at")),
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
        return query_page(
            self.table,
            tenant,
            self._model,
            partition=tenant_pk(tenant),
            sk_prefix=API_KEY_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    def touch(self, key_id: str, now: datetime) -> bool:
        """Record a use, unless one was recorded less than :data:`LAST_USED_RESOLUTION` ago.

        True when this call wrote. The lookup item's condition settles races between authorizers; only the
        winner copies the time to the tenant-side item (what the listing shows), which it never creates.
        """
        names = {"#pk": PK, "#lu": "last_used_at"}
        try:
            stored = self.table.update(
                api_key_lookup_pk(key_id),
                api_key_sk(key_id),
                update="SET #lu = :now",
                condition="attribute_exists(#pk) AND (attribute_not_exists(#lu) OR #lu < :threshold)",
                names=names,
                values={":now": to_iso(now), ":threshold": to_iso(now - LAST_USED_RESOLUTION)},
            )
        except ConditionFailed:
            return False
        # A failed condition here: a later use is already recorded, or the tenant-side item is gone.
        with suppress(ConditionFailed):
            self.table.update(
                tenant_pk(str(stored["tenant"])),
                api_key_sk(key_id),
                update="SET #lu = :now",
                condition="attribute_exists(#pk) AND (attribute_not_exists(#lu) OR #lu < :now)",
                names=names,
                values={":now": to_iso(now)},
            )
        return True

    @staticmethod
    def due(last_used_at: datetime | None, now: datetime) -> bool:
        """Whether a use at ``now`` is worth a write (saves the failed conditional write, which costs too)."""
        return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION

    def revoke(self, tenant: str, key_id: str, *, at: datetime, also: tuple[TransactItem, ...] = ()) -> bool:
        """Mark the tenant's key revoked and delete its lookup item; ``also`` joins the same transaction.

        True when this call revoked the key. A key already revoked is left as it is (``revoked_at`` keeps the
        first time) and nothing is written, ``also`` included: False. A key the tenant does not have (unknown,
        or another tenant's) is NotFound.
        """
        try:
            self.table.transact(
                [
                    # First, so a failure here (unknown key, another tenant's, already revoked) is index 0
                    # and carries the tenant-side item, which tells the cases apart without a second read.
                    self.table.update_op(
                        tenant_pk(tenant),
                        api_key_sk(key_id),
                        update="SET #r = :at",
                        condition="attribute_exists(#pk) AND attribute_not_exists(#r)",
                        names={"#pk": PK, "#r": "revoked_at"},
                        values={":at": to_iso(at)},
                    ),
                    self.table.delete_op(
                        api_key_lookup_pk(key_id),
                        api_key_sk(key_id),
                        condition="attribute_not_exists(#pk) OR #t = :tenant",
                        names={"#pk": PK, "#t": "tenant"},
                        values={":tenant": tenant},
                    ),
                    *also,
                ]
            )
        except ConditionFailed as exc:
            if exc.index == 0 and exc.old_item is not None and exc.old_item.get("revoked_at"):
                return False
            if exc.index in (0, 1):
                raise NotFound(f"no API key {key_id!r}", details={"key_id": key_id}) from exc
            raise
        return True


__all__ = ["LAST_USED_RESOLUTION", "ApiKeyRepository"]
