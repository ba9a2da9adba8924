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
Users and sprints are checked as catalogs (each listed whole, by id and content hash: a user who left is
stored inactive, a deleted sprint as a tombstone), repository activity as the window a full pass reads
(commits, pull/merge requests, releases, languages: lost, duplicated or stale, never extra), and security
advisories as issues of their own (stored among the issues, never counted as extra issues), each when the
connection syncs it. :meth:`VerifyReport.by_entity` counts each finding under its entity. For a connection
without closed issues the tracker is still listed with every state, so a stored copy that says open while
the tracker says closed is reported as stale instead of slipping out of both sides.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Final, TypeVar

from trackbridge.domain.activity import ActivityRecord
from trackbridge.domain.issues import Comment, Issue, Sprint, Transition, Worklog, is_advisory
from trackbridge.providers.base import TrackerAdapter
from trackbridge.runtime.sync.activity_syncers import ReadsRepositoryActivity
from trackbridge.runtime.sync.syncers import ListsAdvisoryIssues
from trackbridge.storage.activity import ActivityRepository
from trackbridge.storage.changelogs import TransitionRepository
from trackbridge.storage.issues import (
    CommentRepository,
    IssueRepository,
    SprintRepository,
    UserRepository,
    WorklogRepository,
)
from trackbridge.storage.table import Table

MAX_LISTED = 50
# Older than any commit: stored commits are read "since" this to read them all.
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_R = TypeVar("_R")


@dataclass
class VerifyReport:
    issues_checked: int = 0
    comments_checked: int = 0
    worklogs_checked: int = 0
    changelogs_checked: int = 0
    users_checked: int = 0
    sprints_checked: int = 0
    activity_checked: int = 0
    advisories_checked: int = 0
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
        """Each finding counted under its entity (``issue``, ``comment``, ``worklog``, ``transition``,
        ``user``, ``sprint``, ``activity``, ``advisory``: the first word of its label)."""
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
            "users_checked": self.users_checked,
            "sprints_checked": self.sprints_checked,
            "activity_checked": self.activity_checked,
            "advisories_checked": self.advisories_checked,
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


def _same_hash(kept: Any, truth: Any) -> bool:
    """Whether the stored copy's hash is the hash of the tracker's content (the sync writes that hash)."""
    return bool(kept.content_hash == (truth.content_hash or truth.compute_hash()))


def _same_issue_and_hash(kept: Any, truth: Any) -> bool:
    return bool(kept.issue_ref == truth.issue_ref) and _same_hash(kept, truth)


def _not_deleted(item: Any) -> bool:
    return item.deleted_at is None


def compare_records(
    report: VerifyReport,
    entity: str,
    truth: Iterable[_R],
    stored: Iterable[_R],
    *,
    key: Callable[[_R], str] = attrgetter("id"),
    name: Callable[[_R], str] | None = None,
    live: Callable[[_R], bool] = _not_deleted,
    same: Callable[[_R, _R], bool] = _same_hash,
    extra: bool = True,
    duplicates: bool = True,
) -> int:
    """The tracker's items against the stored ones of one entity, matched by ``key``, into ``report``
    (each finding labelled ``"{entity} {name}"``, ``name`` defaulting to the key); returns how many tracker
    items were checked. Lost: not stored; duplicated: one key stored twice; wrongly deleted: stored as gone
    (``live`` false) while the tracker has it live; stale: ``same`` says the stored copy differs.
    ``extra`` (stored live, not listed) only where the listing is whole: not for a windowed listing
    (repository activity) nor for history that never goes away."""
    label = name or key
    truth_by = {key(item): item for item in truth}
    kept = list(stored)
    if duplicates:
        counted = Counter(key(s) for s in kept)
        report.duplicated.extend(f"{entity} {k}" for k, n in counted.items() if n > 1)
    by_key = {key(s): s for s in kept}
    for k, item in truth_by.items():
        found = by_key.get(k)
        if found is None:
            report.lost.append(f"{entity} {label(item)}")
        elif live(item) and not live(found):
            report.wrongly_deleted.append(f"{entity} {label(item)}")
        elif not same(found, item):
            report.stale.append(f"{entity} {label(item)}")
    if extra:
        report.extra.extend(f"{entity} {label(s)}" for s in kept if live(s) and key(s) not in truth_by)
    return len(truth_by)


def _compare_issues(
    report: VerifyReport, entity: str, truth: Iterable[Issue], stored: Iterable[Issue]
) -> int:
    """Issues (or advisories stored as issues) matched by external id and named by key; stored twice means
    a ref or a key held by two stored issues."""
    stored_i = list(stored)
    for field_name in ("ref", "key"):
        counter = Counter(getattr(i, field_name) for i in stored_i)
        report.duplicated.extend(f"{entity} {field_name} {v}" for v, n in counter.items() if n > 1)
    return compare_records(
        report, entity, truth, stored_i,
        key=attrgetter("external_id"), name=attrgetter("key"), duplicates=False,
    )  # fmt: skip


def compare(
    truth_issues: Iterable[Issue],
    truth_comments: Iterable[Comment],
    stored_issues: Iterable[Issue],
    stored_comments: Iterable[Comment],
) -> VerifyReport:
    """The pure comparison (unit-tested on its own)."""
    report = VerifyReport()
    report.issues_checked = _compare_issues(report, "issue", truth_issues, stored_issues)
    report.comments_checked = compare_records(
        report, "comment", truth_comments, stored_comments, same=_same_issue_and_hash
    )
    return report


def compare_worklogs(
    report: VerifyReport, truth: Iterable[Worklog], stored: Iterable[Worklog]
) -> VerifyReport:
    """Worklogs into ``report``, as comments are: by id, content hash and issue."""
    report.worklogs_checked += compare_records(report, "worklog", truth, stored, same=_same_issue_and_hash)
    return report


def compare_transitions(
    report: VerifyReport, truth: Iterable[Transition], stored: Iterable[Transition]
) -> VerifyReport:
    """Changelog transitions into ``report``: each of the tracker's (issue, history item) stored once and
    as the tracker tells it. A history is never edited, so nothing stored is ever extra."""
    report.changelogs_checked += compare_records(
        report, "transition", truth, stored,
        key=lambda t: f"{t.issue_ref}:{t.id}", live=lambda _: True, same=operator.eq, extra=False,
    )  # fmt: skip
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


def _check_catalogs(
    report: VerifyReport,
    table: Table,
    tenant: str,
    connection_id: str,
    adapter: TrackerAdapter,
    *,
    users: bool,
    sprints: bool,
) -> None:
    """Users and sprints: each catalog listed whole against every stored item of it. A user is gone when
    inactive (one who left stays so), a sprint when tombstoned; a stored live one the listing no longer
    holds is extra (a sprint whose board left the project still answers by id, so it is kept live)."""
    if users:
        report.users_checked += compare_records(
            report, "user", adapter.list_users(), UserRepository(table).list_all(tenant, connection_id),
            live=attrgetter("active"),
        )  # fmt: skip
    if sprints:
        listed: list[Sprint] = adapter.list_sprints()
        stored: list[Sprint] = SprintRepository(table).list_all(tenant, connection_id)
        report.sprints_checked += compare_records(report, "sprint", listed, stored)


def _stored_activity(table: Table, tenant: str, connection_id: str) -> list[ActivityRecord]:
    repo = ActivityRepository(table)
    languages = repo.languages(tenant, connection_id)
    return [
        *repo.commits_since(tenant, connection_id, _EPOCH),
        *repo.requests(tenant, connection_id),
        *repo.releases(tenant, connection_id),
        *([languages] if languages is not None else []),
    ]


def _check_activity(
    report: VerifyReport, table: Table, tenant: str, connection_id: str, adapter: Any
) -> None:
    """Repository activity: what a full pass reads (the latest pages of commits, requests and releases,
    and the languages) against the stored records, by kind and id. The listing is a window of recent
    history, so older stored records are not extra; nothing is ever deleted, so none is wrongly deleted."""
    if not isinstance(adapter, ReadsRepositoryActivity):
        raise TypeError(f"{adapter.name} has no repository activity")
    languages = adapter.repo_languages(seen_at=datetime.now(UTC))
    truth: list[ActivityRecord] = [
        *(c for page in adapter.iter_repo_commits(since=None) for c in page),
        *(r for page in adapter.iter_repo_requests(since=None) for r in page),
        *(r for page in adapter.iter_repo_releases(full=True) for r in page),
        *([languages] if languages is not None else []),
    ]
    report.activity_checked += compare_records(
        report, "activity", truth, _stored_activity(table, tenant, connection_id),
        live=lambda _: True, extra=False,
    )  # fmt: skip


def _check_advisories(report: VerifyReport, adapter: Any, stored: Iterable[Issue]) -> None:
    """Security advisories, stored as issues: every advisory the tracker lists (all of them, newest
    first) against the stored ones, as issues are compared. Advisories are never deleted at the tracker,
    so a stored one it no longer lists is extra."""
    if not isinstance(adapter, ListsAdvisoryIssues):
        raise TypeError(f"{adapter.name} lists no security advisories")
    listed = [issue for page in adapter.iter_advisory_issues() for issue in page]
    report.advisories_checked += _compare_issues(report, "advisory", listed, stored)


def _compare_open(
    table: Table, tenant: str, connection_id: str, adapter: TrackerAdapter, *, with_comments: bool
) -> tuple[list[Issue], list[Issue], list[Issue], VerifyReport]:
    """A connection without closed issues: the open issues (and their comments) against the stored ones
    in scope. Closed issues are outside the scope, but the tracker is asked about every state so that a
    stored copy still saying "open" about a closed issue is caught. Returns the open truth, every stored
    issue, the stored issues in scope and the report."""
    everything, _ = tracker_truth(adapter, include_closed=True, with_comments=False)
    open_truth = [i for i in everything if i.status_category != "done"]
    closed = {i.external_id for i in everything if i.status_category == "done"}
    comments = _comments_of(adapter, open_truth) if with_comments else []
    stored_all, stored_comments = stored_data(table, tenant, connection_id, with_comments=with_comments)
    stored_issues = [i for i in stored_all if not is_advisory(i)]
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
    return open_truth, stored_all, in_scope, report


def verify_connection(
    table: Table,
    tenant: str,
    connection_id: str,
    adapter: TrackerAdapter,
    *,
    include_closed: bool = True,
    with_issues: bool = True,
    with_comments: bool = True,
    with_worklogs: bool = False,
    with_changelogs: bool = False,
    with_users: bool = False,
    with_sprints: bool = False,
    with_activity: bool = False,
    with_advisories: bool = False,
    strict: bool = False,
) -> VerifyReport:
    """``strict``: stored live items the tracker no longer has fail the check (use right after a full
    sync, which sweeps deletions; between full syncs they are expected and only reported).
    ``with_*``: check those entities (a connection that syncs them); ``with_issues`` false skips the
    issue listing and with it comments, worklogs and changelogs (a connection syncing catalogs only).

    Request cost, on top of the issue (and comment) listing: worklogs their list pages, changelogs
    ceil(issues/1000) bulk fetches; users and sprints their catalog listings (as one sync pass makes,
    plus nothing per item); activity at most ``3 * ACTIVITY_FULL_PAGES + 1`` requests (the window of a
    full pass: commits, requests, releases, languages); advisories their listing pages. DynamoDB: one
    query per 100 stored items of each entity (worklogs and transitions: per issue in scope).
    Advisories are stored as issues but are not in the issue listing: they are compared on their own
    (when ``with_advisories``) and never count as extra issues."""
    children = {"worklogs": with_worklogs, "changelogs": with_changelogs}
    stored_all: list[Issue] | None = None
    if not with_issues:
        report = VerifyReport()
    elif include_closed:
        truth_issues, comments = tracker_truth(adapter, with_comments=with_comments)
        stored_all, stored_comments = stored_data(table, tenant, connection_id, with_comments=with_comments)
        stored_issues = [i for i in stored_all if not is_advisory(i)]
        report = compare(truth_issues, comments, stored_issues, stored_comments)
        _check_children(report, table, tenant, adapter, truth_issues, stored_issues, **children)
    else:
        truth_issues, stored_all, stored_issues, report = _compare_open(
            table, tenant, connection_id, adapter, with_comments=with_comments
        )
        _check_children(report, table, tenant, adapter, truth_issues, stored_issues, **children)
    _check_catalogs(report, table, tenant, connection_id, adapter, users=with_users, sprints=with_sprints)
    if with_activity:
        _check_activity(report, table, tenant, connection_id, adapter)
    if with_advisories:
        if stored_all is None:
            stored_all, _ = stored_data(table, tenant, connection_id, with_comments=False)
        _check_advisories(report, adapter, [i for i in stored_all if is_advisory(i)])
    report.strict = strict
    return report


__all__ = [
    "FINDINGS",
    "VerifyReport",
    "compare",
    "compare_records",
    "compare_transitions",
    "compare_worklogs",
    "stored_data",
    "tracker_truth",
    "verify_connection",
]
