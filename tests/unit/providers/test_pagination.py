"""Paginators and cursors: every style answers "where does the next page start?" as plain data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from trackbridge.providers.etags import CachedPage, ETagCache
from trackbridge.providers.pagination import (
    LinkHeaderPaginator,
    OffsetPaginator,
    PageCursor,
    PageRequest,
    RelayCursorPaginator,
    TokenPaginator,
)


def _response(headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=headers or {}, request=httpx.Request("GET", "https://t.example.com/x"))


def test_link_header_next_is_followed_verbatim() -> None:
    link = (
        '<https://api.github.com/repositories/1/issues?state=all&per_page=100&page=2>; rel="next", '
        '<https://api.github.com/repositories/1/issues?state=all&per_page=100&page=5>; rel="last"'
    )
    request = PageRequest("/repos/acme/widgets/issues", {"state": "all", "per_page": 100})
    cursor = LinkHeaderPaginator().next_cursor(request, _response({"link": link}), [])
    assert cursor == PageCursor(
        url="https://api.github.com/repositories/1/issues?state=all&per_page=100&page=2"
    )
    following = LinkHeaderPaginator().apply(request, cursor)
    assert following.url == cursor.url
    assert following.params == {}


def test_link_header_absent_or_without_next_ends() -> None:
    request = PageRequest("/x")
    assert LinkHeaderPaginator().next_cursor(request, _response(), []) is None
    prev_only = {"link": '<https://t.example.com/x?page=1>; rel="prev"'}
    assert LinkHeaderPaginator().next_cursor(request, _response(prev_only), []) is None


def test_token_paginator_in_query_and_in_body() -> None:
    body = {"issues": [{}], "nextPageToken": "CAEaAggD", "isLast": False}
    request = PageRequest("/rest/api/3/search/jql", {"jql": "project = OPS"})
    cursor = TokenPaginator().next_cursor(request, _response(), body)
    assert cursor == PageCursor(token="CAEaAggD")
    assert TokenPaginator().apply(request, cursor).params["nextPageToken"] == "CAEaAggD"
    post = PageRequest("/rest/api/3/search/jql", method="POST", json={"jql": "project = OPS"})
    assert TokenPaginator(in_body=True).apply(post, cursor).json == {
        "jql": "project = OPS",
        "nextPageToken": "CAEaAggD",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"issues": [], "isLast": True, "nextPageToken": "stale"},  # isLast wins
        {"issues": [], "isLast": True},  # token "not included"
        {"issues": [], "nextPageToken": None},  # token "null"
        ["not", "an", "object"],
    ],
)
def test_token_paginator_last_page_forms(body: Any) -> None:
    assert TokenPaginator().next_cursor(PageRequest("/x"), _response(), body) is None


def test_offset_paginator_counts_what_came_back_not_what_was_asked() -> None:
    # Jira caps maxResults silently: asked for 100, got 50.
    request = PageRequest("/rest/api/3/project/search", {"startAt": 0, "maxResults": 100})
    body = {"startAt": 0, "maxResults": 50, "total": 120, "isLast": False, "values": [{}] * 50}
    cursor = OffsetPaginator().next_cursor(request, _response(), body)
    assert cursor == PageCursor(offset=50)
    second = OffsetPaginator().apply(request, cursor)
    assert second.params == {"startAt": 50, "maxResults": 100}
    last = {"startAt": 100, "total": 120, "values": [{}] * 20}
    assert (
        OffsetPaginator().next_cursor(
            OffsetPaginator().apply(request, PageCursor(offset=100)), _response(), last
        )
        is None
    )


def test_offset_paginator_other_shapes() -> None:
    comments = OffsetPaginator(items_field="comments")
    request = PageRequest("/rest/api/3/issue/OPS-1/comment", {"startAt": 0, "maxResults": 2})
    assert comments.next_cursor(request, _response(), {"comments": [{}, {}], "total": 5}) == PageCursor(
        offset=2
    )
    bare = OffsetPaginator(items_field=None, last_field=None, total_field=None)
    users = PageRequest("/rest/api/3/users/search", {"startAt": 0, "maxResults": 3})
    assert bare.next_cursor(users, _response(), [{}, {}, {}]) == PageCursor(offset=3)
    assert bare.next_cursor(users, _response(), [{}]) is None  # a short page is the last
    assert bare.next_cursor(users, _response(), []) is None
    assert OffsetPaginator().next_cursor(request, _response(), {"values": [{}], "isLast": True}) is None


def test_relay_cursor() -> None:
    request = PageRequest("/graphql", method="POST", json={"query": "q", "variables": {"first": 50}})
    body = {"data": {"issues": {"nodes": [{}], "pageInfo": {"hasNextPage": True, "endCursor": "abc"}}}}
    cursor = RelayCursorPaginator().next_cursor(request, _response(), body)
    assert cursor == PageCursor(token="abc")
    assert RelayCursorPaginator().apply(request, cursor).json == {
        "query": "q",
        "variables": {"first": 50, "after": "abc"},
    }
    done = {"data": {"issues": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": "abc"}}}}
    assert RelayCursorPaginator().next_cursor(request, _response(), done) is None


def test_cursor_round_trip_and_validation() -> None:
    for cursor in (PageCursor(url="https://x/y?page=2"), PageCursor(token="t"), PageCursor(offset=0)):
        assert PageCursor.from_dict(cursor.to_dict()) == cursor
    for bad in (
        {},
        {"url": "a", "token": "b"},
        {"offset": -1},
        {"offset": True},
        {"page": 2},
        {"url": 5},
        "x",
    ):
        with pytest.raises(ValueError, match="cursor"):
            PageCursor.from_dict(bad)  # type: ignore[arg-type]


def test_applying_the_wrong_kind_of_cursor_is_refused() -> None:
    with pytest.raises(ValueError, match="URL"):
        LinkHeaderPaginator().apply(PageRequest("/x"), PageCursor(token="t"))
    with pytest.raises(ValueError, match="token"):
        TokenPaginator().apply(PageRequest("/x"), PageCursor(offset=1))
    with pytest.raises(ValueError, match="offset"):
        OffsetPaginator().apply(PageRequest("/x"), PageCursor(url="u"))


def test_etag_cache_round_trip_bounds_and_forgiving_load() -> None:
    cache = ETagCache(max_entries=2)
    cache.put("a", CachedPage('W/"1"', PageCursor(url="https://x/a?page=2")))
    cache.put("b", CachedPage('W/"2"'))
    cache.put("a", CachedPage('W/"3"'))  # refreshing moves it to the young end
    cache.put("c", CachedPage('W/"4"'))  # evicts b, the oldest
    assert "b" not in cache
    assert len(cache) == 2
    restored = ETagCache.from_dict(cache.to_dict())
    assert restored.get("a") == CachedPage('W/"3"')
    assert restored.to_dict() == cache.to_dict()
    junk = {
        "x": {"etag": ""},
        "y": "nope",
        "z": {"etag": "e", "next": {"page": 1}},
        5: {"etag": "e"},
        "ok": {"etag": "e"},
    }
    assert ETagCache.from_dict(junk).to_dict() == {"ok": {"etag": "e"}}  # type: ignore[arg-type]
    assert len(ETagCache.from_dict(None)) == 0
    with pytest.raises(ValueError, match="max_entries"):
        ETagCache(max_entries=0)
