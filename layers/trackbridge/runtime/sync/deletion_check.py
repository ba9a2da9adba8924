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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast, runtime_checkable

from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Page

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
    "ListsIssueIds",
    "first_page",
    "id_listing_for",
]
