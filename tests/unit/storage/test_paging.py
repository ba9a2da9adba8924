"""The listing step every repository shares (``storage.paging.query_page``), against a recording client.

It must keep what each repository's own query-and-page block did: the cursor bound to the calling tenant,
the cursor format ``Table.query`` writes, and pages that serialize exactly as the typed ``Page[Model]`` the
repositories built before.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tests.unit.storage.test_mapping import CASES, LINK, TENANT
from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.links import Link
from trackbridge.domain.pagination import Page
from trackbridge.storage.cursors import decode_cursor, encode_cursor
from trackbridge.storage.links import LinkRepository
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import Item, Table, serialize


class RecordingClient:
    """Answers every ``query`` with the given items and records the requests."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {"Items": [serialize(item) for item in self.items[: request["Limit"]]]}


def link_item(n: int) -> Item:
    link = LINK.model_copy(update={"id": f"link_{n:020d}"})
    return {"pk": f"T#{TENANT}#OBJ#x", "sk": f"LINK#{n}", **LinkRepository._attributes(link)}


def links(client: RecordingClient, *, limit: int = 5, cursor: str | None = None, **query: Any) -> Page[Link]:
    query.setdefault("partition", f"T#{TENANT}#OBJ#x")
    return query_page(Table(client, "t"), TENANT, LinkRepository.model, limit=limit, cursor=cursor, **query)


def test_a_page_holds_models_and_the_cursor_to_the_next() -> None:
    # Given a partition of three links
    client = RecordingClient([link_item(n) for n in range(3)])

    # When the first page of two is read
    page = links(client, limit=2)

    # Then it holds two models, one more item was asked for, and the cursor is the second item's key
    assert [link.id for link in page.items] == ["link_00000000000000000000", "link_00000000000000000001"]
    assert all(isinstance(link, Link) for link in page.items)
    assert client.requests[0]["Limit"] == 3
    assert page.next_cursor == encode_cursor({"pk": f"T#{TENANT}#OBJ#x", "sk": "LINK#1"})


def test_the_last_page_has_no_cursor() -> None:
    client = RecordingClient([link_item(0)])
    page = links(client, limit=2)
    assert page.next_cursor is None


def test_the_query_is_passed_on_as_given() -> None:
    # Given a newest-first GSI listing narrowed by "updated since" and a cursor of that listing
    client = RecordingClient([])
    start = {"pk": "T#acme#CONN#c", "sk": "ISSUE#1", "gsi1pk": "T#acme#ISSUES", "gsi1sk": "2026-05-01#r"}

    # When it is read through query_page
    links(
        client,
        partition="T#acme#ISSUES",
        index="gsi1",
        sk_after="2026-01-01",
        forward=False,
        cursor=encode_cursor(start),
    )

    # Then the request is the one Table.query builds for those arguments
    (request,) = client.requests
    assert request["IndexName"] == "gsi1"
    assert request["ScanIndexForward"] is False
    assert request["KeyConditionExpression"] == "#p = :p AND #s >= :s"
    assert request["ExclusiveStartKey"] == serialize(start)


def test_a_cursor_outside_the_tenant_is_refused() -> None:
    # Given a cursor whose table key belongs to another tenant, on a partition-less GSI listing
    other = {"pk": "T#other#CONN#c", "sk": "ISSUE#1", "gsi1pk": "T#acme#ISSUES", "gsi1sk": "x"}
    client = RecordingClient([])

    # Then the listing refuses it before any query
    with pytest.raises(InvalidInput) as refused:
        links(client, partition="T#acme#ISSUES", index="gsi1", cursor=encode_cursor(other))
    assert refused.value.code == "INVALID_CURSOR"
    assert client.requests == []
    # (refused for the tenant alone: without that bound the same cursor fits this listing)
    assert decode_cursor(
        encode_cursor(other),
        key_attributes=other,
        partition_attribute="gsi1pk",
        partition_value="T#acme#ISSUES",
        sort_attribute="gsi1sk",
    )


@pytest.mark.parametrize(("name", "model", "to_item", "from_item"), CASES, ids=[c[0] for c in CASES])
def test_a_page_serializes_as_the_typed_page_did(
    name: str, model: BaseModel, to_item: Any, from_item: Any
) -> None:
    # Given a stored item of every kind
    client = RecordingClient([{"pk": "T#acme", "sk": "X#1", **to_item(model)}])

    # When it is listed through query_page
    # (a clock at the epoch: items with a TTL are live)
    table = Table(client, "t", clock=lambda: 0.0)
    page = query_page(table, TENANT, from_item, partition="T#acme", limit=5, cursor=None)
    assert len(page.items) == 1

    # Then the page dumps (python, JSON, by alias) exactly as Page[<its model>] does
    typed = Page[type(model)](items=page.items, next_cursor=page.next_cursor)  # type: ignore[misc,operator]
    assert page.model_dump(mode="json", by_alias=True) == typed.model_dump(mode="json", by_alias=True)
    assert page.model_dump() == typed.model_dump()
    assert page.model_dump_json() == typed.model_dump_json()
    assert page == typed


def test_a_projected_page_asks_for_the_attributes_the_keys_and_the_expiry_only() -> None:
    # Given a partition of links
    client = RecordingClient([link_item(n) for n in range(3)])

    # When a page asks only for the id
    links(client, limit=2, attributes=("id",))

    # Then the request projects the table keys, the id and the expiry (expired items stay hidden)
    request = client.requests[0]
    projected = {
        request["ExpressionAttributeNames"][name.strip()]
        for name in request["ProjectionExpression"].split(",")
    }
    assert projected == {"pk", "sk", "id", "expires_at"}


def test_an_unprojected_page_sends_no_projection() -> None:
    client = RecordingClient([link_item(0)])
    links(client, limit=1)
    assert "ProjectionExpression" not in client.requests[0]
