"""``GET /v1/issues`` on moto: issues without their bodies, read through a projection, every filter paged.

A listing item is the issue as ``GET /v1/issues/{ref}`` shows it, without ``body`` (and with ``links``
null); ``include=body`` brings the bodies back. The query behind every filter asks DynamoDB for the listed
attributes only, so a body never crosses the wire unless asked for. Each filter is walked page by page
through the sealed cursors the API hands out.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.runtime import container
from trackbridge.runtime.api.cursors import cursor_sealer
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.keys import PK

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


@dataclass
class Seeded:
    first: str  # connection ids
    second: str
    issues: list[Issue]  # newest first

    def refs(self, keep: Any = lambda issue: True) -> list[str]:
        return [issue.ref for issue in self.issues if keep(issue)]


def _issue(connection: Connection, n: int, *, done: bool = False, deleted: bool = False) -> Issue:
    return Issue(
        ref=f"{connection.id}.{n}",
        external_id=connection.external_id(str(n)),
        connection_id=connection.id,
        provider="github",
        key=f"#{n}",
        title=f"issue {n} \u2013 caf\u00e9",
        body=f"body of issue {n}\n" + "x" * 2000,
        status="closed" if done else "open",
        status_category="done" if done else "todo",
        assignees=["octocat"] if n % 2 else [],
        labels=["bug"],
        url=f"https://github.com/acme/web/issues/{n}",
        created_at=T0,
        updated_at=T0 + timedelta(minutes=n),
        deleted_at=T0 + timedelta(minutes=n) if deleted else None,
    ).with_hash()


@pytest.fixture
def seeded(api: ApiClient, tenant: str) -> Seeded:
    first, second = (
        container.connection_repository().create(
            tenant,
            Connection.model_validate({**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}),
        )
        for _ in range(2)
    )
    issues = [
        _issue(first, 1),
        _issue(first, 2, done=True),
        _issue(second, 3),
        _issue(first, 4),
        _issue(first, 5, deleted=True),
        _issue(second, 6, done=True),
        _issue(first, 7),
        _issue(first, 8, done=True),
        _issue(first, 9),
    ]
    repo = IssueRepository(container.table())
    for issue in issues:
        assert repo.put_if_newer(tenant, issue) == "created"
    return Seeded(first.id, second.id, sorted(issues, key=lambda i: i.updated_at, reverse=True))


class QuerySpy:
    """The table's DynamoDB client, recording every query it is asked."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.queries: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **request: Any) -> Any:
        self.queries.append(request)
        return self._client.query(**request)

    def read_attributes(self) -> list[set[str]]:
        """The attributes each query asked for (every one must carry a projection)."""
        found = []
        for request in self.queries:
            names = request["ExpressionAttributeNames"]
            found.append({names[token.strip()] for token in request["ProjectionExpression"].split(",")})
        return found


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> QuerySpy:
    table = container.table()
    recording = QuerySpy(table.client)
    monkeypatch.setattr(table, "client", recording)
    return recording


def walk(api: ApiClient, query: dict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every item of a listing, page by page, and the cursors the pages handed out."""
    items: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        answer = api.call("GET", "/v1/issues", query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        items.extend(answer.body["items"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return items, cursors
        cursors.append(cursor)
    raise AssertionError("the listing never ended")


def test_a_listing_item_is_the_issue_without_its_body(api: ApiClient, seeded: Seeded) -> None:
    # When: the tenant's issues are listed
    answer = api.call("GET", "/v1/issues", query={"limit": "100"})

    # Then: each item is what GET /v1/issues/{ref} shows, without body, comments, worklogs and what the
    # detail reads beside the issue (its sprints, its changelog), links null
    assert answer.status == 200
    assert [item["ref"] for item in answer.body["items"]] == seeded.refs()
    for item in answer.body["items"]:
        detail = api.call("GET", f"/v1/issues/{item['ref']}")
        assert detail.status == 200
        assert detail.body["body"].startswith("body of issue")
        detail_only = ("body", "comments", "worklogs", "sprints", "transitions", "time_in_status")
        whole = {k: v for k, v in detail.body.items() if k not in detail_only}
        assert item == {**whole, "links": None}
    # And: the answer is the JSON the rest of the API writes (ASCII, escapes for the rest)
    assert "\\u2013" in answer.raw["body"]


def test_include_body_brings_the_bodies_back(api: ApiClient, seeded: Seeded) -> None:
    answer = api.call("GET", "/v1/issues", query={"include": "body", "limit": "4"})

    assert answer.status == 200
    stored = {issue.ref: issue.body for issue in seeded.issues}
    assert [item["body"] for item in answer.body["items"]] == [stored[r] for r in seeded.refs()[:4]]
    assert api.call("GET", "/v1/issues", query={"include": "comments"}).status == 422


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": "done"},
        {"updated_since": "2026-04-01T08:05:00Z"},
        {"connection": "first"},
        {"connection": "first", "status": "todo"},
    ],
    ids=["tenant", "status", "updated_since", "connection", "connection+status"],
)
def test_no_listing_reads_a_body_unless_asked(
    api: ApiClient, seeded: Seeded, spy: QuerySpy, query: dict[str, str]
) -> None:
    query = {k: getattr(seeded, v) if k == "connection" else v for k, v in query.items()}
    listed = set(IssueRepository.LISTED_ATTRIBUTES)

    # When: each filter is listed without, then with bodies
    assert api.call("GET", "/v1/issues", query={**query, "limit": "2"}).status == 200
    without = spy.read_attributes()
    spy.queries.clear()
    assert api.call("GET", "/v1/issues", query={**query, "limit": "2", "include": "body"}).status == 200
    with_bodies = spy.read_attributes()

    # Then: every issue query projected, and asked for a body only when the client did
    issue_queries = [attributes for attributes in without if "ref" in attributes]
    assert issue_queries
    assert len(issue_queries) == len(without)
    assert all(listed <= attributes and "body" not in attributes for attributes in without)
    assert with_bodies
    assert all("body" in attributes for attributes in with_bodies)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": "todo"},
        {"status": "done"},
        {"updated_since": "2026-04-01T08:04:00Z"},
        {"connection": "first"},
        {"connection": "second"},
        {"connection": "first", "status": "todo"},
        {"connection": "first", "status": "done", "updated_since": "2026-04-01T08:03:00Z"},
    ],
)
def test_every_filter_pages_through_sealed_cursors(
    api: ApiClient, seeded: Seeded, tenant: str, query: dict[str, str]
) -> None:
    connection = getattr(seeded, query["connection"]) if "connection" in query else None
    since = datetime.fromisoformat(query["updated_since"]) if "updated_since" in query else None
    params = {**query, **({"connection": connection} if connection else {}), "limit": "2"}

    def kept(issue: Issue) -> bool:
        return (
            (connection is None or issue.connection_id == connection)
            and ("status" not in query or (issue.status_category == query["status"] and not issue.deleted_at))
            and (since is None or issue.updated_at >= since)
        )

    # When: the listing is walked two issues at a time
    items, cursors = walk(api, params)

    # Then: every matching issue once, newest first, none with a body
    assert [item["ref"] for item in items] == seeded.refs(kept)
    assert not any("body" in item for item in items)
    # And: every cursor left sealed: it shows no table key, and opens (for this tenant and listing only) to
    # storage's own cursor, which does
    assert cursors or len(items) <= 2
    for cursor in cursors:
        assert _table_key(cursor) is None
        plain = cursor_sealer().open(cursor, tenant=tenant, path="/v1/issues")
        assert str((_table_key(plain) or {}).get(PK, "")).startswith(f"T#{tenant}#CONN#")


def _table_key(cursor: str) -> dict[str, Any] | None:
    """The DynamoDB key a plain storage cursor stands for (``storage.cursors``), else None."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        return None
    return decoded.get("k") if isinstance(decoded, dict) else None


def test_a_deleted_issue_is_listed_by_update_time_without_its_body(api: ApiClient, seeded: Seeded) -> None:
    answer = api.call("GET", "/v1/issues", query={"connection": seeded.first, "limit": "100"})

    deleted = [item for item in answer.body["items"] if item["deleted_at"] is not None]
    assert [item["ref"] for item in deleted] == [f"{seeded.first}.5"]
    assert "body" not in deleted[0]
