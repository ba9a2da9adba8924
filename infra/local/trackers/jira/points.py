"""Jira Cloud's points-based rate-limit headers, as the sandbox serves them on every answer.

Since March 2026 Jira sends, beside ``X-RateLimit-*`` and ``RateLimit-Reason``, the structured headers of the
IETF draft and their legacy twins (research/tracker-apis.md 1.6, tracker-api-changes-2026.md):

- ``Beta-RateLimit-Policy: "global-app-quota";q=<points>;w=<window s>`` on every answer;
- near the limit (under 20% left), ``Beta-RateLimit: "global-app-quota";r=<left>;t=<s to reset>`` and
  ``X-Beta-RateLimit-NearLimit: true`` (``r`` only appears near the limit);
- on a 429, ``X-Beta-RateLimit-Reason`` and ``X-Beta-RateLimit-Reset`` mirroring ``RateLimit-Reason`` and
  ``X-RateLimit-Reset``.

The sandbox's hourly request window stands in for the points quota (one request, one point), so a client can
be driven near the limit with ``POST /_sandbox/reset {"rate_limit": n}``. Pure functions of the caller's
standing and the answer's own headers; the Jira sandbox adds them in ``response_headers``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from ..core import RateBucket

QUOTA_POLICY = "global-app-quota"
NEAR_LIMIT_SHARE = 0.2


def near_limit(bucket: RateBucket) -> bool:
    return bucket.remaining < bucket.limit * NEAR_LIMIT_SHARE


def points_headers(
    bucket: RateBucket | None, answer_headers: Mapping[str, str], *, window_s: int
) -> dict[str, str]:
    """The points-based headers for an answer to a caller standing at ``bucket`` (None: unidentified)."""
    headers: dict[str, str] = {}
    if bucket is not None:
        headers["Beta-RateLimit-Policy"] = f'"{QUOTA_POLICY}";q={bucket.limit};w={window_s}'
        if near_limit(bucket):
            to_reset = max(0, int(bucket.reset - time.time() + 0.999))
            headers["Beta-RateLimit"] = f'"{QUOTA_POLICY}";r={bucket.remaining};t={to_reset}'
            headers["X-Beta-RateLimit-NearLimit"] = "true"
    reason = answer_headers.get("RateLimit-Reason")
    if reason is not None:
        headers["X-Beta-RateLimit-Reason"] = reason
        reset = answer_headers.get("X-RateLimit-Reset")
        if reset is not None:
            headers["X-Beta-RateLimit-Reset"] = reset
    return headers


__all__ = ["NEAR_LIMIT_SHARE", "QUOTA_POLICY", "near_limit", "points_headers"]
