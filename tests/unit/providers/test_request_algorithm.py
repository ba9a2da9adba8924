"""The base request algorithm: retry only what can succeed on retry, wait out short rate limits, count.

Driven through the GitHub adapter (the base class is abstract) against a scripted MockTransport; the
sleep is recorded, never slept.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.errors import (
    ConflictError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TrackerError,
    TransientError,
)
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.retry import NO_RETRY, RetryPolicy

from .conftest import NOW, FakeTracker, Sleeps, json_response

REPO = "/repos/acme/widgets"
OK = json_response(200, {"full_name": "acme/widgets"})


def test_retries_server_errors_then_succeeds(
    github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps
) -> None:
    # Given a tracker that fails twice with 502 and 503 before answering
    fake.on(
        "GET",
        REPO,
        httpx.Response(502, text="<html><body>Bad Gateway</body></html>"),
        json_response(503, {"message": "Service Unavailable"}),
        OK,
    )
    # When the adapter asks once
    response = github.request("GET", REPO)
    # Then it got the answer after three requests and two jittered, capped backoffs
    assert response.status_code == 200
    assert github.stats.requests == 3
    assert github.stats.retries == 2
    assert len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 0.5
    assert 0 <= sleeps.calls[1] <= 1.0


def test_gives_up_after_max_attempts(github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps) -> None:
    fake.on("GET", REPO, json_response(500, {"message": "Server Error"}))
    with pytest.raises(TransientError) as caught:
        github.request("GET", REPO)
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert caught.value.status == 500
    assert caught.value.retryable is True
    assert github.stats.requests == 3  # max_attempts of the fixture's policy
    assert len(sleeps.calls) == 2


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, InvalidRequestError),
        (401, TrackerError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, InvalidRequestError),
    ],
)
def test_never_retries_client_errors(
    github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps, status: int, error_class: type[TrackerError]
) -> None:
    fake.on("GET", REPO, json_response(status, {"message": "nope"}), OK)
    with pytest.raises(error_class) as caught:
        github.request("GET", REPO)
    assert caught.value.status == status
    assert caught.value.retryable is False
    assert github.stats.requests == 1
    assert sleeps.calls == []


def test_post_is_not_repeated_after_a_server_error(github: GitHubAdapter, fake: FakeTracker) -> None:
    # A 503 after a POST may or may not have created the issue: repeating it could create two.
    fake.on("POST", f"{REPO}/issues", json_response(503, {"message": "unavailable"}), json_response(201, {}))
    with pytest.raises(TransientError):
        github.request("POST", f"{REPO}/issues", json={"title": "t"})
    assert github.stats.requests == 1


def test_post_is_repeated_when_the_connection_never_opened(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "POST", f"{REPO}/issues", httpx.ConnectError("connection refused"), json_response(201, {"number": 1})
    )
    response = github.request("POST", f"{REPO}/issues", json={"title": "t"})
    assert response.status_code == 201
    assert github.stats.requests == 2


def test_post_read_timeout_is_not_repeated(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("POST", f"{REPO}/issues", httpx.ReadTimeout("slow"), json_response(201, {}))
    with pytest.raises(TransientError) as caught:
        github.request("POST", f"{REPO}/issues", json={"title": "t"})
    assert caught.value.code is ErrorCode.TIMEOUT
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert github.stats.requests == 1


def test_idempotent_write_may_be_repeated(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("PATCH", f"{REPO}/issues/1", json_response(502, {}), json_response(200, {"number": 1}))
    response = github.request("PATCH", f"{REPO}/issues/1", json={"state": "closed"}, idempotent=True)
    assert response.status_code == 200
    assert github.stats.requests == 2


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ReadTimeout("read timed out"), ErrorCode.TIMEOUT),
        (httpx.ConnectTimeout("connect timed out"), ErrorCode.TIMEOUT),
        (httpx.ConnectError("[Errno 111] Connection refused"), ErrorCode.NETWORK_GLITCH),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
            ErrorCode.NETWORK_GLITCH,
        ),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), ErrorCode.NETWORK_GLITCH),
    ],
)
def test_network_failures_are_retried_then_classified(
    github: GitHubAdapter, fake: FakeTracker, exc: Exception, code: ErrorCode
) -> None:
    # Given a GET that fails the same way every time
    fake.on("GET", REPO, exc)
    # Then every attempt is spent and the error says which failure it was, chained to httpx's
    with pytest.raises(TransientError) as caught:
        github.request("GET", REPO)
    assert caught.value.code is code
    assert caught.value.__cause__ is exc
    assert github.stats.requests == 3
    # And a transient network failure followed by success is invisible to the caller
    fake.routes.clear()
    fake.on("GET", REPO, exc, OK)
    assert github.request("GET", REPO).status_code == 200


def test_honours_a_short_retry_after(github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps) -> None:
    fake.on("GET", REPO, json_response(429, {"message": "slow down"}, {"retry-after": "3"}), OK)
    assert github.request("GET", REPO).status_code == 200
    assert len(sleeps.calls) == 1
    assert 3.0 <= sleeps.calls[0] <= 3.3
    assert github.stats.rate_limit_waits == 1


def test_long_rate_limit_raises_with_reset_instead_of_sleeping(
    github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps
) -> None:
    fake.on("GET", REPO, json_response(429, {"message": "slow down"}, {"retry-after": "120"}), OK)
    with pytest.raises(RateLimitedError) as caught:
        github.request("GET", REPO)
    error = caught.value
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.retry_after_s == 120
    assert error.reset_at == NOW + timedelta(seconds=120)
    assert error.retryable is True
    assert sleeps.calls == []
    assert github.stats.requests == 1


def test_rate_limit_waits_are_bounded(github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps) -> None:
    fake.on("GET", REPO, json_response(429, {"message": "slow down"}, {"retry-after": "1"}))
    with pytest.raises(RateLimitedError):
        github.request("GET", REPO)
    assert len(sleeps.calls) == 2  # max_rate_limit_waits
    assert github.stats.requests == 3


def test_primary_quota_exhaustion_is_a_quota_with_the_header_reset(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    reset = int((NOW + timedelta(minutes=10)).timestamp())
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }
    body = {
        "message": "API rate limit exceeded for user ID 1.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        "status": "403",
    }
    fake.on("GET", REPO, json_response(403, body, headers))
    with pytest.raises(RateLimitedError) as caught:
        github.request("GET", REPO)
    assert caught.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert caught.value.quota is True
    assert caught.value.secondary is False
    assert caught.value.reset_at is not None
    assert int(caught.value.reset_at.timestamp()) == reset
    assert caught.value.retry_after_s == 600


def test_unhinted_429_waits_the_policy_default(fake: FakeTracker, sleeps: Sleeps) -> None:
    from trackbridge.providers.auth import BearerTokenAuth
    from trackbridge.providers.types import TrackerConfig

    from .conftest import CONNECTION_ID

    adapter = GitHubAdapter(
        TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID),
        BearerTokenAuth("t"),
        client=fake.client(),
        sleep=sleeps,
        retry=RetryPolicy(unhinted_rate_limit_wait_s=2.0),
    )
    fake.on("GET", REPO, json_response(429, {"message": "Too Many Requests"}), OK)
    assert adapter.request("GET", REPO).status_code == 200
    assert 2.0 <= sleeps.calls[0] <= 2.2


def test_no_retry_policy_fails_fast(fake: FakeTracker, sleeps: Sleeps) -> None:
    from trackbridge.providers.auth import BearerTokenAuth
    from trackbridge.providers.types import TrackerConfig

    from .conftest import CONNECTION_ID

    adapter = GitHubAdapter(
        TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID),
        BearerTokenAuth("t"),
        client=fake.client(),
        sleep=sleeps,
        retry=NO_RETRY,
    )
    fake.on("GET", REPO, json_response(503, {}), OK)
    with pytest.raises(TransientError):
        adapter.request("GET", REPO)
    assert adapter.stats.requests == 1
    assert sleeps.calls == []


def test_malformed_json_on_success_is_malformed_response(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        REPO,
        httpx.Response(200, content=b'{"full_name": "acme/wid', headers={"content-type": "application/json"}),
    )
    with pytest.raises(MalformedResponseError) as caught:
        github.get_json(REPO)
    assert caught.value.code is ErrorCode.MALFORMED_RESPONSE
    assert caught.value.status == 200


def test_refuses_to_send_credentials_off_origin(github: GitHubAdapter, fake: FakeTracker) -> None:
    with pytest.raises(MalformedResponseError):
        github.request("GET", "https://evil.example.com/repos/acme/widgets/issues?page=2")
    assert fake.requests == []


def test_sends_auth_version_and_accept_headers_and_reads_rate_limits(
    github: GitHubAdapter, fake: FakeTracker
) -> None:
    fake.on(
        "GET", REPO, json_response(200, {}, {"x-ratelimit-remaining": "4999", "x-ratelimit-limit": "5000"})
    )
    github.request("GET", REPO)
    sent = fake.last.headers
    assert sent["authorization"].startswith("Bearer ghp_")
    assert sent["accept"] == "application/vnd.github+json"
    assert sent["x-github-api-version"] == "2022-11-28"
    assert sent["user-agent"].startswith("trackbridge/")
    assert github.last_rate_limit is not None
    assert github.last_rate_limit.remaining == 4999


def test_a_listing_that_repeats_its_cursor_is_stopped(github: GitHubAdapter, fake: FakeTracker) -> None:
    loop = {"link": '<https://api.github.com/repos/acme/widgets/issues?page=2>; rel="next"'}
    fake.on("GET", f"{REPO}/issues", json_response(200, [], loop))
    with pytest.raises(MalformedResponseError, match="did not advance"):
        list(github.iter_issue_pages())
    assert len(fake.requests) == 2


def test_a_listing_that_never_ends_is_bounded(fake: FakeTracker) -> None:
    from trackbridge.providers.auth import BearerTokenAuth
    from trackbridge.providers.types import TrackerConfig

    from .conftest import CONNECTION_ID

    class ShortGitHub(GitHubAdapter):
        max_pages = 3

    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        link = {"link": f'<https://api.github.com/repos/acme/widgets/issues?page={page + 1}>; rel="next"'}
        return json_response(200, [], link)

    fake.on("GET", f"{REPO}/issues", endless)
    adapter = ShortGitHub(
        TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID),
        BearerTokenAuth("t"),
        client=fake.client(),
    )
    with pytest.raises(MalformedResponseError, match="did not end after 3 pages"):
        list(adapter.iter_issue_pages())
    assert len(fake.requests) == 3


def test_retry_after_on_a_503_is_honoured(github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps) -> None:
    fake.on("GET", REPO, json_response(503, {"message": "maintenance"}, {"retry-after": "4"}), OK)
    assert github.request("GET", REPO).status_code == 200
    assert sleeps.calls == [4.0]


def test_a_long_outage_announced_by_retry_after_is_not_slept_through(
    github: GitHubAdapter, fake: FakeTracker, sleeps: Sleeps
) -> None:
    fake.on("GET", REPO, json_response(503, {"message": "maintenance"}, {"retry-after": "3600"}), OK)
    with pytest.raises(TransientError) as caught:
        github.request("GET", REPO)
    assert caught.value.retry_after_s == 3600
    assert sleeps.calls == []


def test_default_ports_are_the_same_origin(github: GitHubAdapter, fake: FakeTracker) -> None:
    fake.on("GET", REPO, OK)
    assert github.request("GET", "https://api.github.com:443/repos/acme/widgets").status_code == 200
