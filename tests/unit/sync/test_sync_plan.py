"""The sync engine's pure decisions: cursor math, keyset progress, write decisions, phases, messages
(``domain.sync_plan`` and the checkpoint state machine, ``runtime.sync.checkpoint``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from trackbridge.domain.sync_plan import (
    Checkpoint,
    ContinueMessage,
    IdRanges,
    ScheduledMessage,
    StartMessage,
    StoredVersion,
    SyncRequest,
    decide_write,
    park_delay_s,
    parse_message,
)
from trackbridge.domain.times import to_iso
from trackbridge.runtime.sync.checkpoint import (
    enter_phase,
    next_high_water,
    next_keyset_since,
    next_phase,
    plan_phases,
    query_since,
    start_checkpoint,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class TestCursors:
    def test_high_water_never_passes_the_signpost(self) -> None:
        assert next_high_water(None, at(100), signpost=at(50)) == at(50)

    def test_high_water_never_moves_back(self) -> None:
        assert next_high_water(at(80), at(60), signpost=at(100)) == at(80)
        assert next_high_water(at(80), None, signpost=at(100)) == at(80)

    def test_high_water_takes_the_largest_seen(self) -> None:
        assert next_high_water(at(10), at(60), signpost=at(100)) == at(60)

    def test_incremental_starts_an_overlap_before_the_high_water(self) -> None:
        assert query_since(at(100), timedelta(seconds=5)) == at(95)
        assert query_since(None, timedelta(seconds=5)) is None

    def test_jira_overlap_covers_a_whole_minute(self) -> None:
        from trackbridge.providers.github import GitHubAdapter
        from trackbridge.providers.gitlab import GitLabAdapter
        from trackbridge.providers.jira import JiraAdapter

        assert JiraAdapter.incremental_overlap >= timedelta(minutes=1)
        assert GitHubAdapter.incremental_overlap < JiraAdapter.incremental_overlap
        # A GitLab note bumps its issue's updated_at only when that is over 60 s old.
        assert GitLabAdapter.incremental_overlap > timedelta(minutes=1)

    def test_keyset_moves_to_the_page_maximum(self) -> None:
        assert next_keyset_since(at(10), at(20)) == at(20)
        assert next_keyset_since(None, at(20)) == at(20)

    def test_keyset_without_progress_says_follow_the_cursor(self) -> None:
        assert next_keyset_since(at(20), at(20)) is None
        assert next_keyset_since(at(20), None) is None


class TestWriteDecision:
    def test_absent_is_created(self) -> None:
        assert decide_write(None, at(1), "h") == "create"

    def test_same_time_same_hash_is_skipped(self) -> None:
        assert decide_write(StoredVersion(to_iso(at(1)), "h"), at(1), "h") == "skip"

    def test_same_time_other_hash_is_updated(self) -> None:
        assert decide_write(StoredVersion(to_iso(at(1)), "h"), at(1), "other") == "update"

    def test_older_incoming_never_overwrites(self) -> None:
        assert decide_write(StoredVersion(to_iso(at(5)), "h"), at(1), "other") == "skip"

    def test_newer_incoming_updates(self) -> None:
        assert decide_write(StoredVersion(to_iso(at(1)), "h"), at(5), "h") == "update"

    def test_tombstone_wins_over_older_updates_only(self) -> None:
        tombstone = StoredVersion(to_iso(at(10)), "t", deleted=True)
        assert decide_write(tombstone, at(5), "h") == "skip"
        assert decide_write(tombstone, at(15), "h") == "update"


class TestPhases:
    def test_full_issues_and_comments_end_with_a_sweep(self) -> None:
        assert plan_phases("full", "issues", at(1)) == ("full", "catchup", "sweep")
        # A scope-wide comment listing (GitHub) cannot show deletions: its full pass ends with a sweep too.
        assert plan_phases("full", "comments", None) == ("full", "catchup", "sweep")
        assert plan_phases("full", "worklogs", None) == ("full", "catchup")

    def test_incremental_without_high_water_is_a_full_pass_without_sweep(self) -> None:
        assert plan_phases("incremental", "issues", None) == ("full", "catchup")
        assert plan_phases("incremental", "issues", at(1)) == ("incremental",)

    def test_next_phase(self) -> None:
        phases = plan_phases("full", "issues", None)
        assert [next_phase(phases, p) for p in phases] == ["catchup", "sweep", "done"]
        assert next_phase(phases, "done") == "done"

    def test_start_checkpoint_keeps_etags_and_total(self) -> None:
        previous = Checkpoint(
            operation_id="op_old",
            phase="done",
            phases=("incremental",),
            signpost=at(0),
            etags={"u": {"etag": "x"}},
            last_total=42,
        )
        cp = start_checkpoint(
            operation_id="op_new",
            mode="incremental",
            entity="issues",
            high_water=at(100),
            signpost=at(200),
            overlap=timedelta(seconds=5),
            previous=previous,
        )
        assert (cp.phase, cp.since, cp.etags, cp.last_total) == ("incremental", at(95), previous.etags, 42)

    def test_catchup_starts_from_the_high_water_minus_overlap(self) -> None:
        cp = Checkpoint(
            operation_id="op", phase="full", phases=("full", "catchup"), signpost=at(0), page={"url": "x"}
        )
        moved = enter_phase(cp, "catchup", high_water=at(100), overlap=timedelta(seconds=5))
        assert (moved.phase, moved.since, moved.page) == ("catchup", at(95), None)

    def test_checkpoint_round_trip_and_rot(self) -> None:
        cp = Checkpoint(operation_id="op", phase="full", phases=("full",), signpost=at(0), seen_max=at(3))
        assert Checkpoint.from_json(cp.to_json()) == cp
        assert Checkpoint.from_json("{not json") is None
        assert Checkpoint.from_json(None) is None


class TestIdRanges:
    def test_runs_merge_and_membership(self) -> None:
        ids = IdRanges()
        for n in (5, 3, 4, 10, 1, 2, 12, 11):
            ids.add(str(n))
        assert [str(n) in ids for n in range(14)] == [n in {1, 2, 3, 4, 5, 10, 11, 12} for n in range(14)]
        assert len(ids) == 8
        assert IdRanges.decode(ids.encode()).encode() == ids.encode()

    def test_encode_decode_and_non_numeric(self) -> None:
        ids = IdRanges()
        for value in ("7", "8", "abc", "7"):
            ids.add(value)
        again = IdRanges.decode(ids.encode())
        assert "abc" in again
        assert "8" in again
        assert "9" not in again
        assert len(again) == 3
        assert len(IdRanges.decode(None)) == 0

    def test_a_large_contiguous_pass_stays_small(self) -> None:
        ids = IdRanges()
        for n in range(1, 100_001):
            if n % 7:  # gaps, as pull requests leave in GitHub's issue numbers
                ids.add(str(n))
        assert len(ids.encode()) < 4_000
        assert "7" not in ids
        assert "8" in ids
        assert str(10**9) not in ids

    def test_large_ids_are_kept_as_gaps(self) -> None:
        # GitHub comment ids are global (around 2e9): far past the bitmap, a few bytes each as gaps.
        ids = IdRanges()
        wanted = [2_000_000_000 + 37 * n for n in range(30_000)]
        for n in wanted:
            ids.add(str(n))
        encoded = ids.encode()
        again = IdRanges.decode(encoded)
        assert len(again) == 30_000
        assert all(str(n) in again for n in wanted[::997])
        assert str(2_000_000_001) not in again
        assert len(encoded) < 20_000

    def test_leading_zeros_and_non_ascii_digits_stay_strings(self) -> None:
        ids = IdRanges()
        ids.add("007")
        ids.add("\u00b2")  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no
        again = IdRanges.decode(ids.encode())
        assert "007" in again
        assert "7" not in again
        assert "\u00b2" in again
        assert "2" not in again


class TestMessages:
    def test_kinds_parse(self) -> None:
        assert isinstance(parse_message('{"kind":"start","tenant":"t","operation_id":"op_x"}'), StartMessage)
        cont = parse_message({"kind": "continue", "tenant": "t", "operation_id": "op_x", "slice_no": 3})
        assert isinstance(cont, ContinueMessage)
        assert cont.slice_no == 3
        scheduled = parse_message(b'{"kind":"scheduled","tenant":"t","connection_id":"conn_x"}')
        assert isinstance(scheduled, ScheduledMessage)

    @pytest.mark.parametrize(
        "body",
        [
            '{"kind":"explode","tenant":"t"}',
            '{"kind":"continue","tenant":"t","operation_id":"op"}',
            "[]",
            "nope",
        ],
    )
    def test_bad_bodies_are_refused(self, body: str) -> None:
        with pytest.raises(ValidationError):
            parse_message(body)

    def test_round_trip(self) -> None:
        message = ContinueMessage(tenant="t", operation_id="op_x", slice_no=2, resume_at=at(5))
        assert parse_message(message.model_dump_json()) == message

    def test_park_delay_is_bounded_by_sqs(self) -> None:
        assert park_delay_s(at(0), at(0.2)) == 1
        assert park_delay_s(at(0), at(30.5)) == 31
        assert park_delay_s(at(0), at(3600)) == 900
        assert park_delay_s(at(10), at(0)) == 1

    def test_sync_request_defaults_and_refusals(self) -> None:
        assert SyncRequest().mode == "incremental"
        with pytest.raises(ValidationError):
            SyncRequest.model_validate({"mode": "sideways"})
        with pytest.raises(ValidationError):
            SyncRequest.model_validate({"entities": []})
