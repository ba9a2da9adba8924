"""Small helpers the adapters share: timestamps in query strings, numeric issue keys, URL segments, and the
parts of GitHub's and GitLab's issue JSON that have the same shape."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from trackbridge.domain.errors import InvalidInput

_NUMBER_KEY = re.compile(r"^#?(\d{1,18})$")


def iso_seconds(moment: datetime) -> str:
    """``2026-01-02T03:04:05Z``: second precision, truncated (never later than ``moment``), so an
    inclusive ``since`` filter can only return more, never less."""
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must carry a time zone", details={"since": moment.isoformat()})
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_number(key: str | int, *, provider: str) -> int:
    """``#12``, ``12`` or 12 -> 12; anything else is bad input (400), not a tracker call."""
    match = _NUMBER_KEY.fullmatch(str(key).strip())
    if not match:
        raise InvalidInput(
            f"{provider} issue keys are numbers such as #12",
            details={"key": str(key)[:100], "provider": provider},
        )
    return int(match.group(1))


def segment(value: str | int) -> str:
    """One URL path segment: ``group/project`` becomes ``group%2Fproject`` as GitLab requires."""
    return quote(str(value), safe="")


def label_names(raw_labels: Iterable[Any]) -> list[str]:
    """Label names from plain strings or label objects (GitHub always, GitLab ``with_labels_details``)."""
    return [str(x["name"]) if isinstance(x, Mapping) else str(x) for x in raw_labels]


def assignee_objects(raw: Mapping[str, Any]) -> list[Any]:
    """The ``assignees`` list, else the single legacy ``assignee`` (GitHub and GitLab send both)."""
    return raw.get("assignees") or ([raw["assignee"]] if raw.get("assignee") else [])


def trailing_number(url: str) -> int | None:
    """The number at the end of an API URL (``.../issues/12`` -> 12)."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


__all__ = ["assignee_objects", "iso_seconds", "issue_number", "label_names", "segment", "trailing_number"]
