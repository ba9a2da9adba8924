"""The channel adapters and the dispatcher, without a network: Slack's documented answers, the signed
webhook as a receiver verifies it, and how a failed send is retried, deferred or given up on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from trackbridge.domain.alerts import AlertSend, incident_message, new_incident, send_id
from trackbridge.providers.signatures import StandardWebhooks
from trackbridge.runtime.alerts.channels import ChannelFailure, SlackChannel, WebhookChannel
from trackbridge.runtime.alerts.dispatch import Dispatcher

AT = datetime(2026, 3, 4, 16, 40, 22, tzinfo=UTC)
URL = "https://hooks.example.com/services/" + "fake"  # never a real hook
MESSAGE = incident_message(
    "acme",
    new_incident(
        incident_id="inc_q4rt7m2kx5bz3ncd6hfw",
        connection_id="conn_k7mq4xw2p5rtz3nb6hcd",
        connection_name="web",
        provider="github",
        code="AUTH_INVALID",
        detail="401 Bad credentials",
        operation_id=None,
        at=AT,
        channels=["chat"],
    ),
)


def _client(*replies: httpx.Response, seen: list[httpx.Request] | None = None) -> httpx.Client:
    answers = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_slack_gets_text_and_blocks_and_ok_is_delivered() -> None:
    seen: list[httpx.Request] = []
    SlackChannel(_client(httpx.Response(200, text="ok"), seen=seen), URL).send(MESSAGE, delivery_id="d1")
    (request,) = seen
    body = json.loads(request.content)
    assert "AUTH_INVALID" in body["text"]
    assert "create a new token" in body["blocks"][1]["text"]["text"]
    assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("status", "said", "code", "permanent"),
    [
        (400, "invalid_payload", "INVALID_REQUEST", True),
        (403, "action_prohibited", "PERMISSION_DENIED", True),
        (404, "channel_not_found", "NOT_FOUND", True),
        (410, "channel_is_archived", "NOT_FOUND", True),
        (429, "rate_limited", "RATE_LIMITED", False),
        (500, "rollup_error", "PROVIDER_UNAVAILABLE", False),
        (302, "", "TRACKER_MOVED", True),
    ],
)
def test_each_slack_refusal_is_a_failure_with_its_code(
    status: int, said: str, code: str, permanent: bool
) -> None:
    reply = httpx.Response(status, text=said, headers={"Retry-After": "7"} if status == 429 else {})
    with pytest.raises(ChannelFailure) as failed:
        SlackChannel(_client(reply), URL).send(MESSAGE, delivery_id="d1")
    assert failed.value.code == code
    assert failed.value.permanent is permanent
    assert said in failed.value.detail
    assert URL not in str(failed.value)
    assert failed.value.retry_after_s == (7 if status == 429 else None)


def test_a_timeout_and_a_reset_are_worth_a_retry() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("reset", request=request)

    for handler, code in ((timeout, "TIMEOUT"), (reset, "NETWORK_GLITCH")):
        with pytest.raises(ChannelFailure) as failed:
            SlackChannel(httpx.Client(transport=httpx.MockTransport(handler)), URL).send(
                MESSAGE, delivery_id="d"
            )
        assert failed.value.code == code
        assert not failed.value.permanent


def test_a_receiver_verifies_the_webhook_signature_over_the_raw_body() -> None:
    secret = "-".join(["fake", "signing", "secret", "for", "tests"])
    seen: list[httpx.Request] = []
    channel = WebhookChannel(_client(httpx.Response(204), seen=seen), URL, secret)
    channel.send(MESSAGE, delivery_id="inc_q.incident.hook")
    (request,) = seen
    headers = dict(request.headers)
    verifier = StandardWebhooks()
    assert headers["webhook-id"] == "inc_q.incident.hook"
    assert verifier.verify(request.content, headers, [secret])
    # ...and refuses the same headers over a changed body or with another secret
    assert not verifier.verify(request.content.replace(b"AUTH_INVALID", b"AUTH_EXPIRED"), headers, [secret])
    assert not verifier.verify(request.content, headers, [secret + "x"])
    assert json.loads(request.content)["type"] == "alert.incident"


@dataclass
class FakeChannel:
    """A channel that fails with the scripted failures, then delivers."""

    failures: list[ChannelFailure]
    sent: list[str] = field(default_factory=list)
    kind = "fake"

    def send(self, message: Any, *, delivery_id: str) -> None:
        self.sent.append(delivery_id)
        if self.failures:
            raise self.failures.pop(0)


@dataclass
class Book:
    """The outbox and status stores, in memory."""

    delivered: list[str] = field(default_factory=list)
    kept: list[AlertSend] = field(default_factory=list)
    statuses: list[tuple[str, str]] = field(default_factory=list)

    def failed(self, tenant: str, send_or_channel: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(send_or_channel, AlertSend):
            self.kept.append(send_or_channel)
        else:
            self.statuses.append(("failed", kwargs["code"]))

    def succeeded(self, tenant: str, channel: str, at: datetime) -> None:
        self.statuses.append(("succeeded", channel))


class Sends:
    def __init__(self, book: Book) -> None:
        self.book = book

    def delivered(self, tenant: str, send: AlertSend) -> None:
        self.book.delivered.append(send.id)

    def failed(self, tenant: str, send: AlertSend) -> None:
        self.book.kept.append(send)


def _dispatch(channel: FakeChannel, *, attempts: int = 3) -> tuple[bool, Book, list[float]]:
    book, waits = Book(), []

    class Channels:
        def build(self, tenant: str, name: str) -> FakeChannel:
            return channel

    dispatcher = Dispatcher(
        Channels(), Sends(book), book, attempts=attempts, clock=lambda: AT, sleep=waits.append
    )
    send = AlertSend(
        id=send_id("inc_a", "incident", "chat"),
        channel="chat",
        message=MESSAGE,
        created_at=AT,
        next_attempt_at=AT,
    )
    return dispatcher.deliver("acme", send), book, waits


def _failure(code: str = "PROVIDER_UNAVAILABLE", **kwargs: Any) -> ChannelFailure:
    return ChannelFailure(code, "receiver answered 500", **kwargs)


def test_a_receiver_that_fails_once_gets_a_second_attempt_and_the_failure_is_recorded() -> None:
    delivered, book, waits = _dispatch(FakeChannel([_failure()]))
    assert delivered
    assert book.delivered == ["inc_a.incident.chat"]
    assert book.statuses == [("failed", "PROVIDER_UNAVAILABLE"), ("succeeded", "chat")]
    assert waits == [0.5]


def test_a_receiver_that_keeps_failing_is_left_pending_for_the_maintenance_run() -> None:
    channel = FakeChannel([_failure(), _failure(), _failure()])
    delivered, book, waits = _dispatch(channel)
    assert not delivered
    assert len(channel.sent) == 3
    assert waits == [0.5, 1.0]
    (kept,) = book.kept
    assert kept.state == "pending"
    assert kept.attempts == 3
    assert kept.next_attempt_at > AT
    assert kept.last_error_code == "PROVIDER_UNAVAILABLE"


def test_a_permanent_refusal_is_not_retried_and_is_abandoned() -> None:
    channel = FakeChannel([_failure("NOT_FOUND", permanent=True)])
    delivered, book, waits = _dispatch(channel)
    assert not delivered
    assert channel.sent == ["inc_a.incident.chat"]
    assert waits == []
    assert book.kept[0].state == "abandoned"


def test_a_long_retry_after_is_left_to_the_maintenance_run() -> None:
    channel = FakeChannel([_failure("RATE_LIMITED", retry_after_s=120)])
    delivered, book, waits = _dispatch(channel)
    assert not delivered
    assert waits == []
    assert book.kept[0].state == "pending"
    assert (book.kept[0].next_attempt_at - AT).total_seconds() == 120
