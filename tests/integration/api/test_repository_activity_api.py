"""``GET /v1/repositories/{connection_id}/activity`` on moto: a summary computed from stored activity records.

Records are stored the way the sync stores them (the sync writer, ``SYNCED_KINDS``), with the entity's sync
state; the connection points at a tracker the test never starts, so an answer proves no tracker was asked.
Bad ``weeks`` and ``as_of`` are 422, another tenant's connection 404, a Jira connection 422 naming the
capability.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.activity import LANGUAGES_ID, LanguageShares, RepoCommit, RepoRelease, RepoRequest
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.sync import SyncState
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.runtime.sync.writer import ItemWriter, TableItems

pytestmark = pytest.mark.integration

# Wednesday of ISO week 2026-W10; the window of 2 weeks starts Monday 2026-02-23.
AS_OF = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
SYNCED_AT = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)


def _connection(tenant: str, **changes: Any) -> Connection:
    example = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION), **changes}
    return container.connection_repository().create(tenant, Connection.model_validate(example))


def _records(connection_id: str) -> list[Any]:
    def at(days: float) -> datetime:
        return AS_OF - timedelta(days=days)

    common = {"connection_id": connection_id}
    commits = [
        RepoCommit(id=f"commit:{n:040x}", sha=f"{n:040x}", committed_at=at(d), updated_at=at(d), **common)
        for n, d in enumerate((0.5, 1, 2, 8, 30))  # three this week, one last week, one before the window
    ]
    requests = [
        # opened last week, merged this week
        RepoRequest(
            id="request:1",
            number=1,
            state="merged",
            created_at=at(8),
            merged_at=at(1),
            **common,
            closed_at=at(1),
            updated_at=at(1),
        ),
        # opened this week, still open (1 day old)
        RepoRequest(id="request:2", number=2, state="open", created_at=at(1), updated_at=at(1), **common),
        # opened long ago, still open (40 days old)
        RepoRequest(id="request:3", number=3, state="open", created_at=at(40), updated_at=at(3), **common),
        # opened and closed unmerged last week
        RepoRequest(
            id="request:4",
            number=4,
            state="closed",
            created_at=at(9),
            closed_at=at(7.5),
            updated_at=at(7.5),
            **common,
        ),
    ]
    releases = [
        RepoRelease(id=f"release:v1.{n}.0", tag=f"v1.{n}.0", released_at=at(d), updated_at=at(d), **common)
        for n, d in enumerate((20, 6, 2))
    ]
    languages = LanguageShares(
        id=LANGUAGES_ID, shares={"Python": 90.0, "Shell": 10.0}, updated_at=at(2), **common
    )
    return [r.with_hash() for r in (*commits, *requests, *releases, languages)]


def _store(tenant: str, connection: Connection) -> None:
    writer = ItemWriter(TableItems(container.table()), tenant, operation_id="op_test")
    try:
        counts = writer.write(_records(connection.id))
    finally:
        writer.close()
    assert counts.by_entity["activity"].created == 13
    state = SyncState(
        connection_id=connection.id,
        entity="activity",
        status="ok",
        high_water=SYNCED_AT - timedelta(minutes=5),
        last_success_at=SYNCED_AT,
        updated_at=SYNCED_AT,
    )
    container.sync_state_repository().save(tenant, state, expected_version=None)


def _path(connection_id: str) -> str:
    return f"/v1/repositories/{connection_id}/activity"


def test_the_summary_counts_weeks_open_requests_releases_and_languages(api: ApiClient, tenant: str) -> None:
    # Given a GitHub connection whose activity was synced
    connection = _connection(tenant)
    _store(tenant, connection)

    # When its activity is asked for the two weeks ending at AS_OF
    answer = api.call("GET", _path(connection.id), query={"weeks": "2", "as_of": AS_OF.isoformat()})

    # Then each week counts what happened in it, from the stored records alone
    assert answer.status == 200, answer.body
    body = answer.body
    assert [(w["week"], w["commits"], w["opened"], w["merged"], w["closed"]) for w in body["weeks"]] == [
        ("2026-W09", 1, 2, 0, 1),
        ("2026-W10", 3, 1, 1, 0),
    ]
    assert body["totals"]["commits"] == 4
    assert body["open_requests"] == {
        "count": 2,
        "median_age_days": 20.5,
        "oldest_age_days": 40.0,
        "oldest_number": 3,
    }
    assert body["releases"]["releases"] == 2
    assert body["releases"]["median_days_between"] == 4.0
    assert body["releases"]["last_release"]["tag"] == "v1.2.0"
    assert body["languages"] == {"Python": 90.0, "Shell": 10.0}
    assert (body["provider"], body["repository"]) == ("github", "acme/web")
    assert body["last_synced_at"].startswith("2026-03-04T11:00:00")
    assert body["window_start"].startswith("2026-02-23T00:00:00")


def test_the_default_window_is_twelve_weeks_ending_now(api: ApiClient, tenant: str) -> None:
    connection = _connection(tenant)
    answer = api.call("GET", _path(connection.id))
    assert answer.status == 200, answer.body
    assert len(answer.body["weeks"]) == 12
    assert answer.body["last_synced_at"] is None
    assert answer.body["totals"]["commits"] == 0
    assert answer.body["languages"] == {}


@pytest.mark.parametrize(
    "query",
    [
        {"weeks": "0"},
        {"weeks": "53"},
        {"weeks": "twelve"},
        {"as_of": "yesterday"},
        {"as_of": "0.5"},  # pydantic alone would read a Unix time
        {"as_of": "0001-01-02T00:00:00Z"},
        {"as_of": "2026-03-04T12:00:00"},
    ],
)
def test_bad_parameters_are_422_and_name_the_field(
    api: ApiClient, tenant: str, query: dict[str, str]
) -> None:
    connection = _connection(tenant)
    answer = api.call("GET", _path(connection.id), query=query)
    assert answer.status == 422, answer.body
    assert next(iter(query)) in str(answer.body["error"])


def test_another_tenants_connection_is_404(api: ApiClient, other_api: ApiClient, tenant: str) -> None:
    connection = _connection(tenant)
    _store(tenant, connection)
    for missing in (connection.id, new_id(IdPrefix.CONNECTION), "not-an-id"):
        answer = other_api.call("GET", _path(missing))
        assert answer.status == 404, answer.body
    assert api.call("GET", _path(connection.id)).status == 200


def test_a_jira_connection_is_422_naming_the_capability(api: ApiClient, tenant: str) -> None:
    connection = _connection(
        tenant,
        provider="jira",
        base_url="https://acme.atlassian.net",
        scope={"project": "OPS"},
        entities=["issues", "comments"],
    )
    answer = api.call("GET", _path(connection.id))
    assert answer.status == 422, answer.body
    error = answer.body["error"]
    assert error["code"] == "UNSUPPORTED_CAPABILITY"
    assert error["details"]["capability"] == "repository_activity"
