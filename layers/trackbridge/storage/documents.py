"""A base for a tenant's named documents (connections, rules, templates): one item each under ``T#{tenant}``.

The base owns the algorithm (keys, conditional create, optimistic locking on ``version``, pagination, the
"absent vs changed" decision); a subclass names its sort-key prefix and maps its model to item attributes and
back, explicitly. Every method takes the tenant first and builds the partition key from it, so a document
of another tenant is simply not found: 404, never 403, never a hint that it exists.

Writes accept ``also``: further transaction items (an audit entry) written atomically with the change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel

from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.storage.keys import PK, SK, tenant_pk
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

M = TypeVar("M", bound=BaseModel)


class VersionedDocuments(ABC, Generic[M]):
    sk_prefix: ClassVar[str]
    kind: ClassVar[str]  # the entity name in items and in messages ("connection")

    def __init__(self, table: Table) -> None:
        self.table = table

    # -- what a subclass supplies -------------------------------------------------------------------------

    @abstractmethod
    def attributes(self, model: M) -> Item:
        """The item's non-key attributes (plain values; timestamps via ``to_iso``)."""

    @abstractmethod
    def model(self, item: Item) -> M:
        """The model an item stands for."""

    @abstractmethod
    def document_id(self, model: M) -> str:
        """The id that goes into the sort key."""

    @staticmethod
    def version_of(model: M) -> int:
        return int(getattr(model, "version"))  # noqa: B009 - every document model has a version field

    # -- the algorithm ------------------------------------------------------------------------------------

    def _sk(self, document_id: str) -> str:
        return f"{self.sk_prefix}{document_id}"

    def item(self, tenant: str, model: M) -> Item:
        return {
            PK: tenant_pk(tenant),
            SK: self._sk(self.document_id(model)),
            "entity": self.kind,
            **self.attributes(model),
        }

    def _not_found(self, document_id: str) -> NotFound:
        return NotFound(f"no {self.kind} {document_id!r}", details={"id": document_id})

    def create_op(self, tenant: str, model: M) -> TransactItem:
        return self.table.put_op(
            self.item(tenant, model), condition="attribute_not_exists(#pk)", names={"#pk": PK}
        )

    def create(self, tenant: str, model: M, *, also: tuple[TransactItem, ...] = ()) -> M:
        try:
            self.table.write(self.create_op(tenant, model), *also)
        except ConditionFailed as exc:
            if exc.index == 0:
                raise Conflict(
                    f"{self.kind} {self.document_id(model)!r} already exists",
                    code="ALREADY_EXISTS",
                    details={"id": self.document_id(model)},
                ) from exc
            raise
        return model

    def find(self, tenant: str, document_id: str) -> M | None:
        item = self.table.get(tenant_pk(tenant), self._sk(document_id))
        return self.model(item) if item is not None else None

    def get(self, tenant: str, document_id: str) -> M:
        found = self.find(tenant, document_id)
        if found is None:
            raise self._not_found(document_id)
        return found

    def list(self, tenant: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[M]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=tenant_pk(tenant),
            sk_prefix=self.sk_prefix,
            limit=limit,
            cursor=cursor,
        )

    def _raise_lost(self, exc: ConditionFailed, document_id: str, expected_version: int | None) -> None:
        if exc.index != 0:
            raise exc
        if exc.old_item is None:
            raise self._not_found(document_id) from exc
        raise Conflict(
            f"{self.kind} {document_id!r} was changed by someone else; read it again and retry",
            code="VERSION_CONFLICT",
            details={
                "id": document_id,
                "expected_version": expected_version,
                "version": exc.old_item.get("version"),
            },
        ) from exc

    def replace(
        self, tenant: str, model: M, *, expected_version: int, also: tuple[TransactItem, ...] = ()
    ) -> M:
        """Store ``model`` if the stored version is still ``expected_version`` (optimistic locking)."""
        op = self.table.put_op(
            self.item(tenant, model),
            condition="attribute_exists(#pk) AND #v = :expected",
            names={"#pk": PK, "#v": "version"},
            values={":expected": expected_version},
        )
        try:
            self.table.write(op, *also)
        except ConditionFailed as exc:
            self._raise_lost(exc, self.document_id(model), expected_version)
        return model

    def delete(
        self,
        tenant: str,
        document_id: str,
        *,
        expected_version: int | None = None,
        also: tuple[TransactItem, ...] = (),
    ) -> None:
        condition, names, values = "attribute_exists(#pk)", {"#pk": PK}, {}
        if expected_version is not None:
            condition += " AND #v = :expected"
            names["#v"] = "version"
            values[":expected"] = expected_version
        op = self.table.delete_op(
            tenant_pk(tenant), self._sk(document_id), condition=condition, names=names, values=values or None
        )
        try:
            self.table.write(op, *also)
        except ConditionFailed as exc:
            self._raise_lost(exc, document_id, expected_version)


__all__ = ["VersionedDocuments"]
