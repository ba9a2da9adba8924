"""Reading a webhook delivery: what every tracker's ``parse_webhook`` shares.

The webhook Lambda verifies a delivery (:meth:`TrackerAdapter.verify_webhook`, on the raw bytes) and only
then parses it (:meth:`TrackerAdapter.parse_webhook`). Parsing is where a body that passed its signature can
still be wrong: not JSON, not an object, or an object without what its event type promises. Every such case
raises :class:`WebhookPayloadError` (HTTP 400), never a ``KeyError``: the tracker, not trackbridge, sent a
bad request, and nothing in it is retried. An event type trackbridge does not sync is not an error: it
parses to an ``ignored`` :class:`~trackbridge.providers.types.WebhookDelivery`.

The vocabulary of a parsed delivery (:class:`~trackbridge.providers.types.WebhookDelivery` and its parts)
lives in :mod:`~trackbridge.providers.types` and is re-exported here, so a parser imports one module.
Helpers here: case-insensitive header lookup, the delivery id (from the tracker's header, or the body's
digest), loading the body, timestamps in the forms trackers put in payloads, and :func:`payload_errors`,
which turns any shape error raised while reading a payload into :class:`WebhookPayloadError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.errors import MalformedResponseError, TrackerError
from trackbridge.providers.types import (
    DeliveryKind,
    WebhookAction,
    WebhookChange,
    WebhookDelivery,
    WebhookEntity,
)

WEBHOOK_PAYLOAD_GUIDANCE = (
    "The webhook body is not what the tracker documents for its event type: check the hook's content "
    "type (JSON) and the events it sends; the delivery was not applied."
)


class WebhookPayloadError(TrackerError):
    """A verified delivery whose body is not JSON (``INVALID_JSON``), or not the documented shape for its
    event type (``INVALID_INPUT``). Both codes answer 400: the request is bad, and sending the same bytes
    again cannot help, so it is never retried. (Not an ``InvalidRequestError``: that one is the tracker
    refusing trackbridge's request; here the tracker's request is refused.)
    """

    def __init__(self, message: str, *, provider: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", ErrorCode.INVALID_INPUT)
        kwargs.setdefault("guidance", WEBHOOK_PAYLOAD_GUIDANCE)
        kwargs.setdefault("retryable", False)
        super().__init__(message, provider=provider, **kwargs)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of ``name`` in ``headers``, whatever its case (API Gateway lowercases, tests may not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            text = str(value).strip()
            return text or None
    return None


def body_digest(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


def delivery_id(
    headers: Mapping[str, str], raw_body: bytes, names: tuple[str, ...], shared: tuple[str, ...] = ()
) -> str:
    """The first of the tracker's delivery-id headers present (``names``); else the first of ``shared``,
    ids several deliveries may carry, with the body's digest; else ``sha256:<digest of the body>``: an
    identical replay of a delivery without an id still deduplicates."""
    for name in names:
        value = header(headers, name)
        if value:
            return value[:200]
    for name in shared:
        value = header(headers, name)
        if value:
            return f"{value[:100]}:{body_digest(raw_body)}"
    return f"sha256:{body_digest(raw_body)}"


def load_object(raw_body: bytes, *, provider: str) -> dict[str, Any]:
    """The body as a JSON object; anything else is :class:`WebhookPayloadError`."""
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(
            f"the webhook body is not JSON: {type(exc).__name__}",
            provider=provider,
            code=ErrorCode.INVALID_JSON,
        ) from exc
    if not isinstance(payload, dict):
        raise WebhookPayloadError(
            f"the webhook body is a JSON {type(payload).__name__}, not an object", provider=provider
        )
    return payload


def obj(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``payload[key]``, which must be an object (``KeyError``/``TypeError`` become a payload error)."""
    value = payload[key]
    if not isinstance(value, Mapping):
        raise TypeError(f"{key!r} is a {type(value).__name__}, not an object")
    return value


def parse_time(value: Any) -> datetime:
    """ISO 8601 (``2019-05-15T15:20:18Z``) or GitLab's older hook form (``2016-08-18 17:47:36 UTC``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + "+00:00"
    elif text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"a timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)


def epoch_millis(value: Any) -> datetime | None:
    """Jira's ``timestamp`` (epoch milliseconds), or None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


@contextmanager
def payload_errors(provider: str, event: str) -> Iterator[None]:
    """Inside, a missing or mistyped field (or a normalizer's ``MALFORMED_RESPONSE``) is a payload error
    naming the event: a webhook body is the caller's request, not a tracker's answer."""
    try:
        yield
    except WebhookPayloadError:
        raise
    except MalformedResponseError as exc:
        raise WebhookPayloadError(f"{event}: {exc.message}", provider=provider) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WebhookPayloadError(
            f"{event}: unexpected payload shape: {type(exc).__name__}: {exc}", provider=provider
        ) from exc


__all__ = [
    "DeliveryKind",
    "WebhookAction",
    "WebhookChange",
    "WebhookDelivery",
    "WebhookEntity",
    "WebhookPayloadError",
    "body_digest",
    "delivery_id",
    "epoch_millis",
    "header",
    "load_object",
    "obj",
    "parse_time",
    "payload_errors",
]
