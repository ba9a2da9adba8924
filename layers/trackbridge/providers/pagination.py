"""Paginators: one small object per pagination style, so the base class owns a single page loop.

A listing is a :class:`PageRequest` (method, url, params, JSON body). After each page the adapter's
paginator answers one question, :meth:`Paginator.next_cursor`: "where does the next page start?", as a
:class:`PageCursor` or ``None`` at the end; :meth:`Paginator.apply` turns a cursor back into the next
request. A cursor is plain data (``to_dict``/``from_dict``), so a sync slice can checkpoint it and resume
after a Lambda timeout, and nothing here assumes page numbers:

========================  ==========================================  ===================================
paginator                 trackers                                    cursor
========================  ==========================================  ===================================
LinkHeaderPaginator       GitHub (page or before/after), GitLab       ``url``: the ``rel="next"`` URL,
                          offset and keyset (Link is all keyset has)  requested verbatim
TokenPaginator            Jira ``search/jql`` (``nextPageToken`` +    ``token``
                          ``isLast``), Azure DevOps continuation
OffsetPaginator           Jira page beans (``startAt``/``isLast``),   ``offset``
                          YouTrack ``$skip``, Redmine ``offset``
RelayCursorPaginator      Linear GraphQL (``pageInfo.endCursor``)     ``token``
========================  ==========================================  ===================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Only in signatures. ``types`` imports this module for ``PageCursor``, and code that never calls a
    # tracker uses ``types`` (the API's request bodies): it must not pay for httpx.
    import httpx


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page's request. ``url`` is relative to the adapter's base URL, or absolute (a Link URL)."""

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    method: str = "GET"
    json: Any = None


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where the next page starts; exactly one of ``url``, ``token``, ``offset`` is set."""

    url: str | None = None
    token: str | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (("url", self.url), ("token", self.token), ("offset", self.offset))
            if v is not None
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PageCursor:
        """Rebuild a stored cursor; ``ValueError`` for anything that is not one (stored data may rot)."""
        if not isinstance(data, Mapping):
            raise ValueError("a page cursor must be an object")
        unknown = set(data) - {"url", "token", "offset"}
        url, token, offset = data.get("url"), data.get("token"), data.get("offset")
        if unknown or sum(v is not None for v in (url, token, offset)) != 1:
            raise ValueError("a page cursor has exactly one of url, token, offset")
        if url is not None and not isinstance(url, str):
            raise ValueError("cursor url must be a string")
        if token is not None and not isinstance(token, str):
            raise ValueError("cursor token must be a string")
        if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
            raise ValueError("cursor offset must be a non-negative integer")
        return cls(url=url, token=token, offset=offset)


class Paginator(Protocol):
    def next_cursor(self, request: PageRequest, response: httpx.Response, body: Any) -> PageCursor | None: ...

    def apply(self, request: PageRequest, cursor: PageCursor) -> PageRequest: ...


def _dig(body: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(body, Mapping):
            return None
        body = body.get(key)
    return body


@dataclass(frozen=True, slots=True)
class LinkHeaderPaginator:
    """Follow ``Link: <...>; rel="next"`` verbatim (GitHub's and GitLab's advice: never build the URL)."""

    def next_cursor(self, request: PageRequest, response: httpx.Response, body: Any) -> PageCursor | None:
        url = response.links.get("next", {}).get("url")
        return PageCursor(url=url) if url else None

    def apply(self, request: PageRequest, cursor: PageCursor) -> PageRequest:
        if cursor.url is None:
            raise ValueError("this listing pages by URL; the cursor has none")
        # The next URL already carries every query parameter, the page size and the position.
        return replace(request, url=cursor.url, params={})


@dataclass(frozen=True, slots=True)
class TokenPaginator:
    """An opaque token from the body, sent back as a parameter (or a JSON body field for POST searches)."""

    token_field: str = "nextPageToken"  # noqa: S105 - a field name, not a secret
    param: str = "nextPageToken"
    last_field: str | None = "isLast"
    in_body: bool = False

    def next_cursor(self, request: PageRequest, response: httpx.Response, body: Any) -> PageCursor | None:
        if not isinstance(body, Mapping):
            return None
        if self.last_field and body.get(self.last_field) is True:
            return None
        token = body.get(self.token_field)
        return PageCursor(token=token) if isinstance(token, str) and token else None

    def apply(self, request: PageRequest, cursor: PageCursor) -> PageRequest:
        if cursor.token is None:
            raise ValueError("this listing pages by token; the cursor has none")
        if self.in_body:
            return replace(request, json={**(request.json or {}), self.param: cursor.token})
        return replace(request, params={**request.params, self.param: cursor.token})


@dataclass(frozen=True, slots=True)
class OffsetPaginator:
    """``start + len(items)`` until the tracker says last, sends an empty page, or the total is reached.

    The next offset counts what came back, not what was asked for: Jira caps ``maxResults`` silently.
    """

    start_param: str = "startAt"
    items_field: str | None = "values"  # None: the body is a bare array (Jira users/search)
    last_field: str | None = "isLast"
    total_field: str | None = "total"
    size_param: str | None = "maxResults"

    def next_cursor(self, request: PageRequest, response: httpx.Response, body: Any) -> PageCursor | None:
        items = body if self.items_field is None else _dig(body, (self.items_field,))
        if not isinstance(items, list) or not items:
            return None
        if self.last_field and isinstance(body, Mapping) and body.get(self.last_field) is True:
            return None
        start = int(request.params.get(self.start_param, 0) or 0)
        following = start + len(items)
        total = body.get(self.total_field) if self.total_field and isinstance(body, Mapping) else None
        if isinstance(total, int) and following >= total:
            return None
        if self.items_field is None and self.size_param:
            # A bare array has no isLast/total: a short page is the last one.
            asked = request.params.get(self.size_param)
            if isinstance(asked, int) and len(items) < asked:
                return None
        return PageCursor(offset=following)

    def apply(self, request: PageRequest, cursor: PageCursor) -> PageRequest:
        if cursor.offset is None:
            raise ValueError("this listing pages by offset; the cursor has none")
        return replace(request, params={**request.params, self.start_param: cursor.offset})


@dataclass(frozen=True, slots=True)
class RelayCursorPaginator:
    """GraphQL Relay: ``pageInfo {hasNextPage endCursor}``, the next page via the ``after`` variable."""

    page_info_path: tuple[str, ...] = ("data", "issues", "pageInfo")
    variable: str = "after"

    def next_cursor(self, request: PageRequest, response: httpx.Response, body: Any) -> PageCursor | None:
        info = _dig(body, self.page_info_path)
        if not isinstance(info, Mapping) or info.get("hasNextPage") is not True:
            return None
        end = info.get("endCursor")
        return PageCursor(token=end) if isinstance(end, str) and end else None

    def apply(self, request: PageRequest, cursor: PageCursor) -> PageRequest:
        if cursor.token is None:
            raise ValueError("this listing pages by cursor; the cursor has none")
        payload = dict(request.json or {})
        payload["variables"] = {**(payload.get("variables") or {}), self.variable: cursor.token}
        return replace(request, json=payload)


__all__ = [
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "PageCursor",
    "PageRequest",
    "Paginator",
    "RelayCursorPaginator",
    "TokenPaginator",
]
