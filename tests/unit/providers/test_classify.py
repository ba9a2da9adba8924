"""Error classification, table-driven from the trackers' real error bodies.

Bodies are as GitHub and GitLab document or return them (GitHub REST docs "Troubleshooting" and
"Rate limits" pages; GitLab ``doc/api/rest/troubleshooting.md``, ``lib/api/helpers.rb`` messages and
Doorkeeper's OAuth error bodies; GitLab's Rack::Attack throttle answers ``Retry later``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from trackbridge.domain.error_codes import ERROR_CODES, TRACKER_CODES, ErrorCode
from trackbridge.providers.classify import (
    ErrorRule,
    classify_response,
    classify_transport_error,
    extract_field_errors,
    extract_message,
)
from trackbridge.providers.errors import (
    AccountSuspendedError,
    AuthenticationError,
    ConflictError,
    FieldError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TrackerAccessError,
    TrackerError,
    TransientError,
    error_class_for,
    make_error,
)
from trackbridge.providers.github import GITHUB_ERROR_RULES
from trackbridge.providers.gitlab import GITLAB_ERROR_RULES
from trackbridge.providers.ratelimit import GitHubRateLimits, GitLabRateLimits

from .conftest import NOW

RESET = int((NOW + timedelta(minutes=20)).timestamp())


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    body: Any
    code: ErrorCode
    error_class: type[TrackerError]
    headers: dict[str, str] = field(default_factory=dict)
    message_has: str = ""
    fields: tuple[str, ...] = ()
    secondary: bool = False


def gh(message: str, status: int, **extra: Any) -> dict[str, Any]:
    return {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
        **extra,
    }


GITHUB_CASES = [
    Case(
        "bad-credentials",
        401,
        gh("Bad credentials", 401),
        ErrorCode.AUTH_INVALID,
        AuthenticationError,
        message_has="Bad credentials",
    ),
    Case("not-found", 404, gh("Not Found", 404), ErrorCode.NOT_FOUND, NotFoundError, message_has="Not Found"),
    Case(
        "validation-failed",
        422,
        gh(
            "Validation Failed",
            422,
            errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
        ),
        ErrorCode.INVALID_REQUEST,
        InvalidRequestError,
        message_has="Validation Failed",
        fields=("title",),
    ),
    Case(
        "validation-invalid-label",
        422,
        gh(
            "Validation Failed",
            422,
            errors=[{"value": "x y", "resource": "Label", "field": "name", "code": "invalid"}],
        ),
        ErrorCode.INVALID_REQUEST,
        InvalidRequestError,
        fields=("name",),
    ),
    Case(
        "primary-limit-403",
        403,
        gh("API rate limit exceeded for user ID 1.", 403),
        ErrorCode.QUOTA_EXHAUSTED,
        RateLimitedError,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000", "x-ratelimit-reset": str(RESET)},
    ),
    Case(
        "primary-limit-429",
        429,
        gh("API rate limit exceeded for user ID 1.", 429),
        ErrorCode.QUOTA_EXHAUSTED,
        RateLimitedError,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)},
    ),
    Case(
        "secondary-limit",
        403,
        gh(
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
            "If you reach out to GitHub Support for help, please include the request ID 1234:5678.",
            403,
        ),
        ErrorCode.RATE_LIMITED,
        RateLimitedError,
        headers={"x-ratelimit-remaining": "4000", "retry-after": "60"},
        secondary=True,
    ),
    Case(
        "fine-grained-permission",
        403,
        gh("Resource not accessible by personal access token", 403),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    ),
    Case(
        "app-permission",
        403,
        gh("Resource not accessible by integration", 403),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    ),
    Case(
        "suspended",
        403,
        gh("Sorry. Your account was suspended.", 403),
        ErrorCode.SUSPENDED_PAYMENT,
        AccountSuspendedError,
    ),
    Case(
        "issues-disabled",
        410,
        gh("Issues are disabled for this repo", 410),
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
    ),
    Case("deleted-issue", 410, gh("This issue was deleted", 410), ErrorCode.NOT_FOUND, NotFoundError),
    Case("conflict", 409, gh("Git Repository is empty.", 409), ErrorCode.CONFLICT, ConflictError),
    Case("too-large", 413, gh("Payload Too Large", 413), ErrorCode.PAYLOAD_TOO_LARGE, InvalidRequestError),
    Case("bad-json", 400, gh("Problems parsing JSON", 400), ErrorCode.INVALID_REQUEST, InvalidRequestError),
    Case("server-error", 500, gh("Server Error", 500), ErrorCode.PROVIDER_UNAVAILABLE, TransientError),
    Case(
        "bad-gateway-html",
        502,
        "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
        ErrorCode.PROVIDER_UNAVAILABLE,
        TransientError,
        message_has="Bad Gateway",
    ),
    Case("unavailable", 503, gh("Service Unavailable", 503), ErrorCode.PROVIDER_UNAVAILABLE, TransientError),
    Case("gateway-timeout", 504, "", ErrorCode.TIMEOUT, TransientError),
    Case("teapot", 418, gh("I'm a teapot", 418), ErrorCode.UNKNOWN, TrackerError),
]

GITLAB_CASES = [
    Case(
        "unauthorized",
        401,
        {"message": "401 Unauthorized"},
        ErrorCode.AUTH_INVALID,
        AuthenticationError,
        message_has="401 Unauthorized",
    ),
    Case(
        "oauth-expired",
        401,
        {
            "error": "invalid_token",
            "error_description": "Token is expired. You can either do re-authorization or token refresh.",
        },
        ErrorCode.AUTH_EXPIRED,
        AuthenticationError,
    ),
    Case(
        "oauth-revoked",
        401,
        {
            "error": "invalid_token",
            "error_description": "Token was revoked. You have to re-authorize from the user.",
        },
        ErrorCode.AUTH_INVALID,
        AuthenticationError,
    ),
    Case("forbidden", 403, {"message": "403 Forbidden"}, ErrorCode.PERMISSION_DENIED, PermissionDeniedError),
    Case(
        "insufficient-scope",
        403,
        {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": "api",
        },
        ErrorCode.PERMISSION_DENIED,
        PermissionDeniedError,
        message_has="higher privileges",
    ),
    Case(
        "blocked",
        403,
        {"message": "403 Forbidden - Your account has been blocked."},
        ErrorCode.SUSPENDED_PAYMENT,
        AccountSuspendedError,
    ),
    Case("project-not-found", 404, {"message": "404 Project Not Found"}, ErrorCode.NOT_FOUND, NotFoundError),
    Case("issue-not-found", 404, {"message": "404 Issue Not Found"}, ErrorCode.NOT_FOUND, NotFoundError),
    Case(
        "field-errors",
        400,
        {"message": {"title": ["can't be blank"], "labels": ["is invalid", "is too long"]}},
        ErrorCode.INVALID_REQUEST,
        InvalidRequestError,
        fields=("title", "labels"),
    ),
    Case(
        "missing-param",
        400,
        {"error": "title is missing"},
        ErrorCode.INVALID_REQUEST,
        InvalidRequestError,
        message_has="title is missing",
    ),
    Case(
        "keyset-unavailable",
        405,
        {"error": "Keyset pagination is not yet available for this type of request"},
        ErrorCode.INVALID_REQUEST,
        InvalidRequestError,
    ),
    Case("conflict", 409, {"message": "409 Conflict"}, ErrorCode.CONFLICT, ConflictError),
    Case(
        "too-large",
        413,
        {"message": "413 Request Entity Too Large"},
        ErrorCode.PAYLOAD_TOO_LARGE,
        InvalidRequestError,
    ),
    Case(
        "throttled",
        429,
        "Retry later\n",
        ErrorCode.RATE_LIMITED,
        RateLimitedError,
        headers={"retry-after": "30", "ratelimit-remaining": "0", "ratelimit-reset": str(RESET)},
        message_has="Retry later",
    ),
    Case(
        "server-error",
        500,
        {"message": "500 Internal Server Error"},
        ErrorCode.PROVIDER_UNAVAILABLE,
        TransientError,
    ),
    Case(
        "nginx-502",
        502,
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
        ErrorCode.PROVIDER_UNAVAILABLE,
        TransientError,
    ),
]


def _response(case: Case, url: str) -> httpx.Response:
    content = case.body.encode() if isinstance(case.body, str) else json.dumps(case.body).encode()
    kind = "text/plain" if isinstance(case.body, str) else "application/json"
    return httpx.Response(
        case.status,
        content=content,
        headers={"content-type": kind, **case.headers},
        request=httpx.Request("GET", url),
    )


def _check(error: TrackerError, case: Case, provider: str) -> None:
    assert type(error) is case.error_class
    assert error.code is case.code
    assert error.status == case.status
    assert error.provider == provider
    assert error.retryable is ERROR_CODES[case.code].retryable
    assert error.guidance
    assert case.message_has in error.message
    assert tuple(f.field for f in error.field_errors) == case.fields
    if isinstance(error, RateLimitedError):
        assert error.secondary is case.secondary
        assert error.reset_at is not None
        assert error.retry_after_s is not None


@pytest.mark.parametrize("case", GITHUB_CASES, ids=lambda c: c.id)
def test_github_error_bodies(case: Case) -> None:
    response = _response(case, "https://api.github.com/repos/acme/widgets/issues")
    info = GitHubRateLimits().read(response.headers, NOW)
    error = classify_response(response, provider="github", rate_limit=info, rules=GITHUB_ERROR_RULES, now=NOW)
    _check(error, case, "github")


@pytest.mark.parametrize("case", GITLAB_CASES, ids=lambda c: c.id)
def test_gitlab_error_bodies(case: Case) -> None:
    response = _response(case, "https://gitlab.example.com/api/v4/projects/1/issues")
    info = GitLabRateLimits().read(response.headers, NOW)
    error = classify_response(response, provider="gitlab", rate_limit=info, rules=GITLAB_ERROR_RULES, now=NOW)
    _check(error, case, "gitlab")


def test_secondary_limit_without_retry_after_waits_a_minute_not_the_hourly_reset() -> None:
    body = gh(
        "You have exceeded a secondary rate limit and have been temporarily blocked from content creation.",
        403,
    )
    case = Case(
        "x",
        403,
        body,
        ErrorCode.RATE_LIMITED,
        RateLimitedError,
        headers={"x-ratelimit-remaining": "10", "x-ratelimit-reset": str(RESET)},
    )
    response = _response(case, "https://api.github.com/repos/acme/widgets/issues")
    info = GitHubRateLimits().read(response.headers, NOW)
    error = classify_response(response, provider="github", rate_limit=info, rules=GITHUB_ERROR_RULES, now=NOW)
    assert isinstance(error, RateLimitedError)
    assert error.secondary is True
    assert error.retry_after_s == 60.0
    assert error.reset_at == NOW + timedelta(seconds=60)


def test_rule_guidance_overrides_the_code_default() -> None:
    case = GITHUB_CASES[0]
    response = _response(case, "https://api.github.com/user")
    error = classify_response(
        response,
        provider="github",
        rate_limit=GitHubRateLimits().read(response.headers, NOW),
        rules=GITHUB_ERROR_RULES,
    )
    assert "GitHub rejected the token" in error.guidance
    generic = classify_response(
        response, provider="x", rate_limit=GitHubRateLimits().read(response.headers, NOW)
    )
    assert generic.guidance == ERROR_CODES[ErrorCode.AUTH_INVALID].guidance


def test_custom_rule_with_predicate_is_consulted_first() -> None:
    rule = ErrorRule(
        ErrorCode.SUSPENDED_PAYMENT, frozenset({503}), when=lambda ctx: "site is suspended" in ctx.message
    )
    response = _response(
        Case(
            "x",
            503,
            {"errorMessages": ["Your Jira site is suspended"]},
            ErrorCode.SUSPENDED_PAYMENT,
            AccountSuspendedError,
        ),
        "https://x.atlassian.net/rest/api/3/myself",
    )
    error = classify_response(
        response, provider="jira", rate_limit=GitLabRateLimits().read(response.headers, NOW), rules=(rule,)
    )
    assert isinstance(error, AccountSuspendedError)
    assert error.retryable is False


@pytest.mark.parametrize(
    ("exc", "code", "error_class"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), ErrorCode.NETWORK_GLITCH, TransientError),
        (httpx.ReadTimeout("timed out"), ErrorCode.TIMEOUT, TransientError),
        (httpx.PoolTimeout("pool"), ErrorCode.TIMEOUT, TransientError),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            ErrorCode.NETWORK_GLITCH,
            TransientError,
        ),
        (httpx.DecodingError("bad gzip"), ErrorCode.MALFORMED_RESPONSE, MalformedResponseError),
        (
            httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
            ErrorCode.INVALID_REQUEST,
            InvalidRequestError,
        ),
        (httpx.TooManyRedirects("Exceeded maximum allowed redirects."), ErrorCode.UNKNOWN, TrackerError),
    ],
)
def test_transport_errors(exc: httpx.HTTPError, code: ErrorCode, error_class: type[TrackerError]) -> None:
    error = classify_transport_error(exc, provider="github")
    assert type(error) is error_class
    assert error.code is code
    assert error.status is None
    assert type(exc).__name__ in error.message


def test_message_extraction_across_shapes() -> None:
    assert (
        extract_message({"errorMessages": ["Issue does not exist"], "errors": {}}, "")
        == "Issue does not exist"
    )
    assert (
        extract_message({"errorMessages": [], "errors": {"summary": "required"}}, "") == "Validation failed"
    )
    assert extract_message(None, "  Retry later\n") == "Retry later"
    assert extract_message(None, "") == ""
    long = extract_message({"message": "x" * 2000}, "")
    assert len(long) == 500
    assert long.endswith("…")


def test_field_errors_across_shapes() -> None:
    assert extract_field_errors({"errors": {"summary": "You must specify a summary of the issue."}}) == [
        FieldError("summary", "You must specify a summary of the issue.")
    ]
    assert extract_field_errors({"errors": ["Subject cannot be blank"]}) == [
        FieldError("", "Subject cannot be blank")
    ]
    assert extract_field_errors({"message": {"title": ["can't be blank"]}}) == [
        FieldError("title", "can't be blank")
    ]
    assert extract_field_errors("not a dict") == []


def test_every_code_has_an_error_class_and_a_table_row() -> None:
    assert set(ERROR_CODES) == set(ErrorCode)
    for code in TRACKER_CODES:
        info = ERROR_CODES[code]
        assert info.guidance.endswith(".")
        assert 400 <= info.http_status < 600
        error = make_error(code, "m", provider="p")
        assert isinstance(error, error_class_for(code))
        assert error.code is code
        assert error.retryable is info.retryable
    # Callers that only need "a person must act" branch on one class.
    for code in (
        ErrorCode.AUTH_INVALID,
        ErrorCode.AUTH_EXPIRED,
        ErrorCode.PERMISSION_DENIED,
        ErrorCode.SUSPENDED_PAYMENT,
    ):
        assert isinstance(make_error(code, "m"), TrackerAccessError)


def test_error_serializes_for_sync_logs() -> None:
    error = make_error(
        ErrorCode.RATE_LIMITED,
        "slow",
        provider="github",
        status=429,
        retry_after_s=5.0,
        reset_at=NOW,
        secondary=True,
    )
    data = error.to_dict()
    assert data["code"] == "RATE_LIMITED"
    assert data["reset_at"] == NOW.isoformat()
    assert data["secondary"] is True
    assert data["quota"] is False
    assert json.loads(json.dumps(data)) == data
    assert error.http_status == 429
    assert "RATE_LIMITED" in repr(error)
