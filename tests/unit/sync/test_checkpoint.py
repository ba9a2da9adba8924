"""The checkpoint state machine (``runtime.sync.checkpoint``) event by event, as values: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trackbridge.domain.sync import Counters, Progress, Results, SyncState
from trackbridge.domain.sync_plan import Checkpoint, IdRanges
from trackbridge.runtime.sync.checkpoint import (
    add_counts,
    after_id_page,
    after_listing_page,
    after_sweep_page,
    after_transient_failure,
    checkpoint_for,
    progress_after,
    seen_of,
    start_checkpoint,
    state_after,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=2)
OP = "op_aaaaaaaaaaaaaaaaaaaa"
CONN = "conn_aaaaaaaaaaaaaaaaaaaa"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def full(**changes: object) -> Checkpoint:
    cp = start_checkpoint(
        operation_id=OP,
        mode="full",
        entity="issues",
        high_water=None,
        signpost=T0,
        overlap=OVERLAP,
        previous=None,
    )
    return cp.model_copy(update=changes)


class TestListingPages:
    def test_a_full_pass_follows_the_providers_cursor_and_remembers_what_it_met(self) -> None:
        cp, high_water = after_listing_page(
            full(),
            high_water=None,
            met=[("1", at(-30)), ("2", at(-20))],
            next_page={"offset": 2},
            not_modified=False,
            overlap=OVERLAP,
            seen=seen_of(full()),
        )
        assert (cp.phase, cp.page, cp.processed, cp.seen_max, high_water) == (
            "full",
            {"offset": 2},
            2,
            at(-20),
            None,
        )
        seen = seen_of(cp)
        assert seen is not None
        assert "1" in seen
        assert "2" in seen

    def test_the_last_full_page_sets_the_high_water_and_enters_catchup_from_it_minus_the_overlap(
        self,
    ) -> None:
        # An item updated after the signpost (mid-sync) does not move the high-water past the signpost.
        cp, high_water = after_listing_page(
            full(processed=4),
            high_water=None,
            met=[("5", at(-10)), ("6", at(3))],
            next_page=None,
            not_modified=False,
            overlap=OVERLAP,
        )
        assert high_water == T0
        assert (cp.phase, cp.since, cp.page, cp.last_total) == ("catchup", T0 - OVERLAP, None, 6)

    def test_an_update_ordered_page_moves_since_by_keyset_unless_the_page_made_no_progress(self) -> None:
        cp = full(phase="incremental", phases=("incremental",), since=at(-60))
        moved, _ = after_listing_page(
            cp,
            high_water=at(-58),
            met=[("1", at(-50))],
            next_page={"offset": 1},
            not_modified=False,
            overlap=OVERLAP,
        )
        assert (moved.since, moved.page) == (at(-50), None)
        stuck, _ = after_listing_page(
            cp,
            high_water=at(-58),
            met=[("1", at(-60))],
            next_page={"offset": 1},
            not_modified=False,
            overlap=OVERLAP,
        )
        assert (stuck.since, stuck.page) == (at(-60), {"offset": 1})

    def test_an_incremental_pass_ends_done_and_the_high_water_never_moves_back(self) -> None:
        cp = full(phase="incremental", phases=("incremental",), since=at(-60))
        done, high_water = after_listing_page(
            cp, high_water=at(-5), met=[("1", at(-50))], next_page=None, not_modified=False, overlap=OVERLAP
        )
        assert (done.phase, high_water) == ("done", at(-5))


class TestOtherPhases:
    def test_the_id_listing_fills_seen_then_hands_over_to_the_sweep(self) -> None:
        cp = full(phase="ids", phases=("ids", "sweep"))
        first = after_id_page(cp, high_water=None, ids=["1", "2"], next_page={"token": "p2"}, overlap=OVERLAP)
        last = after_id_page(first, high_water=None, ids=["9"], next_page=None, overlap=OVERLAP)
        assert (first.phase, first.page) == ("ids", {"token": "p2"})
        assert (last.phase, last.page, last.processed) == ("sweep", None, 3)
        assert len(IdRanges.decode(last.seen)) == 3

    def test_the_sweep_pages_over_stored_items_then_is_done(self) -> None:
        cp = full(phase="sweep")
        assert after_sweep_page(cp, high_water=T0, next_cursor="c2", overlap=OVERLAP).sweep_cursor == "c2"
        assert after_sweep_page(cp, high_water=T0, next_cursor=None, overlap=OVERLAP).phase == "done"

    def test_a_transient_failure_counts_and_a_page_that_succeeds_resets_it(self) -> None:
        failed = after_transient_failure(after_transient_failure(full()))
        assert failed.retries == 2
        ok, _ = after_listing_page(
            failed, high_water=None, met=[], next_page={"offset": 0}, not_modified=False, overlap=OVERLAP
        )
        assert ok.retries == 0


class TestStartAndState:
    def test_a_slice_resumes_its_own_operations_checkpoint_and_starts_afresh_for_another(self) -> None:
        mine = full(page={"offset": 4}, etags={"k": "v"}, last_total=40)
        state = SyncState(
            connection_id=CONN, entity="issues", cursor=mine.to_json(), high_water=at(-1), updated_at=T0
        )
        assert (
            checkpoint_for(state, operation_id=OP, mode="full", entity="issues", signpost=T0, overlap=OVERLAP)
            == mine
        )
        other = checkpoint_for(
            state,
            operation_id="op_bbbbbbbbbbbbbbbbbbbb",
            mode="incremental",
            entity="issues",
            signpost=at(5),
            overlap=OVERLAP,
        )
        assert (other.phase, other.since, other.page) == ("incremental", at(-1) - OVERLAP, None)
        assert (other.etags, other.last_total) == ({"k": "v"}, 40)  # carried across operations

    def test_the_state_records_a_finished_sweep_as_the_last_deletion_check(self) -> None:
        done = full(phase="done")
        state = state_after(done, None, connection_id=CONN, entity="issues", high_water=at(-1), now=at(9))
        assert (state.status, state.last_success_at, state.deletions_checked_at, state.version) == (
            "ok",
            at(9),
            T0,
            1,
        )
        running = state_after(
            full(), state, connection_id=CONN, entity="issues", high_water=at(-1), now=at(10)
        )
        assert (running.status, running.version, running.deletions_checked_at) == ("running", 2, T0)


class TestCounters:
    def test_one_counters_type_adds_per_entity_and_an_operation_never_goes_below_zero(self) -> None:
        before = Results.of({"issues": Counters(created=2, unchanged=1)})
        after = add_counts(
            before, {"issues": Counters(unchanged=-2, updated=1), "comments": Counters(created=3)}
        )
        assert after.by_entity["issues"] == Counters(created=2, updated=1)
        assert (after.totals, after.processed) == (Counters(created=5, updated=1), 6)
        progress = progress_after(Progress(total=10), after, "issues", full())
        assert (progress.stage, progress.processed, progress.total) == ("issues:full", 6, 10)

    def test_the_stored_shape_of_an_entitys_counters_is_unchanged(self) -> None:
        dumped = Results.of({"issues": Counters(created=1, failed=1)}).model_dump(mode="json")
        assert dumped["by_entity"]["issues"] == {
            "processed": 2,
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "deleted": 0,
            "failed": 1,
        }
        assert {k: dumped[k] for k in ("created", "failed")} == {"created": 1, "failed": 1}
