"""The deletion check's id listings: every issue id of a scope, as cheaply as each tracker lists them.

GitHub and GitLab show a deleted issue only by its absence from a complete listing (an update-ordered
``since`` / ``updated_after`` listing never shows it), so between full syncs the store keeps issues the
tracker no longer has. The deletion check (``ids`` then ``sweep``, see ``domain.sync_plan``) lists the ids
of the scope page by page into the checkpoint's ``seen`` set and hands over to the full sync's own sweep,
which asks for every stored live issue missing from it with a direct GET and tombstones it on 404/410.

One :class:`IdListing` per tracker, picked by the adapter's ``name`` (STYLE habit 3):

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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar, cast

from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.jira import SEARCH_PATH
from trackbridge.providers.pagination import PageCursor, PageRequest

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


class _JqlScoped(Protocol):
    """What the Jira listing needs of the Jira adapter beyond the base class."""

    def sync_query(self, *, since: datetime | None = None, include_closed: bool = True) -> Any: ...


class JiraIdSearch(IdListing):
    """The full sync's JQL (scope, ``ORDER BY key``) asking for ids only, 50 times as many per page."""

    path: ClassVar[str] = SEARCH_PATH
    fields: ClassVar[Sequence[str]] = ("id",)
    # Jira Cloud returns up to 5,000 issues per page when only id or key is asked for.
    max_results: ClassVar[int] = 5_000

    def page(self, adapter: TrackerAdapter, *, include_closed: bool, cursor: PageCursor | None) -> IdPage:
        jql = cast(_JqlScoped, adapter).sync_query(include_closed=include_closed)
        body = {"jql": jql.render(), "fields": list(self.fields), "maxResults": self.max_results}
        fetched = first_page(
            adapter.iter_pages(PageRequest(url=self.path, method="POST", json=body), cursor=cursor)
        )
        found = adapter.expect_dict(fetched.body, "search results").get("issues", [])
        raw_issues = adapter.expect_list(found, "issues")
        ids = adapter.normalize("issue id", lambda: tuple(_issue_id(raw) for raw in raw_issues))
        return IdPage(ids, fetched.next_cursor)


def _issue_id(raw: Any) -> str:
    if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
        raise ValueError("a search result without an id")
    return str(raw["id"])


ID_LISTINGS: dict[str, IdListing] = {"jira": JiraIdSearch()}
DEFAULT_LISTING = IdListing()


def id_listing_for(adapter: TrackerAdapter) -> IdListing:
    return ID_LISTINGS.get(adapter.name, DEFAULT_LISTING)


__all__ = [
    "DEFAULT_LISTING",
    "ID_LISTINGS",
    "IdListing",
    "IdPage",
    "JiraIdSearch",
    "first_page",
    "id_listing_for",
]
