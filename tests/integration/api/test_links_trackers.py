"""Links against the GitHub, GitLab and Jira sandboxes: an issue not synced yet is fetched when linked, one
the tracker does not have is a 422, and refreshing pulls each linked issue with one request.

The API runs in-process (``functions.api.handler`` with the real authorizer); its adapters talk HTTP to the
sandboxes on loopback, which the outbound policy admits while the module runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("links-trackers")]

PROVIDER_NAMES = ("github", "gitlab", "jira")
ORDERS = {"kind": "table", "database": "sales", "schema": "public", "name": "orders"}
ORDERS_PATH = "/v1/objects/table/sales/public/orders"


@pytest.fixture(scope="module")
def sandboxes(local_resources: Any) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in PROVIDER_NAMES:
            started[name] = SANDBOXES[name](seed="links", issues=4, comments_per_issue=0).start()
        urls = [url for sandbox in started.values() for url in sandbox.urls()]
        with egress_allowed(*urls):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


@pytest.fixture(params=PROVIDER_NAMES)
def tracker(request: pytest.FixtureRequest, sandboxes: dict[str, SandboxTracker[Any]]) -> SandboxTracker[Any]:
    sandbox = sandboxes[request.param]
    sandbox.reset()
    sandbox.clear_faults()
    return sandbox


@pytest.fixture
def connection_id(api: ApiClient, tracker: SandboxTracker[Any]) -> str:
    answer = api.call(
        "POST", "/v1/connections", body=tracker.connection_request(name=f"{tracker.kind} links")
    )
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def _requests(tracker: SandboxTracker[Any]) -> int:
    return int(tracker.requests()["total"])


def test_linking_an_issue_not_synced_fetches_and_stores_it(
    api: ApiClient, tracker: SandboxTracker[Any], connection_id: str
) -> None:
    # Given: an issue that exists only at the tracker
    native = str(tracker.open_issue("Orders table fills up"))
    ref = f"{connection_id}.{native}"
    tracker.reset_requests()

    # When: it is linked (by the tracker's key on Jira: the link takes the issue's own ref)
    answer = api.call("POST", "/v1/links", body={"object": ORDERS, "issue_ref": ref})

    # Then: one request fetched it, and it is in the synced copy
    assert answer.status == 201, answer.body
    assert _requests(tracker) == 1, tracker.requests()
    linked_ref = answer.body["issue_ref"]
    if tracker.kind != "jira":
        assert linked_ref == ref
    stored = api.call("GET", f"/v1/issues/{linked_ref}")
    assert stored.status == 200, stored.body
    assert stored.body["title"] == "Orders table fills up"
    assert [x["id"] for x in stored.body["links"]] == [answer.body["id"]]
    (entry,) = api.call("GET", ORDERS_PATH).body["items"]
    assert (entry["issue_ref"], entry["status_category"], entry["state"]) == (linked_ref, "todo", "active")


def test_an_issue_the_tracker_does_not_have_is_a_422_naming_it(
    api: ApiClient, tracker: SandboxTracker[Any], connection_id: str
) -> None:
    missing = "DEMO-99999" if tracker.kind == "jira" else "99999"
    ref = f"{connection_id}.{missing}"
    answer = api.call("POST", "/v1/links", body={"object": ORDERS, "issue_ref": ref})
    assert answer.status == 422, answer.body
    assert ref in answer.body["error"]["message"]
    assert answer.body["error"]["details"]["errors"][0]["path"] == "body.issue_ref"
    assert api.call("GET", f"/v1/issues/{ref}").status == 404
    assert api.call("GET", ORDERS_PATH).body["items"] == []


def test_refresh_pulls_each_linked_issue_once(
    api: ApiClient, tracker: SandboxTracker[Any], connection_id: str
) -> None:
    # Given: two issues linked to the table, and a third linked to a view
    natives = [str(tracker.open_issue(f"issue {n}")) for n in range(2)]
    refs = []
    for native in natives:
        answer = api.call(
            "POST", "/v1/links", body={"object": ORDERS, "issue_ref": f"{connection_id}.{native}"}
        )
        assert answer.status == 201, answer.body
        refs.append(answer.body["issue_ref"])
    view_link = api.call(
        "POST", "/v1/links", body={"object": {"kind": "view", "name": "v"}, "issue_ref": refs[0]}
    ).body

    # When: one is closed at the tracker
    tracker.close_issue(natives[0])
    tracker.reset_requests()

    # Then: the view shows the copy (still open) without a request; a refresh pulls both, once each
    before = {e["issue_ref"]: e for e in api.call("GET", ORDERS_PATH).body["items"]}
    assert before[refs[0]]["status_category"] == "todo"
    assert _requests(tracker) == 0
    after = api.call("GET", ORDERS_PATH, query={"refresh": "true"})
    assert after.status == 200, after.body
    assert _requests(tracker) == 2, tracker.requests()
    entries = {e["issue_ref"]: e for e in after.body["items"]}
    assert entries[refs[0]]["status_category"] == "done"
    assert entries[refs[0]]["refresh"] == {"outcome": "updated", "error": None}
    assert entries[refs[1]]["refresh"] == {"outcome": "unchanged", "error": None}
    assert all(e["refreshed_at"] for e in entries.values())
    # And: the synced copy itself changed (the issue view reads it)
    assert api.call("GET", f"/v1/issues/{refs[0]}").body["status_category"] == "done"

    # When: the other issue is deleted at the tracker and its link refreshed
    if not tracker.removable_alone(natives[1]):
        return
    tracker.remove_issue(natives[1])
    link_id = next(e["id"] for e in after.body["items"] if e["issue_ref"] == refs[1])
    tracker.reset_requests()
    refreshed = api.call("POST", f"/v1/links/{link_id}/refresh")

    # Then: one request, and the link stays, marked issue_deleted
    assert refreshed.status == 200, refreshed.body
    assert _requests(tracker) == 1
    assert (refreshed.body["state"], refreshed.body["status"]) == ("issue_deleted", "issue_deleted")
    assert refreshed.body["refresh"]["outcome"] == "deleted"
    states = {
        x["issue_ref"]: x["state"]
        for x in api.call("GET", "/v1/links", query={"object": "table:sales/public/orders"}).body["items"]
    }
    assert states == {refs[0]: "active", refs[1]: "issue_deleted"}
    # The view's link was untouched by all of this
    assert (
        api.call("GET", "/v1/links", query={"object": "view://v"}).body["items"][0]["id"] == view_link["id"]
    )


def test_a_refresh_the_tracker_refuses_is_reported_on_the_entry(
    api: ApiClient, tracker: SandboxTracker[Any], connection_id: str
) -> None:
    native = str(tracker.open_issue("flaky"))
    link = api.call(
        "POST", "/v1/links", body={"object": ORDERS, "issue_ref": f"{connection_id}.{native}"}
    ).body
    tracker.add_faults([{"route": "GET *", "status": 403, "times": 10}])
    refreshed = api.call("POST", f"/v1/links/{link['id']}/refresh")
    assert refreshed.status == 200, refreshed.body
    assert refreshed.body["refresh"]["outcome"] == "failed"
    assert refreshed.body["refresh"]["error"]["code"] == "PERMISSION_DENIED"
    assert (refreshed.body["state"], refreshed.body["status_category"]) == ("active", "todo")
