"""The claim state machine's decisions (DESIGN section 10), as values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.automation import FingerprintClaim
from trackbridge.runtime.automation.fingerprints import (
    TrackerView,
    fingerprint_of,
    needs_tracker_view,
    on_existing,
    on_repeat,
)

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=300)
WINDOW = timedelta(hours=1)
REOPEN = timedelta(days=7)


def claim(**changes: object) -> FingerprintClaim:
    fields: dict[str, object] = {
        "rule": "cpu",
        "fingerprint": "f" * 32,
        "connection_id": "conn_x",
        "state": "created",
        "owner": "w-1",
        "claimed_at": T0,
        "issue_ref": "conn_x.1",
        "issue_key": "#1",
    }
    fields.update(changes)
    return FingerprintClaim.model_validate(fields)


def test_fingerprints_are_stable_and_separate_rules() -> None:
    assert fingerprint_of("cpu", "host-1") == fingerprint_of("cpu", "host-1")
    assert fingerprint_of("cpu", "host-1") != fingerprint_of("mem", "host-1")
    assert len(fingerprint_of("cpu", "x" * 5000)) == 32


def test_markers_change_with_the_generation_only() -> None:
    first = claim()
    assert first.marker == claim(owner="w-2", count=9).marker
    assert first.marker != claim(generation=2).marker
    assert first.marker.startswith("tbfp")
    assert first.marker[4:].isalnum()


@pytest.mark.parametrize(
    ("state", "age_s", "decision"),
    [
        ("claimed", 10, "busy"),
        ("claimed", 299, "busy"),
        ("claimed", 300, "recover"),
        ("created", 10, "created"),
    ],
)
def test_an_existing_claim_is_waited_for_recovered_or_repeated(state: str, age_s: int, decision: str) -> None:
    assert on_existing(claim(state=state), T0 + timedelta(seconds=age_s), stale_after=STALE) == decision


def test_the_tracker_is_asked_only_when_a_comment_is_due_or_the_issue_was_closed() -> None:
    fresh = claim(last_comment_at=T0)
    assert not needs_tracker_view(fresh, T0 + timedelta(minutes=59), window=WINDOW)
    assert needs_tracker_view(fresh, T0 + timedelta(minutes=60), window=WINDOW)
    assert needs_tracker_view(claim(closed_at=T0), T0 + timedelta(minutes=1), window=WINDOW)


OPEN = TrackerView(closed=False, wont_fix=False, closed_at=None)


@pytest.mark.parametrize(
    ("view", "stored", "after", "setting", "action"),
    [
        (None, {}, timedelta(minutes=1), "comment", "count"),
        (OPEN, {"last_comment_at": T0}, timedelta(hours=2), "comment", "comment"),
        (OPEN, {"last_comment_at": T0}, timedelta(minutes=5), "comment", "count"),
        (OPEN, {"last_comment_at": T0}, timedelta(hours=2), "ignore", "count"),
        (TrackerView(True, True, T0), {}, timedelta(hours=2), "comment", "keep_closed"),
        (TrackerView(True, False, T0), {}, timedelta(days=6), "comment", "reopen"),
        (TrackerView(True, False, T0), {}, timedelta(days=8), "comment", "new_issue"),
        (TrackerView(True, False, None), {"closed_at": T0}, timedelta(days=8), "comment", "new_issue"),
    ],
)
def test_repeat_decisions(
    view: TrackerView | None, stored: dict[str, object], after: timedelta, setting: str, action: str
) -> None:
    decided = on_repeat(
        claim(**stored), view, T0 + after, window=WINDOW, reopen_window=REOPEN, on_repeat_setting=setting
    )
    assert decided == action
