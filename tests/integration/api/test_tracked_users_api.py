"""``GET/PUT /v1/connections/{id}/tracked-users`` on moto, through the real authorizer and API handler.

Given/When/Then in each test: a Jira connection's list is replaced and read back, an added user starts a
backfill operation (a full sync, its id on the answer), the change is audited once; bad lists are 422 with
nothing stored, a GitHub connection is a 422 naming the capability, another tenant's connection a 404, and a
second change while the backfill holds the sync lock a 409 with the list as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration]

# Loopback's discard port: nothing here calls the tracker (the backfill's message only waits in its queue).
DISCARD = "http://127.0.0.1:9"
ALICE = "712020:" + "a" * 8 + "-0000-4000-8000-" + "0" * 12
BOB = "5b10ac8d82e05b22cc7d4ef5"


@pytest.fixture
def allowed(stack: LocalResources) -> Iterator[None]:
    with egress_allowed(DISCARD):
        yield


def _create(api: ApiClient, provider: str = "jira") -> str:
    fake = "-".join(("fake", "tracked", "token"))
    body: dict[str, Any] = {
        "name": f"{provider} tracked",
        "provider": provider,
        "base_url": DISCARD,
        "schedule": None,
    }
    if provider == "jira":
        body.update(scope={"project": "ABC"}, credentials={"email": "bot@example.com", "api_token": fake})
    else:
        body.update(scope={"repo": "acme/widgets"}, credentials={"token": fake})
    answer = api.call("POST", "/v1/connections", body=body)
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def _path(connection_id: str) -> str:
    return f"/v1/connections/{connection_id}/tracked-users"


def _audited(tenant: str, connection_id: str) -> list[str]:
    entries = container.audit_repository().list(tenant, limit=100).items
    return [e.action for e in entries if e.target == connection_id and e.action == "connection.tracked_users"]


@pytest.mark.usefixtures("allowed")
def test_a_put_replaces_the_list_starts_a_backfill_and_is_audited(api: ApiClient, tenant: str) -> None:
    # Given: a Jira connection tracking nobody
    connection_id = _create(api)
    assert api.call("GET", _path(connection_id)).body == {
        "users": [],
        "backfill_operation_id": None,
        "backfill_users": [],
    }

    # When: two users are tracked (one of them named twice)
    answer = api.call("PUT", _path(connection_id), body={"users": [ALICE, BOB, ALICE]})

    # Then: the list is stored once each, a full sync of issues backfills both, and the change is audited
    assert answer.status == 200, answer.body
    assert answer.body["users"] == [ALICE, BOB]
    assert answer.body["backfill_users"] == [ALICE, BOB]
    op = api.call("GET", f"/v1/sync-operations/{answer.body['backfill_operation_id']}")
    assert op.status == 200, op.body
    assert (op.body["mode"], op.body["entities"], op.body["triggered_by"]) == (
        "full",
        ["issues"],
        "tracked_users",
    )
    assert api.call("GET", _path(connection_id)).body == answer.body
    assert api.call("GET", f"/v1/connections/{connection_id}").body["tracked_users"] == [ALICE, BOB]
    assert _audited(tenant, connection_id) == ["connection.tracked_users"]


@pytest.mark.usefixtures("allowed")
def test_a_change_while_a_sync_runs_is_a_409_and_changes_nothing(api: ApiClient, tenant: str) -> None:
    # Given: a connection whose first change started a backfill (it holds the sync lock: no worker runs here)
    connection_id = _create(api)
    first = api.call("PUT", _path(connection_id), body={"users": [ALICE]})
    assert first.status == 200, first.body

    # When: another user is added while that backfill is Pending
    answer = api.call("PUT", _path(connection_id), body={"users": [ALICE, BOB]})

    # Then: 409, and the list (and its backfill) are as the first change left them
    assert answer.status == 409, answer.body
    assert api.call("GET", _path(connection_id)).body == first.body

    # And: removing a user starts nothing, so it goes through while the backfill runs, and keeps its record
    removed = api.call("PUT", _path(connection_id), body={"users": []})
    assert removed.status == 200, removed.body
    assert removed.body == {**first.body, "users": []}
    assert _audited(tenant, connection_id) == ["connection.tracked_users"] * 2


@pytest.mark.usefixtures("allowed")
@pytest.mark.parametrize(
    "body",
    [
        {"users": [f"5b10ac8d82e05b22cc7d{n:04d}" for n in range(51)]},
        {"users": ['x" OR project = SECRET']},
        {"users": ["has space"]},
        {"users": [""]},
        {"users": "712020:abc"},
        {"people": [BOB]},
        {},
    ],
    ids=["51-users", "jql-injection", "space", "empty-id", "not-a-list", "unknown-field", "no-users"],
)
def test_a_bad_list_is_a_422_and_nothing_is_stored(api: ApiClient, tenant: str, body: dict[str, Any]) -> None:
    # Given: a Jira connection
    connection_id = _create(api)

    # When: a list that is not up to 50 Jira account ids is sent
    answer = api.call("PUT", _path(connection_id), body=body)

    # Then: 422, no list, no backfill, no audit entry
    assert answer.status == 422, answer.body
    assert api.call("GET", _path(connection_id)).body["users"] == []
    assert _audited(tenant, connection_id) == []
    assert container.sync_operation_repository().active_operation_id(tenant, connection_id) is None


@pytest.mark.usefixtures("allowed")
def test_a_github_connection_is_a_422_naming_the_capability(api: ApiClient, tenant: str) -> None:
    # Given: a GitHub connection
    connection_id = _create(api, "github")

    # When: its tracked users are read or replaced
    read = api.call("GET", _path(connection_id))
    written = api.call("PUT", _path(connection_id), body={"users": [BOB]})

    # Then: both are a 422 naming the capability, and nothing is stored
    for answer in (read, written):
        assert answer.status == 422, answer.body
        assert answer.body["error"]["code"] == "UNSUPPORTED_CAPABILITY"
        assert answer.body["error"]["details"]["capability"] == "tracked_users"
    assert _audited(tenant, connection_id) == []


@pytest.mark.usefixtures("allowed")
def test_another_tenants_connection_is_a_404(api: ApiClient, other_api: ApiClient, tenant: str) -> None:
    # Given: a Jira connection of this tenant
    connection_id = _create(api)

    # When: another tenant reads or replaces its tracked users, or names a malformed id
    answers = [
        other_api.call("GET", _path(connection_id)),
        other_api.call("PUT", _path(connection_id), body={"users": [BOB]}),
        api.call("GET", _path("conn_nope")),
    ]

    # Then: 404 each time, and the connection is untouched
    assert [a.status for a in answers] == [404, 404, 404]
    assert api.call("GET", _path(connection_id)).body["users"] == []
    assert _audited(tenant, connection_id) == []
