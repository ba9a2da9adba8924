"""The GitLab sandbox over HTTP: pagination headers, keyset cursors, filters, errors, faults, control API.

Each test names the GitLab fact it checks; the sources are cited in ``infra/local/trackers/gitlab/``.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.local.trackers.gitlab import GitLabSandbox

pytestmark = pytest.mark.integration

ISSUES = "/projects/4242/issues"
ISSUES_ROUTE = "GET /api/v4/projects/{id}/issues"


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: str(link["url"]) for rel, link in response.links.items()}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_offset_headers_and_links(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    response = gitlab_http.get(ISSUES, params={"per_page": 50, "page": 2, "state": "all"})

    assert response.status_code == 200
    assert len(response.json()) == 50
    headers = response.headers
    assert (headers["x-page"], headers["x-per-page"], headers["x-next-page"], headers["x-prev-page"]) == (
        "2",
        "50",
        "3",
        "1",
    )
    assert (headers["x-total"], headers["x-total-pages"]) == ("120", "3")
    rels = links(response)
    assert list(rels) == ["prev", "next", "first", "last"]  # GitLab's order
    assert query_of(rels["next"]) == {"page": ["3"], "per_page": ["50"], "state": ["all"]}
    assert rels["last"].startswith(f"{gitlab.url}/api/v4/projects/4242/issues?")

    last = gitlab_http.get(rels["last"])
    assert last.headers["x-next-page"] == ""
    assert "next" not in links(last)
    assert len(last.json()) == 20


def test_per_page_default_and_clamp(gitlab_http: httpx.Client) -> None:
    default = gitlab_http.get(ISSUES)
    clamped = gitlab_http.get(ISSUES, params={"per_page": 500})

    assert default.headers["x-per-page"] == "20"
    assert len(default.json()) == 20
    assert clamped.headers["x-per-page"] == "100"
    assert len(clamped.json()) == 100


def test_private_token_in_the_query_never_reaches_the_links(gitlab: GitLabSandbox) -> None:
    response = httpx.get(
        f"{gitlab.url}/api/v4{ISSUES}",
        params={"private_token": gitlab.token, "per_page": 50},
        trust_env=False,
    )

    assert response.status_code == 200
    assert gitlab.token not in response.headers["link"]


def test_totals_are_left_out_past_ten_thousand(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    gitlab.reset(issues=10_001, comments_per_issue=0)

    response = gitlab_http.get(ISSUES, params={"per_page": 100})

    assert "x-total" not in response.headers
    assert "x-total-pages" not in response.headers
    assert set(links(response)) == {"next", "first"}  # no rel="last"
    assert response.headers["x-next-page"] == "2"
    gitlab.reset(issues=10_000, comments_per_issue=0)
    assert gitlab_http.get(ISSUES, params={"per_page": 100}).headers["x-total"] == "10000"


def test_keyset_pages_carry_only_a_next_link(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    params = {"pagination": "keyset", "order_by": "updated_at", "sort": "desc", "per_page": 50}
    first = gitlab_http.get(ISSUES, params=params)

    assert not [
        name for name in first.headers if (name.startswith("x-") and "page" in name) or name == "x-total"
    ]
    assert list(links(first)) == ["next"]
    cursor = query_of(links(first)["next"])["cursor"][0]
    assert json.loads(base64.urlsafe_b64decode(cursor))["_kd"] == "n"  # GitLab's cursor shape
    seen = [issue["iid"] for issue in first.json()]
    url: str | None = links(first)["next"]
    while url:
        page = gitlab_http.get(url)
        seen += [issue["iid"] for issue in page.json()]
        url = links(page).get("next")
    truth = sorted(gitlab.state.live_issues(), key=lambda i: (i.updated_at, i.iid), reverse=True)
    assert seen == [issue.iid for issue in truth]

    # Past the end: an empty array and no Link header.
    last_issue = truth[-1]
    beyond = gitlab._encode_cursor(last_issue.iid, "updated_at")
    empty = gitlab_http.get(ISSUES, params={**params, "cursor": beyond})
    assert empty.json() == []
    assert "link" not in empty.headers


def test_keyset_order_not_supported_is_405(gitlab_http: httpx.Client) -> None:
    response = gitlab_http.get(ISSUES, params={"pagination": "keyset", "order_by": "relative_position"})

    assert response.status_code == 405
    assert response.json() == {"error": "Keyset pagination is not yet available for this type of request"}


def test_keyset_by_id_survives_updates_that_offset_by_updated_does_not(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    # DESIGN 10: a full sync pages in an order updates cannot change. Offset pages by updated_at skip an item
    # when one already seen moves to the end; keyset pages by id see every item exactly once.
    gitlab.clock.freeze(1_900_000_000)
    offset_seen: list[int] = []
    for page in (1, 2, 3):
        response = gitlab_http.get(
            ISSUES, params={"order_by": "updated_at", "sort": "asc", "per_page": 50, "page": page}
        )
        offset_seen += [issue["iid"] for issue in response.json()]
        if page == 1:
            gitlab.mutate("update", iid=offset_seen[0], fields={"title": "moved to the end"})
    assert len(set(offset_seen)) < 120

    keyset_seen: list[int] = []
    url: str | None = f"{ISSUES}?pagination=keyset&order_by=id&sort=asc&per_page=50"
    while url:
        response = gitlab_http.get(url)
        keyset_seen += [issue["iid"] for issue in response.json()]
        if len(keyset_seen) == 50:
            gitlab.mutate("update", iid=keyset_seen[0], fields={"title": "moved again"})
        url = links(response).get("next")
    assert keyset_seen == list(range(1, 121))


def test_updated_after_is_inclusive_with_milliseconds_and_offsets(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    newest = max(gitlab.state.live_issues(), key=lambda i: (i.updated_at, i.iid))
    stamp = gitlab_http.get(f"{ISSUES}/{newest.iid}").json()["updated_at"]
    assert stamp.endswith("Z")
    assert len(stamp) == len("2024-01-01T12:00:00.000Z")

    inclusive = gitlab_http.get(ISSUES, params={"updated_after": stamp, "order_by": "updated_at"})
    assert [issue["iid"] for issue in inclusive.json()] == [newest.iid]

    # The same instant written with a +01:00 offset, %2B-encoded as GitLab's docs require.
    instant = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    shifted = instant.astimezone(timezone(timedelta(hours=1))).isoformat(timespec="milliseconds")
    assert shifted.endswith("+01:00")
    same = gitlab_http.get(ISSUES, params={"updated_after": shifted, "order_by": "updated_at"})
    assert [issue["iid"] for issue in same.json()] == [newest.iid]
    # Unencoded, the + arrives as a space: GitLab answers 400.
    raw = gitlab_http.get(f"{ISSUES}?updated_after={shifted}")
    assert raw.status_code == 400
    assert raw.json() == {"error": "updated_after is invalid"}


def test_filters_state_labels_and_search(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    state = gitlab.state
    opened = gitlab_http.get(ISSUES, params={"state": "opened", "per_page": 100})
    assert int(opened.headers["x-total"]) == state.open_count()
    assert {issue["state"] for issue in opened.json()} == {"opened"}

    bugs = gitlab_http.get(ISSUES, params={"labels": "bug", "per_page": 100})
    assert {issue["iid"] for issue in bugs.json()} == {
        i.iid for i in state.live_issues() if "bug" in i.labels
    }
    unlabelled = gitlab_http.get(ISSUES, params={"labels": "None", "per_page": 100})
    assert all(issue["labels"] == [] for issue in unlabelled.json())

    found = gitlab_http.get(ISSUES, params={"search": "(#42)", "in": "title"})
    assert [issue["iid"] for issue in found.json()] == [42]

    bad = gitlab_http.get(ISSUES, params={"state": "maybe"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "state does not have a valid value"}


def test_instance_issues_default_to_created_by_me(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    gitlab_http.post(ISSUES, json={"title": "Mine"})
    mine = {i.iid for i in gitlab.state.live_issues() if i.author == "sandbox-bot"}

    default = gitlab_http.get("/issues", params={"per_page": 100})
    everything = gitlab_http.get("/issues", params={"scope": "all", "per_page": 100})
    assigned = gitlab_http.get("/issues", params={"scope": "assigned_to_me", "per_page": 100})

    assert {issue["iid"] for issue in default.json()} == mine
    assert everything.headers["x-total"] == "121"
    assert {issue["iid"] for issue in assigned.json()} == {
        i.iid for i in gitlab.state.live_issues() if "sandbox-bot" in i.assignees
    }
    anonymous = httpx.get(f"{gitlab.url}/api/v4/issues", trust_env=False)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "401 Unauthorized"}


def test_project_by_id_or_encoded_path(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    by_id = gitlab_http.get("/projects/4242").json()
    by_path = gitlab_http.get("/projects/acme%2Fwidgets").json()
    by_path_lower = gitlab_http.get("/projects/ACME%2FWidgets/issues/3").json()

    assert by_id == by_path
    assert by_id["path_with_namespace"] == "acme/widgets"
    assert by_path_lower["iid"] == 3
    unencoded = gitlab_http.get("/projects/acme/widgets")
    assert unencoded.status_code == 404
    assert unencoded.json() == {"error": "404 Not Found"}


def test_auth_forms_and_anonymous_access(gitlab: GitLabSandbox) -> None:
    api = f"{gitlab.url}/api/v4"
    bearer = httpx.get(f"{api}/user", headers={"Authorization": f"Bearer {gitlab.token}"}, trust_env=False)
    query = httpx.get(f"{api}/user", params={"private_token": gitlab.token}, trust_env=False)
    anonymous_user = httpx.get(f"{api}/user", trust_env=False)
    anonymous_project = httpx.get(f"{api}/projects/4242", trust_env=False)
    wrong_scheme = httpx.get(
        f"{api}/user", headers={"Authorization": f"token {gitlab.token}"}, trust_env=False
    )

    assert bearer.json()["username"] == query.json()["username"] == "sandbox-bot"
    assert anonymous_user.status_code == 401
    assert anonymous_project.status_code == 404  # a private project is invisible to anonymous callers
    assert anonymous_project.headers["RateLimit-Name"] == "throttle_unauthenticated_api"
    assert wrong_scheme.status_code == 401
    assert wrong_scheme.json() == {"message": "401 Unauthorized"}
    version = httpx.get(f"{api}/version", headers={"PRIVATE-TOKEN": gitlab.token}, trust_env=False).json()
    assert version["version"].startswith("18.")


def test_bad_inputs_never_crash(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    get, post = gitlab_http.get, gitlab_http.post
    bad_body = "message body does not match declared format"
    notes = "/projects/4242/issues/1/notes"
    too_long = {"message": {"title": ["is too long (maximum is 255 characters)"]}}
    keyset = {"pagination": "keyset", "order_by": "id", "cursor": "%%%"}
    json_type = {"Content-Type": "application/json"}
    cases = [
        (get(ISSUES, params={"per_page": "abc"}), 400, {"error": "per_page is invalid"}),
        (get(ISSUES, params={"order_by": "colour"}), 400, {"error": "order_by does not have a valid value"}),
        (get(ISSUES, params={"confidential": "perhaps"}), 400, {"error": "confidential is invalid"}),
        (post(ISSUES, content=b"{not json", headers=json_type), 400, {"error": bad_body}),
        (post(ISSUES, json=["a", "list"]), 400, {"error": bad_body}),
        (post(ISSUES, json={"title": "x" * 256}), 400, too_long),
        (post(ISSUES, json={"title": "t", "due_date": "soon"}), 400, {"error": "due_date is invalid"}),
        (get("/projects/4242/issues/9999"), 404, {"message": "404 Not found"}),
        (get("/projects/4242/issues/9999/notes"), 404, {"message": "404 Issue Not Found"}),
        (post(notes, json={}), 400, {"error": "body is missing"}),
        (post(notes, json={"body": " "}), 400, {"message": {"note": ["can't be blank"]}}),
        (get("/projects/4242/frobnicate"), 404, {"error": "404 Not Found"}),
        (gitlab_http.delete(ISSUES), 405, {"error": "405 Not Allowed"}),
        (get(ISSUES, params=keyset), 400, {"error": "cursor is invalid"}),
    ]
    for response, status, body in cases:
        assert (response.status_code, response.json()) == (status, body), response.request.url
    assert "GET <unmatched>" in gitlab.requests()["by_route"]


def test_notes_sort_order_and_pagination(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    iid = next(
        i.iid for i in gitlab.state.live_issues() if len(gitlab.state.notes_by_issue.get(i.iid, [])) >= 4
    )
    url = f"/projects/4242/issues/{iid}/notes"

    newest_first = gitlab_http.get(url).json()
    oldest_first = gitlab_http.get(url, params={"sort": "asc"}).json()
    paged = gitlab_http.get(url, params={"sort": "asc", "per_page": 2, "page": 2})

    assert [n["id"] for n in newest_first] == [n["id"] for n in reversed(oldest_first)]  # default: desc
    assert [n["created_at"] for n in oldest_first] == sorted(n["created_at"] for n in oldest_first)
    assert all(n["noteable_type"] == "Issue" and n["noteable_iid"] == iid for n in oldest_first)
    assert [n["id"] for n in paged.json()] == [n["id"] for n in oldest_first[2:4]]
    assert paged.headers["x-total"] == str(len(oldest_first))


class TestFaultRules:
    """Every fault rule field once, through the control API, as a test or a benchmark would use it."""

    def add(self, gitlab: GitLabSandbox, rule: dict[str, object]) -> None:
        response = httpx.post(f"{gitlab.url}/_sandbox/faults", json={"rules": [rule]}, trust_env=False)
        assert response.status_code == 200

    def test_status_times_and_message(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": ISSUES_ROUTE, "status": 502, "times": 1, "message": "502 Bad Gateway"})

        failed = gitlab_http.get(ISSUES)
        recovered = gitlab_http.get(ISSUES)

        assert (failed.status_code, failed.json()) == (502, {"message": "502 Bad Gateway"})
        assert recovered.status_code == 200
        assert gitlab.requests()["faulted"] == 1

    def test_every_nth_request_and_method(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(
            gitlab, {"route": "/api/v4/projects/{id}/issues", "method": "GET", "status": 500, "every": 2}
        )

        statuses = [gitlab_http.get(ISSUES).status_code for _ in range(4)]
        created = gitlab_http.post(ISSUES, json={"title": "POST is not matched by a GET rule"})

        assert statuses == [200, 500, 200, 500]
        assert created.status_code == 201
        assert gitlab_http.get(ISSUES).json() != []

    def test_retry_after_on_503(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": "GET /api/v4/projects/*", "status": 503, "retry_after_s": 7, "times": 1})

        response = gitlab_http.get("/projects/4242")

        assert response.status_code == 503
        assert response.headers["Retry-After"] == "7"
        assert response.json() == {"message": "503 Service Unavailable"}

    def test_429_fault_is_gitlab_plain_text(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": ISSUES_ROUTE, "status": 429, "retry_after_s": 30, "times": 1})

        response = gitlab_http.get(ISSUES)

        assert response.status_code == 429
        assert response.text == "Retry later\n"
        assert response.headers["content-type"].startswith("text/plain")
        assert response.headers["Retry-After"] == "30"
        assert response.headers["RateLimit-ResetTime"].endswith("GMT")

    def test_delay(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": ISSUES_ROUTE, "delay_s": 0.3, "times": 1})
        started = time.monotonic()

        response = gitlab_http.get(ISSUES)

        assert response.status_code == 200
        assert time.monotonic() - started >= 0.3

    def test_reset_connection(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": ISSUES_ROUTE, "reset_connection": True, "times": 1})

        with pytest.raises(httpx.TransportError):
            gitlab_http.get(ISSUES)
        assert gitlab_http.get(ISSUES).status_code == 200

    def test_malformed_body(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": ISSUES_ROUTE, "malformed_body": True, "times": 1})

        response = gitlab_http.get(ISSUES)

        assert response.status_code == 200
        assert "ETag" not in response.headers
        with pytest.raises(json.JSONDecodeError):
            response.json()

    def test_rate_limit_exhaustion(self, gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
        self.add(gitlab, {"route": ISSUES_ROUTE, "rate_limit_reset_s": 60, "times": 1})

        limited = gitlab_http.get(ISSUES)
        also_limited = gitlab_http.get("/projects/4242")

        for response in (limited, also_limited):
            assert response.status_code == 429
            assert response.text == "Retry later\n"
            assert response.headers["RateLimit-Remaining"] == "0"
            assert 55 <= int(response.headers["Retry-After"]) <= 61
            assert int(response.headers["RateLimit-Reset"]) > time.time()
        httpx.delete(f"{gitlab.url}/_sandbox/faults", trust_env=False)
        assert httpx.get(f"{gitlab.url}/_sandbox/faults", trust_env=False).json() == {"rules": []}


def test_control_api_reset_requests_and_mutate(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    base = f"{gitlab.url}/_sandbox"
    reset = httpx.post(f"{base}/reset", json={"issues": 30, "comments_per_issue": 1}, trust_env=False)
    assert reset.status_code == 200
    assert reset.json()["sizes"]["issues"] == 30

    gitlab_http.get(ISSUES)
    gitlab_http.get(f"{ISSUES}/3")
    counters = httpx.get(f"{base}/requests", trust_env=False).json()
    assert counters["by_route"] == {ISSUES_ROUTE: 1, "GET /api/v4/projects/{id}/issues/{issue_iid}": 1}
    assert counters["total"] == 2
    assert counters["not_modified"] == 0

    made = httpx.post(
        f"{base}/mutate", json={"action": "create", "fields": {"title": "From a script"}}, trust_env=False
    )
    iid = made.json()["iid"]
    closed = httpx.post(
        f"{base}/mutate",
        json={"action": "update", "iid": iid, "fields": {"state": "closed"}},
        trust_env=False,
    )
    noted = httpx.post(
        f"{base}/mutate", json={"action": "comment", "number": iid, "body": "hi"}, trust_env=False
    )
    assert closed.json()["state"] == "closed"
    assert noted.status_code == 200
    issue = gitlab_http.get(f"{ISSUES}/{iid}").json()
    assert issue["state"] == "closed"
    assert issue["user_notes_count"] == 1
    bad = httpx.post(f"{base}/mutate", json={"action": "update", "iid": 999}, trust_env=False)
    assert bad.status_code == 404
    httpx.post(f"{base}/requests/reset", trust_env=False)
    assert httpx.get(f"{base}/requests", trust_env=False).json()["total"] == 0


def test_label_edits_delete_members_and_uploads(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    created = gitlab_http.post(ISSUES, json={"title": "Labels", "labels": ["bug", "backend"]}).json()
    url = f"{ISSUES}/{created['iid']}"

    edited = gitlab_http.put(url, json={"add_labels": "priority::high,ops", "remove_labels": "bug"}).json()
    assert edited["labels"] == ["backend", "priority::high", "ops"]  # unknown labels are created
    assert "ops" in gitlab.state.labels

    assert gitlab_http.delete(url).status_code == 204
    assert gitlab_http.get(url).status_code == 404

    members = gitlab_http.get("/projects/4242/members/all", params={"per_page": 100}).json()
    assert {m["username"] for m in members} >= {"sandbox-bot", "ada.stone"}
    assert "outsider" not in {m["username"] for m in members}

    upload = gitlab_http.post(
        "/projects/4242/uploads", files={"file": ("graph.png", b"\x89PNG", "image/png")}
    )
    assert upload.status_code == 201
    body = upload.json()
    assert body["markdown"] == f"![graph]({body['url']})"
    assert body["full_path"] == f"/-/project/4242{body['url']}"
    no_file = gitlab_http.post("/projects/4242/uploads", data={"nothing": "here"})
    assert (no_file.status_code, no_file.json()) == (400, {"error": "file is missing"})
