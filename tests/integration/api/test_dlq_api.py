"""The DLQ tools on moto: list (peek), redrive and discard through the API with real keys, the CLI as the
operator, failure notes from a consumer, tenant isolation and the audit entries.

The DLQs are shared by every test of the session, so each test sends messages of its own tenant and looks
only at those; a listing running in another worker can hide messages for a moment, so a wanted listing is
retried a bounded number of times.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from infra.cli import main as cli
from tests.integration.api.conftest import Answer, ApiClient
from trackbridge.domain.api_keys import ADMIN_SCOPE
from trackbridge.domain.errors import TrackbridgeError
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from pathlib import Path

    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

ATTEMPTS = 20  # listings tried before a test gives up waiting for its messages


def _sync_body(tenant: str) -> str:
    return json.dumps(
        {"tenant": tenant, "kind": "scheduled", "connection_id": f"conn_{uuid.uuid4().hex[:20]}"}
    )


def _dead_letter(stack: LocalResources, queue: str, body: str, *, group: str | None = None) -> str:
    request: dict[str, Any] = {"QueueUrl": stack.dlq_url(queue), "MessageBody": body}
    if group is not None:
        request.update(MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex)
    return str(stack.client("sqs").send_message(**request)["MessageId"])


def _listed(api: ApiClient, queue: str, wanted: set[str]) -> Answer:
    """The tenant's listing once it shows every id of ``wanted`` (bounded retries)."""
    answer = api.call("GET", f"/v1/dlq/{queue}")
    for _ in range(ATTEMPTS):
        if answer.status != 200 or wanted <= {item["id"] for item in answer.body["items"]}:
            return answer
        answer = api.call("GET", f"/v1/dlq/{queue}")
    return answer


def _drain(
    stack: LocalResources, queue: str, match: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Receive from the work queue until the messages ``match`` selects are found (and delete them)."""
    sqs, found = stack.client("sqs"), []
    for _ in range(ATTEMPTS):
        messages = sqs.receive_message(
            QueueUrl=stack.queue_url(queue),
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=0,
            AttributeNames=["All"],
        ).get("Messages", [])
        for message in messages:
            if match(message):
                sqs.delete_message(QueueUrl=stack.queue_url(queue), ReceiptHandle=message["ReceiptHandle"])
                found.append(message)
        if found:
            return found
    return found


@pytest.fixture
def admin(stack: LocalResources, shared_dir: Path, tenant: str) -> ApiClient:
    return ApiClient(shared_dir, issue_api_key(tenant, (ADMIN_SCOPE,)))


def test_a_tenant_lists_only_its_own_dead_letters_with_their_failure(
    stack: LocalResources, admin: ApiClient, tenant: str
) -> None:
    # Given: one dead letter of this tenant, whose consumer noted why it failed, and one of another tenant
    mine_body = _sync_body(tenant)
    mine = _dead_letter(stack, "sync", mine_body)
    theirs = _dead_letter(stack, "sync", _sync_body(f"other-{uuid.uuid4().hex[:10]}"))
    record = {"messageId": mine, "body": mine_body}
    with pytest.raises(TrackbridgeError), container.failure_notes().noting("sync", record):
        raise TrackbridgeError("the tracker answered 503", code="PROVIDER_UNAVAILABLE")

    # When: the tenant lists the sync DLQ
    answer = _listed(admin, "sync", {mine})

    # Then: its message, with the noted failure; never the other tenant's; nothing consumed
    assert answer.status == 200, answer.body
    ids = {item["id"] for item in answer.body["items"]}
    assert mine in ids
    assert theirs not in ids
    item = next(i for i in answer.body["items"] if i["id"] == mine)
    assert item["tenant"] == tenant
    assert item["queue"] == "sync"
    assert item["failure"]["code"] == "PROVIDER_UNAVAILABLE"
    assert json.loads(item["body"]) == json.loads(mine_body)
    assert answer.body["approximate_depth"] >= 2
    again = _listed(admin, "sync", {mine})
    assert mine in {i["id"] for i in again.body["items"]}
    assert container.dead_letter_queues().discard("sync", ids=[mine, theirs]).missing == []


def test_redrive_moves_a_fifo_message_back_with_its_group_and_audits_it(
    stack: LocalResources, admin: ApiClient, tenant: str
) -> None:
    # Given: a dead letter on the inbound FIFO DLQ, in message group "issue-12"
    body = json.dumps({"tenant": tenant, "marker": uuid.uuid4().hex})
    message_id = _dead_letter(stack, "inbound", body, group="issue-12")
    assert _listed(admin, "inbound", {message_id}).status == 200

    # When: the tenant redrives it by id
    answer = admin.call("POST", "/v1/dlq/inbound/redrive", body={"ids": [message_id]})

    # Then: it is back on the inbound queue with its group id, gone from the DLQ, and audited
    assert answer.status == 200, answer.body
    assert answer.body == {"queue": "inbound", "moved": [message_id], "missing": []}
    back = _drain(stack, "inbound", lambda m: m["Body"] == body)
    assert [m["Attributes"]["MessageGroupId"] for m in back] == ["issue-12"]
    listed = admin.call("GET", "/v1/dlq/inbound")
    assert message_id not in {i["id"] for i in listed.body["items"]}
    audit = admin_audit(stack, tenant, "dlq.redrive")
    assert [(e["target"], e["changes"]["queue"]["new"]) for e in audit] == [(message_id, "inbound")]


def test_discard_deletes_one_message_and_another_tenants_id_is_a_404(
    stack: LocalResources, admin: ApiClient, tenant: str
) -> None:
    # Given: a dead letter of this tenant and one of another tenant
    mine = _dead_letter(stack, "auto_issue", json.dumps({"tenant": tenant, "event": "x"}))
    theirs = _dead_letter(stack, "auto_issue", json.dumps({"tenant": f"other-{uuid.uuid4().hex[:10]}"}))
    assert _listed(admin, "auto_issue", {mine}).status == 200

    # When / Then: the other tenant's id is a 404 and stays; the tenant's own is discarded and audited
    assert admin.call("DELETE", f"/v1/dlq/auto_issue/messages/{theirs}").status == 404
    assert admin.call("DELETE", f"/v1/dlq/auto_issue/messages/{mine}").status == 204
    assert admin.call("DELETE", f"/v1/dlq/auto_issue/messages/{mine}").status == 404
    assert [e["target"] for e in admin_audit(stack, tenant, "dlq.discard")] == [mine]
    # ...the operator still sees the other tenant's message, then discards it
    assert container.dead_letter_queues().discard("auto_issue", ids=[theirs]).moved == [theirs]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/dlq/nope"), ("POST", "/v1/dlq/sync-dlq/redrive"), ("DELETE", "/v1/dlq/x/messages/y")],
)
def test_an_unknown_queue_is_a_404(admin: ApiClient, method: str, path: str) -> None:
    assert admin.call(method, path).status == 404


def test_dlq_routes_need_the_admin_scope(stack: LocalResources, shared_dir: Path, tenant: str) -> None:
    reader = ApiClient(shared_dir, issue_api_key(tenant, ("connections:read", "audit:read")))
    assert reader.call("GET", "/v1/dlq/sync").status == 403
    assert reader.call("POST", "/v1/dlq/sync/redrive", body={}).status == 403


def test_the_cli_lists_and_redrives_as_the_operator(
    stack: LocalResources, tenant: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given: a dead letter of this tenant on the sync DLQ
    body = _sync_body(tenant)
    message_id = _dead_letter(stack, "sync", body)
    no_state = str(tmp_path / "absent.json")  # no local.json: the environment (this moto) is used

    # When: the operator lists (bounded retries) and redrives it
    listed: list[dict[str, Any]] = []
    for _ in range(ATTEMPTS):
        assert cli(["dlq", "list", "sync", "--tenant", tenant, "--json", "--local-state", no_state]) == 0
        listed = json.loads(capsys.readouterr().out)["items"]
        if message_id in {i["id"] for i in listed}:
            break
    assert [i["id"] for i in listed] == [message_id]
    code = cli(["dlq", "redrive", "sync", "--id", message_id, "--json", "--local-state", no_state])

    # Then: it is moved back to the sync queue
    assert code == 0
    assert json.loads(capsys.readouterr().out)["moved"] == [message_id]
    assert _drain(stack, "sync", lambda m: m["Body"] == body)
    assert cli(["dlq", "discard", "sync", "--id", message_id, "--local-state", no_state]) == 1


def admin_audit(stack: LocalResources, tenant: str, action: str) -> list[dict[str, Any]]:
    page = container.audit_repository().list(tenant, limit=100)
    return [entry.model_dump(mode="json") for entry in page.items if entry.action == action]


def test_a_queue_without_a_redrive_policy_is_a_dependency_failure_not_a_crash(stack: LocalResources) -> None:
    from trackbridge.domain.errors import DependencyFailure
    from trackbridge.runtime.dlq import DeadLetterQueues

    # A DLQ has no redrive policy of its own: pointed at one as a work queue, the tools cannot find its DLQ
    queues = DeadLetterQueues(
        stack.client("sqs"),
        {"sync": stack.dlq_url("sync")},
        notes=container.failure_notes(),
        audit=container.audit_repository(),
    )
    with pytest.raises(DependencyFailure) as failed:
        queues.list("sync")
    assert failed.value.details == {"reason": "KeyError"}
