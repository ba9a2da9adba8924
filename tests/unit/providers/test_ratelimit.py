"""Rate-limit headers as each tracker writes them (shared/research/tracker-apis.md 1.6, 2.5, 3.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from trackbridge.providers.ratelimit import (
    GitHubRateLimits,
    GitLabRateLimits,
    JiraRateLimits,
    NoRateLimitHeaders,
    parse_retry_after,
)

from .conftest import NOW


def test_github_headers() -> None:
    headers = httpx.Headers(
        {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4987",
            "x-ratelimit-used": "13",
            "x-ratelimit-reset": "1772370000",
            "x-ratelimit-resource": "core",
        }
    )
    info = GitHubRateLimits().read(headers, NOW)
    assert (info.limit, info.remaining, info.used, info.resource) == (5000, 4987, 13, "core")
    assert info.reset_at == datetime.fromtimestamp(1772370000, tz=UTC)
    assert info.exhausted is False
    assert info.quota is False
    assert info.wait_s(NOW) == (info.reset_at - NOW).total_seconds()


def test_github_exhausted_budget_is_a_quota() -> None:
    info = GitHubRateLimits().read(httpx.Headers({"x-ratelimit-remaining": "0"}), NOW)
    assert info.exhausted
    assert info.quota


def test_gitlab_reset_is_an_absolute_epoch_not_a_delta() -> None:
    reset = int((NOW + timedelta(seconds=42)).timestamp())
    headers = httpx.Headers(
        {
            "RateLimit-Limit": "600",
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Observed": "600",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": "Sun, 01 Mar 2026 12:00:42 GMT",
            "Retry-After": "42",
        }
    )
    info = GitLabRateLimits().read(headers, NOW)
    assert info.reset_at == NOW + timedelta(seconds=42)
    assert (info.limit, info.remaining, info.used) == (600, 0, 600)
    assert info.resource == "throttle_authenticated_api"
    assert info.retry_after_s == 42
    assert info.quota is False  # a per-minute throttle, not an hourly budget


def test_gitlab_falls_back_to_the_http_date_reset() -> None:
    info = GitLabRateLimits().read(
        httpx.Headers({"RateLimit-ResetTime": "Sun, 01 Mar 2026 12:01:00 GMT"}), NOW
    )
    assert info.reset_at == NOW + timedelta(minutes=1)


def test_jira_iso_reset_reason_and_near_limit() -> None:
    headers = httpx.Headers(
        {
            "Retry-After": "1847",
            "X-RateLimit-Limit": "100000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2025-10-08T15:00:00Z",
            "RateLimit-Reason": "jira-quota-global-based",
            "X-RateLimit-NearLimit": "true",
        }
    )
    info = JiraRateLimits().read(headers, NOW)
    assert info.reset_at == datetime(2025, 10, 8, 15, 0, tzinfo=UTC)
    assert info.retry_after_s == 1847
    assert info.reason == "jira-quota-global-based"
    assert info.quota is True
    assert info.near_limit is True


@pytest.mark.parametrize("reason", ["jira-burst-based", "jira-per-issue-on-write", "jira-cost-based"])
def test_jira_burst_and_unknown_reasons_are_not_quotas(reason: str) -> None:
    info = JiraRateLimits().read(
        httpx.Headers({"RateLimit-Reason": reason, "X-RateLimit-Reset": "2026-03-01T12:01Z"}), NOW
    )
    assert info.quota is False
    assert info.reset_at == NOW + timedelta(minutes=1)  # minute-precision ISO form of older docs


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", NOW) == 30
    assert parse_retry_after("-5", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("nan", NOW) is None


def test_junk_headers_are_ignored_never_raised() -> None:
    headers = httpx.Headers(
        {
            "x-ratelimit-remaining": "lots",
            "x-ratelimit-reset": "tomorrow",
            "RateLimit-Reset": "-1",
            "X-RateLimit-Reset": "?",
        }
    )
    for reader in (GitHubRateLimits(), GitLabRateLimits(), JiraRateLimits(), NoRateLimitHeaders()):
        info = reader.read(headers, NOW)
        assert info.reset_at is None
        assert info.wait_s(NOW) is None


def test_small_reset_values_are_read_as_deltas() -> None:
    info = GitHubRateLimits().read(httpx.Headers({"x-ratelimit-reset": "30"}), NOW)
    assert info.reset_at == NOW + timedelta(seconds=30)
    assert info.resume_at(NOW) == NOW + timedelta(seconds=30)
