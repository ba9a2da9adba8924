"""The Linear sandbox without sockets (werkzeug's test client): GraphQL validation and error shapes, the
API-key header, both rate-limit buckets, keyset pages under drift, and signed webhook bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from infra.local.trackers._faults import graphql_operation
from infra.local.trackers.linear import LinearSandbox
from infra.local.trackers.linear._state import Hook, Label, new_id
from trackbridge.providers.linear import ISSUES_QUERY, LABELS_PER_ISSUE, LinearAdapter
from trackbridge.providers.registry import create_adapter
from trackbridge.providers.types import TrackerConfig


@pytest.fixture
def sandbox() -> LinearSandbox:
    return LinearSandbox(seed="unit", issues=12, comments_per_issue=1)


def _post(sandbox: LinearSandbox, query: str, variables: dict[str, Any] | None = None, **headers: str) -> Any:
    headers.setdefault("Authorization", sandbox.token)
    return Client(sandbox).post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def _codes(response: Any) -> list[str]:
    return [e["extensions"]["code"] for e in response.get_json()["errors"]]


def test_a_field_linear_lacks_is_refused_as_linear_refuses_it(sandbox: LinearSandbox) -> None:
    response = _post(sandbox, "query { viewer { id favouriteColour } }")
    assert response.status_code == 400
    assert _codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "favouriteColour" in response.get_json()["errors"][0]["message"]
    assert _codes(_post(sandbox, "query { viewer { id ")) == ["GRAPHQL_PARSE_FAILED"]


def test_the_key_goes_bare_and_a_bearer_value_is_refused(sandbox: LinearSandbox) -> None:
    assert _post(sandbox, "query { viewer { id } }").get_json()["data"]["viewer"]["id"]
    refused = _post(sandbox, "query { viewer { id } }", Authorization=f"Bearer {sandbox.token}")
    assert refused.status_code == 400
    assert _codes(refused) == ["AUTHENTICATION_ERROR"]


def test_a_missing_issue_is_an_input_error_without_data(sandbox: LinearSandbox) -> None:
    response = _post(sandbox, "query($id: String!) { issue(id: $id) { id } }", {"id": "ENG-999"})
    assert response.status_code == 400
    assert _codes(response) == ["INPUT_ERROR"]
    assert response.get_json()["errors"][0]["message"] == "Entity not found: Issue"


def test_every_answer_reports_both_buckets_and_the_query_cost(sandbox: LinearSandbox) -> None:
    variables = {"filter": {"team": {"key": {"eq": "ENG"}}}, "first": 5}
    first = _post(sandbox, ISSUES_QUERY, variables)
    second = _post(sandbox, ISSUES_QUERY, variables)
    cost = int(first.headers["X-Complexity"])
    assert cost > 5
    remaining = [int(r.headers["X-RateLimit-Complexity-Remaining"]) for r in (first, second)]
    assert remaining[0] - remaining[1] == cost
    requests = [int(r.headers["X-RateLimit-Requests-Remaining"]) for r in (first, second)]
    assert requests[0] - requests[1] == 1
    assert int(first.headers["X-RateLimit-Requests-Reset"]) > 10**12  # epoch milliseconds


def test_a_spent_bucket_answers_ratelimited_on_a_400(sandbox: LinearSandbox) -> None:
    sandbox.exhaust_rate_limit(600)
    response = _post(sandbox, "query { viewer { id } }")
    assert response.status_code == 400
    assert _codes(response) == ["RATELIMITED"]
    assert response.headers["X-RateLimit-Requests-Remaining"] == "0"


def test_update_ordered_pages_never_skip_an_issue_that_moves(sandbox: LinearSandbox) -> None:
    variables: dict[str, Any] = {"filter": {}, "first": 5, "orderBy": "updatedAt"}
    seen: list[str] = []
    for turn in range(10):
        page = _post(sandbox, ISSUES_QUERY, variables).get_json()["data"]["issues"]
        seen += [node["identifier"] for node in page["nodes"]]
        if turn == 0:  # an issue already read moves to the end of update order while the client pages
            sandbox.retitle_issue(seen[0], "moved while paging")
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    assert set(seen) == {f"ENG-{n}" for n in range(1, 13)}
    assert seen.count(seen[0]) == 2


def test_webhook_bodies_are_signed_and_fresh(sandbox: LinearSandbox) -> None:
    secret = "-".join(["unit", "hook", "secret"])
    with sandbox.lock:
        sandbox.state.hooks["h1"] = Hook("h1", "http://127.0.0.1:9/hook", secret, ("Issue",), None, None)
    sandbox.open_issue("signed")
    (request,) = [d.request for d in sandbox.deliveries()][:1]
    body = json.loads(request.body)
    assert (body["type"], body["action"], body["webhookId"]) == ("Issue", "create", "h1")
    assert request.headers["Linear-Event"] == "Issue"
    assert LinearAdapter.verify_webhook(request.headers, request.body, [secret])
    assert not LinearAdapter.verify_webhook(request.headers, request.body, ["another"])
    sandbox.stop()


def test_an_issue_with_more_labels_than_a_page_holds_is_read_whole(sandbox: LinearSandbox) -> None:
    names = [f"area-{n}" for n in range(LABELS_PER_ISSUE + 2)]
    with sandbox.lock:
        for name in names:
            label = Label(new_id(sandbox.state.ids), name, "#000000")
            sandbox.state.labels[label.id] = label
    ref = str(sandbox.open_issue("labelled a lot"))
    sandbox.mutate("update", **sandbox.issue_ref(ref), fields={"labels": names})
    config = TrackerConfig(sandbox.url, {"team": "ENG"}, "conn_linearlinearlinearli")
    client = httpx.Client(transport=httpx.WSGITransport(app=sandbox))
    with create_adapter("linear", config, {"token": sandbox.token}, client=client) as adapter:
        assert adapter.get_issue(ref).labels == sorted(names)
        assert adapter.stats.requests == 2  # the issue, then its labels in full
    client.close()


def test_a_listing_fault_hits_the_issues_query_and_spares_the_others(sandbox: LinearSandbox) -> None:
    issues = "query Issues($first: Int!) { issues(first: $first) { nodes { id } } }"
    sandbox.add_faults([sandbox.listing_fault(status=503, times=1)])

    spared = _post(sandbox, "query Viewer { viewer { id } }")
    hit = _post(sandbox, issues, {"first": 2})
    after = _post(sandbox, issues, {"first": 2})

    assert (spared.status_code, hit.status_code, after.status_code) == (200, 503, 200)
    # The operation declared is the one the adapter's issue listing runs.
    assert graphql_operation(json.dumps({"query": ISSUES_QUERY}).encode()) == sandbox.listing_operation
