"""The differential checker: the tracker's truth against what DynamoDB holds, item by item.

Used by the integration tests (every fault of the matrix must end with nothing lost, duplicated or stale)
and by operators (``trackbridge verify <connection>``). The truth is a live listing through the adapter
(full listing, created order, closed included when the connection includes them), so the same check runs
against a sandbox or a real tracker. Comparison is by content hash, the same hash the sync writes:

- **lost**: in the tracker, not stored at all;
- **duplicated**: one tracker item stored twice (two stored issues with one ref or key, one comment id
  under two issues);
- **stale**: stored, but its content differs from the tracker's;
- **wrongly deleted**: stored as a tombstone while the tracker still has it;
- **extra** (reported, not a failure): stored live items the tracker no longer has, i.e. deletions a
  full sync has not swept yet (``strict`` makes them failures: right after a full sync there must be none).

Comments are checked like issues (lost, duplicated, stale, wrongly deleted, extra), and so are worklogs
(each issue's complete list on the tracker against what its partition holds) when the connection syncs
them. Changelogs are checked as status and assignee transitions (the tracker's complete history, asked in
bulk, against each issue's stored history): lost, duplicated (one history item stored twice) or stale.
:meth:`VerifyReport.by_entity` counts each finding under its entity. For a connection without
closed issues the tracker is still listed with every state, so a stored copy that says open while the
tracker says closed is reported as stale instead of slipping out of both sides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackbridge.domain.issues import Comment, Issue, Transition, Worklog
from trackbridge.providers.base import TrackerAdapter
from trackbridge.storage.changelogs import TransitionRepository
from trackbridge.storage.issues import CommentRepository, IssueRepository, WorklogRepository
from trackbridge.storage.table import Table

MAX_LISTED = 50


@dataclass
class VerifyReport:
    issues_checked: int = 0
    comments_checked: int = 0
    worklogs_checked: int = 0
    changelogs_checked: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    wrongly_deleted: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def ok(self) -> bool:
        failed = self.lost or self.duplicated or self.stale or self.wrongly_deleted
        return not (failed or (self.strict and self.extra))

    def by_entity(self) -> dict[str, dict[str, int]]:
        """Each finding counted under its entity (``issue``, ``comment``, ``worklog``, ``transition``: the
        first word of its label)."""
        found: dict[str, dict[str, int]] = {}
        for name in FINDINGS:
            for label in getattr(self, name):
                entity = label.split(" ", 1)[0]
                counts = found.setdefault(entity, dict.fromkeys(FINDINGS, 0))
                counts[name] += 1
        return found

    def counts(self) -> dict[str, int]:
        return {
            "issues_checked": self.issues_checked,
            "comments_checked": self.comments_checked,
            "worklogs_checked": self.worklogs_checked,
            "changelogs_checked": self.changelogs_checked,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "stale": len(self.stale),
            "wrongly_deleted": len(self.wrongly_deleted),
            "extra": len(self.extra),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "ok": self.ok,
            "by_entity": self.by_entity(),
            "examples": {name: getattr(self, name)[:MAX_LISTED] for name in FINDINGS if getattr(self, name)},
        }


FINDINGS = ("lost", "duplicated", "stale", "wrongly_deleted", "extra")


def compare(
    truth_issues: Iterable[Issue],
    truth_comments: Iterable[Comment],
    stored_issues: Iterable[Issue],
    stored_comments: Iterable[Comment],
) -> VerifyReport:
    """The pure comparison (unit-tested on its own)."""
    report = VerifyReport()
    truth_i = {i.external_id: i for i in truth_issues}
    stored_i = list(stored_issues)
    report.issues_checked = len(truth_i)
    by_external = {i.external_id: i for i in stored_i}
    for label, counter in (
        ("ref", Counter(i.ref for i in stored_i)),
        ("key", Counter(i.key for i in stored_i)),
    ):
        report.duplicated.extend(f"issue {label} {v}" for v, n in counter.items() if n > 1)
    for external, issue in truth_i.items():
        stored = by_external.get(external)
        if stored is None:
            report.lost.append(f"issue {issue.key}")
        elif stored.deleted_at is not None:
            report.wrongly_deleted.append(f"issue {issue.key}")
        elif stored.content_hash != (issue.content_hash or issue.compute_hash()):
            report.stale.append(f"issue {issue.key}")
    report.extra.extend(
        f"issue {i.key}" for i in stored_i if i.deleted_at is None and i.external_id not in truth_i
    )

    truth_c = {c.id: c for c in truth_comments}
    stored_c = list(stored_comments)
    report.comments_checked = len(truth_c)
    counter_c = Counter(c.id for c in stored_c)
    report.duplicated.extend(f"comment {cid}" for cid, n in counter_c.items() if n > 1)
    by_id = {c.id: c for c in stored_c}
    for cid, comment in truth_c.items():
        stored_comment = by_id.get(cid)
        if stored_comment is None:
            report.lost.append(f"comment {cid}")
        elif stored_comment.deleted_at is not None:
            report.wrongly_deleted.append(f"comment {cid}")
        elif stored_comment.issue_ref != comment.issue_ref or stored_comment.content_hash != (
            comment.content_hash or comment.compute_hash()
        ):
            report.stale.append(f"comment {cid}")
    report.extra.extend(f"comment {c.id}" for c in stored_c if c.deleted_at is None and c.id not in truth_c)
    return report


def compare_worklogs(
    report: VerifyReport, truth: Iterable[Worklog], stored: Iterable[Worklog]
) -> VerifyReport:
    """Worklogs into ``report``, as comments are: by id, content hash and issue."""
    truth_w = {w.id: w for w in truth}
    stored_w = list(stored)
    report.worklogs_checked += len(truth_w)
    report.duplicated.extend(f"worklog {wid}" for wid, n in Counter(w.id for w in stored_w).items() if n > 1)
    by_id = {w.id: w for w in stored_w}
    for wid, worklog in truth_w.items():
        kept = by_id.get(wid)
        if kept is None:
            report.lost.append(f"worklog {wid}")
        elif kept.deleted_at is not None:
            report.wrongly_deleted.append(f"worklog {wid}")
        elif kept.issue_ref != worklog.issue_ref or kept.content_hash != (
            worklog.content_hash or worklog.compute_hash()
        ):
            report.stale.append(f"worklog {wid}")
    report.extra.extend(f"worklog {w.id}" for w in stored_w if w.deleted_at is None and w.id not in truth_w)
    return report


def compare_transitions(
    report: VerifyReport, truth: Iterable[Transition], stored: Iterable[Transition]
) -> VerifyReport:
    """Changelog transitions into ``report``: each of the tracker's (issue, history item) stored once and
    as the tracker tells it. A history is never edited, so nothing stored is ever extra."""
    truth_t = {(t.issue_ref, t.id): t for t in truth}
    stored_t = list(stored)
    report.changelogs_checked += len(truth_t)
    counted = Counter((t.issue_ref, t.id) for t in stored_t)
    report.duplicated.extend(f"transition {ref}:{tid}" for (ref, tid), n in counted.items() if n > 1)
    kept = {(t.issue_ref, t.id): t for t in stored_t}
    for key, transition in truth_t.items():
        found = kept.get(key)
        if found is None:
            report.lost.append(f"transition {key[0]}:{key[1]}")
        elif found != transition:
            report.stale.append(f"transition {key[0]}:{key[1]}")
    return report


def tracker_truth(
    adapter: TrackerAdapter, *, include_closed: bool = True, with_comments: bool = True
) -> tuple[list[Issue], list[Comment]]:
    """Every issue (and comment) of the connection's scope, straight from the tracker."""
    issues: list[Issue] = []
    for page in adapter.iter_issue_pages(include_closed=include_closed):
        issues.extend(page.items)
    return issues, (_comments_of(adapter, issues) if with_comments else [])


def _comments_of(adapter: TrackerAdapter, issues: Iterable[Issue]) -> list[Comment]:
    wanted = list(issues)
    comments: list[Comment] = []
    if adapter.capabilities.repo_wide_comments:
        refs = {i.ref for i in wanted}
        for comment_page in adapter.iter_comment_pages():
            comments.extend(c for c in comment_page.items if c.issue_ref in refs)
    else:
        for issue in wanted:
            comments.extend(adapter.list_issue_comments(issue.key))
    return comments


def stored_data(
    table: Table, tenant: str, connection_id: str, *, with_comments: bool = True
) -> tuple[list[Issue], list[Comment]]:
    """Every issue of the connection in DynamoDB (tombstones included) and the comments of each."""
    issues_repo, comments_repo = IssueRepository(table), CommentRepository(table)
    issues: list[Issue] = []
    cursor: str | None = None
    for _ in range(100_000):
        page = issues_repo.list_for_connection(tenant, connection_id, limit=100, cursor=cursor)
        issues.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    comments: list[Comment] = []
    if with_comments:
        for issue in issues:
            comment_cursor: str | None = None
            for _ in range(10_000):
                comment_page = comments_repo.list_for_issue(
                    tenant, issue.ref, limit=100, cursor=comment_cursor
                )
                comments.extend(comment_page.items)
                comment_cursor = comment_page.next_cursor
                if comment_cursor is None:
                    break
    return issues, comments


def _stored_children(
    table: Table, tenant: str, issues: Iterable[Issue], *, worklogs: bool, transitions: bool
) -> tuple[list[Worklog], list[Transition]]:
    """The stored worklogs (tombstones included) and transitions of ``issues``, one query each per issue."""
    worklog_repo, transition_repo = WorklogRepository(table), TransitionRepository(table)
    found_w: list[Worklog] = []
    found_t: list[Transition] = []
    for issue in issues:
        if worklogs:
            cursor: str | None = None
            for _ in range(10_000):
                page = worklog_repo.list_for_issue(tenant, issue.ref, limit=100, cursor=cursor)
                found_w.extend(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        if transitions:
            found_t.extend(transition_repo.history(tenant, issue.ref))
    return found_w, found_t


def _check_children(
    report: VerifyReport,
    table: Table,
    tenant: str,
    adapter: TrackerAdapter,
    truth_issues: Sequence[Issue],
    stored_issues: Iterable[Issue],
    *,
    worklogs: bool,
    changelogs: bool,
) -> None:
    """Worklogs and changelogs of the issues in scope (``truth_issues``, and their stored copies)."""
    if not (worklogs or changelogs):
        return
    refs = {i.ref for i in truth_issues}
    kept = [i for i in stored_issues if i.ref in refs]
    stored_w, stored_t = _stored_children(table, tenant, kept, worklogs=worklogs, transitions=changelogs)
    if worklogs:
        lists = getattr(adapter, "iter_worklog_lists", None)
        if lists is None:
            raise TypeError(f"{adapter.name} cannot list worklogs")
        truth_w = [
            w for page in lists() for listed in page.items for w in listed.worklogs if w.issue_ref in refs
        ]
        compare_worklogs(report, truth_w, stored_w)
    if changelogs:
        bulk = getattr(adapter, "bulkfetch_transitions", None)
        if bulk is None:
            raise TypeError(f"{adapter.name} cannot read changelogs in bulk")
        truth_t: list[Transition] = bulk([i.native_id for i in truth_issues]) if truth_issues else []
        compare_transitions(report, truth_t, stored_t)


def verify_connection(
    table: Table,
    tenant: str,
    connection_id: str,
    adapter: TrackerAdapter,
    *,
    include_closed: bool = True,
    with_comments: bool = True,
    with_worklogs: bool = False,
    with_changelogs: bool = False,
    strict: bool = False,
) -> VerifyReport:
    """``strict``: stored live items the tracker no longer has fail the check (use right after a full
    sync, which sweeps deletions; between full syncs they are expected and only reported).
    ``with_worklogs`` / ``with_changelogs``: check those entities too (a connection that syncs them)."""
    children = {"worklogs": with_worklogs, "changelogs": with_changelogs}
    if include_closed:
        truth = tracker_truth(adapter, with_comments=with_comments)
        stored_issues, stored_comments = stored_data(
            table, tenant, connection_id, with_comments=with_comments
        )
        report = compare(truth[0], truth[1], stored_issues, stored_comments)
        _check_children(report, table, tenant, adapter, truth[0], stored_issues, **children)
        report.strict = strict
        return report
    # Closed issues are outside this connection's scope, but the tracker is asked about every state so that
    # a stored copy still saying "open" about a closed issue is caught.
    everything, _ = tracker_truth(adapter, include_closed=True, with_comments=False)
    open_truth = [i for i in everything if i.status_category != "done"]
    closed = {i.external_id for i in everything if i.status_category == "done"}
    comments = _comments_of(adapter, open_truth) if with_comments else []
    stored_issues, stored_comments = stored_data(table, tenant, connection_id, with_comments=with_comments)
    claims_open = [
        i
        for i in stored_issues
        if i.external_id in closed and i.deleted_at is None and i.status_category != "done"
    ]
    open_ids = {i.external_id for i in open_truth}
    in_scope = [
        i
        for i in stored_issues
        if i.external_id not in closed and (i.external_id in open_ids or i.status_category != "done")
    ]
    refs = {i.ref for i in in_scope}
    report = compare(open_truth, comments, in_scope, [c for c in stored_comments if c.issue_ref in refs])
    report.stale.extend(f"issue {i.key} (stored as open, closed on the tracker)" for i in claims_open)
    _check_children(report, table, tenant, adapter, open_truth, in_scope, **children)
    report.strict = strict
    return report


__all__ = [
    "FINDINGS",
    "VerifyReport",
    "compare",
    "compare_transitions",
    "compare_worklogs",
    "stored_data",
    "tracker_truth",
    "verify_connection",
]
