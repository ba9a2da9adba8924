"""The counters' rules, without I/O: one count per item an operation meets, per entity, adding up.

The integration suite (``tests/integration/sync/test_counters.py``) checks the same arithmetic against the
three sandbox trackers; these tests pin each rule on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trackbridge.domain.sync import Counters, EntityResults, Progress, Results, SyncOperation
from trackbridge.domain.sync_plan import (
    Checkpoint,
    IdRanges,
    StoredVersion,
    count_write,
    earlier_write,
    write_mark,
)
from trackbridge.runtime.sync.checkpoint import add_counts, enter_phase, met_before, running_total
from trackbridge.runtime.sync.writer import WriteCounts
from trackbridge.storage.sync import SyncOperationRepository
from trackbridge.storage.table import deserialize, serialize

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OP = "op_abcdefghijklmnopqrst"


def stored(mark: str | None) -> StoredVersion:
    return StoredVersion(updated_at="2026-01-02T03:04:05Z", content_hash="h", mark=mark)


class TestCountWrite:
    @pytest.mark.parametrize(
        ("outcome", "expected"),
        [
            ("created", {"created": 1}),
            ("updated", {"updated": 1}),
            ("skip", {"unchanged": 1}),
            ("unchanged", {"unchanged": 1}),
            ("failed", {"failed": 1}),
            ("deleted", {"deleted": 1}),
        ],
    )
    def test_an_item_met_for_the_first_time_counts_by_what_happened(
        self, outcome: Any, expected: dict[str, int]
    ) -> None:
        assert count_write(outcome, met=False, earlier=None) == Counters(**expected)

    @pytest.mark.parametrize("outcome", ["skip", "unchanged", "created", "failed"])
    def test_an_item_met_again_counts_nothing(self, outcome: Any) -> None:
        # The catch-up pass re-reads the full pass's overlap window; a keyset page re-reads its position.
        assert count_write(outcome, met=True, earlier=None) == Counters()
        assert count_write(outcome, met=True, earlier="created") == Counters()

    def test_an_item_met_again_that_changed_meanwhile_moves_from_unchanged_to_updated(self) -> None:
        assert count_write("updated", met=True, earlier=None) == Counters(unchanged=-1, updated=1)
        # ... unless this operation wrote it the first time: it was counted as created or updated then.
        assert count_write("updated", met=True, earlier="created") == Counters()
        assert count_write("updated", met=True, earlier="updated") == Counters()

    @pytest.mark.parametrize("earlier", ["created", "updated"])
    def test_a_page_replayed_after_a_crash_counts_what_the_lost_attempt_wrote(self, earlier: Any) -> None:
        assert count_write("skip", met=False, earlier=earlier) == Counters.model_validate({earlier: 1})

    def test_deletions_count_apart_even_when_met_before(self) -> None:
        assert count_write("deleted", met=True, earlier="created") == Counters(deleted=1)


class TestMarks:
    def test_a_mark_names_the_operation_and_the_write(self) -> None:
        assert write_mark(OP, "create") == f"{OP}/c"
        assert write_mark(OP, "update") == f"{OP}/u"
        assert write_mark(OP, "update", tombstone=True) == f"{OP}/d"

    def test_only_this_operations_creates_and_updates_are_earlier_writes(self) -> None:
        assert earlier_write(stored(f"{OP}/c"), OP) == "created"
        assert earlier_write(stored(f"{OP}/u"), OP) == "updated"
        assert earlier_write(stored(f"{OP}/d"), OP) is None
        assert earlier_write(stored("op_someotheroperation1/c"), OP) is None
        assert earlier_write(stored(None), OP) is None
        assert earlier_write(None, OP) is None


class TestMetBefore:
    def test_the_seen_set_decides(self) -> None:
        seen = IdRanges()
        seen.add("7")
        assert met_before("7", seen, phase="incremental", updated_at=T0, signpost=T0)
        assert not met_before("8", seen, phase="catchup", updated_at=T0, signpost=T0)

    def test_without_a_seen_set_a_catchup_item_older_than_the_operation_was_met(self) -> None:
        older, newer = T0 - timedelta(seconds=1), T0 + timedelta(seconds=1)
        assert met_before("7", None, phase="catchup", updated_at=older, signpost=T0)
        assert not met_before("7", None, phase="catchup", updated_at=newer, signpost=T0)
        assert not met_before("7", None, phase="full", updated_at=older, signpost=T0)

    def test_the_deletion_checks_listing_starts_its_own_seen_set(self) -> None:
        seen = IdRanges()
        seen.add("1")
        cp = Checkpoint(
            operation_id=OP,
            phase="incremental",
            phases=("incremental", "ids", "sweep"),
            signpost=T0,
            seen=seen.encode(),
            seen_overflow=True,
        )
        entered = enter_phase(cp, "ids", high_water=T0, overlap=timedelta(seconds=5))
        assert (entered.seen, entered.seen_overflow) == (None, False)


class TestResults:
    def test_processed_is_always_the_sum(self) -> None:
        counts = EntityResults(processed=999, created=2, updated=3, unchanged=4, deleted=5, failed=1)
        assert counts.processed == 10
        assert EntityResults.model_validate({"created": 1}).processed == 1

    def test_totals_are_the_entities_sums_issues_first(self) -> None:
        results = Results.of(
            {"comments": EntityResults(created=3, deleted=1), "issues": EntityResults(created=1, unchanged=2)}
        )
        assert list(results.by_entity) == ["issues", "comments"]
        assert (results.created, results.unchanged, results.deleted, results.processed) == (4, 2, 1, 6)
        assert results.counters() == {
            "processed": 6,
            "created": 4,
            "updated": 0,
            "unchanged": 2,
            "deleted": 1,
            "failed": 0,
        }

    def test_merging_a_page_adds_per_entity_and_never_goes_below_zero(self) -> None:
        before = Results.of({"issues": EntityResults(created=5, unchanged=1)})
        page = WriteCounts.of("issues", unchanged=-2, updated=2)
        page.add(WriteCounts.of("comments", created=3))
        merged = add_counts(before, page.by_entity, page.errors)
        assert merged.by_entity["issues"] == EntityResults(created=5, updated=2, unchanged=0)
        assert merged.by_entity["comments"] == EntityResults(created=3)
        assert (merged.created, merged.updated, merged.unchanged) == (8, 2, 0)

    def test_an_operation_stored_before_by_entity_keeps_counting_totals(self) -> None:
        legacy = Results(created=5, unchanged=2)
        merged = add_counts(legacy, WriteCounts.of("issues", created=1).by_entity)
        assert (merged.created, merged.unchanged, merged.by_entity) == (6, 2, {})


class TestRunningTotal:
    def test_the_estimate_holds_until_the_count_passes_it_then_the_total_is_unknown(self) -> None:
        assert running_total(100, 40) == 100
        assert running_total(100, 100) == 100
        assert running_total(100, 101) is None
        assert running_total(None, 5) is None


class TestStorage:
    def test_an_operation_item_written_before_by_entity_reads_back(self) -> None:
        op = SyncOperation(
            id=OP,
            connection_id="conn_abcdefghijklmnopqrst",
            mode="full",
            entities=["issues", "comments"],
            created_at=T0,
            triggered_by="tests",
            progress=Progress(stage="completed", processed=3, total=3),
            results=Results.of({"issues": EntityResults(created=1), "comments": EntityResults(created=2)}),
        )
        item = SyncOperationRepository.item("acme", op)
        assert SyncOperationRepository.model(deserialize(serialize(item))) == op

        old = dict(item)
        old["results"] = {"created": 3, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 0, "errors": []}
        read = SyncOperationRepository.model(deserialize(serialize(old)))
        assert (read.results.created, read.results.by_entity) == (3, {})
