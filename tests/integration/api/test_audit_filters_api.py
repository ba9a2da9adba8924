"""``GET /v1/audit`` filters on moto: actor, action (a name or a family), target and since, combined, with
pages that follow ``next_cursor`` across entries the filter skips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.runtime import container

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

# After the key creation the fixtures audit (now), so `since` alone selects only these entries.
START = datetime(2099, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def entries(stack: LocalResources, tenant: str) -> list[tuple[str, str, str, datetime]]:
    """Twelve entries of the tenant, one a minute: (actor, action, target, at)."""
    written = []
    for i in range(12):
        actor = "keyaaaaaaaaaaaaaaaaa" if i % 2 else "keybbbbbbbbbbbbbbbbb"
        action = ("schedule.pause", "schedule.update", "connection.update")[i % 3]
        target, at = f"conn_{i % 4:020d}", START + timedelta(minutes=i)
        entry = new_entry(
            action=action, target=target, actor=Actor(id=actor), at=at, changes={"n": FieldChange(new=i)}
        )
        container.audit_repository().append(tenant, entry)
        written.append((actor, action, target, at))
    return written


def _all(api: ApiClient, query: dict[str, str]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    page_query = dict(query)
    for _ in range(50):
        answer = api.call("GET", "/v1/audit", query=page_query)
        assert answer.status == 200, answer.body
        items.extend(answer.body["items"])
        if not answer.body["next_cursor"]:
            return items
        page_query = {**query, "cursor": answer.body["next_cursor"]}
    raise AssertionError("the listing did not end")


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ({"actor": "keybbbbbbbbbbbbbbbbb"}, lambda e: e[0] == "keybbbbbbbbbbbbbbbbb"),
        ({"action": "schedule.pause"}, lambda e: e[1] == "schedule.pause"),
        ({"action": "schedule.*"}, lambda e: e[1].startswith("schedule.")),
        ({"target": "conn_00000000000000000001"}, lambda e: e[2] == "conn_00000000000000000001"),
        ({"since": "2099-03-01T12:08:00Z"}, lambda e: e[3] >= START + timedelta(minutes=8)),
        (
            {"actor": "keyaaaaaaaaaaaaaaaaa", "action": "schedule.*", "since": "2099-03-01T12:03:00+00:00"},
            lambda e: (
                e[0] == "keyaaaaaaaaaaaaaaaaa"
                and e[1].startswith("schedule.")
                and e[3] >= START + timedelta(minutes=3)
            ),
        ),
    ],
)
def test_filters_keep_exactly_the_matching_entries_newest_first(
    api: ApiClient, entries: list[tuple[str, str, str, datetime]], query: dict[str, str], keep: object
) -> None:
    expected = [e for e in reversed(entries) if keep(e)]  # type: ignore[operator]
    # Pages of 2 make the filter skip entries between pages
    got = _all(api, {**query, "limit": "2"})
    assert [(i["actor"], i["action"], i["target"]) for i in got] == [e[:3] for e in expected]
    assert expected, "the case must select something"


def test_a_filter_with_no_match_is_an_empty_last_page(api: ApiClient, entries: object) -> None:
    answer = api.call("GET", "/v1/audit", query={"action": "dlq.redrive"})
    assert answer.status == 200
    assert answer.body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query", [{"since": "yesterday"}, {"action": "a b"}, {"actor": ""}, {"target": "x" * 300}]
)
def test_bad_filters_are_a_422(api: ApiClient, query: dict[str, str]) -> None:
    assert api.call("GET", "/v1/audit", query=query).status == 422


def test_another_tenants_entries_never_match(api: ApiClient, other_api: ApiClient, entries: object) -> None:
    assert other_api.call("GET", "/v1/audit", query={"action": "schedule.*"}).body["items"] == []
