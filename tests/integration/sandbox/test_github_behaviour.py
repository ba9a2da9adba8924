"""GitHub REST behaviour clients rely on: paging, filters, ETags, limits, errors, faults, page drift."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox

pytestmark = pytest.mark.integration

ISSUES = "/repos/acme/widgets/issues"
ERROR_KEYS = {"message", "documentation_url", "status"}


def _links(response: httpx.Response) -> dict[str, int]:
    """rel -> page number of the Link header."""
    return {
        rel: int(parse_qs(urlsplit(str(link["url"])).query)["page"][0])
        for rel, link in response.links.items()
    }


def _walk(http: httpx.Client, params: dict[str, str]) -> list[int]:
    numbers: list[int] = []
    url: str | None = ISSUES
    query: dict[str, str] | None = params
    for _ in range(100):  # bounded: 100 pages is far beyond any test's data
        response = http.get(url or ISSUES, params=query)
        assert response.status_code == 200, response.text
        numbers += [item["number"] for item in response.json()]
        url, query = response.links.get("next", {}).get("url"), None
        if url is None:
            return numbers
    raise AssertionError("pagination did not end")


# ---------------------------------------------------------------------------------------------- paging


def test_link_header_has_prev_next_last_first(github: GitHubSandbox, github_http: httpx.Client) -> None:
    first = github_http.get(ISSUES, params={"state": "all", "per_page": "50"})
    middle = github_http.get(ISSUES, params={"state": "all", "per_page": "50", "page": "2"})
    single = github_http.get(ISSUES, params={"state": "all", "per_page": "100", "labels": "wontfix,bug"})

    assert _links(first) == {"next": 2, "last": 3}
    assert _links(middle) == {"prev": 1, "next": 3, "last": 3, "first": 1}
    assert "link" not in single.headers  # one page: GitHub omits the header


def test_per_page_is_clamped_to_100_and_defaults_to_30(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    assert len(github_http.get(ISSUES, params={"state": "all", "per_page": "500"}).json()) == 100
    assert len(github_http.get(ISSUES, params={"state": "all"}).json()) == 30


def test_filters_match_the_state(github: GitHubSandbox, github_http: httpx.Client) -> None:
    live = github.state.live_issues()
    since = sorted(issue.updated_at for issue in live)[len(live) // 2]
    since_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))

    assert _walk(github_http, {"state": "closed", "per_page": "100"}) == sorted(
        (i.number for i in live if i.state == "closed"), reverse=True
    )
    assert _walk(github_http, {"state": "all", "labels": "bug", "per_page": "100"}) == sorted(
        (i.number for i in live if "bug" in i.labels), reverse=True
    )
    by_updated = _walk(
        github_http, {"state": "all", "sort": "updated", "direction": "asc", "since": since_iso}
    )
    assert by_updated == [
        i.number for i in sorted(live, key=lambda i: (i.updated_at, i.number)) if i.updated_at >= since
    ]
    assert _walk(github_http, {"state": "all", "since": since_iso}) == sorted(
        (i.number for i in live if i.updated_at >= since), reverse=True
    )


def test_repo_wide_comments_since(github: GitHubSandbox, github_http: httpx.Client) -> None:
    github.clock.freeze(1_900_000_000)
    github.mutate("comment", number=9, body="late comment")

    response = github_http.get(
        "/repos/acme/widgets/issues/comments",
        params={"sort": "updated", "direction": "asc", "since": "2030-01-01T00:00:00Z"},
    )

    assert [c["body"] for c in response.json()] == ["late comment"]
    assert response.json()[0]["issue_url"].endswith("/issues/9")


def test_pull_requests_are_issues_with_a_pull_request_key(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    issues = _walk(github_http, {"state": "all", "per_page": "100"})
    pulls = github_http.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": "100"}).json()
    first_pull = github_http.get(f"{ISSUES}/7").json()

    assert {p["number"] for p in pulls} <= set(issues)
    assert {p["number"] for p in pulls} == {i.number for i in github.state.live_issues() if i.pull}
    assert "pull_request" in first_pull
    assert "pull_request" not in github_http.get(f"{ISSUES}/1").json()


def test_security_advisories_use_cursor_links(github: GitHubSandbox, github_http: httpx.Client) -> None:
    url = "/repos/acme/widgets/security-advisories"
    first = github_http.get(url, params={"per_page": "3"})
    after = first.links["next"]["url"]
    second = github_http.get(after)

    query = parse_qs(urlsplit(after).query)
    assert "after" in query
    assert "page" not in query
    assert len(first.json()) == 3
    assert len(second.json()) == 3
    assert not {a["ghsa_id"] for a in first.json()} & {a["ghsa_id"] for a in second.json()}
    assert "before=" in second.links["prev"]["url"]
    assert github_http.get(url, params={"after": "nonsense"}).status_code == 400


def test_page_drift_is_visible_with_sort_updated_and_not_with_sort_created(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    """DESIGN 10: updating an item while a client pages by ``updated`` shifts the rest left by one."""
    github.clock.freeze(1_900_000_000)
    by_updated = {"state": "all", "sort": "updated", "direction": "asc", "per_page": "50"}
    first = [i["number"] for i in github_http.get(ISSUES, params=by_updated).json()]
    github_http.post("/_sandbox/mutate", json={"action": "update", "number": first[0], "touch_only": True})
    rest = [i["number"] for i in github_http.get(ISSUES, params={**by_updated, "page": "2"}).json()]
    rest += [i["number"] for i in github_http.get(ISSUES, params={**by_updated, "page": "3"}).json()]

    missed = {i.number for i in github.state.live_issues()} - set(first) - set(rest)
    assert len(missed) == 1  # one item was never seen: the drift a sync must survive

    by_created = {"state": "all", "sort": "created", "direction": "asc", "per_page": "50"}
    seen = [i["number"] for i in github_http.get(ISSUES, params=by_created).json()]
    github.mutate("update", number=seen[0], touch_only=True)
    github.mutate("create", fields={"title": "inserted while paging"})
    for page in ("2", "3", "4"):
        seen += [i["number"] for i in github_http.get(ISSUES, params={**by_created, "page": page}).json()]
    assert seen == [i.number for i in github.state.live_issues()]


# ------------------------------------------------------------------------------- conditional requests


def test_etag_304_is_free_and_counted(github: GitHubSandbox, github_http: httpx.Client) -> None:
    first = github_http.get(ISSUES)
    again = github_http.get(ISSUES, headers={"If-None-Match": first.headers["ETag"]})

    assert first.headers["ETag"].startswith('W/"')
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]
    counters = github_http.get("/_sandbox/requests").json()
    assert counters["total"] == 2
    assert counters["not_modified"] == 1
    assert counters["by_route"] == {"GET /repos/{owner}/{repo}/issues": 2}

    github.mutate("create", fields={"title": "new, open, and first in the default listing"})
    assert github_http.get(ISSUES, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_rate_limit_headers_and_primary_exhaustion(github: GitHubSandbox, github_http: httpx.Client) -> None:
    github_http.post("/_sandbox/reset", json={"rate_limit": 3})
    answers = [github_http.get(f"{ISSUES}/1") for _ in range(4)]

    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["X-RateLimit-Resource"] == "core" for a in answers)
    assert answers[0].headers["X-RateLimit-Used"] == "1"
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    limited = answers[3]
    assert limited.status_code == 403
    assert limited.json()["message"].startswith("API rate limit exceeded")
    assert int(limited.headers["X-RateLimit-Reset"]) > time.time()
    assert github_http.get("/rate_limit").status_code == 200  # does not count, still answers


# ----------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    [
        ("POST", ISSUES, {"content": b"{broken"}, 400, "Problems parsing JSON"),
        ("POST", ISSUES, {"json": ["not", "an", "object"]}, 400, "Problems parsing JSON"),
        ("POST", ISSUES, {"json": {"body": "no title"}}, 422, "Validation Failed"),
        ("GET", ISSUES, {"params": {"per_page": "abc"}}, 422, "Validation Failed"),
        ("GET", ISSUES, {"params": {"since": "yesterday"}}, 422, "Validation Failed"),
        ("PATCH", f"{ISSUES}/1", {"json": {"state_reason": "because"}}, 422, "Validation Failed"),
        ("POST", f"{ISSUES}/1/comments", {"json": {"nobody": 1}}, 422, "Validation Failed"),
        ("GET", "/repos/acme/unknown/issues", {}, 404, "Not Found"),
        ("GET", "/repos/acme/widgets/issues/not-a-number", {}, 404, "Not Found"),
        ("DELETE", f"{ISSUES}/1", {}, 404, "Not Found"),  # no REST delete for issues
        ("GET", "/no/such/route", {}, 404, "Not Found"),
    ],
)
def test_bad_input_gets_githubs_error_shape(
    github_http: httpx.Client, method: str, path: str, kwargs: dict[str, object], status: int, message: str
) -> None:
    response = github_http.request(method, path, **kwargs)  # type: ignore[arg-type]

    assert response.status_code == status
    body = response.json()
    assert set(body) >= ERROR_KEYS
    assert body["message"] == message
    assert body["status"] == str(status)
    if status == 422:
        assert body["errors"][0]["code"] in ("missing_field", "invalid")


def test_missing_title_names_the_field(github_http: httpx.Client) -> None:
    body = github_http.post(ISSUES, json={}).json()

    assert body["errors"] == [{"resource": "Issue", "code": "missing_field", "field": "title"}]


def test_credentials(github: GitHubSandbox) -> None:
    with httpx.Client(base_url=github.url, trust_env=False) as anonymous:
        assert anonymous.get(ISSUES).status_code == 404  # a private repository is invisible
        assert anonymous.get("/user").json()["message"] == "Requires authentication"
        assert anonymous.get(ISSUES).headers["X-RateLimit-Limit"] == "60"
        bad = anonymous.get(ISSUES, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
        assert bad.json()["message"] == "Bad credentials"
        legacy = anonymous.get(ISSUES, headers={"Authorization": f"token {github.token}"})
        assert legacy.status_code == 200
        outsider = anonymous.get(ISSUES, headers={"Authorization": f"Bearer {github.outsider_token}"})
        assert outsider.status_code == 404


# ----------------------------------------------------------------------------------------- faults


def _faults(http: httpx.Client, *rules: dict[str, object]) -> None:
    response = http.post("/_sandbox/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


def test_fault_status_every_and_times(github_http: httpx.Client) -> None:
    _faults(github_http, {"route": "GET /repos/{owner}/{repo}/issues", "status": 502, "every": 2, "times": 2})

    statuses = [github_http.get(ISSUES).status_code for _ in range(6)]

    assert statuses == [200, 502, 200, 502, 200, 200]
    assert github_http.get(f"{ISSUES}/1").status_code == 200  # another route is untouched
    counters = github_http.get("/_sandbox/requests").json()
    assert counters["faulted"] == 2
    assert counters["total"] == 7


def test_fault_delay(github_http: httpx.Client) -> None:
    _faults(github_http, {"route": "/repos/{owner}/{repo}/issues/{issue_number}", "delay_s": 0.3, "times": 1})

    started = time.monotonic()
    response = github_http.get(f"{ISSUES}/1")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_reset_connection(github_http: httpx.Client) -> None:
    _faults(github_http, {"route": "GET /repos/*", "reset_connection": True, "times": 1})

    with pytest.raises(httpx.TransportError):
        github_http.get(ISSUES)
    assert github_http.get(ISSUES).status_code == 200  # the rule expired; a new connection works


def test_fault_malformed_body(github_http: httpx.Client) -> None:
    _faults(github_http, {"route": "*", "malformed_body": True, "times": 1})

    response = github_http.get(ISSUES)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_fault_rate_limit_exhaustion(github_http: httpx.Client) -> None:
    _faults(github_http, {"route": "GET /repos/{owner}/{repo}/issues", "rate_limit_reset_s": 30, "times": 1})

    limited = github_http.get(ISSUES)

    assert limited.status_code == 403
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(limited.headers["X-RateLimit-Reset"]) - time.time() <= 31
    assert github_http.get(f"{ISSUES}/1").status_code == 403  # the whole token is spent until the reset
    github_http.delete("/_sandbox/faults")
    github_http.post("/_sandbox/reset", json={})
    assert github_http.get(f"{ISSUES}/1").status_code == 200


def test_fault_secondary_rate_limit(github_http: httpx.Client) -> None:
    _faults(github_http, {"route": "POST /repos/{owner}/{repo}/issues", "status": 403, "retry_after_s": 60})

    response = github_http.post(ISSUES, json={"title": "too fast"})

    assert response.status_code == 403
    assert response.headers["Retry-After"] == "60"
    assert "secondary rate limit" in response.json()["message"]


def test_bad_fault_rules_are_rejected(github_http: httpx.Client) -> None:
    for rules in ([{"route": "*"}], [{"status": 200}], [{"status": 500, "every": 0}], [{"bogus": 1}], "x"):
        response = github_http.post("/_sandbox/faults", json={"rules": rules})
        assert response.status_code == 400
        assert response.json()["error"]
    assert github_http.get("/_sandbox/faults").json() == {"rules": []}
