"""The link registry on moto through ``functions.api.handler``, with real API keys and the real authorizer.

Issues are put into the synced copy directly (as a sync would), so nothing here calls a tracker; fetching
not-synced issues and refreshing from trackers is ``test_links_trackers.py``. Every refused request is
checked for its status and for leaving nothing stored: no link item on either side, no audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.keys import PK, SK, issue_pk, object_pk, tenant_pk

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
ORDERS = {"kind": "table", "database": "sales", "schema": "public", "name": "orders"}
ORDERS_KEY = "table:sales/public/orders"
ORDERS_PATH = "/v1/objects/table/sales/public/orders"
LINK_FIELDS = {"id", "object", "issue_ref", "type", "created_by", "created_at", "state"}


def _connection(tenant: str) -> Connection:
    return container.connection_repository().create(
        tenant,
        Connection.model_validate({**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}),
    )


def _issue(connection: Connection, n: int, *, done: bool = False, minutes: int = 0) -> Issue:
    return Issue(
        ref=f"{connection.id}.{n}",
        external_id=connection.external_id(str(n)),
        connection_id=connection.id,
        provider="github",
        key=f"#{n}",
        title=f"issue {n}",
        body="body",
        status="closed" if done else "open",
        status_category="done" if done else "todo",
        assignees=["octocat"] if n % 2 else [],
        priority="P2",
        url=f"https://github.com/acme/web/issues/{n}",
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
    ).with_hash()


def _store(tenant: str, issue: Issue) -> None:
    assert IssueRepository(container.table()).put_if_newer(tenant, issue) in ("created", "updated")


@pytest.fixture
def connection(api: ApiClient, tenant: str) -> Connection:
    return _connection(tenant)


@pytest.fixture
def issue(tenant: str, connection: Connection) -> Issue:
    stored = _issue(connection, 12)
    _store(tenant, stored)
    return stored


def _link_items(tenant: str, object_key: str, ref: str) -> list[dict[str, Any]]:
    """Every link item of the object's and the issue's partitions, read straight from the table."""
    table = container.table()
    items, _ = table.query(partition=object_pk(tenant, object_key), sk_prefix="LINK#")
    more, _ = table.query(partition=issue_pk(tenant, ref), sk_prefix="LINK#")
    ids, _ = table.query(partition=tenant_pk(tenant), sk_prefix="LINKID#")
    return [*items, *more, *ids]


def _audit(api: ApiClient) -> list[tuple[str, str]]:
    answer = api.call("GET", "/v1/audit", query={"limit": "100"})
    assert answer.status == 200, answer.body
    return [(e["action"], e["target"]) for e in answer.body["items"]]


def _link(api: ApiClient, ref: str, obj: dict[str, Any] = ORDERS) -> dict[str, Any]:
    answer = api.call("POST", "/v1/links", body={"object": obj, "issue_ref": ref})
    assert answer.status == 201, answer.body
    return dict(answer.body)


# ---- create, list both ways, the issue view, delete -------------------------------------------------------


def test_link_round_trip_both_ways(api: ApiClient, tenant: str, issue: Issue) -> None:
    # When: the table is linked to the issue
    link = _link(api, issue.ref)

    # Then: the link has DESIGN's shape, and each side lists it
    assert set(link) == LINK_FIELDS
    assert (link["object"], link["issue_ref"], link["type"], link["state"]) == (
        ORDERS,
        issue.ref,
        "manual",
        "active",
    )
    assert link["id"].startswith("link_")
    assert link["created_by"].startswith("api_key:")
    by_object = api.call("GET", "/v1/links", query={"object": ORDERS_KEY})
    by_issue = api.call("GET", "/v1/links", query={"issue": issue.ref})
    assert by_object.status == by_issue.status == 200
    assert by_object.body == by_issue.body == {"items": [link], "next_cursor": None}
    # And: the issue view lists the object linked to it
    detail = api.call("GET", f"/v1/issues/{issue.ref}")
    assert detail.status == 200
    assert [(x["id"], x["object"]) for x in detail.body["links"]] == [(link["id"], ORDERS)]
    assert ("link.create", link["id"]) in _audit(api)

    # When: it is deleted
    gone = api.call("DELETE", f"/v1/links/{link['id']}")

    # Then: 204, from both sides at once, audited; a second delete is a 404
    assert (gone.status, gone.body) == (204, None)
    assert api.call("GET", "/v1/links", query={"object": ORDERS_KEY}).body["items"] == []
    assert api.call("GET", "/v1/links", query={"issue": issue.ref}).body["items"] == []
    assert api.call("GET", f"/v1/issues/{issue.ref}").body["links"] == []
    assert _link_items(tenant, ORDERS_KEY, issue.ref) == []
    assert ("link.delete", link["id"]) in _audit(api)
    assert api.call("DELETE", f"/v1/links/{link['id']}").status == 404


def test_many_to_many(api: ApiClient, tenant: str, connection: Connection) -> None:
    issues = [_issue(connection, n) for n in (1, 2)]
    for stored in issues:
        _store(tenant, stored)
    objects = [
        ORDERS,
        {"kind": "alarm", "name": "HighCPU"},
        {"kind": "custom:etl_job", "name": "nightly load"},
    ]
    for obj in objects:
        for stored in issues:
            _link(api, stored.ref, obj)
    for stored in issues:
        listed = api.call("GET", "/v1/links", query={"issue": stored.ref}).body["items"]
        assert sorted(x["object"]["name"] for x in listed) == ["HighCPU", "nightly load", "orders"]
    alarm = api.call("GET", "/v1/links", query={"object": "alarm://HighCPU"}).body["items"]
    assert sorted(x["issue_ref"] for x in alarm) == sorted(i.ref for i in issues)
    view = api.call("GET", "/v1/objects/custom:etl_job/-/-/nightly load")
    assert view.status == 200, view.body
    assert view.body["key"] == "custom:etl_job://nightly load"
    assert len(view.body["items"]) == 2


def test_a_duplicate_is_a_409_naming_the_existing_link(api: ApiClient, tenant: str, issue: Issue) -> None:
    first = _link(api, issue.ref)
    again = api.call("POST", "/v1/links", body={"object": ORDERS, "issue_ref": issue.ref})
    assert again.status == 409
    assert again.body["error"]["code"] == "ALREADY_EXISTS"
    assert again.body["error"]["details"] == {"link_id": first["id"]}
    assert len(_link_items(tenant, ORDERS_KEY, issue.ref)) == 3  # one link: three items
    assert [a for a in _audit(api) if a[0] == "link.create"] == [("link.create", first["id"])]


# ---- bad input: its status, and nothing stored ------------------------------------------------------------


def _bad_bodies(ref: str, theirs: str, unknown_connection: str) -> list[tuple[dict[str, Any], int, str]]:
    return [
        ({"object": {**ORDERS, "kind": "tabel"}, "issue_ref": ref}, 422, "body.object.kind"),
        ({"object": {**ORDERS, "kind": "custom:Bad"}, "issue_ref": ref}, 422, "body.object.kind"),
        ({"object": {**ORDERS, "name": "a/b"}, "issue_ref": ref}, 422, "body.object.name"),
        ({"object": {**ORDERS, "schema": "pub#lic"}, "issue_ref": ref}, 422, "body.object.schema"),
        ({"object": {**ORDERS, "database": "x" * 256}, "issue_ref": ref}, 422, "body.object.database"),
        ({"object": {**ORDERS, "name": " orders"}, "issue_ref": ref}, 422, "body.object.name"),
        ({"object": {**ORDERS, "name": "-"}, "issue_ref": ref}, 422, "body.object.name"),
        ({"object": {"kind": "table"}, "issue_ref": ref}, 422, "body.object.name"),
        ({"object": ORDERS, "issue_ref": "#12"}, 422, "body.issue_ref"),
        ({"object": ORDERS, "issue_ref": "conn_short.12"}, 422, "body.issue_ref"),
        ({"object": ORDERS, "issue_ref": ref, "type": "auto_created"}, 422, "body.type"),
        ({"object": ORDERS, "issue_ref": ref, "type": "auto_detected"}, 422, "body.type"),
        ({"object": ORDERS}, 422, "body.issue_ref"),
        ({"object": ORDERS, "issue_ref": theirs}, 404, ""),
        ({"object": ORDERS, "issue_ref": unknown_connection}, 404, ""),
    ]


def test_every_bad_create_is_refused_and_stores_nothing(
    api: ApiClient, other_api: ApiClient, tenant: str, issue: Issue
) -> None:
    their_connection = _connection(other_api.authorize()["tenant"])  # type: ignore[index]
    theirs = f"{their_connection.id}.12"
    unknown = f"{new_id(IdPrefix.CONNECTION)}.12"
    for body, status, path in _bad_bodies(issue.ref, theirs, unknown):
        answer = api.call("POST", "/v1/links", body=body)
        assert answer.status == status, (body, answer.body)
        if path:
            assert path in [e["path"] for e in answer.body["error"]["details"]["errors"]], (body, answer.body)
        assert _link_items(tenant, ORDERS_KEY, issue.ref) == []
    assert not [a for a in _audit(api) if a[0].startswith("link.")]


def test_bad_listing_queries(api: ApiClient, issue: Issue) -> None:
    cases = [
        ({}, 422),
        ({"object": ORDERS_KEY, "issue": issue.ref}, 422),
        ({"object": "orders"}, 422),
        ({"object": "tabel:sales/public/orders"}, 422),
        ({"object": "table:sales/public/or#ders"}, 422),
        ({"issue": "OPS-12"}, 422),
        ({"issue": f"{new_id(IdPrefix.CONNECTION)}.1"}, 404),
        ({"object": ORDERS_KEY, "limit": "0"}, 422),
        ({"object": ORDERS_KEY, "cursor": "not-ours"}, 400),
    ]
    for query, status in cases:
        answer = api.call("GET", "/v1/links", query=query)
        assert answer.status == status, (query, answer.body)


# ---- tenants ----------------------------------------------------------------------------------------------


def test_another_tenant_reaches_none_of_it(
    api: ApiClient, other_api: ApiClient, tenant: str, issue: Issue
) -> None:
    link = _link(api, issue.ref)
    assert other_api.call("DELETE", f"/v1/links/{link['id']}").status == 404
    assert other_api.call("POST", f"/v1/links/{link['id']}/refresh").status == 404
    assert other_api.call("GET", "/v1/links", query={"issue": issue.ref}).status == 404
    assert other_api.call("GET", "/v1/links", query={"object": ORDERS_KEY}).body["items"] == []
    assert other_api.call("GET", ORDERS_PATH).body["items"] == []
    refused = other_api.call("POST", "/v1/links", body={"object": ORDERS, "issue_ref": issue.ref})
    assert refused.status == 404
    # Mine is untouched
    assert [x["id"] for x in api.call("GET", "/v1/links", query={"issue": issue.ref}).body["items"]] == [
        link["id"]
    ]
    assert len(_link_items(tenant, ORDERS_KEY, issue.ref)) == 3


# ---- the object view --------------------------------------------------------------------------------------


def test_the_object_view_follows_the_synced_copy(api: ApiClient, tenant: str, connection: Connection) -> None:
    # Given: an open issue linked to the table
    _store(tenant, _issue(connection, 3, minutes=1))
    link = _link(api, f"{connection.id}.3")
    view = api.call("GET", ORDERS_PATH)
    assert view.status == 200, view.body
    assert (view.body["object"], view.body["key"], view.body["next_cursor"]) == (ORDERS, ORDERS_KEY, None)
    (entry,) = view.body["items"]
    assert (entry["id"], entry["issue_ref"], entry["type"]) == (link["id"], link["issue_ref"], "manual")
    assert (entry["status"], entry["status_category"], entry["state"]) == ("open", "todo", "active")
    assert (entry["assignees"], entry["priority"], entry["key"]) == (["octocat"], "P2", "#3")
    assert entry["url"] == "https://github.com/acme/web/issues/3"
    assert entry["issue_updated_at"].startswith("2026-04-01T08:01:00")
    assert entry["refreshed_at"] is None
    assert entry["refresh"] is None

    # When: a sync stores the issue closed
    _store(tenant, _issue(connection, 3, done=True, minutes=30))

    # Then: the view shows it closed, without asking any tracker
    (entry,) = api.call("GET", ORDERS_PATH).body["items"]
    assert (entry["status"], entry["status_category"]) == ("closed", "done")
    assert entry["issue_updated_at"].startswith("2026-04-01T08:30:00")

    # When: the tracker deletes it (a tombstone in the copy)
    closed = _issue(connection, 3, done=True, minutes=30)
    _store(
        tenant,
        closed.model_copy(
            update={"deleted_at": T0 + timedelta(hours=1), "updated_at": T0 + timedelta(hours=1)}
        ).with_hash(),
    )

    # Then: the link stays, marked issue_deleted, in the view and in both listings
    (entry,) = api.call("GET", ORDERS_PATH).body["items"]
    assert (entry["state"], entry["status"], entry["status_category"]) == (
        "issue_deleted",
        "issue_deleted",
        "done",
    )
    assert entry["deleted_at"].startswith("2026-04-01T09:00:00")
    assert [x["state"] for x in api.call("GET", "/v1/links", query={"object": ORDERS_KEY}).body["items"]] == [
        "issue_deleted"
    ]
    assert [x["state"] for x in api.call("GET", "/v1/links", query={"issue": closed.ref}).body["items"]] == [
        "issue_deleted"
    ]
    # And: a deleted issue cannot be linked anew
    refused = api.call(
        "POST", "/v1/links", body={"object": {"kind": "view", "name": "v"}, "issue_ref": closed.ref}
    )
    assert refused.status == 422
    assert closed.ref in refused.body["error"]["message"]


def test_object_paths_with_empty_parts_and_bad_parts(api: ApiClient, issue: Issue) -> None:
    _link(api, issue.ref, {"kind": "alarm", "name": "High CPU \u00e9"})
    view = api.call("GET", "/v1/objects/alarm/-/-/High CPU \u00e9")
    assert view.status == 200, view.body
    assert [e["issue_ref"] for e in view.body["items"]] == [issue.ref]
    assert api.call("GET", "/v1/objects/alarm/-/-/nothing-linked").body["items"] == []
    for path, where in (
        ("/v1/objects/tabel/-/-/x", "path.kind"),
        ("/v1/objects/table/-/-/-", "path.name"),
        ("/v1/objects/table/ db/-/x", "path.database"),
    ):
        answer = api.call("GET", path)
        assert answer.status == 422, (path, answer.body)
        assert answer.body["error"]["details"]["errors"][0]["path"] == where
    assert api.call("GET", "/v1/objects/table/x/y").status == 404  # no such route


# ---- pages ------------------------------------------------------------------------------------------------


def test_listings_and_the_view_page_with_sealed_cursors(
    api: ApiClient, tenant: str, connection: Connection
) -> None:
    refs = []
    for n in range(5):
        stored = _issue(connection, 100 + n)
        _store(tenant, stored)
        refs.append(_link(api, stored.ref)["issue_ref"])

    def walk(path: str, query: dict[str, str]) -> list[str]:
        seen, cursor = [], None
        for _ in range(10):
            answer = api.call(
                "GET", path, query={**query, "limit": "2", **({"cursor": cursor} if cursor else {})}
            )
            assert answer.status == 200, answer.body
            assert len(answer.body["items"]) <= 2
            seen += [item["issue_ref"] for item in answer.body["items"]]
            cursor = answer.body["next_cursor"]
            if cursor is None:
                return seen
            assert "LINK#" not in cursor
            assert "T#" not in cursor
        raise AssertionError("the listing did not end")

    assert sorted(walk("/v1/links", {"object": ORDERS_KEY})) == sorted(refs)
    assert sorted(walk(ORDERS_PATH, {})) == sorted(refs)
    # A cursor of the object's listing does not page an issue's (same path, another partition)
    first = api.call("GET", "/v1/links", query={"object": ORDERS_KEY, "limit": "2"}).body["next_cursor"]
    crossed = api.call("GET", "/v1/links", query={"issue": refs[0], "cursor": first})
    assert (crossed.status, crossed.body["error"]["code"]) == (400, "INVALID_CURSOR")
    # Nor the object view's (another path)
    assert api.call("GET", ORDERS_PATH, query={"cursor": first}).status == 400


def test_the_table_holds_three_items_per_link(api: ApiClient, tenant: str, issue: Issue) -> None:
    link = _link(api, issue.ref)
    items = _link_items(tenant, ORDERS_KEY, issue.ref)
    assert sorted((i[PK], i[SK]) for i in items) == sorted(
        [
            (object_pk(tenant, ORDERS_KEY), f"LINK#{issue.ref}"),
            (issue_pk(tenant, issue.ref), f"LINK#{ORDERS_KEY}"),
            (tenant_pk(tenant), f"LINKID#{link['id']}"),
        ]
    )
