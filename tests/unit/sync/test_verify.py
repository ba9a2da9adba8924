"""The differential checker's comparison, on hand-made items."""

from __future__ import annotations

from datetime import UTC, datetime

from trackbridge.domain.issues import Comment, Issue
from trackbridge.runtime.verify import compare

CONN = "conn_aaaaaaaaaaaaaaaaaaaa"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def issue(n: int, title: str = "t", *, deleted: bool = False, external: str | None = None) -> Issue:
    return Issue(
        ref=f"{CONN}.{n}",
        external_id=external or f"github:https://x/repos/o/r:{n}",
        connection_id=CONN,
        provider="github",
        key=f"#{n}",
        title=title,
        status="open",
        status_category="todo",
        created_at=WHEN,
        updated_at=WHEN,
        deleted_at=WHEN if deleted else None,
    ).with_hash()


def comment(cid: str, n: int, body: str = "b") -> Comment:
    return Comment(
        id=cid, issue_ref=f"{CONN}.{n}", connection_id=CONN, body=body, created_at=WHEN, updated_at=WHEN
    ).with_hash()


def test_identical_sides_are_ok() -> None:
    report = compare([issue(1), issue(2)], [comment("c1", 1)], [issue(1), issue(2)], [comment("c1", 1)])
    assert report.ok
    assert report.counts()["issues_checked"] == 2
    assert report.counts()["comments_checked"] == 1


def test_each_kind_of_difference_is_named() -> None:
    truth = [issue(1), issue(2, "new title"), issue(3), issue(4)]
    stored = [issue(2), issue(3, deleted=True), issue(4), issue(4, external="github:other:4"), issue(9)]
    report = compare(truth, [comment("c1", 1), comment("c2", 2, "edited")], stored, [comment("c2", 2)])
    assert report.lost == ["issue #1", "comment c1"]
    assert report.stale == ["issue #2", "comment c2"]
    assert report.wrongly_deleted == ["issue #3"]
    assert "issue ref " + f"{CONN}.4" in report.duplicated
    assert "issue #9" in report.extra
    assert not report.ok


def test_extra_items_alone_are_not_a_failure() -> None:
    report = compare([issue(1)], [], [issue(1), issue(2)], [comment("c9", 2)])
    assert report.ok
    assert report.extra == ["issue #2", "comment c9"]
