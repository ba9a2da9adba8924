"""Links detected from development activity, through the API on moto and the sandbox trackers on loopback.

``POST /v1/connections/{id}/scan-links`` reads the GitHub or GitLab sandbox's seeded commits and pull/merge
requests (every third seeded commit names an issue as ``#n``, ``Fixes #n``, a key of the seeded Jira project
or a number no issue has), and a ``push`` / ``Push Hook`` delivery goes through the webhook function's
verification and the apply step into the same detection. Issues are put into the synced copy the way a sync
stores them (read through the connection's adapter), so a key resolves exactly when a sync would have it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.support.hooks import HookReceiver, serve_hooks
from tests.support.sandboxes import egress_allowed
from trackbridge.providers.registry import PROVIDERS
from trackbridge.runtime import container
from trackbridge.runtime.webhooks.ingest import WebhookRequest, forwarded_headers
from trackbridge.runtime.webhooks.messages import InboundDelivery
from trackbridge.storage.issues import IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("scan-links")]

ISSUES = 12
FORGES = ("github", "gitlab")
SINCE_EVER = "2000-01-01T00:00:00Z"
# Seeded commits name issue ISSUES + 500 (seeding.MISSING_ISSUE_OFFSET): there is no such issue.
MISSING = f"#{ISSUES + 500}"


@pytest.fixture(scope="module")
def sandboxes(local_resources: Any) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in (*FORGES, "jira"):
            started[name] = SANDBOXES[name](seed="scan", issues=ISSUES, comments_per_issue=0).start()
        with egress_allowed(*(url for sandbox in started.values() for url in sandbox.urls())):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookReceiver]:
    with serve_hooks() as receiver:
        yield receiver


@pytest.fixture(params=FORGES)
def forge(request: pytest.FixtureRequest, sandboxes: dict[str, SandboxTracker[Any]]) -> SandboxTracker[Any]:
    sandbox = sandboxes[request.param]
    sandbox.reset()
    return sandbox


def _connect(api: ApiClient, tenant: str, tracker: SandboxTracker[Any], *, webhook: bool = False) -> str:
    body = tracker.connection_request(name=f"{tracker.kind} scan", webhook_secret=webhook)
    answer = api.call("POST", "/v1/connections", body=body)
    assert answer.status == 201, answer.body
    connection_id = str(answer.body["id"])
    _sync_into_copy(tenant, connection_id)
    return connection_id


def _sync_into_copy(tenant: str, connection_id: str) -> None:
    """Store every issue of the connection as a sync does (what detection resolves keys against)."""
    connection = container.connection_repository().get(tenant, connection_id)
    repository = IssueRepository(container.table())
    with container.adapter_pool().lease(tenant, connection) as adapter:
        for page in adapter.iter_issue_pages():
            for issue in page.items:
                repository.put_if_newer(tenant, issue)


def _linked_objects(api: ApiClient, ref: str) -> list[tuple[str, str, str]]:
    answer = api.call("GET", "/v1/links", query={"issue": ref})
    assert answer.status == 200, answer.body
    return [(x["object"]["schema"], x["type"], x["created_by"]) for x in answer.body["items"]]


def _unresolved(api: ApiClient, connection_id: str) -> list[dict[str, Any]]:
    answer = api.call("GET", f"/v1/connections/{connection_id}/unresolved-refs", query={"limit": "100"})
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


def _jira_ref(tenant: str, connection_id: str, key: str) -> str:
    found = container.link_detector().store.issue_refs_by_key(tenant, connection_id, [key])
    return found[key]


def test_a_scan_links_seeded_commits_and_requests_once(
    api: ApiClient,
    tenant: str,
    forge: SandboxTracker[Any],
    sandboxes: dict[str, SandboxTracker[Any]],
) -> None:
    # Given: the forge's connection and the tenant's Jira connection (project ACME), both synced
    connection_id = _connect(api, tenant, forge)
    jira_id = _connect(api, tenant, sandboxes["jira"])
    forge.reset_requests()

    # When: the repository's activity since ever is scanned
    first = api.call("POST", f"/v1/connections/{connection_id}/scan-links", body={"since": SINCE_EVER})

    # Then: commits and requests were read in pages, and what they name is linked
    assert first.status == 200, first.body
    result = first.body
    assert result["commits"] >= 40
    assert result["pull_requests"] >= 1
    assert result["links_created"] > 0
    assert result["unresolved"] > 0
    assert result["closing"] > 0
    assert result["requests"] == forge.requests()["total"] >= 2
    assert result["truncated"] is False
    # And: "Fixes #4" (a seeded commit) links commit -> issue 4, auto_detected
    assert ("commit", "auto_detected", "link_detection") in _linked_objects(api, f"{connection_id}.4")
    # And: a request's branch names an issue too (GitHub #7 of 12: feature/ACME-<n>-...; GitLab !2: 3-...)
    request = "pull_request/7" if forge.kind == "github" else "merge_request/2"
    by_request = api.call("GET", "/v1/links", query={"object": f"repository:acme:widgets/{request}"})
    assert by_request.status == 200, by_request.body
    assert by_request.body["items"], "the request's branch names an issue"
    if forge.kind == "gitlab":
        assert [x["issue_ref"] for x in by_request.body["items"]] == [f"{connection_id}.3"]
    # And: a Jira key of the seeded project links the commit to the Jira issue
    jira_ref = _jira_ref(tenant, jira_id, "ACME-3")
    assert ("commit", "auto_detected", "link_detection") in _linked_objects(api, jira_ref)
    # And: the number no issue has is recorded, not linked
    unresolved = _unresolved(api, connection_id)
    assert MISSING in {entry["ref"] for entry in unresolved}
    assert all(entry["object"]["kind"] == "repository" for entry in unresolved)

    # When: the same window is scanned again
    second = api.call("POST", f"/v1/connections/{connection_id}/scan-links", body={"since": SINCE_EVER})

    # Then: nothing new is linked or recorded
    assert second.status == 200, second.body
    assert second.body["links_created"] == 0
    assert second.body["links_existing"] == result["links_created"] + result["links_existing"]
    assert second.body["unresolved"] == result["unresolved"]
    assert _unresolved(api, connection_id) == unresolved


def test_a_push_webhook_links_the_issue_its_commit_names(
    api: ApiClient,
    tenant: str,
    forge: SandboxTracker[Any],
    hooks: HookReceiver,
) -> None:
    # Given: a synced connection with a webhook secret, and a hook at the tracker for pushes
    connection_id = _connect(api, tenant, forge, webhook=True)
    hooks.clear()
    _register_push_hook(forge, hooks.url)
    # Registering sends a ping (GitHub) from the sandbox's delivery thread: it must be in before counting
    assert forge.wait_for_deliveries(60.0)
    before = len(hooks.wait_for(0))

    # When: a commit naming issue 5 is pushed, and its delivery reaches the webhook function
    forge.mutate("push", message="Tidy the exporter\n\nFixes #5")
    received = hooks.wait_for(before + 1)[-1]
    answer = container.webhook_ingest().answer(
        WebhookRequest(forge.kind, connection_id, _lower(received.headers), received.body)
    )
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "queued"

    # And: the apply step takes the message the webhook function queued
    delivery = InboundDelivery.of(
        tenant=tenant,
        connection_id=connection_id,
        provider=forge.kind,
        delivery_id=str(answer.body["delivery_id"]),
        received_at=container.link_detector().clock(),
        headers=forwarded_headers(PROVIDERS[forge.kind], _lower(received.headers)),
        raw_body=received.body,
    )
    applied = container.webhook_applier().apply(delivery)

    # Then: the commit is linked to issue 5, auto_detected
    assert applied.status == "activity"
    assert _linked_objects(api, f"{connection_id}.5") == [("commit", "auto_detected", "link_detection")]


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _register_push_hook(tracker: SandboxTracker[Any], url: str) -> None:
    """A hook for push events, registered through the tracker's own API with the connection's secret."""
    import httpx

    secret = tracker.webhook_secret
    with httpx.Client(base_url=tracker.url, timeout=60.0, trust_env=False) as client:
        if tracker.kind == "github":
            response = client.post(
                "/repos/acme/widgets/hooks",
                headers={"Authorization": f"Bearer {tracker.token}"},
                json={"events": ["push"], "config": {"url": url, "content_type": "json", "secret": secret}},
            )
        else:
            response = client.post(
                "/api/v4/projects/acme%2Fwidgets/hooks",
                headers={"PRIVATE-TOKEN": tracker.token},
                json={"url": url, "token": secret, "push_events": True},
            )
    assert response.status_code == 201, response.text


# ---- bad input: a clear 4xx, nothing stored ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"since": "last tuesday"}, {"since": "2026-01-01T00:00:00"}, {"since": 5}, {"until": SINCE_EVER}],
    ids=["not-a-time", "no-zone", "a-number", "unknown-field"],
)
def test_a_malformed_body_is_a_422(
    api: ApiClient, tenant: str, sandboxes: dict[str, SandboxTracker[Any]], body: dict[str, Any]
) -> None:
    tracker = sandboxes["github"]
    connection_id = _connect(api, tenant, tracker)
    tracker.reset_requests()
    answer = api.call("POST", f"/v1/connections/{connection_id}/scan-links", body=body)
    assert answer.status == 422, answer.body
    assert tracker.requests()["total"] == 0
    assert _unresolved(api, connection_id) == []


def test_a_since_in_the_future_is_a_422(
    api: ApiClient, tenant: str, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    connection_id = _connect(api, tenant, sandboxes["gitlab"])
    answer = api.call(
        "POST", f"/v1/connections/{connection_id}/scan-links", body={"since": "2999-01-01T00:00:00Z"}
    )
    assert answer.status == 422, answer.body
    assert answer.body["error"]["details"]["errors"][0]["path"] == "body.since"


def test_another_tenants_connection_is_a_404(
    api: ApiClient, other_api: ApiClient, tenant: str, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    tracker = sandboxes["github"]
    connection_id = _connect(api, tenant, tracker)
    tracker.reset_requests()
    for call in (
        other_api.call("POST", f"/v1/connections/{connection_id}/scan-links", body={"since": SINCE_EVER}),
        other_api.call("GET", f"/v1/connections/{connection_id}/unresolved-refs"),
        other_api.call("POST", "/v1/connections/conn_abcdefghijklmnopqrst/scan-links", body={}),
    ):
        assert call.status == 404, call.body
    assert tracker.requests()["total"] == 0
    assert _unresolved(api, connection_id) == []


def test_a_jira_connection_has_no_repository_to_scan(
    api: ApiClient, tenant: str, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    tracker = sandboxes["jira"]
    connection_id = _connect(api, tenant, tracker)
    tracker.reset_requests()
    answer = api.call("POST", f"/v1/connections/{connection_id}/scan-links", body={"since": SINCE_EVER})
    assert answer.status == 422, answer.body
    assert answer.body["error"]["code"] == "UNSUPPORTED_CAPABILITY"
    assert answer.body["error"]["details"]["capability"] == "dev_activity"
    assert tracker.requests()["total"] == 0
    assert _unresolved(api, connection_id) == []


def test_the_scan_result_is_json_with_the_documented_fields(
    api: ApiClient, tenant: str, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    connection_id = _connect(api, tenant, sandboxes["github"])
    answer = api.call("POST", f"/v1/connections/{connection_id}/scan-links", body=None)
    assert answer.status == 200, answer.body
    assert {"commits", "pull_requests", "links_created", "unresolved", "requests"} <= set(answer.body)
    json.dumps(answer.body)
