"""The GitHub sandbox's ``GET /search/issues``: its own rate-limit bucket, the 1000-result cap, GitHub's 422s.

The query language itself is ``_query``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core import (
    ApiError,
    Principal,
    Reply,
    SandboxRequest,
    last_page,
    link_header,
    numbered_page_links,
    page_slice,
    page_url,
    route,
)
from ._base import (
    SEARCH_CAP,
    SEARCH_DOCS,
    UNSEARCHABLE,
    GitHubBase,
    invalid,
)
from ._query import SORTS as SEARCH_SORTS
from ._query import SearchError, parse_query, search


class SearchRoutes(GitHubBase):
    """Issue search, charged to the caller's ``search`` bucket, never to ``core``."""

    @route("GET", "/search/issues", rate_limited=False)
    def search_issues(self, request: SandboxRequest) -> Reply:
        # rate_limited=False keeps the core bucket out of it; the search bucket is checked and charged here.
        principal = request.principal
        assert principal is not None
        standing = self._search_bucket(principal, charge=False)
        if standing.exhausted:
            error = self.rate_limited(request, standing)
            error.headers.update(self.rate_limit_headers(standing))
            raise error
        headers = self.rate_limit_headers(self._search_bucket(principal, charge=True))
        try:
            reply = self._search(request, principal)
        except ApiError as error:
            error.headers = {**headers, **error.headers}
            raise
        reply.headers.update(headers)
        return reply

    def _search(self, request: SandboxRequest, principal: Principal) -> Reply:
        q = request.args.get("q", "")
        if not q.strip():
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Search", "field": "q", "code": "missing"}],
                documentation_url=SEARCH_DOCS,
            )
        sort = request.args.get("sort") or None
        if sort is not None and sort not in SEARCH_SORTS:
            raise invalid("Search", "sort", sort)
        descending = self._choice(request, "order", ("asc", "desc"), "desc", "Search") == "desc"
        page, per_page = self._paging(request, "Search")
        if (page - 1) * per_page >= SEARCH_CAP:
            raise ApiError(
                422, "Only the first 1000 search results are available", documentation_url=SEARCH_DOCS
            )
        state = self.state
        try:
            query = parse_query(q, viewer=principal.login)
            visible = principal.may(state.full_name)
            if query.unknown_scopes(state.owner, state.repo) or (
                not visible and (query.repos or query.owners)
            ):
                raise SearchError(UNSEARCHABLE)
        except SearchError as exc:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}],
                documentation_url=SEARCH_DOCS,
            ) from None
        results: Sequence[tuple[int, float]] = []
        if visible and query.covers(state.owner, state.repo):
            results = self.view(
                ("search", q, principal.login, sort, descending),
                lambda: search(query, state, sort, descending),
            )
        reachable = results[:SEARCH_CAP]
        params = dict(request.args.items())

        def url_for(number: int) -> str:
            return page_url(self.url, request.path, params, page=number)

        links = numbered_page_links(url_for, page, last_page(len(reachable), per_page))
        issues, render = state.issues, self.render.search_item
        items = []
        for number, score in reachable[page_slice(page, per_page)]:
            issue = issues[number - 1]
            if issue is not None:
                items.append(render(issue, score))
        body = {
            "total_count": len(results),
            "incomplete_results": False,
            "search_type": "lexical",
            "items": items,
        }
        return Reply(body, 200, {"Link": value} if (value := link_header(links)) else {})
