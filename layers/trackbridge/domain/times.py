"""Timestamps: always timezone-aware UTC, and one fixed-width text form for keys and conditions.

DynamoDB compares strings byte by byte. Conditions such as ``updated_at < :incoming`` and sort keys such as
``{updated_at}#{ref}`` are only chronological if every stored timestamp has the same width and zone, so
storage writes :func:`to_iso` (microseconds always present, ``Z`` suffix) and never ``datetime.isoformat``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment.astimezone(UTC)


def to_iso(moment: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, e.g. ``2026-01-02T03:04:05.000006Z``: sorts as it orders in time."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


# A pydantic field type: accepts any aware datetime (or ISO text with an offset) and stores it in UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(as_utc)]

__all__ = ["UtcDatetime", "as_utc", "from_iso", "to_iso", "utcnow"]
