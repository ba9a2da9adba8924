"""The webhook Lambda's ingestion (``runtime.webhooks.ingest``) with in-memory collaborators.

Every delivery is a real payload from shared/fixtures, signed the tracker's way over its exact bytes. The
storage collaborators are small in-memory stand-ins with the semantics of ``storage.webhooks`` (whose
DynamoDB conditions tests/integration/webhooks/test_ingest_moto.py exercises on moto).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from tests.conftest import SHARED
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.errors import DependencyFailure
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.registry import PROVIDERS
from trackbridge.providers.signatures import AppJwt, HubSignature, PlainToken, StandardWebhooks
from trackbridge.runtime.webhooks.ingest import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_BYTES,
    UNAUTHORIZED,
    SqsInboundQueue,
    WebhookAnswer,
    WebhookIngest,
    WebhookRequest,
    encode_message,
    forwarded_headers,
    parsing_adapter,
)
from trackbridge.runtime.webhooks.messages import InboundDelivery, deduplication_id, message_group
from trackbridge.storage.webhooks import Claim, ClaimOutcome, DeliveryStatus, WebhookRoute, WebhookRoutes

FIXTURES = SHARED / "fixtures"
TENANT = "acme"
CONNECTION_ID = "conn_abcdefghijklmnopqrst"
OTHER_ID = "conn_zyxwvutsrqponmlkjihg"
SECRET = "whsec_bmV3LXNlY3JldC1mb3ItdGVzdHMtMDEyMzQ1Njc4OQ=="
OLD_SECRET = "old-webhook-secret"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

# provider -> (base URL, scope) of a connection the fixtures are about
SETUPS: dict[str, tuple[str, dict[str, str]]] = {
    "github": ("https://api.github.com", {"repo": "Codertocat/Hello-World"}),
    "gitlab": ("https://gitlab.com", {"project": "gitlabhq/gitlab-test"}),
    "jira": ("https://acme.atlassian.net", {"project": "TES"}),
}
CHANGE_FIXTURES = {
    "github": ("github/issues.opened.json", {"X-GitHub-Event": "issues"}),
    "gitlab": ("gitlab/issue_hook.open.docs.json", {"X-Gitlab-Event": "Issue Hook"}),
    "jira": ("jira/jira_issue_updated.edited.json", {}),
}
DELIVERY_HEADER = {
    "github": "X-GitHub-Delivery",
    "gitlab": "Idempotency-Key",
    "jira": "X-Atlassian-Webhook-Identifier",
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(provider: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    """The tracker's own signature headers for ``body``."""
    if provider == "github":
        return HubSignature("X-Hub-Signature-256").sign(body, secret)
    if provider == "jira":
        return HubSignature("X-Hub-Signature").sign(body, secret)
    return PlainToken("X-Gitlab-Token").sign(body, secret)


def connection(provider: str, connection_id: str = CONNECTION_ID) -> Connection:
    base_url, scope = SETUPS[provider]
    credentials = {"email": "bot@acme.example", "api_token": "t"} if provider == "jira" else {"token": "t"}
    body = ConnectionCreate.model_validate(
        {
            "name": provider,
            "provider": provider,
            "base_url": base_url,
            "scope": scope,
            "credentials": credentials,
        }
    )
    return Connection.from_create(body, connection_id=connection_id, now=NOW)


# ---- in-memory collaborators ------------------------------------------------------------------------


class MemoryRoutes:
    def __init__(self) -> None:
        self.items: dict[str, WebhookRoute] = {}
        self.lookups: list[str] = []
        self.touched: list[datetime] = []

    due = staticmethod(WebhookRoutes.due)

    def lookup(self, connection_id: str) -> WebhookRoute | None:
        self.lookups.append(connection_id)
        return self.items.get(connection_id)

    def touch(self, connection_id: str, now: datetime) -> bool:
        self.touched.append(now)
        self.items[connection_id] = replace(self.items[connection_id], last_delivery_at=now)
        return True


@dataclass
class MemoryDeliveries:
    """``storage.webhooks.DeliveryRecords`` in a dict: (status, claimed_at) per key."""

    records: dict[tuple[str, str, str], tuple[DeliveryStatus, datetime]] = field(default_factory=dict)

    def claim(
        self, tenant: str, provider: str, delivery_id: str, *, connection_id: str, now: datetime, **_: Any
    ) -> Claim:
        key = (tenant, provider, delivery_id)
        stored = self.records.get(key)
        if stored is not None and stored[0] is DeliveryStatus.ENQUEUED:
            return Claim(ClaimOutcome.SEEN, now)
        if stored is not None and now - stored[1] < timedelta(seconds=30):
            return Claim(ClaimOutcome.IN_FLIGHT, stored[1])
        self.records[key] = (DeliveryStatus.PENDING, now)
        return Claim(ClaimOutcome.CLAIMED, now)

    def mark_enqueued(
        self, tenant: str, provider: str, delivery_id: str, *, claimed_at: datetime, now: datetime
    ) -> bool:
        key = (tenant, provider, delivery_id)
        if self.records.get(key, (None, None))[1] != claimed_at:
            return False
        self.records[key] = (DeliveryStatus.ENQUEUED, claimed_at)
        return True

    def release(self, tenant: str, provider: str, delivery_id: str, *, claimed_at: datetime) -> None:
        key = (tenant, provider, delivery_id)
        if self.records.get(key) == (DeliveryStatus.PENDING, claimed_at):
            del self.records[key]


class MemorySecrets:
    def __init__(self) -> None:
        self.lists: dict[str, list[str]] = {}
        self.failure: Exception | None = None

    def webhook_secrets(self, tenant: str, connection_id: str, *, fresh: bool = False) -> list[str]:
        if self.failure is not None:
            raise self.failure
        return list(self.lists.get(connection_id, []))


class MemoryConnections:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Connection] = {}

    def find(self, tenant: str, document_id: str) -> Connection | None:
        return self.items.get((tenant, document_id))


@dataclass
class Sent:
    body: str
    group: str
    deduplication: str

    @property
    def message(self) -> InboundDelivery:
        return InboundDelivery.model_validate_json(self.body)


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.failure: Exception | None = None

    def send(self, body: str, *, group: str, deduplication: str) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(Sent(body, group, deduplication))


@dataclass
class World:
    ingest: WebhookIngest
    routes: MemoryRoutes
    deliveries: MemoryDeliveries
    secrets: MemorySecrets
    connections: MemoryConnections
    queue: RecordingQueue
    counted: list[str]
    clock: list[datetime]

    def add(
        self, provider: str, *, secrets: list[str] | None = None, connection_id: str = CONNECTION_ID
    ) -> None:
        self.routes.items[connection_id] = WebhookRoute(TENANT, provider, connection_id)
        self.connections.items[(TENANT, connection_id)] = connection(provider, connection_id)
        self.secrets.lists[connection_id] = [SECRET] if secrets is None else secrets

    def post(
        self, provider: str, body: bytes, headers: dict[str, str], *, connection_id: str = CONNECTION_ID
    ) -> WebhookAnswer:
        return self.ingest.answer(
            WebhookRequest(provider, connection_id, {k.lower(): v for k, v in headers.items()}, body)
        )


@pytest.fixture
def world() -> World:
    routes, deliveries, secrets = MemoryRoutes(), MemoryDeliveries(), MemorySecrets()
    connections, queue, counted, clock = MemoryConnections(), RecordingQueue(), [], [NOW]
    ingest = WebhookIngest(
        routes=routes,  # type: ignore[arg-type]
        deliveries=deliveries,  # type: ignore[arg-type]
        connections=connections,
        secrets=secrets,
        queue=queue,
        clock=lambda: clock[0],
        count=counted.append,
    )
    return World(ingest, routes, deliveries, secrets, connections, queue, counted, clock)


def change_delivery(
    provider: str, delivery_id: str = "d-0001", secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    name, event_headers = CHANGE_FIXTURES[provider]
    body = fixture(name)
    return body, {**event_headers, DELIVERY_HEADER[provider]: delivery_id, **sign(provider, body, secret)}


# ---- signatures -------------------------------------------------------------------------------------


def test_the_github_test_vector_verifies_and_a_changed_byte_does_not() -> None:
    # Given GitHub's published test vector
    vector = json.loads(fixture("github/signature_test_vector.json"))
    headers = {vector["header"]: vector["signature"]}
    payload = vector["payload"].encode()

    # Then the adapter accepts it with the secret, and refuses another body or another secret
    assert GitHubAdapter.verify_webhook(headers, payload, [vector["secret"]])
    assert HubSignature().sign(payload, vector["secret"]) == headers
    assert not GitHubAdapter.verify_webhook(headers, payload + b" ", [vector["secret"]])
    assert not GitHubAdapter.verify_webhook(headers, payload, ["It's a secret to everybody"])


@pytest.mark.parametrize("provider", sorted(SETUPS))
def test_a_signed_change_is_queued_with_its_issue_group_and_dedup_id(world: World, provider: str) -> None:
    # Given a connection of the tracker and a real delivery signed with its secret
    world.add(provider)
    body, headers = change_delivery(provider)

    # When it arrives
    answer = world.post(provider, body, headers)

    # Then it is accepted and exactly one message is on the queue
    assert (answer.status, answer.body) == (202, {"delivery_id": "d-0001", "status": "queued"})
    (sent,) = world.queue.sent
    message = sent.message
    assert (message.tenant, message.connection_id, message.provider) == (TENANT, CONNECTION_ID, provider)
    assert message.delivery_id == "d-0001"
    assert message.received_at == NOW
    assert message.raw_body == body  # the very bytes that were signed
    # grouped by the issue the delivery changes (what the adapter says its first change is about)
    expected = parsing_adapter(connection(provider)).parse_webhook(headers, body)
    assert sent.group == message_group(CONNECTION_ID, expected.changes[0].issue_ref)
    assert sent.group.startswith(f"{CONNECTION_ID}:{CONNECTION_ID}.")
    assert sent.deduplication == deduplication_id(provider, "d-0001")
    # no signature header travels with the message (GitLab's token is the secret itself)
    assert SECRET not in sent.body
    assert world.deliveries.records[(TENANT, provider, "d-0001")][0] is DeliveryStatus.ENQUEUED
    assert world.counted == ["WebhookQueued"]


def test_a_base64_body_and_header_names_in_any_case_are_read_as_sent(world: World) -> None:
    # Given a delivery API Gateway passed base64-encoded, with header names in odd cases
    world.add("github")
    body, headers = change_delivery("github")
    event = {
        "pathParameters": {"provider": "github", "connection_id": CONNECTION_ID},
        "headers": {
            name.upper() if i % 2 else name.lower(): value for i, (name, value) in enumerate(headers.items())
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }

    # When the function answers the event
    answer = world.ingest.answer_event(event)

    # Then it verified the decoded bytes and queued them
    assert answer.status == 202
    assert world.queue.sent[0].message.raw_body == body


def test_a_delivery_signed_with_the_previous_secret_still_passes(world: World) -> None:
    # Given a connection whose secret was rotated (newest first, the previous one kept)
    world.add("github", secrets=[SECRET, OLD_SECRET])

    # When deliveries signed with either arrive
    new = world.post("github", *change_delivery("github", "d-new", SECRET))
    old = world.post("github", *change_delivery("github", "d-old", OLD_SECRET))

    # Then both are queued
    assert (new.status, old.status) == (202, 202)
    assert [s.message.delivery_id for s in world.queue.sent] == ["d-new", "d-old"]


def test_gitlab_signing_token_deliveries_pass(world: World) -> None:
    # Given a GitLab connection whose secret is a signing token, and a Standard Webhooks delivery
    world.add("gitlab")
    body = fixture("gitlab/note_hook.issue.docs.json")
    world.connections.items[(TENANT, CONNECTION_ID)] = connection("gitlab").model_copy(
        update={"scope": connection("gitlab").scope.model_copy(update={"project": "gitlab-org/gitlab-test"})}
    )
    headers = {
        "X-Gitlab-Event": "Note Hook",
        **StandardWebhooks().sign(body, SECRET, now=NOW.timestamp(), msg_id="k-1"),
    }

    # When it arrives (at the time it was signed)
    answer = world.post("gitlab", body, headers)

    # Then it is queued under its webhook-id
    assert answer.status == 202, answer.body
    assert answer.body["delivery_id"] == "k-1"


# ---- 401: one answer for every reason ----------------------------------------------------------------


def test_every_refusal_of_authenticity_is_the_same_401(world: World) -> None:
    # Given a GitHub connection, a GitLab connection without any secret, and a validly shaped delivery
    world.add("github")
    world.add("gitlab", secrets=[], connection_id=OTHER_ID)
    body, good = change_delivery("github")
    unsigned = {k: v for k, v in good.items() if k != "X-Hub-Signature-256"}

    answers = {
        "unknown connection": world.post("github", body, good, connection_id="conn_unknownunknownunknow"),
        "malformed connection id": world.post("github", body, good, connection_id="not-a-connection"),
        "provider not the connection's": world.post("gitlab", body, {**good, **sign("gitlab", body)}),
        "unknown provider": world.post("bitbucket", body, good),
        "no secret stored": world.post("gitlab", body, sign("gitlab", body), connection_id=OTHER_ID),
        "wrong secret": world.post("github", *change_delivery("github", secret="guess")),
        "no signature": world.post("github", body, unsigned),
        "body changed after signing": world.post("github", body.replace(b"Spelling", b"Spellinq"), good),
    }

    # Then each is the very same proxy answer: status, headers and body, with no detail
    proxies = {reason: answer.to_proxy() for reason, answer in answers.items()}
    assert all(proxy == UNAUTHORIZED.to_proxy() for proxy in proxies.values()), proxies
    assert UNAUTHORIZED.body == {
        "error": {"code": "UNAUTHORIZED", "message": UNAUTHORIZED.body["error"]["message"], "details": None}
    }
    assert world.queue.sent == []


def test_an_unknown_connection_costs_the_same_verification_as_a_bad_signature(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a spy on the HMAC verification of every tracker
    seen: list[tuple[str, int, bytes]] = []
    for name, cls in PROVIDERS.items():
        original = cls.verify_webhook.__func__  # type: ignore[attr-defined]

        def spy(
            klass: Any,
            headers: Any,
            raw: bytes,
            secrets: Any,
            *,
            now: Any = None,
            _o: Callable[..., bool] = original,
            _n: str = name,
        ) -> bool:
            seen.append((_n, len(secrets), raw))
            return _o(klass, headers, raw, secrets, now=now)

        monkeypatch.setattr(cls, "verify_webhook", classmethod(spy))
    world.add("github")  # one secret stored
    body, _ = change_delivery("github")
    headers = sign("github", body, "guess")

    # When an unknown connection and a known one with a bad signature get the same body
    unknown = world.post("github", body, headers, connection_id="conn_unknownunknownunknow")
    known = world.post("github", body, headers)

    # Then both were looked up, and verified over the same bytes against as many secrets
    assert unknown.to_proxy() == known.to_proxy() == UNAUTHORIZED.to_proxy()
    assert world.routes.lookups == ["conn_unknownunknownunknow", CONNECTION_ID]
    assert seen == [("github", 2, body), ("github", 2, body)]


# ---- 400, 413 -----------------------------------------------------------------------------------------


def test_malformed_json_after_a_valid_signature_is_400(world: World) -> None:
    world.add("github")
    body = b'{"action": "opened", "issue": '
    answer = world.post(
        "github", body, {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1", **sign("github", body)}
    )

    assert answer.status == 400
    assert answer.body["error"]["code"] == "INVALID_JSON"
    assert world.queue.sent == []
    assert world.deliveries.records == {}


def test_a_payload_without_what_its_event_promises_is_400(world: World) -> None:
    world.add("github")
    body = b'{"action": "opened", "repository": {"full_name": "Codertocat/Hello-World"}}'
    answer = world.post("github", body, {"X-GitHub-Event": "issues", **sign("github", body)})

    assert answer.status == 400
    assert answer.body["error"]["code"] == "INVALID_INPUT"


def test_a_body_that_is_not_utf8_is_400(world: World) -> None:
    world.add("github")
    body = '{"action": "opened", "title": "caf\u00e9"}'.encode("latin-1")
    answer = world.post("github", body, {"X-GitHub-Event": "issues", **sign("github", body)})

    assert answer.status == 400
    assert answer.body["error"]["code"] == "INVALID_BODY"
    assert world.queue.sent == []


def test_a_base64_body_that_is_not_base64_is_400(world: World) -> None:
    event = {
        "pathParameters": {"provider": "github", "connection_id": CONNECTION_ID},
        "body": "%%%",
        "isBase64Encoded": True,
    }

    answer = world.ingest.answer_event(event)

    assert answer.status == 400
    assert answer.body["error"]["code"] == "INVALID_BODY"


def test_a_body_over_the_limit_is_413_and_one_at_the_limit_is_read(world: World) -> None:
    # Given a signed JSON body one byte over the limit, and one exactly at it
    world.add("github")
    base, headers = change_delivery("github")

    def padded(size: int) -> bytes:
        """The fixture's JSON object with a ``pad`` member making it exactly ``size`` bytes."""
        head = base.rstrip()[:-1] + b',"pad":"'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    at_limit, over = padded(MAX_BODY_BYTES), padded(MAX_BODY_BYTES + 1)
    assert (len(at_limit), len(over)) == (MAX_BODY_BYTES, MAX_BODY_BYTES + 1)
    assert json.loads(at_limit)["pad"]

    # When both arrive signed
    too_big = world.post("github", over, {**headers, **sign("github", over), "X-GitHub-Delivery": "d-big"})
    fits = world.post(
        "github", at_limit, {**headers, **sign("github", at_limit), "X-GitHub-Delivery": "d-fit"}
    )

    # Then the larger is refused before anything is looked up, the other queued within SQS's limit
    assert too_big.status == 413
    assert too_big.body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert fits.status == 202
    assert len(world.queue.sent[0].body.encode()) <= MAX_MESSAGE_BYTES
    assert world.routes.lookups == [CONNECTION_ID]


def test_the_limit_holds_even_when_every_byte_doubles_in_the_message() -> None:
    # Given the worst body for its size: a JSON string of quotes and backslashes, as escaped as JSON gets
    inner = b'\\"' * ((MAX_BODY_BYTES - 2) // 2)
    body = b'"' + inner + b'"'
    message = InboundDelivery.of(
        tenant="t" * 40,
        connection_id=CONNECTION_ID,
        provider="github",
        delivery_id="d" * 200,
        received_at=NOW,
        headers={"x-github-event": "e" * 200, "x-github-delivery": "d" * 200},
        raw_body=body,
    )

    # Then its message still fits one SQS message
    assert len(body) <= MAX_BODY_BYTES
    assert len(encode_message(message).encode()) <= MAX_MESSAGE_BYTES


def test_characters_sqs_would_replace_are_escaped_so_the_body_survives() -> None:
    body = '{"title": "a\uffffb \u00e9"}'.encode()
    message = InboundDelivery.of(
        tenant=TENANT,
        connection_id=CONNECTION_ID,
        provider="github",
        delivery_id="d",
        received_at=NOW,
        headers={},
        raw_body=body,
    )

    encoded = encode_message(message)

    assert "\uffff" not in encoded
    assert encoded.isascii()
    assert InboundDelivery.model_validate_json(encoded).raw_body == body
    plain = InboundDelivery.of(
        tenant=TENANT,
        connection_id=CONNECTION_ID,
        provider="github",
        delivery_id="d",
        received_at=NOW,
        headers={},
        raw_body="é".encode(),
    )
    assert "é" in encode_message(plain)  # escaping only when needed: UTF-8 stays compact


# ---- 200 ping, 202 ignored, duplicates ------------------------------------------------------------


def test_a_github_ping_is_200_and_queues_nothing(world: World) -> None:
    world.add("github")
    body = fixture("github/ping.json")
    answer = world.post(
        "github", body, {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "p-1", **sign("github", body)}
    )

    assert (answer.status, answer.body) == (200, {"delivery_id": "p-1", "status": "pong"})
    assert world.queue.sent == []
    assert world.deliveries.records == {}
    assert world.counted == ["WebhookPing"]
    assert world.routes.touched == [NOW]  # a verified ping proves the hook is alive


@pytest.mark.parametrize(
    ("provider", "name", "headers"),
    [
        ("github", "github/pull_request.closed.json", {"X-GitHub-Event": "pull_request"}),
        ("github", "github/security_advisory.published.json", {"X-GitHub-Event": "security_advisory"}),
        ("jira", "jira/jira_issue_created.json", {}),
    ],
)
def test_events_not_synced_are_202_ignored_and_counted(
    world: World, provider: str, name: str, headers: dict[str, str]
) -> None:
    world.add(provider)
    if name.endswith("jira_issue_created.json"):
        # an issue of another project than the connection's is not synced either
        world.connections.items[(TENANT, CONNECTION_ID)] = connection("jira").model_copy(
            update={"scope": connection("jira").scope.model_copy(update={"project": "OPS"})}
        )
    body = fixture(name)
    answer = world.post(provider, body, {**headers, DELIVERY_HEADER[provider]: "i-1", **sign(provider, body)})

    assert (answer.status, answer.body) == (202, {"delivery_id": "i-1", "status": "ignored"})
    assert world.queue.sent == []
    assert world.counted == ["WebhookIgnored"]


def test_a_replay_is_acknowledged_as_duplicate_and_not_queued_again(world: World) -> None:
    world.add("jira")
    first = world.post("jira", *change_delivery("jira", "same-id"))
    world.clock[0] = NOW + timedelta(minutes=5)

    replay = world.post("jira", *change_delivery("jira", "same-id"))

    assert first.body["status"] == "queued"
    assert (replay.status, replay.body) == (202, {"delivery_id": "same-id", "status": "duplicate"})
    assert len(world.queue.sent) == 1
    assert world.counted == ["WebhookQueued", "WebhookDuplicate"]


def test_last_delivery_is_written_at_most_once_a_minute(world: World) -> None:
    world.add("github")
    world.post("github", *change_delivery("github", "a"))
    world.clock[0] = NOW + timedelta(seconds=30)
    world.post("github", *change_delivery("github", "b"))
    world.clock[0] = NOW + timedelta(seconds=61)
    world.post("github", *change_delivery("github", "c"))

    assert world.routes.touched == [NOW, NOW + timedelta(seconds=61)]
    assert world.routes.items[CONNECTION_ID].last_delivery_at == NOW + timedelta(seconds=61)


# ---- failures of AWS: 5xx, and the retry is not lost -------------------------------------------


def test_a_failed_send_is_503_and_the_retry_is_queued_not_taken_for_a_duplicate(world: World) -> None:
    # Given SQS refusing the first attempt
    world.add("github")
    world.queue.failure = DependencyFailure("SQS did not take the delivery; retry")
    failed = world.post("github", *change_delivery("github", "d-9"))

    # When the tracker retries once SQS is back
    world.queue.failure = None
    retried = world.post("github", *change_delivery("github", "d-9"))

    # Then the first was a retryable 5xx and the retry went on the queue
    assert failed.status == 503
    assert failed.body["error"]["code"] == "DEPENDENCY_FAILURE"
    assert failed.headers["Retry-After"]
    assert (retried.status, retried.body["status"]) == (202, "queued")
    assert [s.message.delivery_id for s in world.queue.sent] == ["d-9"]


def test_a_claim_left_pending_by_a_dead_attempt_is_taken_over_after_the_window(world: World) -> None:
    # Given an attempt that claimed a delivery and never finished
    world.add("github")
    world.deliveries.records[(TENANT, "github", "d-7")] = (DeliveryStatus.PENDING, NOW - timedelta(seconds=5))

    # When a copy arrives inside the window, and another after it
    inside = world.post("github", *change_delivery("github", "d-7"))
    world.clock[0] = NOW + timedelta(seconds=40)
    after = world.post("github", *change_delivery("github", "d-7"))

    # Then the first is told to retry (5xx, never "duplicate": the claim may still fail), the second queued
    assert inside.status == 503
    assert after.body["status"] == "queued"
    assert len(world.queue.sent) == 1


@pytest.mark.parametrize("failing", ["routes", "secrets", "claim", "connections"])
def test_aws_failures_are_5xx_never_4xx(world: World, failing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    world.add("gitlab")
    outage = DependencyFailure("DynamoDB is unavailable; retry", details={"aws_code": "ServiceUnavailable"})

    def fail(*_: Any, **__: Any) -> Any:
        raise outage

    if failing == "routes":
        monkeypatch.setattr(world.routes, "lookup", fail)
    elif failing == "secrets":
        world.secrets.failure = outage
    elif failing == "claim":
        monkeypatch.setattr(world.deliveries, "claim", fail)
    else:
        monkeypatch.setattr(world.connections, "find", fail)

    answer = world.post("gitlab", *change_delivery("gitlab"))

    assert answer.status == 503
    assert answer.body["error"]["code"] == "DEPENDENCY_FAILURE"
    assert world.queue.sent == []


def test_an_unexpected_error_is_500(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.add("github")

    def broken(_: Connection) -> Any:
        raise KeyError("bug")

    world.ingest.adapter_for = broken
    answer = world.post("github", *change_delivery("github"))

    assert answer.status == 500
    assert answer.body["error"]["code"] == "INTERNAL"


def test_an_sqs_client_error_becomes_a_dependency_failure() -> None:
    class RefusingClient:
        def send_message(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    with pytest.raises(DependencyFailure) as caught:
        SqsInboundQueue(RefusingClient(), "https://sqs.example/q.fifo").send(
            "{}", group="g", deduplication="d"
        )
    assert caught.value.details == {"aws_code": "ServiceUnavailable"}


# ---- what the message carries, what the adapter needs ----------------------------------------------


@pytest.mark.parametrize("provider", sorted(SETUPS))
def test_the_forwarded_headers_parse_as_the_full_ones_and_hold_no_signature(provider: str) -> None:
    body, headers = change_delivery(provider)
    headers = {**headers, "X-Gitlab-Event-UUID": "u-1", "User-Agent": "x", "Authorization": "Bearer nope"}
    lowered = {k.lower(): v for k, v in headers.items()}
    adapter = parsing_adapter(connection(provider))

    kept = forwarded_headers(PROVIDERS[provider], lowered)

    assert adapter.parse_webhook(kept, body) == adapter.parse_webhook(lowered, body)
    assert not {
        "x-hub-signature-256",
        "x-hub-signature",
        "x-gitlab-token",
        "authorization",
        "user-agent",
    } & set(kept)


def test_the_parsing_adapter_needs_no_credentials_and_cannot_call_the_tracker() -> None:
    adapter = parsing_adapter(connection("github"))

    with pytest.raises(RuntimeError, match="no tracker request"):
        adapter.client.get("https://api.github.com/user")


def test_the_rotated_secret_format_verifies_for_every_scheme() -> None:
    from trackbridge.runtime.connections import new_webhook_secret

    secret = new_webhook_secret().get_secret_value()
    body = b'{"x": 1}'
    assert isinstance(new_webhook_secret(), SecretStr)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    for scheme in (HubSignature(), HubSignature("X-Hub-Signature"), PlainToken(), StandardWebhooks()):
        headers = scheme.sign(body, secret, now=NOW.timestamp(), msg_id="m")
        assert scheme.verify(body, headers, [secret], now=NOW.timestamp())


def test_the_ignored_count_is_a_cloudwatch_emf_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Powertools metrics enabled, as on Lambda
    from trackbridge.runtime.observability import metrics
    from trackbridge.runtime.webhooks.ingest import count_metric

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics.clear_metrics()

    # When an ignored delivery is counted
    count_metric("WebhookIgnored")
    emf = metrics.serialize_metric_set()
    metrics.clear_metrics()

    # Then the invocation's EMF line carries it as a Count in trackbridge's namespace
    assert emf["WebhookIgnored"] in (1.0, [1.0])
    (definition,) = emf["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "trackbridge"
    assert {"Name": "WebhookIgnored", "Unit": "Count"} in definition["Metrics"]


# ---- Jira REST webhooks of an OAuth app: a JWT of the app's client secret --------------------------------

APP_SECRET = "the-apps-client-secret"


def app_jwt_delivery(secret: str = APP_SECRET, *, now: datetime = NOW) -> tuple[bytes, dict[str, str]]:
    name, event_headers = CHANGE_FIXTURES["jira"]
    body = fixture(name)
    signed = AppJwt().sign(body, secret, now=now.timestamp())
    return body, {**event_headers, DELIVERY_HEADER["jira"]: "jwt-0001", **signed}


def oauth_world(world: World, *, app_secrets: list[str]) -> World:
    """``world`` with a Jira connection authorized through the OAuth app (no per-connection secret: the
    app's hooks are signed with the app's), and the ingest knowing the app's client secrets."""
    world.add("jira", secrets=[])
    stored = world.connections.items[(TENANT, CONNECTION_ID)]
    world.connections.items[(TENANT, CONNECTION_ID)] = stored.model_copy(update={"auth": "oauth"})
    world.ingest.app_secrets = lambda provider: list(app_secrets) if provider == "jira" else []
    return world


def test_a_jira_app_delivery_signed_with_the_apps_secret_is_queued(world: World) -> None:
    # Given a Jira OAuth connection and a delivery carrying the app's JWT
    oauth_world(world, app_secrets=[APP_SECRET])
    body, headers = app_jwt_delivery()

    # When it arrives
    answer = world.post("jira", body, headers)

    # Then it is queued like any verified delivery
    assert answer.status == 202
    assert len(world.queue.sent) == 1


@pytest.mark.parametrize(
    "case",
    ["another secret", "expired", "token connection", "no app configured"],
)
def test_a_jira_app_delivery_is_refused_with_the_same_401_otherwise(world: World, case: str) -> None:
    # Given a delivery carrying a JWT that is wrong in one way
    oauth_world(world, app_secrets=[] if case == "no app configured" else [APP_SECRET])
    body, headers = app_jwt_delivery(
        "not-the-apps-secret" if case == "another secret" else APP_SECRET,
        now=NOW - timedelta(hours=1) if case == "expired" else NOW,
    )
    if case == "token connection":
        stored = world.connections.items[(TENANT, CONNECTION_ID)]
        world.connections.items[(TENANT, CONNECTION_ID)] = stored.model_copy(update={"auth": "token"})

    # When it arrives
    answer = world.post("jira", body, headers)

    # Then it is the one 401, and nothing is queued
    assert answer.status == 401
    assert answer.to_proxy()["body"] == world.post("jira", body, {}).to_proxy()["body"]
    assert world.queue.sent == []
