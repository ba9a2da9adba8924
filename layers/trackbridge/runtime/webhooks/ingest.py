"""The webhook Lambda's work: verify a delivery, de-duplicate it, put it on the inbound FIFO queue.

``POST /v1/webhooks/{provider}/{connection_id}``; the steps, in order, and what each answers:

1. the body: base64 when API Gateway says so (``isBase64Encoded``), else the UTF-8 text it passed. Over
   :data:`MAX_BODY_BYTES` -> 413 before anything is read or verified (the same answer whoever sends it).
2. the routing item (``storage.webhooks``) names the connection's tenant and provider. The signature is
   checked on the raw bytes with the provider adapter's ``verify_webhook`` against the connection's
   secrets (Secrets Manager, a list so a rotation keeps the previous one valid). An unknown connection, a
   provider in the URL that is not the connection's, a connection without secrets and a bad signature
   all answer the same 401, the same body, no detail; none of them skips the HMAC work: unknown ones are
   verified against random secrets that nothing can sign with, and the list is padded to the same length.
3. after a valid signature: ``last_delivery_at`` (at most one write a minute), then a body that is not
   UTF-8 -> 400 ``INVALID_BODY``; the adapter parses it (no tracker call; it is built without the
   connection's credentials): not JSON -> 400 ``INVALID_JSON``, not the documented shape -> 400
   ``INVALID_INPUT``. A ``ping`` -> 200; an event trackbridge does not sync -> 202 ``ignored`` and the
   ``WebhookIgnored`` metric.
4. a change: the delivery record is claimed (``pending``, conditional), the message is sent with the
   group of its first change's issue and the delivery's dedup id, then the record is marked ``enqueued``
   -> 202 ``queued``. A delivery already enqueued -> 202 ``duplicate`` and nothing is sent.

Why the record is claimed as ``pending`` before the send and marked after it: a record written as "seen"
before a send that then fails would make the tracker's retry look like a duplicate and the delivery would
be lost. So a failed send deletes the claim again (and answers 503, so the tracker retries); if even that
delete fails (DynamoDB down too), the claim is only ``pending``, and a ``pending`` record older than
:data:`PENDING_WINDOW` (longer than the function may run) counts as not seen. A second copy arriving while
the first is still inside the window answers 503 as well, never "duplicate": the first may yet fail. The
reverse failure (sent, but the mark did not land) can at worst enqueue a delivery twice after the window,
which SQS's own dedup id absorbs within five minutes and the apply step's newer-wins writes absorb after.

Failures of DynamoDB, SQS or Secrets Manager answer 503, and anything unexpected 500: never a 4xx, since
GitLab disables a hook for good after a 4xx (shared/research/tracker-api-changes-2026.md).

Size: one delivery is one SQS message of at most :data:`MAX_MESSAGE_BYTES` (1 MiB: the SendMessage limit
on AWS since August 2025 and the queue default, and moto's ``MAXIMUM_MESSAGE_LENGTH``). The message is
JSON and carries the body as a JSON string, where a ``"``, a ``\\`` or a newline of the body takes two
bytes; :data:`MAX_BODY_BYTES` (516,096 bytes: half of what is left of 1 MiB after a 16 KiB envelope) is
the largest body that always fits. The encoded message is measured as well before it is sent (413).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets as random_secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.domain.connections import Connection
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import DependencyFailure, TrackbridgeError, error_body
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.registry import ADAPTERS, PROVIDERS
from trackbridge.providers.types import DeliveryKind, TrackerConfig, WebhookDelivery
from trackbridge.providers.webhooks import WebhookPayloadError
from trackbridge.runtime.observability import logger
from trackbridge.runtime.secrets import WEBHOOK_SECRETS_KEPT
from trackbridge.runtime.webhooks.messages import InboundDelivery, deduplication_id, message_group
from trackbridge.storage.webhooks import ClaimOutcome, DeliveryRecords, WebhookRoute, WebhookRoutes

# SQS's largest message, on AWS (SendMessage, and the default MaximumMessageSize of a new queue) and in moto.
MAX_MESSAGE_BYTES = 1_048_576
# What the message holds besides the body: ids, tenant, time, the few headers parse_webhook reads.
ENVELOPE_RESERVE_BYTES = 16_384
# The largest body that fits a message even if every byte of it doubles as a JSON string (see module doc).
MAX_BODY_BYTES = (MAX_MESSAGE_BYTES - ENVELOPE_RESERVE_BYTES) // 2
# How long a delivery is remembered: trackers redeliver for days (GitHub's redelivery, GitLab's resend of
# the last 7 days of events), and a record costs a few bytes until TTL removes it.
DELIVERY_TTL = timedelta(days=7)
# A pending claim older than this belongs to an attempt that is over (the webhook function times out after
# 10 s, infra/definition.py): a retry takes it over.
PENDING_WINDOW = timedelta(seconds=30)
RETRY_AFTER_S = 30

# The headers parse_webhook reads besides the delivery-id ones: the tracker's event name. Only these go
# into the message: never a signature header (GitLab's X-Gitlab-Token is the secret itself).
EVENT_HEADERS = ("X-GitHub-Event", "X-Gitlab-Event")

# Characters SQS does not keep in a message (it stores U+FFFD instead): a message holding one is sent
# with every non-ASCII character escaped, so the apply step reads back exactly the body that was signed.
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

UNAUTHORIZED_MESSAGE = "the delivery is not signed for this webhook URL"
_JSON_HEADERS = {"Content-Type": "application/json"}


# ---- the request and the answer --------------------------------------------------------------------------


class BadRequest(TrackbridgeError):
    """A delivery refused for what it is (its size, its encoding): 400 or 413, never retried as is."""

    status = 400
    code = "INVALID_BODY"

    def __init__(self, message: str, *, status: int = 400, code: str = "INVALID_BODY", **kwargs: Any) -> None:
        super().__init__(message, code=code, **kwargs)
        self.refusal_status = status

    @property
    def http_status(self) -> int:
        return self.refusal_status


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One delivery as the webhook function received it: header names lower-cased, the body as bytes."""

    provider: str
    connection_id: str
    headers: Mapping[str, str]
    raw_body: bytes

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> WebhookRequest:
        """From an API Gateway REST proxy event; :class:`BadRequest` when a base64 body is not base64."""
        params = event.get("pathParameters") or {}
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(str(body), validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest("the body is not valid base64") from None
        else:
            raw = str(body).encode("utf-8")
        return cls(
            provider=str(params.get("provider") or ""),
            connection_id=str(params.get("connection_id") or ""),
            headers=headers,
            raw_body=raw,
        )


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=lambda: dict(_JSON_HEADERS))

    def to_proxy(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": dict(self.headers),
            "body": json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
        }

    @classmethod
    def accepted(cls, delivery_id: str, status: str, *, http: int = 202) -> WebhookAnswer:
        return cls(http, {"delivery_id": delivery_id, "status": status})

    @classmethod
    def error(cls, status: int, code: str, message: str, **headers: str) -> WebhookAnswer:
        return cls(status, error_body(code, message), {**_JSON_HEADERS, **headers})


# Every refusal of a delivery's authenticity is this one answer, byte for byte.
UNAUTHORIZED = WebhookAnswer.error(401, ErrorCode.UNAUTHORIZED, UNAUTHORIZED_MESSAGE)


# ---- collaborators ---------------------------------------------------------------------------------------


class WebhookSecrets(Protocol):
    """``runtime.secrets.ConnectionSecrets``: the connection's signing secrets, newest first."""

    def webhook_secrets(self, tenant: str, connection_id: str, *, fresh: bool = False) -> list[str]: ...


class Connections(Protocol):
    """``storage.connections.ConnectionRepository``."""

    def find(self, tenant: str, document_id: str) -> Connection | None: ...


class InboundQueue(Protocol):
    def send(self, body: str, *, group: str, deduplication: str) -> None: ...


class SqsInboundQueue:
    """The inbound FIFO queue (``TB_INBOUND_QUEUE_URL``)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, body: str, *, group: str, deduplication: str) -> None:
        if not self.queue_url:
            raise RuntimeError("TB_INBOUND_QUEUE_URL is not set: the inbound queue is unknown")
        try:
            self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=deduplication,
            )
        except (ClientError, BotoCoreError) as exc:
            code = (
                str(exc.response.get("Error", {}).get("Code", ""))
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            raise DependencyFailure(
                "SQS did not take the delivery; retry", details={"aws_code": code}
            ) from exc


def encode_message(message: InboundDelivery) -> str:
    """The message body: compact JSON, non-ASCII escaped only when SQS would not keep a character."""
    text = message.model_dump_json()
    return message.model_dump_json(ensure_ascii=True) if _NOT_SQS_TEXT.search(text) else text


def count_metric(name: str) -> None:
    """One ``Count`` of ``name`` in the invocation's EMF metrics (the handler flushes them)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from trackbridge.runtime.observability import metrics

    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


class _NoTrackerCalls(httpx.BaseTransport):
    """The transport of the adapters built here: parsing a delivery never calls the tracker."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the webhook function makes no tracker request")


@lru_cache(maxsize=1)
def _offline_client() -> httpx.Client:
    return httpx.Client(transport=_NoTrackerCalls(), trust_env=False)


def parsing_adapter(connection: Connection) -> TrackerAdapter:
    """The connection's adapter, for ``parse_webhook`` only: its scope and ids, no credentials.

    Adapter constructors take an ``httpx.Auth`` but do not use it until a request is sent; a parse sends
    none, so it gets the no-op base ``httpx.Auth`` and a client whose transport refuses to send: the
    credentials secret is never read (nor a Jira OAuth token), and nothing can reach the tracker.
    """
    options = {"site_url": connection.site_url} if connection.site_url else {}
    config = TrackerConfig.from_connection(connection, **options)
    return PROVIDERS[connection.provider](config, httpx.Auth(), client=_offline_client())


def forwarded_headers(adapter_class: type[TrackerAdapter], headers: Mapping[str, str]) -> dict[str, str]:
    """The headers the message carries: what ``parse_webhook`` reads (event name, delivery ids), no more."""
    wanted = {
        name.lower()
        for name in (
            *adapter_class.webhook_delivery_headers,
            *adapter_class.webhook_shared_id_headers,
            *EVENT_HEADERS,
        )
    }
    wanted -= {scheme.header.lower() for scheme in adapter_class.signature_schemes}
    return {name: value for name, value in headers.items() if name in wanted}


# ---- the use case ----------------------------------------------------------------------------------------


class WebhookIngest:
    """Verify, de-duplicate, enqueue (module docstring). :meth:`answer` never raises."""

    def __init__(
        self,
        *,
        routes: WebhookRoutes,
        deliveries: DeliveryRecords,
        connections: Connections,
        secrets: WebhookSecrets,
        queue: InboundQueue,
        clock: Callable[[], datetime] = utcnow,
        count: Callable[[str], None] = count_metric,
        adapter_for: Callable[[Connection], TrackerAdapter] = parsing_adapter,
        app_secrets: Callable[[str], list[str]] = lambda _provider: [],
    ) -> None:
        self.routes = routes
        self.deliveries = deliveries
        self.connections = connections
        self.secrets = secrets
        self.queue = queue
        self.clock = clock
        self.count = count
        self.adapter_for = adapter_for
        # provider -> the client secrets of its OAuth app (empty: none configured).
        self.app_secrets = app_secrets
        # Nobody knows these, so nothing verifies against them: the work an unknown connection costs.
        self._decoys = [random_secrets.token_urlsafe(32) for _ in range(WEBHOOK_SECRETS_KEPT)]

    # -- the boundary ---------------------------------------------------------------------------------------

    def answer_event(self, event: Mapping[str, Any]) -> WebhookAnswer:
        try:
            request = WebhookRequest.from_event(event)
        except BadRequest as exc:
            return WebhookAnswer.error(exc.http_status, exc.code, exc.message)
        return self.answer(request)

    def answer(self, request: WebhookRequest) -> WebhookAnswer:
        """The answer to one delivery; a failure of AWS is a 503, anything unexpected a 500."""
        try:
            return self.receive(request)
        except BadRequest as exc:
            self.count("WebhookInvalid")
            return WebhookAnswer.error(exc.http_status, exc.code, exc.message)
        except WebhookPayloadError as exc:
            self.count("WebhookInvalid")
            logger.info(
                "webhook.invalid_payload", extra={"provider": request.provider[:40], "code": str(exc.code)}
            )
            return WebhookAnswer.error(400, str(exc.code), exc.message)
        except DependencyFailure as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            logger.warning(
                "webhook.dependency_failure",
                extra={"provider": request.provider[:40], "aws_code": details.get("aws_code")},
            )
            return WebhookAnswer.error(
                503, ErrorCode.DEPENDENCY_FAILURE, exc.message, **{"Retry-After": str(RETRY_AFTER_S)}
            )
        except _InFlight:
            return WebhookAnswer.error(
                503,
                ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                "another copy of this delivery is being queued; retry",
                **{"Retry-After": str(RETRY_AFTER_S)},
            )
        except Exception:
            # Not the sender's fault, whatever it is: a 4xx would make GitLab disable the hook for good.
            logger.exception("webhook.unhandled_error", extra={"provider": request.provider[:40]})
            return WebhookAnswer.error(500, ErrorCode.INTERNAL, "internal error")

    # -- the steps ------------------------------------------------------------------------------------------

    def receive(self, request: WebhookRequest) -> WebhookAnswer:
        if len(request.raw_body) > MAX_BODY_BYTES:
            raise BadRequest(
                f"a webhook body may be at most {MAX_BODY_BYTES} bytes",
                status=413,
                code=ErrorCode.PAYLOAD_TOO_LARGE,
            )
        now = self.clock()
        route = self.verified_route(request, now)
        if route is None:
            self.count("WebhookUnauthorized")
            logger.info("webhook.unauthorized", extra={"provider": request.provider[:40]})
            return UNAUTHORIZED
        self._touch(route, now)
        try:
            request.raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the body is not UTF-8 text") from None
        connection = self.connections.find(route.tenant, route.connection_id)
        if connection is None:
            return UNAUTHORIZED  # deleted since the route was read
        delivery = self.adapter_for(connection).parse_webhook(request.headers, request.raw_body)
        extra = {
            "tenant": route.tenant,
            "connection_id": route.connection_id,
            "delivery_id": delivery.delivery_id,
        }
        if delivery.kind is DeliveryKind.PING:
            self.count("WebhookPing")
            logger.info("webhook.ping", extra=extra)
            return WebhookAnswer.accepted(delivery.delivery_id, "pong", http=200)
        # Commits or a pull/merge request (``activity``) go on the queue too: the apply step links them.
        if delivery.kind is DeliveryKind.IGNORED or not (delivery.changes or delivery.activity):
            self.count("WebhookIgnored")
            logger.info(
                "webhook.ignored", extra={**extra, "event": delivery.event, "reason": delivery.reason}
            )
            return WebhookAnswer.accepted(delivery.delivery_id, "ignored")
        return self.enqueue(route, request, delivery, now)

    def verified_route(self, request: WebhookRequest, now: datetime) -> WebhookRoute | None:
        """The route of a delivery whose signature is valid for its connection, else None (one answer for
        every reason, and the same HMAC work for each)."""
        # A malformed id cannot name a connection (its format is public): no key is built from it.
        known = is_id(IdPrefix.CONNECTION, request.connection_id)
        route = self.routes.lookup(request.connection_id) if known else None
        if route is not None and route.provider != request.provider:
            route = None
        secrets = self.secrets.webhook_secrets(route.tenant, route.connection_id) if route is not None else []
        candidates = [*secrets, *self._decoys][: max(len(secrets), len(self._decoys))]
        adapter_class = PROVIDERS.get(route.provider if route is not None else request.provider, ADAPTERS[0])
        verified = adapter_class.verify_webhook(
            request.headers, request.raw_body, candidates, now=now.timestamp()
        )
        if verified and route is not None and secrets:
            return route
        if route is not None and self._app_verified(route, adapter_class, request, now):
            return route
        return None

    def _app_verified(
        self, route: WebhookRoute, adapter_class: type[TrackerAdapter], request: WebhookRequest, now: datetime
    ) -> bool:
        """A delivery to a hook the connection's OAuth app registered (Jira's REST webhooks): authenticated by
        the app's client secret, accepted only for a connection that uses that app."""
        if not adapter_class.app_signature_schemes:
            return False
        app_secrets = self.app_secrets(route.provider)
        if not app_secrets:
            return False
        if not adapter_class.verify_app_webhook(
            request.headers, request.raw_body, app_secrets, now=now.timestamp()
        ):
            return False
        connection = self.connections.find(route.tenant, route.connection_id)
        return connection is not None and connection.auth == "oauth"

    def enqueue(
        self, route: WebhookRoute, request: WebhookRequest, delivery: WebhookDelivery, now: datetime
    ) -> WebhookAnswer:
        adapter_class = PROVIDERS[route.provider]
        message = InboundDelivery.of(
            tenant=route.tenant,
            connection_id=route.connection_id,
            provider=route.provider,
            delivery_id=delivery.delivery_id,
            received_at=now,
            headers=forwarded_headers(adapter_class, request.headers),
            raw_body=request.raw_body,
        )
        body = encode_message(message)
        if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise BadRequest(
                f"the delivery does not fit one queue message ({MAX_MESSAGE_BYTES} bytes)",
                status=413,
                code=ErrorCode.PAYLOAD_TOO_LARGE,
            )
        key = (route.tenant, route.provider, delivery.delivery_id)
        claim = self.deliveries.claim(
            *key, connection_id=route.connection_id, now=now, ttl=DELIVERY_TTL, stale_after=PENDING_WINDOW
        )
        extra = {
            "tenant": route.tenant,
            "connection_id": route.connection_id,
            "delivery_id": delivery.delivery_id,
        }
        if claim.outcome is ClaimOutcome.SEEN:
            self.count("WebhookDuplicate")
            logger.info("webhook.duplicate", extra=extra)
            return WebhookAnswer.accepted(delivery.delivery_id, "duplicate")
        if claim.outcome is ClaimOutcome.IN_FLIGHT:
            logger.info("webhook.in_flight", extra=extra)
            raise _InFlight
        first = delivery.changes[0].issue_ref if delivery.changes else None  # activity: the connection's
        group = message_group(route.connection_id, first)
        try:
            self.queue.send(
                body, group=group, deduplication=deduplication_id(route.provider, delivery.delivery_id)
            )
        except Exception:
            self._release(key, claim.claimed_at)
            raise
        try:
            self.deliveries.mark_enqueued(*key, claimed_at=claim.claimed_at, now=self.clock())
        except DependencyFailure:
            # Queued all the same; the pending claim lapses after PENDING_WINDOW (see module docstring).
            logger.warning("webhook.mark_failed", extra=extra)
        self.count("WebhookQueued")
        logger.info(
            "webhook.queued", extra={**extra, "event": delivery.event, "changes": len(delivery.changes)}
        )
        return WebhookAnswer.accepted(delivery.delivery_id, "queued")

    def _touch(self, route: WebhookRoute, now: datetime) -> None:
        if not self.routes.due(route.last_delivery_at, now):
            return
        try:
            self.routes.touch(route.connection_id, now)
        except DependencyFailure:
            # Liveness is a convenience; the delivery itself goes on (and fails on its own if AWS is down).
            logger.warning("webhook.touch_failed", extra={"connection_id": route.connection_id})

    def _release(self, key: tuple[str, str, str], claimed_at: datetime) -> None:
        try:
            self.deliveries.release(*key, claimed_at=claimed_at)
        except DependencyFailure:
            logger.warning("webhook.release_failed", extra={"tenant": key[0], "delivery_id": key[2]})


class _InFlight(Exception):
    """Another attempt holds a fresh claim on this delivery."""


__all__ = [
    "DELIVERY_TTL",
    "ENVELOPE_RESERVE_BYTES",
    "EVENT_HEADERS",
    "MAX_BODY_BYTES",
    "MAX_MESSAGE_BYTES",
    "PENDING_WINDOW",
    "UNAUTHORIZED",
    "BadRequest",
    "InboundQueue",
    "SqsInboundQueue",
    "WebhookAnswer",
    "WebhookIngest",
    "WebhookRequest",
    "count_metric",
    "encode_message",
    "forwarded_headers",
    "parsing_adapter",
]
