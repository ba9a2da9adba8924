"""Fault answers look like the tracker's own: the rate-limit headers every real response carries, and a rule
with ``rate_limit_reset_s`` answering as the tracker's own rate-limit response (issue 13, sandbox fidelity).
"""

from __future__ import annotations

import time

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox

pytestmark = pytest.mark.integration

GITHUB_ISSUES = "/repos/acme/widgets/issues"
GITHUB_ROUTE = "GET /repos/{owner}/{repo}/issues"
GITHUB_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used")
GITLAB_ISSUES = "/projects/4242/issues"
GITLAB_ROUTE = "GET /api/v4/projects/{id}/issues"
GITLAB_HEADERS = (
    "RateLimit-Name",
    "RateLimit-Limit",
    "RateLimit-Observed",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
JIRA_MYSELF = "/rest/api/3/myself"
JIRA_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining")


def _names(response: httpx.Response, names: tuple[str, ...]) -> dict[str, str]:
    return {name: response.headers.get(name, "<missing>") for name in names}


# ------------------------------------------------------------------ GitHub


@pytest.mark.parametrize("status", [500, 502, 404])
def test_github_fault_answers_carry_the_rate_limit_headers(
    github: GitHubSandbox, github_http: httpx.Client, status: int
) -> None:
    normal = github_http.get(GITHUB_ISSUES)
    github.add_faults([{"route": GITHUB_ROUTE, "status": status, "times": 1}])

    faulted = github_http.get(GITHUB_ISSUES)

    assert faulted.status_code == status
    assert "<missing>" not in _names(faulted, GITHUB_HEADERS).values(), faulted.headers
    assert faulted.headers["X-RateLimit-Resource"] == "core"
    assert faulted.headers["X-RateLimit-Limit"] == normal.headers["X-RateLimit-Limit"]
    assert faulted.headers["X-RateLimit-Reset"] == normal.headers["X-RateLimit-Reset"]
    assert int(faulted.headers["X-RateLimit-Remaining"]) > 0


def test_github_secondary_limit_fault_keeps_the_primary_headers(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    github.add_faults([{"route": GITHUB_ROUTE, "status": 403, "retry_after_s": 60, "times": 1}])

    response = github_http.get(GITHUB_ISSUES)

    assert response.status_code == 403
    assert response.headers["Retry-After"] == "60"
    assert "secondary rate limit" in response.json()["message"]
    assert int(response.headers["X-RateLimit-Remaining"]) > 0  # a secondary limit leaves the primary alone


@pytest.mark.parametrize("status", [403, 429])
def test_github_rate_limit_fault_with_status_is_githubs_primary_limit_answer(
    github: GitHubSandbox, github_http: httpx.Client, status: int
) -> None:
    github.add_faults([{"route": GITHUB_ROUTE, "status": status, "rate_limit_reset_s": 600, "times": 1}])
    before = int(time.time())

    limited = github_http.get(GITHUB_ISSUES)
    following = github_http.get(f"{GITHUB_ISSUES}/1")

    assert limited.status_code == status
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert before < int(limited.headers["X-RateLimit-Reset"]) <= int(time.time()) + 601
    assert limited.json()["message"].startswith("API rate limit exceeded for user ID")
    assert "rate-limits" in limited.json()["documentation_url"]
    # the same exhaustion the rest of the token sees (the tracker's own 403 then)
    assert following.status_code == 403
    assert following.headers["X-RateLimit-Reset"] == limited.headers["X-RateLimit-Reset"]


# ------------------------------------------------------------------ GitLab


def test_gitlab_fault_answers_carry_the_rate_limit_headers(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    normal = gitlab_http.get(GITLAB_ISSUES)
    gitlab.add_faults([{"route": GITLAB_ROUTE, "status": 500, "times": 1}])

    faulted = gitlab_http.get(GITLAB_ISSUES)

    assert faulted.status_code == 500
    assert "<missing>" not in _names(faulted, GITLAB_HEADERS).values(), faulted.headers
    assert faulted.headers["RateLimit-Name"] == "throttle_authenticated_api"
    assert faulted.headers["RateLimit-Limit"] == normal.headers["RateLimit-Limit"]
    assert int(faulted.headers["RateLimit-Remaining"]) > 0


def test_gitlab_rate_limit_fault_with_status_is_gitlabs_429(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    gitlab.add_faults([{"route": GITLAB_ROUTE, "status": 429, "rate_limit_reset_s": 600, "times": 1}])
    before = int(time.time())

    limited = gitlab_http.get(GITLAB_ISSUES)
    following = gitlab_http.get("/projects/4242")

    assert limited.status_code == 429
    assert limited.text == "Retry later\n"
    assert limited.headers["content-type"].startswith("text/plain")
    assert "<missing>" not in _names(limited, GITLAB_HEADERS).values(), limited.headers
    assert limited.headers["RateLimit-Remaining"] == "0"
    reset = int(limited.headers["RateLimit-Reset"])
    assert before < reset <= int(time.time()) + 601  # absolute epoch seconds, not a delta
    assert 1 <= int(limited.headers["Retry-After"]) <= 601
    assert limited.headers["RateLimit-ResetTime"].endswith("GMT")
    # the faulted answer names the same reset as the exhaustion it caused
    assert following.status_code == 429
    assert following.headers["RateLimit-Reset"] == limited.headers["RateLimit-Reset"]


# ------------------------------------------------------------------ Jira


def test_jira_fault_answers_carry_the_rate_limit_headers(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    normal = jira_http.get(JIRA_MYSELF)
    jira.add_faults([{"route": f"GET {JIRA_MYSELF}", "status": 503, "times": 1}])

    faulted = jira_http.get(JIRA_MYSELF)

    assert faulted.status_code == 503
    assert "<missing>" not in _names(faulted, JIRA_HEADERS).values(), faulted.headers
    assert faulted.headers["X-RateLimit-Limit"] == normal.headers["X-RateLimit-Limit"]
    assert faulted.headers["X-AAccountId"] == normal.headers["X-AAccountId"]


def test_jira_rate_limit_fault_with_status_is_jiras_429(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    jira.add_faults([{"route": f"GET {JIRA_MYSELF}", "status": 429, "rate_limit_reset_s": 600, "times": 1}])

    limited = jira_http.get(JIRA_MYSELF)
    following = jira_http.get(JIRA_MYSELF)

    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    # Retry-After is the exhaustion the rule caused (600 s), not a one-second default
    assert 60 < int(limited.headers["Retry-After"]) <= 601
    assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
    assert limited.headers["X-RateLimit-Reset"] == following.headers["X-RateLimit-Reset"]
    assert following.status_code == 429
    # the structured pair in the IETF draft form, its t the same wait as Retry-After
    policy = limited.headers["Beta-RateLimit-Policy"]
    assert policy == f'"global-app-quota";q={limited.headers["X-RateLimit-Limit"]};w=3600'
    standing = limited.headers["Beta-RateLimit"]
    assert standing == f'"global-app-quota";r=0;t={limited.headers["Retry-After"]}'


def test_jiras_primary_limit_answer_carries_the_structured_headers(
    jira: JiraSandbox, jira_http: httpx.Client
) -> None:
    jira.exhaust_rate_limit(120)

    limited = jira_http.get(JIRA_MYSELF)

    assert limited.status_code == 429
    assert limited.headers["Beta-RateLimit-Policy"].startswith('"global-app-quota";q=')
    assert limited.headers["Beta-RateLimit"] == f'"global-app-quota";r=0;t={limited.headers["Retry-After"]}'


def test_a_plain_429_fault_is_not_a_quota_answer(jira: JiraSandbox, jira_http: httpx.Client) -> None:
    jira.add_faults([{"route": f"GET {JIRA_MYSELF}", "status": 429, "retry_after_s": 3, "times": 1}])

    limited = jira_http.get(JIRA_MYSELF)

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert "Beta-RateLimit" not in limited.headers  # a burst answer: the quota is not spent


# ------------------------------------------------------------------ every tracker


@pytest.mark.parametrize(
    ("tracker", "path", "headers", "remaining"),
    [
        ("github", "/repos/acme/widgets/no-such-thing", GITHUB_HEADERS, "X-RateLimit-Remaining"),
        ("gitlab", "/projects/4242/no-such-thing", GITLAB_HEADERS, "RateLimit-Remaining"),
        ("jira", "/rest/api/3/no-such-thing", JIRA_HEADERS, "X-RateLimit-Remaining"),
    ],
)
def test_an_unknown_route_answers_an_identified_caller_with_its_rate_limit_headers(
    request: pytest.FixtureRequest, tracker: str, path: str, headers: tuple[str, ...], remaining: str
) -> None:
    client: httpx.Client = request.getfixturevalue(f"{tracker}_http")
    sandbox = request.getfixturevalue(tracker)
    known = client.get({"github": GITHUB_ISSUES, "gitlab": GITLAB_ISSUES, "jira": JIRA_MYSELF}[tracker])

    missing = client.get(path)
    sandbox.add_faults([{"route": "GET <unmatched>", "status": 502, "times": 1}])
    faulted = client.get(path)

    assert missing.status_code in (404, 405)
    assert faulted.status_code == 502
    for answer in (missing, faulted):
        assert "<missing>" not in _names(answer, headers).values(), answer.headers
        assert answer.headers[headers[0]] == known.headers[headers[0]]
    # peeked, not charged: the unknown route did not spend the caller's budget
    assert missing.headers[remaining] == client.get(path).headers[remaining]
