"""Item <-> model conversions that several repositories share.

Timestamps are stored as fixed-width UTC text (``domain.times.to_iso``, so string order is time order); an
optional one is stored as ``None`` and an empty or missing attribute reads back as ``None``.
"""

from __future__ import annotations

from datetime import datetime

from trackbridge.domain.times import from_iso, to_iso


def iso_or_none(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None


def datetime_or_none(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


__all__ = ["datetime_or_none", "iso_or_none"]
