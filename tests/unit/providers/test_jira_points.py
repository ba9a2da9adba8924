"""Jira's points-based rate-limit headers (March 2026): structured policy/standing, legacy X-Beta twins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from trackbridge.providers.ratelimit import JiraRateLimits, parse_structured_limits

NOW = datetime(2026, 3, 2, 12, 20, tzinfo=UTC)


def test_structured_fields_hold_several_policies_in_any_order_and_skip_junk() -> None:
    parsed = parse_structured_limits('"burst";q=100;w=1, "global-app-quota";q=65000;w=3600, ;q=1, "x";q=abc')
    assert parsed["global-app-quota"] == {"q": 65000, "w": 3600}
    assert parsed["burst"] == {"q": 100, "w": 1}
    assert parsed["x"] == {}
    assert parse_structured_limits(None) == {}


def test_a_standing_under_a_fifth_of_the_quota_is_near_the_limit_until_t() -> None:
    info = JiraRateLimits().read(
        httpx.Headers(
            {
                "Beta-RateLimit-Policy": '"global-app-quota";q=65000;w=3600',
                "Beta-RateLimit": '"global-app-quota";r=11000;t=600',
            }
        ),
        NOW,
    )
    assert info.near_limit is True
    assert (info.limit, info.remaining, info.window_s) == (65000, 11000, 3600)
    assert info.reset_at == NOW + timedelta(seconds=600)
    assert info.resume_at(NOW) == NOW + timedelta(seconds=600)


def test_a_policy_alone_is_not_near_the_limit() -> None:
    info = JiraRateLimits().read(
        httpx.Headers({"Beta-RateLimit-Policy": '"global-app-quota";q=65000;w=3600'}), NOW
    )
    assert info.near_limit is False
    assert info.reset_at is None


def test_the_legacy_x_beta_headers_stand_in_for_the_enforced_ones() -> None:
    info = JiraRateLimits().read(
        httpx.Headers(
            {
                "X-Beta-RateLimit-Reason": "jira-quota-tenant-based",
                "X-Beta-RateLimit-NearLimit": "true",
                "X-Beta-RateLimit-Reset": "2026-03-02T13:00:00Z",
            }
        ),
        NOW,
    )
    assert info.quota is True
    assert info.scope == "tenant"
    assert info.near_limit is True
    assert info.reset_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def test_the_enforced_header_wins_over_its_beta_twin() -> None:
    info = JiraRateLimits().read(
        httpx.Headers(
            {"RateLimit-Reason": "jira-burst-based", "X-Beta-RateLimit-Reason": "jira-quota-tenant-based"}
        ),
        NOW,
    )
    assert (info.reason, info.quota, info.scope) == ("jira-burst-based", False, "endpoint")


@pytest.mark.parametrize(
    ("reason", "scope"),
    [
        ("jira-quota-global-based", "tenant"),
        ("jira-quota-tenant-based", "tenant"),
        ("jira-burst-based", "endpoint"),
        ("jira-per-issue-on-write", "issue"),
        ("jira-cost-based", "endpoint"),  # undocumented: treated as a burst
    ],
)
def test_the_reason_says_what_must_wait(reason: str, scope: str) -> None:
    info = JiraRateLimits().read(httpx.Headers({"RateLimit-Reason": reason, "Retry-After": "3"}), NOW)
    assert info.scope == scope
    assert info.retry_after_s == 3


def test_no_reason_no_scope() -> None:
    assert JiraRateLimits().read(httpx.Headers({}), NOW).scope is None
