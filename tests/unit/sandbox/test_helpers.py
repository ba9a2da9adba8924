"""The core's small parts: sizes, fault rules, paging, rate limits, clock, loopback check."""

from __future__ import annotations

import time

import pytest

from infra.local.trackers._faults import FaultBook, graphql_operation, parse_rule
from infra.local.trackers._ratelimit import RateLimiter
from infra.local.trackers.core import (
    Clock,
    ListWindow,
    Sizes,
    SortedKeys,
    is_loopback_url,
    iso_z,
    last_page,
    link_header,
    numbered_page_links,
    page_slice,
    parse_iso,
)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"issues": -1}, "issues must be between"),
        ({"issues": True}, "issues must be a number"),
        ({"comments_per_issue": 2.5}, "must be an integer"),
        ({"closed_ratio": 1.5}, "closed_ratio must be between"),
        ({"colour": "red"}, "unknown size fields: colour"),
        ({"issues": 1_000_000, "comments_per_issue": 10}, "under 5,000,000"),
        ({"seed": ["x"]}, "seed must be"),
    ],
)
def test_sizes_reject_bad_values(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Sizes().with_changes(changes)


def test_sizes_accept_and_normalise() -> None:
    sizes = Sizes().with_changes({"seed": 7, "issues": 10.0, "closed_ratio": 1, "users": None})

    assert (sizes.seed, sizes.issues, sizes.closed_ratio, sizes.users) == ("7", 10, 1.0, Sizes().users)


def test_fault_rules_match_routes_every_and_times() -> None:
    book = FaultBook()
    book.add([parse_rule({"route": "GET /repos/*", "status": 500, "every": 2, "times": 2})])

    fired = [book.match("GET", "/repos/{owner}/{repo}/issues") is not None for _ in range(6)]

    assert fired == [False, True, False, True, False, False]
    assert book.describe() == []


def test_fault_rule_patterns() -> None:
    any_method = parse_rule({"route": "/a/{b}", "delay_s": 0.1})
    one_method = parse_rule({"route": "POST /a/{b}", "status": 503})
    explicit = parse_rule({"route": "*", "method": "get", "status": 503})

    assert any_method.matches("GET", "/a/{b}")
    assert any_method.matches("DELETE", "/a/{b}")
    assert one_method.matches("POST", "/a/{b}")
    assert not one_method.matches("GET", "/a/{b}")
    assert explicit.matches("GET", "/x")
    assert not explicit.matches("POST", "/x")


def test_a_fault_rule_naming_an_operation_matches_only_that_graphql_operation() -> None:
    rule = parse_rule({"route": "POST /graphql", "operation": "Issue*", "status": 500})

    assert rule.matches("POST", "/graphql", "Issues")
    assert not rule.matches("POST", "/graphql", "Comments")
    assert not rule.matches("POST", "/graphql")  # a request naming no operation
    assert parse_rule({"route": "POST /graphql", "status": 500}).matches("POST", "/graphql", "Comments")


@pytest.mark.parametrize(
    ("body", "operation"),
    [
        (b'{"query": "query Issues($first: Int!) { issues { nodes { id } } }"}', "Issues"),
        (b'{"query": "mutation IssueCreate { x }", "operationName": "Chosen"}', "Chosen"),
        (b'{"query": "{ viewer { id } }"}', None),  # anonymous
        (b'{"query": "query{ subscriptionX { id } }"}', None),  # a field's name is no operation
        (b"not json", None),
        (b"", None),
        (b'{"query": 3}', None),
    ],
)
def test_graphql_operation_names_what_the_body_runs(body: bytes, operation: str | None) -> None:
    assert graphql_operation(body) == operation


@pytest.mark.parametrize(
    "raw",
    [
        {"route": "*"},
        {"route": "POST /graphql", "operation": " ", "status": 500},
        {"status": 302},
        {"delay_s": 999},
        {"times": 0, "status": 500},
        {"delay_s": True},
        [],
        {"x": 1},
    ],
)
def test_bad_fault_rules(raw: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message; that one is raised is the point
        parse_rule(raw)


def test_sorted_keys_and_windows() -> None:
    index = SortedKeys([(5, 1), (3, 2), (9, 3)])
    index.add((4, 4))
    index.replace((3, 2), (10, 2))
    keys = index.keys()

    assert keys == [(4, 4), (5, 1), (9, 3), (10, 2)]
    start = index.index_at_or_after((5, 0))
    forward = ListWindow(keys, start, project=lambda key: key[1])
    backward = ListWindow(keys, start, reverse=True, project=lambda key: key[1])
    assert forward[0:10] == [1, 3, 2]
    assert backward[0:2] == [2, 3]
    assert backward[2:5] == [1]
    assert len(backward) == 3
    assert backward[-1] == 1


def test_page_arithmetic_and_links() -> None:
    def url(page: int) -> str:
        return f"u?page={page}"

    assert last_page(0, 30) == 1
    assert last_page(61, 30) == 3
    assert list(range(100))[page_slice(2, 30)] == list(range(30, 60))
    assert numbered_page_links(url, 1, 1) == []
    assert numbered_page_links(url, 1, 3) == [("next", "u?page=2"), ("last", "u?page=3")]
    assert [rel for rel, _ in numbered_page_links(url, 2, 3)] == ["prev", "next", "last", "first"]
    assert [rel for rel, _ in numbered_page_links(url, 3, 3)] == ["prev", "first"]
    assert link_header([("next", "u?page=2")]) == '<u?page=2>; rel="next"'
    assert link_header([]) is None


def test_rate_limiter_counts_and_exhausts() -> None:
    limiter = RateLimiter(window_s=3600)
    limiter.charge("a", 2)
    after = limiter.charge("a", 2)

    assert (after.remaining, after.used, after.exhausted) == (0, 2, True)
    assert limiter.peek("b", 2).remaining == 2
    reset = limiter.exhaust(30)
    assert limiter.peek("b", 2).remaining == 0
    assert limiter.peek("b", 2).reset == reset
    assert reset >= time.time() + 29
    limiter.clear()
    assert limiter.peek("a", 2).remaining == 2


def test_clock_and_timestamps() -> None:
    clock = Clock()
    clock.freeze(1_700_000_000)
    clock.advance(61)

    assert clock.now() == 1_700_000_061
    assert iso_z(1_700_000_061) == "2023-11-14T22:14:21Z"
    assert parse_iso("2023-11-14T22:14:21Z") == 1_700_000_061
    assert parse_iso("2023-11-14T23:14:21+01:00") == 1_700_000_061
    assert parse_iso("2023-11-14") == 1_699_920_000
    with pytest.raises(ValueError):  # noqa: PT011 - datetime's own message
        parse_iso("yesterday")
    clock.unfreeze()
    assert abs(clock.now() - time.time()) < 5


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8000/hook", True),
        ("http://localhost/x", True),
        ("http://[::1]:9/x", True),
        ("https://example.com/hook", False),
        ("http://10.0.0.1/x", False),
        ("ftp://127.0.0.1/x", False),
        ("not a url", False),
    ],
)
def test_webhooks_go_to_loopback_only(url: str, allowed: bool) -> None:
    assert is_loopback_url(url) is allowed
