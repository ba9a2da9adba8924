"""The sync routes and the queue consumer together: API -> SQS (moto) -> functions.sync.handler -> DynamoDB.

The test plays Lambda's SQS poller by hand (receive, invoke the real handler with the SQS event, delete what
succeeded), which is the queue-consumer contract; the embedded-stack test does the same with real pollers.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from functions.sync import handler as sync_handler
from infra.local.pollers import failed_ids, sqs_record
from infra.local.trackers.github import GitHubSandbox
from tests.integration.api.conftest import ApiClient
from tests.unit.api.support import FakeLambdaContext
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


def pump_sync_queue(resources: LocalResources, *, max_batches: int = 100) -> int:
    """Deliver the sync queue to the sync handler until it is empty; returns how many messages ran."""
    sqs = resources.client("sqs")
    url, arn = resources.queue_urls["sync"], resources.queue_arns["sync"]
    handled = 0
    for _ in range(max_batches):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return handled
        event = {"Records": [sqs_record(m, queue_arn=arn, region=resources.region) for m in messages]}
        result = sync_handler(event, FakeLambdaContext(function_name="sync"))
        assert failed_ids(result, {m["MessageId"] for m in messages}) == set(), result
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
    raise AssertionError("the sync queue did not drain")


@pytest.fixture
def api(aws: LocalResources, shared_dir: Path) -> ApiClient:
    return ApiClient(shared_dir, issue_api_key(f"syncapi-{uuid.uuid4().hex[:10]}"))


def _create_github(api: ApiClient, tracker: GitHubSandbox) -> str:
    answer = api.call(
        "POST",
        "/v1/connections",
        body={
            "name": "sandbox",
            "provider": "github",
            "base_url": tracker.url,
            "scope": {"repo": tracker.state.full_name},
            "credentials": {"token": tracker.token},
        },
    )
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def test_sync_routes_end_to_end(aws: LocalResources, api: ApiClient, github_tracker: GitHubSandbox) -> None:
    connection_id = _create_github(api, github_tracker)
    started = api.call("POST", f"/v1/connections/{connection_id}/syncs", body={"mode": "full"})
    assert started.status == 202, started.body
    op: dict[str, Any] = started.body
    assert op["status"] == "Pending"
    assert op["triggered_by"].startswith("api_key:")

    second = api.call("POST", f"/v1/connections/{connection_id}/syncs", body={})
    assert second.status == 409
    assert second.body["error"]["details"]["operation_id"] == op["id"]

    assert pump_sync_queue(aws) > 1  # the handler's 29 s budget is under the margin: one page per slice
    done = api.call("GET", f"/v1/sync-operations/{op['id']}").body
    assert done["status"] == "Completed", done
    assert done["results"]["created"] > 0
    assert done["requests"] > 0
    assert done["progress"]["stage"] == "completed"

    states = api.call("GET", f"/v1/connections/{connection_id}/sync-states").body["items"]
    assert {s["entity"]: s["status"] for s in states} == {"issues": "ok", "comments": "ok"}
    assert all(s["high_water"] for s in states)
    logs = api.call("GET", f"/v1/connections/{connection_id}/sync-logs", query={"limit": "100"}).body["items"]
    assert {"sync.queued", "sync.page", "sync.completed"} <= {entry["event"] for entry in logs}

    cancel_done = api.call("POST", f"/v1/sync-operations/{op['id']}/cancel")
    assert cancel_done.status == 409

    again = api.call("POST", f"/v1/connections/{connection_id}/syncs", body={"mode": "incremental"}).body
    cancelled = api.call("POST", f"/v1/sync-operations/{again['id']}/cancel")
    assert cancelled.status == 200
    assert cancelled.body["status"] == "Cancelled"
    pump_sync_queue(aws)  # the start message finds the operation cancelled and does nothing
    assert api.call("GET", f"/v1/sync-operations/{again['id']}").body["status"] == "Cancelled"


def test_sync_routes_refuse_bad_input(
    aws: LocalResources, api: ApiClient, github_tracker: GitHubSandbox
) -> None:
    connection_id = _create_github(api, github_tracker)
    bad_mode = api.call("POST", f"/v1/connections/{connection_id}/syncs", body={"mode": "sideways"})
    assert bad_mode.status == 422
    later = api.call("POST", f"/v1/connections/{connection_id}/syncs", body={"entities": ["worklogs"]})
    assert later.status == 422
    assert api.call("GET", "/v1/sync-operations/op_doesnotexistatallxxx").status == 404
    assert api.call("GET", "/v1/sync-operations/not-an-id").status == 404
    assert api.call("GET", "/v1/connections/conn_aaaaaaaaaaaaaaaaaaaa/sync-states").status == 404
    assert api.call("POST", "/v1/connections/conn_aaaaaaaaaaaaaaaaaaaa/syncs", body={}).status == 404
    container.reset()


def test_deletion_check_through_the_api(
    aws: LocalResources, api: ApiClient, github_tracker: GitHubSandbox
) -> None:
    connection_id = _create_github(api, github_tracker)
    syncs = f"/v1/connections/{connection_id}/syncs"
    assert api.call("POST", syncs, body={"mode": "full"}).status == 202
    pump_sync_queue(aws)
    github_tracker.mutate("delete", number=3)

    comments_only = api.call("POST", syncs, body={"mode": "deletions", "entities": ["comments"]})
    assert comments_only.status == 422, comments_only.body
    started = api.call("POST", syncs, body={"mode": "deletions"})
    assert started.status == 202, started.body
    assert (started.body["mode"], started.body["entities"]) == ("deletions", ["issues"])

    pump_sync_queue(aws)
    done = api.call("GET", f"/v1/sync-operations/{started.body['id']}").body
    assert done["status"] == "Completed", done
    assert done["results"]["deleted"] >= 1  # the issue, and its comments with it
    assert (done["results"]["created"], done["results"]["updated"]) == (0, 0)
    # Newest update first: the tombstone's update time is when the check found it gone
    newest = api.call("GET", "/v1/issues", query={"connection": connection_id, "limit": "100"})
    assert newest.status == 200, newest.body
    assert [i["key"] for i in newest.body["items"] if i.get("deleted_at")] == ["#3"]
