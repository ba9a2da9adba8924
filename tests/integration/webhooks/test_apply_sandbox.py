"""The apply Lambda end to end: SQS FIFO batches into ``functions.apply.handler``, the composition root's
objects on moto (DynamoDB, Secrets Manager), the sandbox trackers on loopback for the fetch path.

A change whose payload lacks the full item (a GitLab issue hook without labels, a Jira event whose text is
wiki markup) costs exactly one GET of that item, and what the tracker answered is what gets stored, exactly
as a sync would store it. The batch tests check the partial response: only the failing records are
reported, and a failure holds back the later records of its own message group only. End to end, each
sandbox's own webhook deliveries (a hook registered, an issue created, commented on and edited) go through
a FIFO queue on moto and the embedded stack's poller, and leave stored exactly what the tracker shows.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

import functions.apply
from infra.definition import ENV, QUEUES
from infra.local.pollers import QueuePoller, sqs_record
from infra.local.provision import table_request
from infra.local.trackers import SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.conftest import SHARED
from tests.support.hooks import serve_hooks
from tests.support.sandboxes import egress_allowed, fresh
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.issues import Issue
from trackbridge.providers.types import IssueChanges, IssueDraft
from trackbridge.runtime import container
from trackbridge.runtime.webhooks.messages import InboundDelivery, deduplication_id, message_group
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.keys import comment_sk, connection_pk, issue_pk, issue_sk

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("apply_sandbox")]

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:trackbridge-test-inbound.fifo"


@pytest.fixture(scope="module")
def apply_table(local_resources: LocalResources) -> Iterator[LocalResources]:
    """A table of this module's own, the process environment pointing at it meanwhile."""
    dynamodb = local_resources.client("dynamodb")
    name = dynamodb.create_table(**table_request(f"apply{uuid.uuid4().hex[:8]}"))["TableDescription"][
        "TableName"
    ]
    previous = os.environ[ENV.table]
    os.environ[ENV.table] = name
    container.reset()
    try:
        yield dataclasses.replace(local_resources, table_name=name)
    finally:
        os.environ[ENV.table] = previous
        container.reset()
        dynamodb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def sandboxes(apply_table: LocalResources) -> Iterator[dict[str, SandboxTracker[Any]]]:
    with ExitStack() as stack:
        started: dict[str, SandboxTracker[Any]] = {}
        for sandbox_class in SANDBOXES.values():
            tracker = stack.enter_context(sandbox_class(seed="apply", issues=5))
            stack.enter_context(egress_allowed(*tracker.urls()))
            started[tracker.kind] = tracker
        yield started


@pytest.fixture(autouse=True)
def fresh_applier(apply_table: LocalResources) -> Iterator[None]:
    """Each test starts with no applier built: the handler builds its own from the composition root."""
    container.reset()
    yield
    container.reset()


@pytest.fixture
def tenant() -> str:
    return f"apply-{uuid.uuid4().hex[:12]}"


@dataclass
class Context:
    function_name: str = "trackbridge-test-apply"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-test-apply"
    aws_request_id: str = "lambda-req-apply"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def create_connection(tenant: str, tracker: SandboxTracker[Any]) -> Connection:
    request = tracker.connection_request()
    body = ConnectionCreate.model_validate(
        {key: request[key] for key in ("name", "provider", "base_url", "scope", "credentials")}
    )
    connection = container.connection_service().create(tenant, body, Actor(id="tests"))
    tracker.reset_requests()
    return connection


def tracker_answer(tenant: str, connection: Connection, key: str, comment_id: str | None = None) -> Any:
    """The item as the sandbox has it, read by an adapter of the connection (its requests not counted)."""
    credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
    with container.adapter_factory()(connection, credentials) as adapter:
        return adapter.get_comment(key, comment_id) if comment_id else adapter.get_issue(key)


def delivery(
    tenant: str, connection: Connection, payload: dict[str, Any], headers: dict[str, str]
) -> InboundDelivery:
    return InboundDelivery.of(
        tenant=tenant,
        connection_id=connection.id,
        provider=connection.provider,
        delivery_id=f"d-{uuid.uuid4().hex}",
        received_at=RECEIVED,
        headers=headers,
        raw_body=json.dumps(payload).encode(),
    )


def record(body: str, group: str, n: int) -> dict[str, Any]:
    message = {
        "MessageId": f"m-{n}-{uuid.uuid4().hex[:8]}",
        "ReceiptHandle": f"rh-{n}",
        "Body": body,
        "Attributes": {
            "MessageGroupId": group,
            "MessageDeduplicationId": f"dd-{n}",
            "SequenceNumber": str(18_000_000_000_000_000_000 + n),
            "ApproximateReceiveCount": "1",
        },
    }
    return sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-1")


def record_of(item: InboundDelivery, issue_ref: str, n: int) -> dict[str, Any]:
    return record(item.model_dump_json(), message_group(item.connection_id, issue_ref), n)


def run(*records: dict[str, Any]) -> list[str]:
    """The handler's answer for a batch: the ids of the records it reported as failed."""
    response = functions.apply.handler({"Records": list(records)}, Context())  # type: ignore[arg-type]
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# ---- payloads shaped like the shared fixtures, about the sandbox's issues ------------------------------


def gitlab_issue_hook(connection: Connection, iid: int) -> dict[str, Any]:
    """A GitLab issue hook as older GitLab sends it (no labels, no assignees): the issue must be fetched."""
    payload = json.loads((SHARED / "fixtures" / "gitlab" / "issue_hook.update.zulip.json").read_bytes())
    payload["project"] |= {"path_with_namespace": connection.scope.project}
    payload["object_attributes"] |= {"iid": iid, "updated_at": "2026-02-01 10:00:00 UTC"}
    return payload


def jira_event(name: str, issue_id: str, key: str, project: str) -> dict[str, Any]:
    """A Jira event whose texts are wiki markup (REST v2 shape): the item must be fetched."""
    payload = json.loads((SHARED / "fixtures" / "jira" / name).read_bytes())
    payload["issue"] |= {"id": issue_id, "key": key}
    payload["issue"]["fields"]["project"] |= {"key": project}
    return payload


def stored_issue(tenant: str, issue: Issue) -> dict[str, Any] | None:
    return container.table().get(connection_pk(tenant, issue.connection_id), issue_sk(issue.external_id))


# ---- the fetch path -------------------------------------------------------------------------------------


def test_a_gitlab_issue_hook_without_labels_fetches_the_issue_once_and_stores_the_answer(
    sandboxes: dict[str, SandboxTracker[Any]], tenant: str
) -> None:
    tracker = fresh(sandboxes["gitlab"])
    connection = create_connection(tenant, tracker)
    expected = tracker_answer(tenant, connection, "#2")
    tracker.reset_requests()
    item = delivery(tenant, connection, gitlab_issue_hook(connection, 2), {"X-Gitlab-Event": "Issue Hook"})

    failed = run(record_of(item, expected.ref, 1))

    assert failed == []
    assert tracker.requests()["by_route"] == {"GET /api/v4/projects/{id}/issues/{issue_iid}": 1}
    assert stored_issue(tenant, expected) == IssueRepository.item(tenant, expected)


def test_a_jira_issue_and_comment_in_wiki_markup_are_fetched_once_each(
    sandboxes: dict[str, SandboxTracker[Any]], tenant: str
) -> None:
    tracker = fresh(sandboxes["jira"])
    connection = create_connection(tenant, tracker)
    project = str(connection.scope.project)
    comment_id = tracker.comment_on_issue(f"{project}-1", "a comment from the apply test")
    issue = tracker_answer(tenant, connection, f"{project}-1")
    comment = tracker_answer(tenant, connection, issue.key, comment_id)
    tracker.reset_requests()
    native = issue.ref.rpartition(".")[2]
    issue_event = delivery(
        tenant, connection, jira_event("jira_issue_updated.edited.json", native, issue.key, project), {}
    )
    comment_payload = jira_event("comment_updated.json", native, issue.key, project)
    comment_payload["comment"] |= {"id": comment_id}
    comment_event = delivery(tenant, connection, comment_payload, {})

    failed = run(record_of(issue_event, issue.ref, 1), record_of(comment_event, issue.ref, 2))

    assert failed == []
    # One GET for the issue, one for the comment (whose URL names its issue's id: nothing more to ask)
    assert tracker.requests()["by_route"] == {
        "GET /rest/api/3/issue/{issueIdOrKey}": 1,
        "GET /rest/api/3/issue/{issueIdOrKey}/comment/{id}": 1,
    }
    stored = stored_issue(tenant, issue)
    # Comment events touch only the comment; the issue event stored the issue as the sandbox answered it
    assert stored == IssueRepository.item(tenant, issue)
    stored_comment = container.table().get(issue_pk(tenant, issue.ref), comment_sk(comment_id))
    assert stored_comment == CommentRepository.item(tenant, comment)


# ---- the batch ------------------------------------------------------------------------------------------


def test_a_failed_record_holds_back_only_its_own_issue(
    sandboxes: dict[str, SandboxTracker[Any]], tenant: str
) -> None:
    tracker = fresh(sandboxes["gitlab"])
    connection = create_connection(tenant, tracker)
    first, second = tracker_answer(tenant, connection, "#1"), tracker_answer(tenant, connection, "#3")
    tracker.reset_requests()
    hook = {"X-Gitlab-Event": "Issue Hook"}
    unreadable = record(
        '{"version": 1, "tenant": "' + tenant + '"}', message_group(connection.id, first.ref), 1
    )
    behind_it = record_of(delivery(tenant, connection, gitlab_issue_hook(connection, 1), hook), first.ref, 2)
    other_issue = record_of(
        delivery(tenant, connection, gitlab_issue_hook(connection, 3), hook), second.ref, 3
    )
    gone = InboundDelivery.model_validate(
        delivery(tenant, connection, gitlab_issue_hook(connection, 4), hook).model_dump()
        | {"connection_id": "conn_deleteddeleteddeleted"}
    )
    for_a_deleted_connection = record_of(gone, f"{gone.connection_id}.4", 4)

    failed = run(unreadable, behind_it, other_issue, for_a_deleted_connection)

    # The unreadable record fails, and the later record of the same issue with it, unapplied
    assert failed == [unreadable["messageId"], behind_it["messageId"]]
    assert stored_issue(tenant, first) is None
    # Another issue applied (one fetch), a deleted connection's delivery acknowledged (no request)
    assert stored_issue(tenant, second) == IssueRepository.item(tenant, second)
    assert tracker.requests()["total"] == 1


def test_a_tracker_outage_fails_the_record_for_a_retry_that_then_applies_it(
    sandboxes: dict[str, SandboxTracker[Any]], tenant: str
) -> None:
    tracker = fresh(sandboxes["gitlab"])
    connection = create_connection(tenant, tracker)
    expected = tracker_answer(tenant, connection, "#5")
    tracker.reset_requests()
    item = record_of(
        delivery(tenant, connection, gitlab_issue_hook(connection, 5), {"X-Gitlab-Event": "Issue Hook"}),
        expected.ref,
        1,
    )
    tracker.add_faults([{"route": "GET /api/v4/projects/{id}/issues/{issue_iid}", "status": 503, "times": 3}])

    assert run(item) == [item["messageId"]]
    assert stored_issue(tenant, expected) is None

    tracker.clear_faults()
    assert run(item) == []
    assert stored_issue(tenant, expected) == IssueRepository.item(tenant, expected)


def test_the_handler_rebuilds_its_applier_after_the_composition_root_is_reset(
    apply_table: LocalResources,
) -> None:
    built = container.webhook_applier()
    assert container.webhook_applier() is built
    assert built.table is container.table()

    container.reset()

    rebuilt = container.webhook_applier()
    assert rebuilt is not built
    assert rebuilt.table is container.table()


# ---- end to end: the tracker's own deliveries, through a FIFO queue and the local poller ----------------


@pytest.fixture(scope="module")
def inbound_queue(apply_table: LocalResources) -> Iterator[tuple[Any, str, str]]:
    """A FIFO queue of this module's own on moto (the session's inbound queue is other tests' too)."""
    sqs = apply_table.client("sqs")
    name = f"apply-{uuid.uuid4().hex[:8]}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        yield sqs, url, arn
    finally:
        sqs.delete_queue(QueueUrl=url)


def drain(inbound_queue: tuple[Any, str, str]) -> int:
    """Feed the queue to the handler as the embedded stack's poller does, until it is empty."""
    sqs, url, arn = inbound_queue
    spec = next(q for q in QUEUES if q.key == "inbound")
    poller = QueuePoller(
        spec=spec,
        queue_url=url,
        queue_arn=arn,
        region="us-east-1",
        sqs=sqs,
        invoke=lambda event: functions.apply.handler(event, Context()),  # type: ignore[arg-type]
        visibility_timeout_s=0,
        wait_time_s=0,
    )
    deleted = 0
    for _ in range(50):
        result = poller.poll_once()
        assert result.failed == 0
        deleted += result.deleted
        if result.received == 0:
            return deleted
    raise AssertionError("the queue did not drain")


@pytest.mark.parametrize("provider", list(SANDBOXES))
def test_the_trackers_own_deliveries_leave_what_the_tracker_shows(
    provider: str,
    sandboxes: dict[str, SandboxTracker[Any]],
    tenant: str,
    inbound_queue: tuple[Any, str, str],
) -> None:
    # Given: a hook registered at the tracker, then an issue created, commented on and edited there
    tracker = fresh(sandboxes[provider])
    connection = create_connection(tenant, tracker)
    credentials = container.connection_secrets().credentials(tenant, connection.id) or {}
    with serve_hooks() as hooks, container.adapter_factory()(connection, credentials) as adapter:
        hook = adapter.register_webhook(hooks.url, "apply-hook-secret")
        created = adapter.create_issue(IssueDraft("Applied from a webhook"))
        comment = adapter.add_comment(created.key, "a comment applied from a webhook")
        adapter.update_issue(created.key, IssueChanges(title="Applied from a webhook (edited)"))
        assert tracker.wait_for_deliveries(60.0)
        adapter.unregister_webhook(hook.id)
        received = list(hooks.received)
        issue_now = adapter.get_issue(created.key)
        comment_now = adapter.get_comment(created.key, comment.id)

        # When: each delivery goes on the FIFO queue as the webhook Lambda sends it, and the poller drains it
        sqs, url, _ = inbound_queue
        for n, delivery_received in enumerate(received):
            parsed = adapter.parse_webhook(delivery_received.headers, delivery_received.body)
            item = InboundDelivery.of(
                tenant=tenant,
                connection_id=connection.id,
                provider=provider,
                delivery_id=parsed.delivery_id,
                received_at=datetime.now(UTC),
                headers=delivery_received.headers,
                raw_body=delivery_received.body,
            )
            group_ref = parsed.changes[0].issue_ref if parsed.changes else None
            sqs.send_message(
                QueueUrl=url,
                MessageBody=item.model_dump_json(),
                MessageGroupId=message_group(connection.id, group_ref),
                MessageDeduplicationId=f"{deduplication_id(provider, parsed.delivery_id)[:100]}-{n}",
            )
    assert received
    applied = drain(inbound_queue)

    # Then: every message was applied, and the stored issue and comment are what the tracker shows now
    assert applied == len(received)
    assert stored_issue(tenant, issue_now) == IssueRepository.item(tenant, issue_now)
    stored_comment = container.table().get(issue_pk(tenant, issue_now.ref), comment_sk(comment_now.id))
    assert stored_comment == CommentRepository.item(tenant, comment_now)
