"""One page of a tenant's listing, mapped to models: the query-and-page step every repository shares.

A listing reads one partition (of the table or a GSI) through :meth:`Table.query`, which owns the key
condition, the read-one-more rule and the cursor. What every repository adds is the same two things: the
cursor must stay inside the calling tenant's keyspace (``T#{tenant}``), and the items come back as models.
Both happen here, so a repository's listing states only where it reads. The cursor is ``Table.query``'s,
unchanged: the API seals exactly that string (``runtime.api.cursors``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trackbridge.domain.pagination import Page
from trackbridge.storage.keys import tenant_pk
from trackbridge.storage.table import Item, Table

M = TypeVar("M")


def query_page(
    table: Table,
    tenant: str,
    to_model: Callable[[Item], M],
    *,
    partition: str,
    index: str | None = None,
    sk_prefix: str | None = None,
    sk_after: str | None = None,
    forward: bool = True,
    limit: int,
    cursor: str | None,
    attributes: Sequence[str] | None = None,
) -> Page[M]:
    """One page of ``partition`` in sort-key order (``forward=False``: newest first), as models.

    ``sk_prefix`` / ``sk_after`` narrow the sort key as in :meth:`Table.query`; a cursor whose table key is
    not the tenant's is a 400 ``INVALID_CURSOR``; ``attributes`` projects (``to_model`` must then cope).
    """
    items, next_cursor = table.query(
        partition=partition,
        index=index,
        sk_prefix=sk_prefix,
        sk_after=sk_after,
        forward=forward,
        limit=limit,
        cursor=cursor,
        tenant_prefix=tenant_pk(tenant),
        attributes=attributes,
    )
    # Page[Any]: a TypeVar cannot parametrize a pydantic model at run time; the items are the models
    # ``to_model`` built, and they serialize as themselves.
    return Page[Any](items=[to_model(item) for item in items], next_cursor=next_cursor)


__all__ = ["query_page"]
