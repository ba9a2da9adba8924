"""The tracker actions API against the Redmine sandbox, through the local API Gateway over loopback HTTP.

Create, update, comment, transition, search and bulk reach Redmine and come back synced; what Redmine lacks
(attachments here) is a 422 naming the capability; a value Redmine refuses is its 422, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from infra.local.trackers.redmine import RedmineSandbox
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("actions-api")]


@pytest.fixture(scope="module")
def gateway(local_resources: LocalResources) -> Iterator[tuple[LocalApiGateway, RedmineSandbox]]:
    container.reset()
    gateway = LocalApiGateway(LocalFunctions(), throttle_rate=10_000, throttle_burst=10_000)
    with (
        RedmineSandbox(seed="actions", issues=6, comments_per_issue=1) as sandbox,
        egress_allowed(sandbox.url),
    ):
        gateway.start()
        try:
            yield gateway, sandbox
        finally:
            gateway.stop()
            container.reset()


@pytest.fixture
def api(gateway: tuple[LocalApiGateway, RedmineSandbox], tenant: str) -> Iterator[tuple[httpx.Client, str]]:
    local, sandbox = gateway
    sandbox.reset()
    headers = {"Authorization": f"Bearer {issue_api_key(tenant)}"}
    with httpx.Client(base_url=local.url, headers=headers, timeout=60.0, trust_env=False) as client:
        answer = client.post("/v1/connections", json=sandbox.connection_request(name="redmine actions"))
        assert answer.status_code == 201, answer.text
        yield client, f"/v1/connections/{answer.json()['id']}"


def _create(client: httpx.Client, base: str, **fields: Any) -> dict[str, Any]:
    answer = client.post(f"{base}/issues", json={"title": "Disk full on db1", "labels": ["bug"], **fields})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_writes_reach_redmine_and_are_synced(api: tuple[httpx.Client, str]) -> None:
    client, base = api
    created = _create(client, base, priority="High")
    assert (created["provider"], created["status_category"], created["priority"]) == (
        "redmine",
        "todo",
        "High",
    )
    key = created["key"].lstrip("#")

    patched = client.patch(f"{base}/issues/{key}", json={"title": "Disk full (again)", "add_labels": ["ops"]})
    assert patched.status_code == 200, patched.text
    assert set(patched.json()["labels"]) == {"bug", "ops"}

    comment = client.post(f"{base}/issues/{key}/comments", json={"body": "Seen again at 03:00"})
    assert comment.status_code == 201, comment.text
    synced = client.get(f"/v1/issues/{created['ref']}").json()
    assert comment.json()["id"] in {c["id"] for c in synced["comments"]}

    moves = client.get(f"{base}/issues/{key}/transitions").json()["items"]
    assert {"Closed", "Rejected"} <= {m["name"] for m in moves if m["to_category"] == "done"}
    done = client.post(f"{base}/issues/{key}/transitions", json={"status_category": "done"})
    assert (done.status_code, done.json()["status"]) == (200, "Closed")
    found = client.get(f"{base}/search", params={"q": "again", "limit": 5})
    assert found.status_code == 200, found.text
    assert created["ref"] in {i["ref"] for i in found.json()["items"]}


def test_what_redmine_lacks_or_refuses_is_a_clear_4xx(api: tuple[httpx.Client, str]) -> None:
    client, base = api
    key = _create(client, base)["key"].lstrip("#")
    attached = client.post(f"{base}/issues/{key}/attachments", files={"file": ("a.txt", b"x", "text/plain")})
    assert attached.status_code == 422, attached.text
    assert attached.json()["error"]["details"]["capability"] == "attachments"
    unknown_label = client.post(f"{base}/issues", json={"title": "x", "labels": ["no-such-label"]})
    assert unknown_label.status_code == 422, unknown_label.text
    assert "Labels is not included in the list" in unknown_label.text
    missing = client.patch(f"{base}/issues/99999", json={"title": "nobody"})
    assert missing.status_code == 404, missing.text

    items = [
        {"op": "create", "title": "Bulk one", "labels": ["ops"]},
        {"op": "update", "key": key, "title": "Renamed in bulk"},
        {"op": "update", "key": "99999", "title": "nobody"},
    ]
    bulk = client.post(f"{base}/issues:bulk", json={"items": items})
    assert bulk.status_code == 200, bulk.text
    assert [r["status"] for r in bulk.json()["items"]] == [201, 200, 404]
