"""The channel port and its adapters: e-mail through the SNS alerts topic, Slack incoming webhooks, and a
generic webhook signed the Standard Webhooks way.

A :class:`Channel` sends one :class:`~trackbridge.domain.alerts.AlertMessage` or raises
:class:`ChannelFailure`, which says what went wrong as a canonical error code (``RATE_LIMITED``,
``NOT_FOUND``...), whether trying again can help (``permanent``) and how long the receiver asked to wait.
The dispatcher decides what to do with that; adapters only translate. Another kind of channel is one more
class with a ``kind`` and a ``send``.

HTTP channels post through the outbound policy's client (``providers.egress``: a URL pointing at a private
address is refused before any packet leaves, redirects are not followed) with short timeouts. Their URLs are
credentials: no message, log line or failure here ever contains one.

The generic webhook's body is JSON (``domain.alerts.webhook_payload``), signed over its raw bytes with
HMAC-SHA256 as Standard Webhooks (www.standardwebhooks.com) specifies, so any of its libraries verifies it::

    webhook-id: <delivery id>            the same for every retry of one delivery: deduplicate on it
    webhook-timestamp: <unix seconds>    refuse deliveries older than a few minutes (replays)
    webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>

where ``key`` is the base64-decoded part of a ``whsec_...`` secret, or the secret's UTF-8 bytes otherwise.
``trackbridge.providers.signatures.StandardWebhooks().verify(body, headers, [secret])`` is a verifier.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.domain.alerts import AlertMessage, clip, slack_payload, webhook_payload
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.errors import EgressDeniedError
from trackbridge.providers.signatures import StandardWebhooks

SNS_SUBJECT_MAX = 100
# How much of a refusal's body a failure quotes (Slack's is one word: channel_not_found).
_BODY_QUOTED = 80


class ChannelFailure(Exception):
    """A send that did not arrive: ``code`` (an ``ErrorCode``), ``detail`` (what the receiver said, never
    a URL), ``permanent`` (retrying the same message cannot help) and ``retry_after_s`` (the receiver's)."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        permanent: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = str(code)
        self.detail = clip(detail, 300)
        self.permanent = permanent
        self.retry_after_s = retry_after_s


class Channel(Protocol):
    kind: ClassVar[str]

    def send(self, message: AlertMessage, *, delivery_id: str) -> None:
        """Deliver ``message`` once; ``delivery_id`` is the same on every retry. Raises ChannelFailure."""
        ...


# ---- e-mail: the SNS alerts topic -------------------------------------------------------------------


def _sns_subject(subject: str) -> str:
    # SNS subjects: ASCII, no line breaks, at most 100 characters.
    text = clip(subject, SNS_SUBJECT_MAX).encode("ascii", "replace").decode("ascii")
    return text[:SNS_SUBJECT_MAX] or "trackbridge alert"


def _attributes(message: AlertMessage) -> dict[str, dict[str, str]]:
    """SNS message attributes, for subscription filter policies (a tenant's own e-mail list, a code)."""
    values = {
        "tenant": message.tenant,
        "alert": message.kind,
        "error_code": message.code,
        "connection_id": message.connection_id,
        "provider": message.provider,
    }
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items() if v}


class EmailChannel:
    """Publishes to the deployment's SNS alerts topic, whose e-mail subscriptions an operator manages."""

    kind: ClassVar[str] = "email"

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def send(self, message: AlertMessage, *, delivery_id: str) -> None:
        if not self.topic_arn:
            raise ChannelFailure(
                ErrorCode.DEPENDENCY_FAILURE,
                "no alerts topic is configured (TB_ALERTS_TOPIC_ARN)",
                permanent=True,
            )
        try:
            self.sns.publish(
                TopicArn=self.topic_arn,
                Subject=_sns_subject(message.subject),
                Message=message.text,
                MessageAttributes=_attributes(message),
            )
        except ClientError as exc:
            aws_code = str(exc.response.get("Error", {}).get("Code", ""))
            throttled = aws_code in ("Throttling", "ThrottlingException", "ThrottledException")
            code = ErrorCode.RATE_LIMITED if throttled else ErrorCode.DEPENDENCY_FAILURE
            permanent = aws_code in (
                "NotFound",
                "NotFoundException",
                "AuthorizationError",
                "InvalidParameter",
            )
            raise ChannelFailure(code, f"SNS answered {aws_code}", permanent=permanent) from None
        except BotoCoreError as exc:
            raise ChannelFailure(ErrorCode.DEPENDENCY_FAILURE, f"SNS: {type(exc).__name__}") from None


# ---- HTTP channels ----------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _quoted(response: httpx.Response) -> str:
    try:
        return response.text[:_BODY_QUOTED]
    except (UnicodeDecodeError, httpx.HTTPError):
        return ""


class HttpChannel(ABC):
    """One POST of a JSON body to a URL through the outbound policy's client; subclasses say what to send
    (:meth:`body`, :meth:`headers`) and what a refusal means (:meth:`refusal`)."""

    kind: ClassVar[str]

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http = http
        self._url = url  # a credential: never in a message or a log line

    @abstractmethod
    def body(self, message: AlertMessage, delivery_id: str) -> dict[str, Any]:
        """The JSON payload this receiver expects."""

    def headers(self, raw: bytes, delivery_id: str) -> dict[str, str]:
        return {}

    def refusal(self, response: httpx.Response) -> ChannelFailure:
        """The failure a non-2xx answer stands for: the receiver's throttling and 5xx are worth a retry,
        a redirect or another refusal is not (a person must fix the channel)."""
        status, said = response.status_code, _quoted(response)
        detail = f"{self.kind} answered {status} {said}".strip()
        if status == 429:
            return ChannelFailure(ErrorCode.RATE_LIMITED, detail, retry_after_s=_retry_after(response))
        if status >= 500 or status in (408, 425):
            return ChannelFailure(
                ErrorCode.PROVIDER_UNAVAILABLE, detail, retry_after_s=_retry_after(response)
            )
        if 300 <= status < 400:
            return ChannelFailure(
                ErrorCode.TRACKER_MOVED, f"{self.kind} answered a redirect, not followed", permanent=True
            )
        if status in (401, 403):
            return ChannelFailure(ErrorCode.PERMISSION_DENIED, detail, permanent=True)
        if status in (404, 410):
            return ChannelFailure(ErrorCode.NOT_FOUND, detail, permanent=True)
        return ChannelFailure(ErrorCode.INVALID_REQUEST, detail, permanent=True)

    def send(self, message: AlertMessage, *, delivery_id: str) -> None:
        raw = json.dumps(self.body(message, delivery_id), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "trackbridge-alerts"}
        headers.update(self.headers(raw, delivery_id))
        try:
            response = self.http.post(self._url, content=raw, headers=headers)
        except EgressDeniedError as exc:
            raise ChannelFailure(ErrorCode.EGRESS_DENIED, exc.message, permanent=True) from None
        except httpx.InvalidURL:
            raise ChannelFailure(
                ErrorCode.INVALID_REQUEST, f"{self.kind}: the URL is not valid", permanent=True
            ) from None
        except httpx.TimeoutException:
            raise ChannelFailure(ErrorCode.TIMEOUT, f"{self.kind} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ChannelFailure(ErrorCode.NETWORK_GLITCH, f"{self.kind}: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise self.refusal(response)


class SlackChannel(HttpChannel):
    """A Slack incoming webhook: ``text`` plus Block Kit blocks. Slack answers ``200 ok``; ``400
    invalid_payload``, ``403`` (action_prohibited, invalid_token), ``404 channel_not_found`` (or
    no_service) and ``410 channel_is_archived`` need a person; ``429`` carries Retry-After."""

    kind: ClassVar[str] = "slack"

    def body(self, message: AlertMessage, delivery_id: str) -> dict[str, Any]:
        return slack_payload(message)


class WebhookChannel(HttpChannel):
    """A generic receiver: the JSON body signed as the module doc describes."""

    kind: ClassVar[str] = "webhook"
    scheme: ClassVar[StandardWebhooks] = StandardWebhooks()

    def __init__(self, http: httpx.Client, url: str, secret: str) -> None:
        super().__init__(http, url)
        self._secret = secret

    def body(self, message: AlertMessage, delivery_id: str) -> dict[str, Any]:
        return webhook_payload(message, delivery_id=delivery_id)

    def headers(self, raw: bytes, delivery_id: str) -> dict[str, str]:
        try:
            return self.scheme.sign(raw, self._secret, msg_id=delivery_id)
        except ValueError:
            raise ChannelFailure(
                ErrorCode.INVALID_REQUEST,
                "the signing secret is not usable (whsec_ must be base64)",
                permanent=True,
            ) from None


__all__ = [
    "Channel",
    "ChannelFailure",
    "EmailChannel",
    "HttpChannel",
    "SlackChannel",
    "WebhookChannel",
]
