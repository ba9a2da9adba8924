"""``GET /v1/users``, ``GET /v1/sprints`` and ``GET /v1/issues?sprint=`` on moto.

Users and sprints are stored as the sync's writer stores them (their repositories' items); issues carry
their sprint ids. Each listing is walked through its sealed cursors; bad filter values are 422s, and
another tenant's connection is the same 404 as an unknown one, as in ``GET /v1/issues``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue, Sprint, User, tombstone
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import IssueRepository, SprintRepository, UserRepository

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
STATES = ("closed", "active", "future")


@dataclass
class Seeded:
    connection: str
    users: dict[str, User]
    sprints: dict[str, Sprint]
    issues: dict[str, Issue]


def _connection(tenant: str) -> Connection:
    example = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
    return container.connection_repository().create(tenant, Connection.model_validate(example))


@pytest.fixture
def seeded(api: ApiClient, tenant: str) -> Seeded:
    connection = _connection(tenant)
    users = [
        User(id=f"{n:03d}", connection_id=connection.id, login=f"person{n}", active=n % 4 != 0, updated_at=T0)
        for n in range(1, 13)
    ]
    sprints = [
        Sprint(id=str(n), connection_id=connection.id, name=f"Sprint {n}", state=STATES[n % 3], updated_at=T0)
        for n in range(1, 8)
    ]
    sprints[0] = tombstone(sprints[0], T0 + timedelta(hours=1))
    issues = [
        Issue(
            ref=f"{connection.id}.{n}",
            external_id=connection.external_id(str(n)),
            connection_id=connection.id,
            provider="jira",
            key=f"ACME-{n}",
            title=f"issue {n}",
            status="To Do",
            status_category="todo",
            sprint_ids=[str(n % 3 + 2)] if n % 4 else [],
            created_at=T0,
            updated_at=T0 + timedelta(minutes=n),
        ).with_hash()
        for n in range(1, 20)
    ]
    table = container.table()
    for user in users:
        UserRepository(table).put(tenant, user)
    for sprint in sprints:
        SprintRepository(table).put(tenant, sprint)
    for issue in issues:
        assert IssueRepository(table).put_if_newer(tenant, issue) == "created"
    return Seeded(
        connection.id,
        {u.id: u.with_hash() for u in users},
        {s.id: s.with_hash() for s in sprints},
        {i.ref: i for i in issues},
    )


def walk(api: ApiClient, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        answer = api.call("GET", path, query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        assert len(answer.body["items"]) <= int(query.get("limit", "50"))
        items.extend(answer.body["items"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the listing never ended")


def test_users_are_listed_whole_and_by_activity(api: ApiClient, seeded: Seeded) -> None:
    every = walk(api, "/v1/users", {"connection": seeded.connection, "limit": "5"})
    assert [u["id"] for u in every] == sorted(seeded.users)
    assert User.model_validate(every[0]) == seeded.users[every[0]["id"]]
    for flag in ("true", "false"):
        kept = walk(api, "/v1/users", {"connection": seeded.connection, "active": flag, "limit": "2"})
        assert [u["id"] for u in kept] == sorted(
            k for k, u in seeded.users.items() if u.active == (flag == "true")
        )


def test_sprints_are_listed_with_tombstones_and_by_state(api: ApiClient, seeded: Seeded) -> None:
    every = walk(api, "/v1/sprints", {"connection": seeded.connection, "limit": "3"})
    assert [s["id"] for s in every] == sorted(seeded.sprints)
    assert next(s for s in every if s["id"] == "1")["deleted_at"] is not None
    for state in STATES:
        kept = walk(api, "/v1/sprints", {"connection": seeded.connection, "state": state, "limit": "1"})
        expected = sorted(k for k, s in seeded.sprints.items() if s.state == state and s.deleted_at is None)
        assert [s["id"] for s in kept] == expected


def test_issues_are_filtered_by_sprint_and_show_it(api: ApiClient, seeded: Seeded) -> None:
    for sprint in ("2", "3", "4", "6"):
        refs = [i["ref"] for i in walk(api, "/v1/issues", {"sprint": sprint, "limit": "2"})]
        expected = [i for i in seeded.issues.values() if sprint in i.sprint_ids]
        assert refs == [i.ref for i in sorted(expected, key=lambda i: i.updated_at, reverse=True)]
        with_connection = walk(api, "/v1/issues", {"sprint": sprint, "connection": seeded.connection})
        assert [i["ref"] for i in with_connection] == refs
    one = next(i for i in seeded.issues.values() if i.sprint_ids)
    detail = api.call("GET", f"/v1/issues/{one.ref}")
    assert detail.status == 200
    assert detail.body["sprint_ids"] == one.sprint_ids
    assert [Sprint.model_validate(s) for s in detail.body["sprints"]] == [
        seeded.sprints[i] for i in one.sprint_ids
    ]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/users", {}),
        ("/v1/users", {"connection": "", "limit": "1"}),
        ("/v1/users", {"connection": "c", "active": "maybe"}),
        ("/v1/users", {"connection": "c", "limit": "0"}),
        ("/v1/sprints", {"connection": "c", "state": "open"}),
        ("/v1/sprints", {"connection": "c", "limit": "1001"}),
        ("/v1/issues", {"sprint": "abc"}),
        ("/v1/issues", {"sprint": "0"}),
        ("/v1/issues", {"sprint": "1" * 30}),
    ],
)
def test_bad_filter_values_are_422(api: ApiClient, path: str, query: dict[str, str]) -> None:
    answer = api.call("GET", path, query=query)
    assert answer.status == 422, answer.body
    assert answer.body["error"]["code"]


def test_another_tenants_connection_is_not_found(
    api: ApiClient, other_api: ApiClient, seeded: Seeded
) -> None:
    for path in ("/v1/users", "/v1/sprints"):
        assert api.call("GET", path, query={"connection": seeded.connection}).status == 200
        theirs = other_api.call("GET", path, query={"connection": seeded.connection})
        assert theirs.status == 404
        assert theirs.body["error"]["code"] == "NOT_FOUND"
        unknown = api.call("GET", path, query={"connection": new_id(IdPrefix.CONNECTION)})
        assert unknown.status == 404
        assert api.call("GET", path, query={"connection": "not-an-id"}).status == 404
    # And the sprint filter without a connection reads only the caller's issues
    assert walk(other_api, "/v1/issues", {"sprint": "2"}) == []
