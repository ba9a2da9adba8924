"""Rate-limit headers, read the way each tracker writes them.

Every tracker spells the same idea differently, and the differences bite (shared/research/tracker-apis.md,
sections 1.6, 2.5, 3.5 and 8.3):

- GitHub: ``x-ratelimit-*`` on every response, ``x-ratelimit-reset`` in **epoch seconds**, exhaustion as
  403 *or* 429, secondary limits identified only by the body text plus an optional ``retry-after``.
- GitLab: ``RateLimit-*`` on every response, ``RateLimit-Reset`` an **absolute epoch** (not the IETF delta),
  ``RateLimit-ResetTime`` an HTTP date and ``Retry-After`` on 429 only.
- Jira Cloud: ``X-RateLimit-Reset`` an **ISO-8601 timestamp** (429 only), ``RateLimit-Reason`` naming which
  of three limits fired (``jira-quota-*`` is an hourly points quota, the others are bursts), ``Retry-After``.
  Since the points-based limits (March 2026) also the structured ``Beta-RateLimit-Policy``
  (``"global-app-quota";q=65000;w=3600``) and ``Beta-RateLimit`` (``"global-app-quota";r=11000;t=600``, ``r``
  only near the limit) in the IETF draft form, and the legacy ``X-Beta-RateLimit-Reason``,
  ``X-Beta-RateLimit-NearLimit`` and ``X-Beta-RateLimit-Reset`` (research/tracker-api-changes-2026.md).

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
from typing import Final, Literal, Protocol

import httpx

# What a throttle covers, which says what must wait: the whole account's points quota ("tenant": every
# request of the connection until the reset), one endpoint's burst bucket ("endpoint"), or the writes to
# one issue ("issue").
RateLimitScope = Literal["tenant", "endpoint", "issue"]
JIRA_REASON_SCOPES: Final[dict[str, RateLimitScope]] = {
    "jira-quota-global-based": "tenant",
    "jira-quota-tenant-based": "tenant",
    "jira-burst-based": "endpoint",
    "jira-per-issue-on-write": "issue",
}
# Jira's NearLimit threshold: less than 20% of the capacity left.
NEAR_LIMIT_SHARE: Final = 0.2
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
    scope: RateLimitScope | None = None  # what a throttle covers, when the tracker says (Jira's reason)
    window_s: int | None = None  # the quota's window (Beta-RateLimit-Policy ``w``)

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


def parse_structured_limits(value: str | None) -> dict[str, dict[str, int]]:
    """An IETF-draft ``RateLimit`` / ``RateLimit-Policy`` field: comma-separated items, each a quoted (or
    bare) policy name and ``;key=integer`` parameters -> ``{name: {key: value}}``. Items and parameters
    that do not parse are skipped: field reports show inconsistent values, and order is not fixed."""
    policies: dict[str, dict[str, int]] = {}
    for item in (value or "").split(","):
        name, *params = (part.strip() for part in item.split(";"))
        name = name.strip('"')
        if not name:
            continue
        parsed: dict[str, int] = {}
        for param in params:
            key, _, number = param.partition("=")
            amount = _int(number)
            if key.strip() and amount is not None:
                parsed[key.strip().lower()] = amount
        policies[name] = parsed
    return policies


def _header(headers: httpx.Headers, *names: str) -> str | None:
    """The first of ``names`` present: the enforced form first, then its ``Beta-`` / ``X-Beta-`` twin."""
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value
    return None


class JiraRateLimits:
    """``X-RateLimit-Limit/Remaining/Reset/NearLimit``, ``RateLimit-Reason``, ``Retry-After``, and the
    points-based headers: ``(Beta-)RateLimit-Policy``, ``(Beta-)RateLimit``, ``X-Beta-RateLimit-Reason``,
    ``X-Beta-RateLimit-NearLimit``, ``X-Beta-RateLimit-Reset`` (the ``Beta-`` form is dropped once a limit is
    enforced, so both may come; the enforced one wins).

    ``RateLimit-Reason`` values ``jira-quota-global-based`` and ``jira-quota-tenant-based`` are the hourly
    points quota (resets at the top of the UTC hour): everything waits (``scope`` ``tenant``);
    ``jira-burst-based`` is one endpoint's bucket (``endpoint``) and ``jira-per-issue-on-write`` one issue's
    writes (``issue``). Unknown reasons (field reports mention ``jira-cost-based``) are treated as bursts.
    Near the limit is Jira's flag, or a structured standing with ``r`` under 20% of the policy's ``q``;
    the structured ``t`` (seconds to the reset) stands in for a missing ``X-RateLimit-Reset``.
    """

    def read(self, headers: httpx.Headers, now: datetime) -> RateLimitInfo:
        reason = _header(headers, "ratelimit-reason", "x-beta-ratelimit-reason")
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        if retry_after is None:
            retry_after = parse_retry_after(headers.get("beta-retry-after"), now)
        policy = _first_policy(_header(headers, "ratelimit-policy", "beta-ratelimit-policy"))
        standing = _first_policy(_header(headers, "ratelimit", "beta-ratelimit"))
        limit = _int(headers.get("x-ratelimit-limit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        quota_limit, quota_left = policy.get("q"), standing.get("r")
        near = (_header(headers, "x-ratelimit-nearlimit", "x-beta-ratelimit-nearlimit") or "").strip()
        near_limit = near.lower() == "true" or (
            quota_limit is not None and quota_left is not None and quota_left < quota_limit * NEAR_LIMIT_SHARE
        )
        reset_at = parse_iso_reset(_header(headers, "x-ratelimit-reset", "x-beta-ratelimit-reset"))
        if reset_at is None and standing.get("t") is not None:
            reset_at = now + timedelta(seconds=max(0, standing["t"]))
        reason_key = (reason or "").strip().lower()
        return RateLimitInfo(
            limit=limit if limit is not None else quota_limit,
            remaining=remaining if remaining is not None else quota_left,
            reset_at=reset_at,
            retry_after_s=retry_after,
            reason=reason,
            near_limit=near_limit,
            quota=reason_key.startswith("jira-quota"),
            scope=JIRA_REASON_SCOPES.get(reason_key, "endpoint" if reason_key else None),
            window_s=policy.get("w"),
        )


def _first_policy(value: str | None) -> dict[str, int]:
    """The parameters of the field's quota policy (the one with a window or remaining count), else of its
    first item; empty when there is none."""
    policies = parse_structured_limits(value)
    for params in policies.values():
        if "w" in params or "r" in params:
            return params
    return next(iter(policies.values()), {})


__all__ = [
    "JIRA_REASON_SCOPES",
    "NEAR_LIMIT_SHARE",
    "GitHubRateLimits",
    "GitLabRateLimits",
    "JiraRateLimits",
    "NoRateLimitHeaders",
    "RateLimitInfo",
    "RateLimitReader",
    "RateLimitScope",
    "parse_epoch_reset",
    "parse_http_date",
    "parse_iso_reset",
    "parse_retry_after",
    "parse_structured_limits",
]
