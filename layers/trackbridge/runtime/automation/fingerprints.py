"""The fingerprint claim's state machine (DESIGN section 10), as decisions returned by value.

::

    (none) --claim (condition: absent)--> claimed(owner, claimed_at) --issue created--> created(issue_ref)
    claimed, fresh, other owner            -> Busy: the job goes back to the queue (visibility timeout)
    claimed, stale (owner crashed)         -> Recover: search the tracker for the claim's marker;
                                              found -> created with it; not found -> take over and create
    created, repeat                        -> RepeatDecision (comment / count / reopen / new generation)

The caller does the side effects and writes each next state with a condition on ``version``; losing a
condition means another worker moved the claim first, and the caller decides again on what it found.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from trackbridge.domain.automation import FingerprintClaim

DEFAULT_STALE_AFTER = timedelta(seconds=300)  # > the auto-issue function's 60 s timeout, < visibility 360 s

ExistingDecision = Literal["busy", "recover", "created"]
RepeatAction = Literal["comment", "count", "reopen", "new_issue", "keep_closed"]


def fingerprint_of(rule: str, rendered_key: str) -> str:
    """The fingerprint of a rendered dedup key: a hash, so any key fits a DynamoDB sort key."""
    return hashlib.sha256(f"{rule}\n{rendered_key}".encode()).hexdigest()[:32]


def on_existing(claim: FingerprintClaim, now: datetime, *, stale_after: timedelta) -> ExistingDecision:
    if claim.state == "created":
        return "created"
    if now - claim.claimed_at >= stale_after:
        return "recover"
    return "busy"


def comment_due(claim: FingerprintClaim, now: datetime, *, window: timedelta) -> bool:
    """At most one repeat comment per window (the issue's creation opens the first window)."""
    last = claim.last_comment_at or claim.claimed_at
    return now - last >= window


@dataclass(frozen=True, slots=True)
class TrackerView:
    """What the tracker says of the issue when a repeat needs it."""

    closed: bool
    wont_fix: bool
    closed_at: datetime | None


def on_repeat(
    claim: FingerprintClaim,
    view: TrackerView | None,
    now: datetime,
    *,
    window: timedelta,
    reopen_window: timedelta,
    on_repeat_setting: str,
) -> RepeatAction:
    """What a repeat of a created fingerprint does. ``view`` is None when the tracker was not asked (no
    comment due and trackbridge did not close the issue): then the repeat is only counted."""
    if view is None:
        return "count"
    if not view.closed:
        if on_repeat_setting == "comment" and comment_due(claim, now, window=window):
            return "comment"
        return "count"
    if view.wont_fix:
        return "keep_closed"
    closed_at = claim.closed_at or view.closed_at or now
    if now - closed_at <= reopen_window:
        return "reopen"
    return "new_issue"


def needs_tracker_view(claim: FingerprintClaim, now: datetime, *, window: timedelta) -> bool:
    """Ask the tracker only when the answer can change what happens: a comment is due, or the issue was
    closed (by trackbridge, or seen closed). Bounded requests in a storm: about one per window."""
    return claim.closed_at is not None or comment_due(claim, now, window=window)


__all__ = [
    "DEFAULT_STALE_AFTER",
    "ExistingDecision",
    "RepeatAction",
    "TrackerView",
    "comment_due",
    "fingerprint_of",
    "needs_tracker_view",
    "on_existing",
    "on_repeat",
]
