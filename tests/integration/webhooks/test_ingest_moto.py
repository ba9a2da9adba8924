"""The webhook function end to end on moto: real signed deliveries in, messages read back from a FIFO queue.

Connections are created through the connection service (so the routing item is written as in production)
with a webhook secret in Secrets Manager; ``functions.webhook.handler`` gets REST proxy events as API
Gateway sends them. This module has an inbound FIFO queue of its own (the environment points at it
meanwhile), so reading it back can never take a message another test is waiting for.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from functions.webhook import handler
from infra.definition import ENV
from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from tests.unit.api.support import FakeLambdaContext, rest_event
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.providers.signatures import HubSignature, PlainToken
from trackbridge.runtime import container
from trackbridge.runtime.api import errors, webhooks
from trackbridge.runtime.webhooks.messages import InboundDelivery, deduplication_id, message_group
from trackbridge.storage.webhooks import DeliveryRecords, DeliveryStatus, WebhookRoutes, webhook_route_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

SECRET = "fake-webhook-secret-one"
GITHUB_REPO = "Codertocat/Hello-World"


@pytest.fixture(scope="module")
def inbound(local_resources: LocalResources) -> Iterator[str]:
    """A FIFO queue of this module's own, as TB_INBOUND_QUEUE_URL while the module runs."""
    sqs = local_resources.client("sqs")
    url = sqs.create_queue(
        QueueName=f"tb-ingest-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"},
    )["QueueUrl"]
    previous = os.environ.get(ENV.inbound_queue_url)
    os.environ[ENV.inbound_queue_url] = url
    container.reset()
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop(ENV.inbound_queue_url, None)
        else:
            os.environ[ENV.inbound_queue_url] = previous
        container.reset()
        sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def tenant(inbound: str) -> str:
    container.reset()
    return f"hooks-{uuid.uuid4().hex[:12]}"


def create(tenant: str, provider: str = "github", *, webhook_secret: str | None = SECRET) -> Connection:
    fields: dict[str, Any] = {
        "github": {
            "base_url": "https://api.github.com",
            "scope": {"repo": GITHUB_REPO},
            "credentials": {"token": "fake-gh"},
        },
        "gitlab": {
            "base_url": "https://gitlab.com",
            "scope": {"project": "gitlabhq/gitlab-test"},
            "credentials": {"token": "fake-gl"},
        },
    }[provider]
    body = {"name": f"{provider} hooks", "provider": provider, **fields}
    if webhook_secret is not None:
        body["webhook_secret"] = webhook_secret
    return container.connection_service().create(
        tenant, ConnectionCreate.model_validate(body), Actor(id="tests")
    )


def delivery_event(
    shared_dir: Path, provider: str, connection_id: str, body: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends a tracker's POST: no authorizer, the body as text."""
    path = f"/v1/webhooks/{provider}/{connection_id}"
    event = rest_event(shared_dir, "POST", path, body=body.decode("utf-8"), headers=headers, tenant=None)
    event["resource"] = "/v1/webhooks/{provider}/{connection_id}"
    event["requestContext"]["resourcePath"] = event["resource"]
    event["requestContext"].pop("authorizer", None)
    event["pathParameters"] = {"provider": provider, "connection_id": connection_id}
    return event


def post(
    shared_dir: Path, provider: str, connection_id: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any]:
    answer = handler(delivery_event(shared_dir, provider, connection_id, body, headers), FakeLambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


def github_delivery(shared_dir: Path, delivery_id: str, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = (shared_dir / "fixtures" / "github" / "issues.opened.json").read_bytes()
    headers = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery_id,
        **HubSignature().sign(body, secret),
    }
    return body, headers


def drain(local_resources: LocalResources, url: str) -> list[dict[str, Any]]:
    """Every message now on the queue (received and deleted)."""
    sqs = local_resources.client("sqs")
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return received
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        received.extend(batch)


def test_a_signed_github_delivery_lands_on_the_fifo_queue(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    # Given a GitHub connection with a webhook secret, and GitHub's issues.opened payload signed with it
    connection = create(tenant)
    body, headers = github_delivery(shared_dir, "72d3162e-cc78-11e3-81ab-4c9367dc0958")

    # When GitHub posts it to the connection's webhook URL
    status, answer = post(shared_dir, "github", connection.id, body, headers)

    # Then it is queued, and the message on the FIFO queue carries the exact bytes, grouped by issue
    assert (status, answer) == (
        202,
        {"delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "status": "queued"},
    )
    (message,) = drain(local_resources, inbound)
    delivery = InboundDelivery.model_validate_json(message["Body"])
    assert (delivery.tenant, delivery.connection_id, delivery.provider) == (tenant, connection.id, "github")
    assert delivery.raw_body == body
    assert delivery.headers == {"x-github-event": "issues", "x-github-delivery": answer["delivery_id"]}
    issue_number = json.loads(body)["issue"]["number"]
    assert message["Attributes"]["MessageGroupId"] == message_group(
        connection.id, f"{connection.id}.{issue_number}"
    )
    assert message["Attributes"]["MessageDeduplicationId"] == deduplication_id(
        "github", answer["delivery_id"]
    )
    # and the delivery record says so, the route its last delivery
    records = DeliveryRecords(container.table())
    assert records.status(tenant, "github", answer["delivery_id"]) is DeliveryStatus.ENQUEUED
    route = WebhookRoutes(container.table()).lookup(connection.id)
    assert route is not None
    assert route.last_delivery_at is not None


def test_a_replay_is_a_duplicate_and_is_not_queued_again(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    connection = create(tenant)
    body, headers = github_delivery(shared_dir, f"dup-{uuid.uuid4().hex}")
    first = post(shared_dir, "github", connection.id, body, headers)
    assert len(drain(local_resources, inbound)) == 1

    replay = post(shared_dir, "github", connection.id, body, headers)

    assert first[1]["status"] == "queued"
    assert replay == (202, {"delivery_id": headers["X-GitHub-Delivery"], "status": "duplicate"})
    assert drain(local_resources, inbound) == []


def test_a_gitlab_delivery_with_its_plain_token_is_queued(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    connection = create(tenant, "gitlab")
    body = (shared_dir / "fixtures" / "gitlab" / "issue_hook.open.docs.json").read_bytes()
    headers = {
        "X-Gitlab-Event": "Issue Hook",
        "Idempotency-Key": f"k-{uuid.uuid4().hex}",
        **PlainToken().sign(body, SECRET),
    }

    status, answer = post(shared_dir, "gitlab", connection.id, body, headers)

    assert (status, answer["status"]) == (202, "queued")
    (message,) = drain(local_resources, inbound)
    assert SECRET not in message["Body"]  # X-Gitlab-Token is the secret: it never travels on
    assert InboundDelivery.model_validate_json(message["Body"]).raw_body == body


def test_unknown_deleted_and_routeless_connections_are_the_same_401(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    # Given a live connection (the reference 401: a bad signature), one deleted, one whose route is gone
    live, deleted, legacy = create(tenant), create(tenant), create(tenant)
    container.connection_service().delete(tenant, deleted.id, Actor(id="tests"))
    key = webhook_route_key(legacy.id)
    container.table().delete(key, key)  # as a connection created before routing items
    body, headers = github_delivery(shared_dir, "d-401")

    bad_signature = post(
        shared_dir, "github", live.id, body, {**headers, **HubSignature().sign(body, "guess")}
    )
    answers = [
        post(shared_dir, "github", deleted.id, body, headers),
        post(shared_dir, "github", legacy.id, body, headers),
        post(shared_dir, "github", "conn_aaaaaaaaaaaaaaaaaaaa", body, headers),
        post(shared_dir, "gitlab", live.id, body, headers),
    ]

    assert bad_signature[0] == 401
    assert all(answer == bad_signature for answer in answers)
    assert drain(local_resources, inbound) == []


def test_a_connection_without_a_webhook_secret_refuses_every_delivery(
    shared_dir: Path, inbound: str, tenant: str
) -> None:
    connection = create(tenant, webhook_secret=None)
    body, headers = github_delivery(shared_dir, "d-nosecret", secret="")

    assert post(shared_dir, "github", connection.id, body, headers)[0] == 401


def test_rotation_returns_the_new_secret_once_and_keeps_the_previous_valid(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    # Given a connection with a secret, and the rotation route in a resolver of its own
    connection = create(tenant)
    resolver = APIGatewayRestResolver(enable_validation=True)
    errors.register(resolver)
    resolver.include_router(webhooks.router)

    def rotate(scopes: str = "connections:write") -> dict[str, Any]:
        event = rest_event(
            shared_dir,
            "POST",
            f"/v1/connections/{connection.id}/webhook/rotate",
            tenant=tenant,
            scopes=scopes,
        )
        return resolver.resolve(event, FakeLambdaContext())

    # When the secret is rotated
    rotated = rotate()
    new_secret = json.loads(rotated["body"])["webhook_secret"]

    # Then the answer is 201 with the new secret, and deliveries signed with the new or the previous pass
    assert rotated["statusCode"] == 201
    assert json.loads(rotated["body"])["previous_secret_kept"] is True
    assert new_secret.startswith("whsec_")
    assert (
        post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "r-new", new_secret))[0] == 202
    )
    assert post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "r-old", SECRET))[0] == 202
    # and after another rotation the oldest stops working
    newest = json.loads(rotate()["body"])["webhook_secret"]
    assert post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "r-3", SECRET))[0] == 401
    assert (
        post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "r-4", new_secret))[0] == 202
    )
    assert post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "r-5", newest))[0] == 202
    # the secret is never stored on the connection, a read-only key may not rotate, the audit trail says so
    stored = container.connection_service().get(tenant, connection.id)
    assert stored.has_webhook_secret
    assert new_secret not in json.dumps(stored.model_dump(mode="json"))
    assert rotate(scopes="connections:read")["statusCode"] == 403
    actions = [e.action for e in container.audit_repository().list(tenant).items]
    assert actions.count("webhook.rotate") == 2
    drain(local_resources, inbound)


def test_rotation_gives_a_routeless_connection_its_route(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    connection = create(tenant)
    key = webhook_route_key(connection.id)
    container.table().delete(key, key)
    assert post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "l-1"))[0] == 401

    rotation = container.connection_service().rotate_webhook_secret(tenant, connection.id, Actor(id="tests"))

    # The previous secret (the one the tracker still has) now reaches the connection too
    assert post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "l-2"))[0] == 202
    secret = rotation.secret.get_secret_value()
    assert post(shared_dir, "github", connection.id, *github_delivery(shared_dir, "l-3", secret))[0] == 202
    drain(local_resources, inbound)


def test_when_sqs_is_gone_the_answer_is_5xx_and_the_retry_is_queued(
    shared_dir: Path, local_resources: LocalResources, inbound: str, tenant: str
) -> None:
    # Given the inbound queue pointing nowhere (a queue that does not exist)
    connection = create(tenant)
    body, headers = github_delivery(shared_dir, f"sqs-{uuid.uuid4().hex}")
    os.environ[ENV.inbound_queue_url] = inbound.rsplit("/", 1)[0] + "/missing-queue.fifo"
    container.reset()
    try:
        failed = post(shared_dir, "github", connection.id, body, headers)
    finally:
        os.environ[ENV.inbound_queue_url] = inbound
        container.reset()

    # When the tracker retries with the queue back
    retried = post(shared_dir, "github", connection.id, body, headers)

    # Then the first was a 5xx (never a 4xx: GitLab would disable the hook), the retry was queued
    assert 500 <= failed[0] < 600
    assert retried == (202, {"delivery_id": headers["X-GitHub-Delivery"], "status": "queued"})
    assert len(drain(local_resources, inbound)) == 1


def test_delivery_records_on_dynamodb(inbound: str, tenant: str) -> None:
    from datetime import UTC, datetime, timedelta

    from trackbridge.storage.webhooks import ClaimOutcome

    records = DeliveryRecords(container.table())
    now = datetime.now(UTC)
    window, ttl = timedelta(seconds=30), timedelta(days=7)

    def claim(delivery_id: str, at: datetime, *, keep: timedelta = ttl) -> Any:
        return records.claim(
            tenant,
            "jira",
            delivery_id,
            connection_id="conn_aaaaaaaaaaaaaaaaaaaa",
            now=at,
            ttl=keep,
            stale_after=window,
        )

    # A first claim wins, a second inside the window is in flight, after the window it is taken over
    first = claim("a", now)
    assert first.outcome is ClaimOutcome.CLAIMED
    assert claim("a", now + timedelta(seconds=5)).outcome is ClaimOutcome.IN_FLIGHT
    late = claim("a", now + timedelta(seconds=31))
    assert late.outcome is ClaimOutcome.CLAIMED
    # the dead attempt can neither mark nor release the record it lost; the live one marks it
    assert not records.mark_enqueued(tenant, "jira", "a", claimed_at=first.claimed_at, now=now)
    records.release(tenant, "jira", "a", claimed_at=first.claimed_at)
    assert records.mark_enqueued(tenant, "jira", "a", claimed_at=late.claimed_at, now=now)
    assert claim("a", now + timedelta(hours=1)).outcome is ClaimOutcome.SEEN
    # a released claim is forgotten; an expired record counts as never seen (DynamoDB's TTL is lazy)
    released = claim("b", now)
    records.release(tenant, "jira", "b", claimed_at=released.claimed_at)
    assert records.status(tenant, "jira", "b") is None
    assert claim("b", now).outcome is ClaimOutcome.CLAIMED
    expiring = claim("c", now, keep=timedelta(seconds=10))
    assert records.mark_enqueued(tenant, "jira", "c", claimed_at=expiring.claimed_at, now=now)
    assert claim("c", now + timedelta(seconds=11)).outcome is ClaimOutcome.CLAIMED


@pytest.fixture(scope="module")
def gateway(inbound: str) -> Iterator[str]:
    """The embedded stack's API Gateway over loopback HTTP, with the real webhook function behind it."""
    gw = LocalApiGateway(LocalFunctions({"webhook": handler}), port=0).start()
    try:
        yield gw.url
    finally:
        gw.stop()


def test_through_the_local_gateway_text_and_base64_bodies_verify_on_their_bytes(
    shared_dir: Path, local_resources: LocalResources, gateway: str, tenant: str
) -> None:
    # Given a connection, a JSON delivery (passed as text) and a non-UTF-8 one (passed base64)
    connection = create(tenant)
    body, headers = github_delivery(shared_dir, f"gw-{uuid.uuid4().hex}")
    latin1 = '{"action": "opened", "title": "caf\u00e9"}'.encode("latin-1")
    binary_headers = {
        "X-GitHub-Event": "issues",
        "Content-Type": "application/octet-stream",
        **HubSignature().sign(latin1, SECRET),
    }

    # When GitHub posts both over HTTP, header names lower-cased as HTTP/2 clients send them
    with httpx.Client(base_url=gateway, timeout=60) as http:
        path = f"/v1/webhooks/github/{connection.id}"
        queued = http.post(path, content=body, headers={k.lower(): v for k, v in headers.items()})
        not_utf8 = http.post(path, content=latin1, headers=binary_headers)

    # Then the first is verified and queued, the second verified on its decoded bytes and refused as 400
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    assert (not_utf8.status_code, not_utf8.json()["error"]["code"]) == (400, "INVALID_BODY")
    (message,) = drain(local_resources, os.environ[ENV.inbound_queue_url])
    assert InboundDelivery.model_validate_json(message["Body"]).raw_body == body
