"""Query parameter types more than one router takes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")


def _iso_8601(value: Any) -> Any:
    # pydantic would also read "1700000000" or "0.5" as a Unix time; the parameters are documented (and
    # meant) as ISO 8601 date-times, so anything else is a 422 rather than a guess.
    if isinstance(value, str) and not _DATE_TIME.match(value):
        raise ValueError("give an ISO 8601 date-time with a time zone, e.g. 2026-03-04T16:40:22Z")
    return value


# An ISO 8601 date-time with a time zone, and nothing pydantic would otherwise read as one.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]

__all__ = ["Timestamp"]
