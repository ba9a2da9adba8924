"""The deletion check's id listings: every issue id of a scope, as cheaply as each tracker lists them.

GitHub and GitLab show a deleted issue only by its absence from a complete listing (an update-ordered
``since`` / ``updated_after`` listing never shows it), so between full syncs the store keeps issues the
tracker no longer has. The deletion check (``ids`` then ``sweep``, see ``checkpoint``) lists the ids of
the scope page by page into the checkpoint's ``seen`` set and hands over to the full sync's own sweep,
which asks for every stored live issue missing from it with a direct GET and tombstones it on 404/410.

The listing is what the adapter offers (STYLE habit 3): an adapter with a cheaper id-only listing declares
it by having ``iter_issue_id_pages`` (:class:`ListsIssueIds`; Jira's id search); any other adapter's full
issue listing is used, of which only the ids are kept. No tracker is named here.

==========  ===================================================================  ======================
tracker     listing                                                              requests / 1,000 issues
==========  ===================================================================  ======================
GitHub      ``GET /repos/{o}/{r}/issues?state=all&per_page=100&sort=created``:    ceil((issues + pull
            REST has no id-only listing; pull requests share it and are dropped    requests) / 100)
GitLab      ``GET /projects/{id}/issues?pagination=keyset&order_by=id&per_page=    ceil(issues / 100)
            100``: no field selection exists for issues (offset pages by
            ``created_at`` on a GitLab that refuses keyset)
Jira        ``POST /rest/api/3/search/jql`` with ``fields: ["id"]`` and            ceil(issues / 5000)
            ``maxResults: 5000`` (Jira's cap for id/key-only searches; 100
            otherwise)
==========  ===================================================================  ======================

plus one GET per stored issue missing from the listing. Each listing pages in an order updates cannot change
(DESIGN section 10), with the connection's ``include_closed``; ETags are not sent: a 304 carries no ids.

**Removal feeds.** A tracker that records removals as events says what went instead of leaving it to be
inferred from absence: an adapter with such a feed declares it by having ``iter_deleted``
(:class:`ListsDeletions`; YouTrack's ``/api/activitiesPage``). Once a deletion check (or a full sync's
sweep) has finished, the next check reads the feed from that check's start (minus the adapter's overlap)
instead of the id listing, tombstones the issues and comments the feed names as removed, and skips the
sweep: it costs the feed's pages, with no GET per missing issue. What the feed leaves in doubt (a removal it
cannot tie to the connection's scope) is confirmed with a GET first (DESIGN section 10: a tombstone needs
the tracker's word). A connection never checked yet, or one whose state cannot be read, takes the listing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from trackbridge.domain.errors import NotFound
from trackbridge.domain.issues import Comment, Issue, tombstone
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Page
from trackbridge.storage.sync import SyncStateRepository
from trackbridge.storage.table import Table

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class IdPage:
    """The native ids of one page (issue numbers, iids, Jira ids) and where the next page starts."""

    ids: tuple[str, ...]
    next_cursor: PageCursor | None


def first_page(pages: Iterator[_T]) -> _T:
    """One page of a listing: the generator is closed after it, so nothing more is requested."""
    try:
        return next(pages)
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()


@runtime_checkable
class ListsIssueIds(Protocol):
    """An adapter with a listing of its sync scope's issue ids cheaper than the full issue listing."""

    def iter_issue_id_pages(
        self, *, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[Page[str]]: ...


# One removal a feed reports: (issue key, comment id or None for the issue itself, certain). An uncertain one
# (the feed cannot tie it to the connection's scope for sure) is confirmed by a GET before any tombstone.
Removal = tuple[str, str | None, bool]


@runtime_checkable
class ListsDeletions(Protocol):
    """An adapter whose tracker records issue and comment removals as a feed: pages of what stays removed
    (an item removed and restored within a page is not reported), read from ``cursor`` when one is given,
    else from ``since``; ``next_cursor`` None once the feed is caught up."""

    def iter_deleted(
        self, cursor: PageCursor | None = None, *, since: datetime | None = None
    ) -> Iterator[Page[Removal]]: ...


class IdListing:
    """The default: the adapter's full issue listing (created/id order), of which only the ids are kept.
    For GitHub and GitLab this is already the cheapest listing there is."""

    def page(self, adapter: TrackerAdapter, *, include_closed: bool, cursor: PageCursor | None) -> IdPage:
        # Unconditional: a 304 would say "unchanged" without the ids the sweep compares against.
        cache, adapter.etag_cache = adapter.etag_cache, None
        try:
            page = first_page(adapter.iter_issue_pages(include_closed=include_closed, cursor=cursor))
        finally:
            adapter.etag_cache = cache
        return IdPage(tuple(issue.native_id for issue in page.items), page.next_cursor)


class AdapterIdListing(IdListing):
    """The adapter's own id-only listing (:class:`ListsIssueIds`)."""

    def page(self, adapter: TrackerAdapter, *, include_closed: bool, cursor: PageCursor | None) -> IdPage:
        ids = cast(ListsIssueIds, adapter).iter_issue_id_pages(include_closed=include_closed, cursor=cursor)
        page = first_page(ids)
        return IdPage(tuple(page.items), page.next_cursor)


def feed_start(table: Table, tenant: str, connection_id: str, overlap: timedelta) -> datetime | None:
    """Where a removal feed is read from: the start of the last finished deletion check (or full sync sweep),
    every removal before which is tombstoned, minus ``overlap`` for the tracker's clock; None when the
    connection was never checked, so the listing (which needs no starting point) runs instead."""
    state = SyncStateRepository(table).find(tenant, connection_id, "issues")
    checked = state.deletions_checked_at if state is not None else None
    return checked - overlap if checked is not None else None


def _gone(confirm: Callable[[], Any]) -> bool:
    """Whether the tracker answers 404/410 for what ``confirm`` asks for (True: it is gone)."""
    try:
        confirm()
    except NotFoundError:
        return True
    return False


@dataclass(frozen=True, slots=True)
class Removals:
    """What one feed page makes of the store: the tombstones to write and the confirming GETs it cost."""

    tombstones: tuple[Issue | Comment, ...]
    requests: int


def removals(
    adapter: TrackerAdapter,
    reported: Sequence[Removal],
    *,
    stored: Mapping[str, Issue],
    comment_of: Callable[[Issue, str], Comment],
    comments_of: Callable[[Issue], list[Comment]],
    now: datetime,
) -> Removals:
    """The tombstones for what a feed page reports: each removed issue the store holds live, with its live
    comments, and each removed comment the store holds live. An uncertain removal is asked for first and
    only a 404/410 makes it one; an item the store does not hold, or holds as a tombstone, is left alone."""
    requests = 0
    confirmed: list[tuple[str, str | None]] = []
    for key, comment_id, certain in dict.fromkeys(reported):
        if not certain:
            requests += 1
            ask = (
                partial(adapter.get_issue, key)
                if comment_id is None
                else partial(adapter.get_comment, key, comment_id)
            )
            if not _gone(ask):
                continue
        confirmed.append((key, comment_id))
    out: list[Issue | Comment] = []
    gone_refs: set[str] = set()
    for key, comment_id in confirmed:
        issue = stored.get(key)
        if issue is None or comment_id is not None or issue.deleted_at is not None or issue.ref in gone_refs:
            continue
        gone_refs.add(issue.ref)
        out += [tombstone(c, now) for c in comments_of(issue) if c.deleted_at is None]
        out.append(tombstone(issue, now))
    for key, comment_id in confirmed:
        issue = stored.get(key)
        if issue is None or comment_id is None or issue.ref in gone_refs:
            continue
        try:
            comment = comment_of(issue, comment_id)
        except NotFound:
            continue
        if comment.deleted_at is None:
            out.append(tombstone(comment, now))
    return Removals(tuple(out), requests)


DEFAULT_LISTING = IdListing()
ADAPTER_LISTING = AdapterIdListing()


def id_listing_for(adapter: TrackerAdapter) -> IdListing:
    """The cheapest id listing ``adapter`` offers."""
    return ADAPTER_LISTING if isinstance(adapter, ListsIssueIds) else DEFAULT_LISTING


__all__ = [
    "ADAPTER_LISTING",
    "DEFAULT_LISTING",
    "AdapterIdListing",
    "IdListing",
    "IdPage",
    "ListsDeletions",
    "ListsIssueIds",
    "Removal",
    "Removals",
    "feed_start",
    "first_page",
    "id_listing_for",
    "removals",
]
