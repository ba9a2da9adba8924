"""A comment missing from a listing is tombstoned only when the tracker confirms it is gone (DESIGN 10).

``_confirm_missing`` is the one place comment deletions are decided; here with a fake adapter and writer
so each branch is visible: gone (404) -> tombstone, still there -> written as it is now, seen or listed ->
not asked about at all, already a tombstone -> left alone, any other failure -> propagates (the engine
retries or parks; nothing is deleted on a guess).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trackbridge.domain.issues import Comment, Issue
from trackbridge.domain.sync_plan import IdRanges
from trackbridge.providers.errors import NotFoundError, TrackerError
from trackbridge.runtime.sync import syncers
from trackbridge.runtime.sync.syncers import SyncRun, _confirm_missing
from trackbridge.runtime.sync.writer import WriteCounts

NOW = datetime(2025, 1, 2, tzinfo=UTC)
BEFORE = datetime(2025, 1, 1, tzinfo=UTC)


def comment(cid: str, *, deleted: bool = False, body: str = "text") -> Comment:
    return Comment(
        id=cid,
        issue_ref="conn.7",
        connection_id="conn",
        body=body,
        created_at=BEFORE,
        updated_at=BEFORE,
        deleted_at=BEFORE if deleted else None,
    ).with_hash()


ISSUE = Issue(
    ref="conn.7",
    external_id="github:acme/widgets:7",
    connection_id="conn",
    provider="github",
    key="#7",
    title="t",
    status="open",
    status_category="todo",
    created_at=BEFORE,
    updated_at=BEFORE,
).with_hash()


class FakeAdapter:
    def __init__(self, alive: dict[str, Comment], failing: Sequence[str] = ()) -> None:
        self.alive, self.failing = alive, set(failing)
        self.asked: list[str] = []

    def get_comment(self, key: str, comment_id: str) -> Comment:
        self.asked.append(comment_id)
        if comment_id in self.failing:
            raise TrackerError("boom", status=502, retryable=True)
        if comment_id not in self.alive:
            raise NotFoundError("gone", status=404)
        return self.alive[comment_id]


class FakeWriter:
    def __init__(self) -> None:
        self.writes: list[tuple[list[Comment], bool]] = []

    def write(
        self, objects: Sequence[Any], versions: Any = None, *, met: Any = None, tombstones: bool = False
    ) -> WriteCounts:
        self.writes.append((list(objects), tombstones))
        if tombstones:
            return WriteCounts.of("comments", deleted=len(objects))
        return WriteCounts.of("comments", updated=len(objects))


def run_with(adapter: FakeAdapter, writer: FakeWriter) -> SyncRun:
    return SyncRun(
        tenant="t",
        connection_id="conn",
        adapter=adapter,  # type: ignore[arg-type]
        writer=writer,  # type: ignore[arg-type]
        issues=None,  # type: ignore[arg-type]
        comments=None,  # type: ignore[arg-type]
        include_closed=True,
        entities=["issues", "comments"],
        overlap=timedelta(0),
        now=lambda: NOW,
    )


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> list[Comment]:
    rows = [comment("1"), comment("2"), comment("3"), comment("4", deleted=True), comment("5")]
    monkeypatch.setattr(syncers, "_stored_comments", lambda run, ref: list(rows))
    return rows


def test_only_confirmed_absences_become_tombstones(stored: list[Comment]) -> None:
    edited = comment("3", body="edited meanwhile")
    adapter, writer = FakeAdapter(alive={"3": edited}), FakeWriter()
    counts = _confirm_missing(run_with(adapter, writer), ISSUE, [comment("1")], IdRanges())
    # 1 is listed, 4 is already a tombstone: neither is asked about.
    assert sorted(adapter.asked) == ["2", "3", "5"]
    (gone, as_tombstones), (current, plain) = writer.writes
    assert as_tombstones
    assert not plain
    assert sorted(c.id for c in gone) == ["2", "5"]
    assert all(c.deleted_at == NOW and c.updated_at == NOW for c in gone)
    assert current == [edited]
    assert counts.deleted == 2


def test_seen_ids_are_not_asked_about(stored: list[Comment]) -> None:
    seen = IdRanges()
    for cid in ("1", "2", "3", "5"):
        seen.add(cid)
    adapter, writer = FakeAdapter(alive={}), FakeWriter()
    counts = _confirm_missing(run_with(adapter, writer), ISSUE, (), seen)
    assert adapter.asked == []
    assert writer.writes == []
    assert counts.deleted == 0


def test_a_failed_confirmation_deletes_nothing(stored: list[Comment]) -> None:
    adapter, writer = FakeAdapter(alive={}, failing=["3"]), FakeWriter()
    with pytest.raises(TrackerError):
        _confirm_missing(run_with(adapter, writer), ISSUE, [comment("1")])
    assert writer.writes == []
