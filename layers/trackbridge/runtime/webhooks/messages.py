"""The inbound queue's message: one verified, first-seen webhook delivery, as the webhook Lambda enqueues it
and the apply Lambda reads it back.

The webhook Lambda verifies the signature on the raw bytes and parses the body only to learn which issue it
touches (the FIFO message group); it makes no tracker call. The apply Lambda parses the body again with the
connection's adapter (:meth:`~trackbridge.providers.base.TrackerAdapter.parse_webhook`), so the message
carries the raw body and the headers ``parse_webhook`` reads, not a second, derived representation.

Message group: connection + issue, so the changes to one issue apply in the order they were received while
other issues run in parallel; a delivery that names no issue groups by connection. Deduplication id: a
digest of provider and delivery id (SQS's five-minute window is a second line behind the delivery record).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.times import UtcDatetime

# SQS caps a message group id and a deduplication id at 128 characters.
_MAX_SQS_ID = 128


class InboundDelivery(BaseModel):
    """One delivery on the inbound queue (its JSON is the SQS message body)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    tenant: str
    connection_id: str
    provider: str
    delivery_id: str
    received_at: UtcDatetime
    # Lower-cased header names: the ones the provider's parse_webhook reads (event name, delivery ids).
    headers: dict[str, str] = Field(default_factory=dict)
    # The raw body, decoded as UTF-8 (every tracker sends JSON); the apply Lambda encodes it back.
    body: str

    @classmethod
    def of(
        cls,
        *,
        tenant: str,
        connection_id: str,
        provider: str,
        delivery_id: str,
        received_at: datetime,
        headers: Mapping[str, str],
        raw_body: bytes,
    ) -> InboundDelivery:
        """Raises ``UnicodeDecodeError`` for a body that is not UTF-8 (the caller answers 400)."""
        return cls(
            tenant=tenant,
            connection_id=connection_id,
            provider=provider,
            delivery_id=delivery_id,
            received_at=received_at,
            headers={name.lower(): value for name, value in headers.items()},
            body=raw_body.decode("utf-8"),
        )

    @property
    def raw_body(self) -> bytes:
        return self.body.encode("utf-8")


def _sqs_id(text: str) -> str:
    return text if len(text) <= _MAX_SQS_ID else hashlib.sha256(text.encode("utf-8")).hexdigest()


def message_group(connection_id: str, issue_ref: str | None) -> str:
    """The FIFO message group of a delivery touching ``issue_ref`` (None: the connection's own group)."""
    return _sqs_id(f"{connection_id}:{issue_ref}" if issue_ref else connection_id)


def deduplication_id(provider: str, delivery_id: str) -> str:
    return hashlib.sha256(f"{provider}:{delivery_id}".encode()).hexdigest()


__all__ = ["InboundDelivery", "deduplication_id", "message_group"]
