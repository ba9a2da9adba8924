"""``GET /v1/issues`` value filters on moto: status name, assignee, label, priority, type and text search.

Each filter, alone and combined, is walked page by page through the sealed cursors and compared with the
same filter applied to the seeded issues in Python. The issues are stored the way the sync and webhooks
store them (``IssueRepository``), so a change of assignee or label, or a deletion, is a newer version of the
item: the next listing reflects it. A counting spy on the table's client checks that a filtered page is a
bounded number of index queries, never a scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks.dynamo_cost import item_size, query_units
from benchmarks.dynamo_meter import DynamoMeter
from tests.integration.api.conftest import ApiClient
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import FILTER_READ_BUDGET, IssueRepository
from trackbridge.storage.keys import INDEX_KEYS
from trackbridge.storage.table import serialize

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PEOPLE = ("Octocat", "hubot", "monalisa")
LABELS = ("bug", "ui", "backend")
PRIORITIES = ("High", "Low", None)
TYPES = ("Bug", "Task", None)
STATUSES = ("To Do", "In Review", "Done")
CATEGORIES = {"To Do": "todo", "In Review": "in_progress", "Done": "done"}


@dataclass
class Seeded:
    first: str
    second: str
    issues: dict[str, Issue]  # by ref

    def refs(self, keep: Callable[[Issue], bool]) -> list[str]:
        live = [i for i in self.issues.values() if i.deleted_at is None and keep(i)]
        return [i.ref for i in sorted(live, key=lambda i: i.updated_at, reverse=True)]


def _connection(tenant: str) -> Connection:
    example = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
    return container.connection_repository().create(tenant, Connection.model_validate(example))


def _issue(connection: Connection, n: int) -> Issue:
    status = STATUSES[n % 3]
    return Issue(
        ref=f"{connection.id}.{n}",
        external_id=connection.external_id(str(n)),
        connection_id=connection.id,
        provider="jira",
        key=f"ACME-{n}",
        title=f"Checkout fails for order {n}" if n % 4 == 0 else f"issue {n}",
        body="the PAYMENT service answers 502" if n % 5 == 0 else "nothing to see",
        status=status,
        status_category=CATEGORIES[status],  # type: ignore[arg-type]
        assignees=[PEOPLE[n % 3]] if n % 2 else [PEOPLE[n % 3], PEOPLE[(n + 1) % 3]],
        labels=[LABELS[n % 3]] if n % 3 else [],
        priority=PRIORITIES[n % 3],
        issue_type=TYPES[(n // 2) % 3],
        created_at=T0,
        updated_at=T0 + timedelta(minutes=n),
        deleted_at=T0 + timedelta(minutes=n) if n == 7 else None,
    ).with_hash()


@pytest.fixture
def seeded(api: ApiClient, tenant: str) -> Seeded:
    first, second = _connection(tenant), _connection(tenant)
    issues = [_issue(second if n % 6 == 1 else first, n) for n in range(1, 25)]
    repo = IssueRepository(container.table())
    for issue in issues:
        assert repo.put_if_newer(tenant, issue) == "created"
    return Seeded(first.id, second.id, {issue.ref: issue for issue in issues})


def walk(api: ApiClient, query: dict[str, str]) -> list[str]:
    """Every ref of a listing, page by page (pages may be short: the walk goes on while a cursor does)."""
    refs: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        answer = api.call("GET", "/v1/issues", query={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200, answer.body
        assert len(answer.body["items"]) <= int(query.get("limit", "50"))
        refs.extend(item["ref"] for item in answer.body["items"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return refs
    raise AssertionError("the listing never ended")


def _lower(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


FILTERS: dict[str, tuple[dict[str, str], Callable[[Issue], bool]]] = {
    "assignee": ({"assignee": "octocat"}, lambda i: "Octocat" in i.assignees),
    "label": ({"label": "UI"}, lambda i: "ui" in i.labels),
    "priority": ({"priority": "high"}, lambda i: i.priority == "High"),
    "type": ({"type": "bug"}, lambda i: i.issue_type == "Bug"),
    "status_name": ({"status_name": "in review"}, lambda i: i.status == "In Review"),
    "status_category": ({"status_category": "done"}, lambda i: i.status_category == "done"),
    "q in title": ({"q": "CHECKOUT"}, lambda i: "checkout" in i.title.casefold()),
    "q in body": ({"q": "payment"}, lambda i: "payment" in i.body.casefold()),
    "assignee+label": (
        {"assignee": "octocat", "label": "backend"},
        lambda i: "Octocat" in i.assignees and "backend" in i.labels,
    ),
    "status+priority+since": (
        {"status": "todo", "priority": "High", "updated_since": "2026-05-01T08:06:00Z"},
        lambda i: (
            i.status_category == "todo" and i.priority == "High" and i.updated_at >= T0 + timedelta(minutes=6)
        ),
    ),
    "type+q": ({"type": "Task", "q": "issue"}, lambda i: i.issue_type == "Task" and "issue" in i.title),
}


@pytest.mark.parametrize("connection", [None, "first"], ids=["tenant", "connection"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_every_filter_lists_exactly_the_matching_live_issues(
    api: ApiClient, seeded: Seeded, name: str, connection: str | None
) -> None:
    query, keep = FILTERS[name]
    scope = getattr(seeded, connection) if connection else None
    params = {**query, "limit": "2", **({"connection": scope} if scope else {})}

    refs = walk(api, params)

    expected = seeded.refs(lambda i: keep(i) and (scope is None or i.connection_id == scope))
    assert expected, "the seed must give every filter something to find"
    assert refs == expected


def test_a_changed_assignee_or_label_and_a_deletion_show_in_the_next_listing(
    api: ApiClient, seeded: Seeded, tenant: str
) -> None:
    repo = IssueRepository(container.table())
    moved = seeded.issues[f"{seeded.first}.4"]  # assignees hubot and monalisa, label ui
    gone = seeded.issues[f"{seeded.first}.5"]  # label backend
    assert moved.ref in walk(api, {"assignee": "hubot", "label": "ui"})
    assert gone.ref in walk(api, {"label": "backend"})

    # When: the tracker reassigns and relabels one issue, and deletes another
    later = T0 + timedelta(hours=1)
    assert (
        repo.put_if_newer(
            tenant,
            moved.model_copy(
                update={"assignees": ["monalisa"], "labels": ["backend"], "updated_at": later}
            ).with_hash(),
        )
        == "updated"
    )
    assert (
        repo.put_if_newer(
            tenant, gone.model_copy(update={"deleted_at": later, "updated_at": later}).with_hash()
        )
        == "updated"
    )

    # Then: the old values no longer find the first, the new ones do (first: it is the newest), and the
    # deleted one is in no value listing
    assert moved.ref not in walk(api, {"assignee": "hubot"})
    assert moved.ref not in walk(api, {"label": "ui"})
    assert walk(api, {"assignee": "monalisa", "label": "backend"})[0] == moved.ref
    assert gone.ref not in walk(api, {"label": "backend"})
    assert gone.ref not in walk(api, {"q": "payment"})


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"assignee": ""}, "assignee"),
        ({"label": "   "}, "label"),
        ({"priority": "x" * 201}, "priority"),
        ({"type": ""}, "type"),
        ({"q": "a"}, "q"),
        ({"status_name": ""}, "status_name"),
        ({"status_category": "closed"}, "status_category"),
        ({"status": "todo", "status_category": "done"}, "status_category"),
        ({"updated_since": "yesterday"}, "updated_since"),
    ],
)
def test_a_bad_filter_value_is_a_422_naming_the_parameter(
    api: ApiClient, query: dict[str, str], parameter: str
) -> None:
    answer = api.call("GET", "/v1/issues", query=query)

    assert answer.status == 422, answer.body
    assert (
        parameter in answer.body["error"]["message"]
        or answer.body["error"]["details"].get("parameter") == parameter
    )


def test_another_tenants_connection_is_a_404_whatever_the_filters(
    seeded: Seeded, other_api: ApiClient
) -> None:
    answer = other_api.call("GET", "/v1/issues", query={"connection": seeded.first, "assignee": "octocat"})

    assert answer.status == 404
    assert other_api.call("GET", "/v1/issues", query={"assignee": "octocat"}).body["items"] == []


class CountingClient:
    """The table's DynamoDB client, counting calls by operation and the items each query read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}
        self.items_read = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def counted(**request: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            answer = method(**request)
            if name == "query":
                self.items_read += int(answer.get("ScannedCount", answer.get("Count", 0)))
            return answer

        return counted


def test_a_filtered_page_reads_a_bounded_number_of_index_items_and_resumes_after_them(
    api: ApiClient, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a connection whose only match is older than the read budget of one page
    connection = _connection(tenant)
    table = container.table()
    filler = [
        _issue(connection, n).model_copy(update={"assignees": ["someone"], "deleted_at": None}).with_hash()
        for n in range(1, FILTER_READ_BUDGET + 151)
    ]
    wanted = _issue(connection, 0).model_copy(update={"assignees": ["needle"]}).with_hash()
    table.batch_put([IssueRepository.item(tenant, issue) for issue in [wanted, *filler]])
    meter = CountingClient(table.client)
    monkeypatch.setattr(table, "client", meter)
    units = DynamoMeter([(name, pk, sk) for name, (pk, sk) in INDEX_KEYS.items()])
    units.install()
    units.start(table.name)

    # When: the first page of the filter is read
    try:
        first = api.call("GET", "/v1/issues", query={"connection": connection.id, "assignee": "needle"})
    finally:
        usage = units.stop()

    # Then: it read at most the budget, in pages of 100 through the connection's index, found nothing yet,
    # and its cursor leads on
    assert first.status == 200
    assert first.body["items"] == []
    assert first.body["next_cursor"]
    assert meter.calls.get("query") == FILTER_READ_BUDGET // 100
    assert "scan" not in meter.calls
    assert meter.items_read <= FILTER_READ_BUDGET + meter.calls["query"]
    # And: DynamoDB bills it as ten queries of 101 whole items at most (eventually consistent), nothing else
    largest = max(item_size(serialize(IssueRepository.item(tenant, issue))) for issue in filler)
    assert usage.calls.get("Query") == FILTER_READ_BUDGET // 100
    assert "Scan" not in usage.calls
    assert 0 < usage.rru <= 10 * query_units([largest] * 101)

    # When: the cursor is followed
    meter.calls.clear()
    meter.items_read = 0
    second = api.call(
        "GET",
        "/v1/issues",
        query={"connection": connection.id, "assignee": "needle", "cursor": first.body["next_cursor"]},
    )

    # Then: the rest of the index is read once and the match is found, with no cursor left
    assert [item["ref"] for item in second.body["items"]] == [wanted.ref]
    assert second.body["next_cursor"] is None
    assert meter.items_read <= len(filler) + 1 - FILTER_READ_BUDGET + meter.calls["query"]
    assert "scan" not in meter.calls


def test_a_page_that_fills_mid_read_resumes_at_the_last_issue_it_kept(api: ApiClient, seeded: Seeded) -> None:
    # A filter matching most issues fills a page of 2 well inside the first 100-item read: nothing read
    # after the second match may be lost.
    keep = FILTERS["assignee"][1]
    expected = seeded.refs(keep)

    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(20):
        query = {"assignee": "octocat", "limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = api.call("GET", "/v1/issues", query=query)
        pages.append([item["ref"] for item in answer.body["items"]])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break

    assert [ref for page in pages for ref in page] == expected
    assert all(len(page) == 2 for page in pages[:-1])
