"""Rate-limit headers, read the way each tracker writes them.

Every tracker spells the same idea differently, and the differences bite (shared/research/tracker-apis.md,
sections 1.6, 2.5, 3.5 and 8.3):

- GitHub: ``x-ratelimit-*`` on every response, ``x-ratelimit-reset`` in **epoch seconds**, exhaustion as
  403 *or* 429, secondary limits identified only by the body text plus an optional ``retry-after``.
- GitLab: ``RateLimit-*`` on every response, ``RateLimit-Reset`` an **absolute epoch** (not the IETF delta),
  ``RateLimit-ResetTime`` an HTTP date and ``Retry-After`` on 429 only.
- Jira Cloud: ``X-RateLimit-Reset`` an **ISO-8601 timestamp** (429 only), ``RateLimit-Reason`` naming which
  of three limits fired (``jira-quota-*`` is an hourly points quota, the others are bursts), ``Retry-After``.

A reader is a one-method object (:meth:`RateLimitReader.read`) declared on each adapter class; the base
class feeds it every response so the adapter always knows its remaining budget (``last_rate_limit``) and
can say how long to wait when throttled. Readers tolerate junk: a header they cannot parse is ignored,
never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

# Below this a "reset" value cannot be an epoch timestamp (it would be 1970-01-12): read it as a delta.
_EPOCH_FLOOR = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """One response's view of the caller's budget. Every field is optional: trackers omit what they like."""

    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset_at: datetime | None = None
    retry_after_s: float | None = None
    resource: str | None = None  # GitHub x-ratelimit-resource, GitLab RateLimit-Name
    reason: str | None = None  # Jira RateLimit-Reason
    near_limit: bool = False
    quota: bool = False  # an hourly/points budget rather than a short burst window

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def wait_s(self, now: datetime) -> float | None:
        """Seconds to wait before the next call: ``Retry-After`` first (it is the server's own word), else
        the time until the reset, else ``None`` (the tracker gave no hint)."""
        if self.retry_after_s is not None:
            return max(0.0, self.retry_after_s)
        if self.reset_at is not None:
            return max(0.0, (self.reset_at - now).total_seconds())
        return None

    def resume_at(self, now: datetime) -> datetime | None:
        wait = self.wait_s(now)
        return None if wait is None else now + timedelta(seconds=wait)


class RateLimitReader(Protocol):
    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo: ...


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if value is None or not value.strip():
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_epoch_reset(value: str | None, now: datetime) -> datetime | None:
    """An epoch-seconds reset; a value too small to be an epoch is read as a delta (defensive)."""
    number = _float(value)
    if number is None or number < 0:
        return None
    if number < _EPOCH_FLOOR:
        return now + timedelta(seconds=number)
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_iso_reset(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_http_date(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class NoRateLimitHeaders:
    """For trackers that publish no rate-limit headers (Redmine, YouTrack): only ``Retry-After`` counts."""

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        return RateLimitInfo(retry_after_s=parse_retry_after(headers.get("retry-after"), now))


class GitHubRateLimits:
    """``x-ratelimit-limit/remaining/used/reset/resource`` and ``retry-after`` (secondary limits).

    The primary limit is an hourly budget, so running it dry is reported as a quota.
    """

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        remaining = _int(headers.get("x-ratelimit-remaining"))
        return RateLimitInfo(
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=remaining,
            used=_int(headers.get("x-ratelimit-used")),
            reset_at=parse_epoch_reset(headers.get("x-ratelimit-reset"), now),
            retry_after_s=parse_retry_after(headers.get("retry-after"), now),
            resource=headers.get("x-ratelimit-resource"),
            quota=remaining is not None and remaining <= 0,
        )


class GitLabRateLimits:
    """``RateLimit-Limit/Name/Observed/Remaining/Reset`` (+ ``RateLimit-ResetTime``, ``Retry-After`` on 429).

    GitLab's limits are per-minute Rack::Attack throttles: a burst, never a quota.
    """

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        reset_at = parse_epoch_reset(headers.get("ratelimit-reset"), now) or parse_http_date(
            headers.get("ratelimit-resettime")
        )
        return RateLimitInfo(
            limit=_int(headers.get("ratelimit-limit")),
            remaining=_int(headers.get("ratelimit-remaining")),
            used=_int(headers.get("ratelimit-observed")),
            reset_at=reset_at,
            retry_after_s=parse_retry_after(headers.get("retry-after"), now),
            resource=headers.get("ratelimit-name"),
        )


class JiraRateLimits:
    """``X-RateLimit-Limit/Remaining/Reset/NearLimit``, ``RateLimit-Reason`` and ``Retry-After``.

    ``RateLimit-Reason`` values ``jira-quota-global-based`` and ``jira-quota-tenant-based`` are the hourly
    points quota (resets at the top of the UTC hour); ``jira-burst-based`` and ``jira-per-issue-on-write``
    are short windows. Unknown reasons (field reports mention ``jira-cost-based``) are treated as bursts.
    """

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        reason = headers.get("ratelimit-reason")
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        if retry_after is None:
            retry_after = parse_retry_after(headers.get("beta-retry-after"), now)
        return RateLimitInfo(
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=_int(headers.get("x-ratelimit-remaining")),
            reset_at=parse_iso_reset(headers.get("x-ratelimit-reset")),
            retry_after_s=retry_after,
            reason=reason,
            near_limit=(headers.get("x-ratelimit-nearlimit") or "").strip().lower() == "true",
            quota=bool(reason and reason.strip().lower().startswith("jira-quota")),
        )


__all__ = [
    "GitHubRateLimits",
    "GitLabRateLimits",
    "JiraRateLimits",
    "NoRateLimitHeaders",
    "RateLimitInfo",
    "RateLimitReader",
    "parse_epoch_reset",
    "parse_http_date",
    "parse_iso_reset",
    "parse_retry_after",
]
