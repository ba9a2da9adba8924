"""Tracker actions through the local API Gateway, against the GitHub, GitLab and Jira sandboxes.

Each write is checked three ways: the answer, the synced copy (``GET /v1/issues/{ref}`` right after), and
the audit trail. Bad input gets its 4xx, tracker refusals their mapped status, never a 500.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.actions_support import (
    PROVIDER_NAMES,
    Tracker,
    World,
    client,
    connect,
    fresh,
    world,
)
from trackbridge.domain.trackers import TRACKERS
from trackbridge.runtime.api.actions import MAX_UPLOAD_BYTES
from trackbridge.runtime.api_keys import issue_api_key

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("actions-api")]
__all__ = ["client", "world"]  # fixtures, imported for pytest

ISSUE_FIELDS = {
    "ref",
    "external_id",
    "connection_id",
    "provider",
    "key",
    "title",
    "body",
    "status",
    "status_category",
    "assignees",
    "labels",
    "priority",
    "url",
    "created_at",
    "updated_at",
    "content_hash",
    "links",
}
# Each tracker's own query language; GitHub's adapter adds repo: and is:issue itself.
SEARCH_QUERY = {"jira": 'summary ~ "needle"', "gitlab": "needle", "github": "needle in:title"}


@pytest.fixture(params=PROVIDER_NAMES)
def tracker(request: pytest.FixtureRequest, world: World, client: httpx.Client) -> Tracker:
    fresh(world, request.param)
    return connect(world, client, request.param)


def _base(tracker: Tracker) -> str:
    return f"/v1/connections/{tracker.connection_id}"


def _create(client: httpx.Client, tracker: Tracker, **fields: Any) -> dict[str, Any]:
    body = {"title": "Disk full on db1", "body": "**95 %** used", "labels": ["bug"], **fields}
    answer = client.post(f"{_base(tracker)}/issues", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _key(issue: dict[str, Any]) -> str:
    return str(issue["key"]).lstrip("#")


def _synced(client: httpx.Client, ref: str) -> dict[str, Any]:
    answer = client.get(f"/v1/issues/{ref}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _audit_actions(client: httpx.Client) -> list[tuple[str, str]]:
    answer = client.get("/v1/audit", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return [(e["action"], e["target"]) for e in answer.json()["items"]]


# ---- providers and connection test ----------------------------------------------------------------------


def test_providers_describe_each_tracker(world: World) -> None:
    # Any authenticated tenant may read it, whatever the key's scopes.
    with world.client(issue_api_key("act-providers", scopes=("sync:read",))) as http:
        answer = http.get("/v1/providers")
    assert answer.status_code == 200
    providers = {p["name"]: p for p in answer.json()["items"]}
    assert set(providers) == set(TRACKERS)
    assert providers["github"]["capabilities"]["attachments"] is False
    assert providers["jira"]["capabilities"]["attachments"] is True
    # Advertised only when the product does it end to end: nothing syncs worklogs or registers webhooks yet.
    assert "worklogs" not in providers["jira"]["capabilities"]
    assert "security_advisories" not in providers["github"]["capabilities"]
    assert providers["jira"]["credential_keys"] == ["email", "api_token"]


def test_connection_test_reports_each_check(tracker: Tracker, client: httpx.Client) -> None:
    answer = client.post(f"{_base(tracker)}/test")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["provider"] == tracker.name
    assert report["ok"] is True, report
    assert report["checks"][0]["name"] == "auth"
    assert all(c["ok"] for c in report["checks"])


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_connection_test_with_a_bad_token_fails_with_guidance(
    name: str, world: World, client: httpx.Client
) -> None:
    fresh(world, name)
    bad = connect(world, client, name, token="not-a-valid-token")
    answer = client.post(f"{_base(bad)}/test")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is False
    auth = report["checks"][0]
    assert auth["name"] == "auth"
    assert auth["ok"] is False
    assert auth["code"] in {"AUTH_INVALID", "AUTH_EXPIRED"}
    assert auth["guidance"]
    # An action with the refused credentials is the tracker's refusal of the connection: 502, not 401.
    refused = client.post(f"{_base(bad)}/issues", json={"title": "x"})
    assert refused.status_code == 502, refused.text
    error = refused.json()["error"]
    assert error["code"] == "AUTH_INVALID"
    assert error["guidance"]
    assert error["details"]["provider"] == name


# ---- writes, write-through and audit ----------------------------------------------------------------------


def test_create_update_comment_transition_are_synced_and_audited(
    tracker: Tracker, client: httpx.Client
) -> None:
    created = _create(client, tracker)
    assert set(created) >= ISSUE_FIELDS
    assert created["provider"] == tracker.name
    assert created["connection_id"] == tracker.connection_id
    assert created["status_category"] == "todo"
    assert "bug" in created["labels"]
    assert created["links"] == []
    ref, key = created["ref"], _key(created)
    assert _synced(client, ref)["title"] == "Disk full on db1"

    patched = client.patch(
        f"{_base(tracker)}/issues/{key}", json={"title": "Disk full on db1 (again)", "add_labels": ["ops"]}
    )
    assert patched.status_code == 200, patched.text
    assert {"bug", "ops"} <= set(patched.json()["labels"])
    synced = _synced(client, ref)
    assert synced["title"] == "Disk full on db1 (again)"
    assert {"bug", "ops"} <= set(synced["labels"])

    comment = client.post(f"{_base(tracker)}/issues/{key}/comments", json={"body": "Seen again at 03:00"})
    assert comment.status_code == 201, comment.text
    assert comment.json()["issue_ref"] == ref
    assert comment.json()["id"] in {c["id"] for c in _synced(client, ref)["comments"]}

    moves = client.get(f"{_base(tracker)}/issues/{key}/transitions")
    assert moves.status_code == 200, moves.text
    assert any(t["to_category"] == "done" for t in moves.json()["items"])
    done = client.post(f"{_base(tracker)}/issues/{key}/transitions", json={"status_category": "done"})
    assert done.status_code == 200, done.text
    assert done.json()["status_category"] == "done"
    assert _synced(client, ref)["status_category"] == "done"
    reopened = client.post(f"{_base(tracker)}/issues/{key}/transitions", json={"status_category": "todo"})
    assert reopened.status_code == 200, reopened.text
    assert _synced(client, ref)["status_category"] == "todo"

    actions = _audit_actions(client)
    for action in ("issue.create", "issue.update", "issue.comment", "issue.transition"):
        assert (action, ref) in actions, action
    entries = client.get("/v1/audit", params={"limit": 100}).json()["items"]
    update = next(e for e in entries if e["action"] == "issue.update")
    assert update["changes"]["title"] == {"old": "Disk full on db1", "new": "Disk full on db1 (again)"}
    assert update["actor"]  # the API key's id
    assert update["request_id"]


def test_github_close_reason(world: World, client: httpx.Client) -> None:
    fresh(world, "github")
    github = connect(world, client, "github")
    key = _key(_create(client, github))
    closed = client.post(
        f"{_base(github)}/issues/{key}/transitions", json={"status_category": "done", "reason": "not_planned"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status_category"] == "done"
    raw = httpx.get(
        f"{github.sandbox.url}/repos/{github.sandbox.describe()['repo']}/issues/{key}",
        headers={"Authorization": f"Bearer {github.sandbox.describe()['token']}"},
    ).json()
    assert raw["state_reason"] == "not_planned"
    # GitHub issues are open or closed only; a reason needs a close.
    bad = client.post(f"{_base(github)}/issues/{key}/transitions", json={"status_category": "in_progress"})
    assert bad.status_code == 422, bad.text
    mixed = client.post(
        f"{_base(github)}/issues/{key}/transitions", json={"status_category": "todo", "reason": "duplicate"}
    )
    assert mixed.status_code == 422, mixed.text


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_keys_as_the_tracker_shows_them_route_when_percent_encoded(
    name: str, world: World, client: httpx.Client
) -> None:
    # The API answers "key": "#12"; a client that puts it in a URL percent-encodes the "#".
    fresh(world, name)
    tracker = connect(world, client, name)
    issue = _create(client, tracker)
    assert str(issue["key"]).startswith("#")
    encoded = str(issue["key"]).replace("#", "%23")
    updated = client.patch(f"{_base(tracker)}/issues/{encoded}", json={"title": "renamed"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["title"] == "renamed"
    commented = client.post(f"{_base(tracker)}/issues/{encoded}/comments", json={"body": "seen"})
    assert commented.status_code == 201, commented.text
    # Only a whole "#<number>" segment is rewritten: anything else matches no route (404), never a 500.
    odd = client.patch(f"{_base(tracker)}/issues/%23x1", json={"title": "nope"})
    assert odd.status_code == 404, odd.text


def test_attachments(tracker: Tracker, client: httpx.Client) -> None:
    key = _key(_create(client, tracker))
    answer = client.post(
        f"{_base(tracker)}/issues/{key}/attachments",
        files={"file": ("report.txt", b"disk usage: 95%\n\x00\xff binary tail", "text/plain")},
    )
    if tracker.name == "github":
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "UNSUPPORTED_CAPABILITY"
        assert error["details"]["capability"] == "attachments"
        return
    assert answer.status_code == 201, answer.text
    attachment = answer.json()
    assert attachment["filename"] == "report.txt"
    assert attachment["size"] == len(b"disk usage: 95%\n\x00\xff binary tail")
    assert any(action == "issue.attach" for action, _ in _audit_actions(client))


def test_attachment_bad_input(world: World, client: httpx.Client) -> None:
    fresh(world, "jira")
    jira = connect(world, client, "jira")
    key = _key(_create(client, jira))
    path = f"{_base(jira)}/issues/{key}/attachments"

    too_big = client.post(path, files={"file": ("big.bin", b"x" * (MAX_UPLOAD_BYTES + 1), "application/zip")})
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"]["details"]["limit"] == MAX_UPLOAD_BYTES
    assert str(MAX_UPLOAD_BYTES) in too_big.json()["error"]["message"]

    no_file = client.post(path, data={"note": "where is the file?"}, files={"other": ("a.txt", b"a")})
    assert no_file.status_code == 422, no_file.text
    assert "body.file" in {e["path"] for e in no_file.json()["error"]["details"]["errors"]}

    empty = client.post(path, files={"file": ("empty.txt", b"", "text/plain")})
    assert empty.status_code == 422, empty.text

    no_boundary = client.post(path, content=b"--x\r\n\r\n", headers={"Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400, no_boundary.text
    assert no_boundary.json()["error"]["code"] == "INVALID_BODY"

    # The tracker's own size refusal keeps its meaning.
    jira.sandbox.add_faults([{"route": "POST */attachments", "status": 413, "times": 1}])
    refused = client.post(path, files={"file": ("r.txt", b"fine", "text/plain")})
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["details"]["provider"] == "jira"


# ---- search ------------------------------------------------------------------------------------------------


def test_search(tracker: Tracker, client: httpx.Client) -> None:
    path = f"{_base(tracker)}/search"
    created = _create(client, tracker, title="A needle in the haystack")
    github = tracker.name == "github"
    pull = (
        tracker.sandbox.mutate("create", fields={"title": "A needle pull", "pull": True}) if github else None
    )
    answer = client.get(path, params={"q": SEARCH_QUERY[tracker.name], "limit": 5})
    assert answer.status_code == 200, answer.text
    found = answer.json()["items"]
    assert created["ref"] in {i["ref"] for i in found}
    assert all(set(i) >= ISSUE_FIELDS for i in found)
    if pull is not None:
        # GitHub's search lists pull requests too; the adapter asks for is:issue, so only the issue is found.
        assert [_key(i) for i in found] == [_key(created)]


def test_invalid_jql_is_a_400_with_jiras_message(world: World, client: httpx.Client) -> None:
    fresh(world, "jira")
    jira = connect(world, client, "jira")
    answer = client.get(f"{_base(jira)}/search", params={"q": "nosuchfield = 1"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_JQL"
    assert "nosuchfield" in error["message"]
    assert client.get(f"{_base(jira)}/search").status_code == 422  # q is required


# ---- bulk --------------------------------------------------------------------------------------------------


def test_bulk_mixed_items_answer_in_order(tracker: Tracker, client: httpx.Client) -> None:
    existing = _create(client, tracker)
    items: list[dict[str, Any]] = [
        {"op": "create", "title": "Bulk one", "labels": ["bulk"]},
        {"op": "create", "body": "no title"},
        {"op": "update", "key": _key(existing), "title": "Renamed in bulk"},
        {"op": "update", "key": tracker.missing_key, "title": "nobody"},
        {"op": "delete", "key": _key(existing)},
        {"op": "create", "title": "Bulk two"},
    ]
    answer = client.post(f"{_base(tracker)}/issues:bulk", json={"items": items})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [r["index"] for r in result["items"]] == list(range(len(items)))
    assert [r["status"] for r in result["items"]] == [201, 422, 200, 404, 422, 201]
    assert (result["succeeded"], result["failed"]) == (3, 3)
    assert "body.items.1.title" in {e["path"] for e in result["items"][1]["error"]["details"]["errors"]}
    assert result["items"][3]["error"]["code"] == "NOT_FOUND"
    assert _synced(client, existing["ref"])["title"] == "Renamed in bulk"
    for index in (0, 5):
        issue = result["items"][index]["issue"]
        assert _synced(client, issue["ref"])["title"] == issue["title"]
    assert sum(1 for action, _ in _audit_actions(client) if action == "issue.create") == 3


def test_bulk_with_tracker_faults_keeps_the_successes(tracker: Tracker, client: httpx.Client) -> None:
    route = {"github": "POST */issues", "gitlab": "POST */issues", "jira": "POST */issue"}[tracker.name]
    tracker.sandbox.add_faults([{"route": route, "status": 500, "times": 2}])
    items = [{"op": "create", "title": f"Bulk {n}"} for n in range(5)]
    answer = client.post(f"{_base(tracker)}/issues:bulk", json={"items": items})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["succeeded"], result["failed"]) == (3, 2)
    failed = [r for r in result["items"] if r["error"]]
    assert all(r["status"] == 503 and r["error"]["code"] == "PROVIDER_UNAVAILABLE" for r in failed)
    for item in result["items"]:
        if item["issue"]:
            assert _synced(client, item["issue"]["ref"])["title"] == item["issue"]["title"]


def test_bulk_over_the_limit_is_refused(world: World, client: httpx.Client) -> None:
    fresh(world, "gitlab")
    gitlab = connect(world, client, "gitlab")
    requests_before = gitlab.sandbox.requests()["total"]
    answer = client.post(
        f"{_base(gitlab)}/issues:bulk", json={"items": [{"op": "create", "title": "x"}] * 101}
    )
    assert answer.status_code == 422, answer.text
    assert "body.items" in {e["path"] for e in answer.json()["error"]["details"]["errors"]}
    assert gitlab.sandbox.requests()["total"] == requests_before
    empty = client.post(f"{_base(gitlab)}/issues:bulk", json={"items": []})
    assert empty.status_code == 422


# ---- tracker failures --------------------------------------------------------------------------------------


def test_rate_limit_and_outage_carry_retry_after(world: World, client: httpx.Client) -> None:
    fresh(world, "gitlab")
    gitlab = connect(world, client, "gitlab")
    key = _key(_create(client, gitlab))
    gitlab.sandbox.add_faults([{"route": "POST */notes", "status": 429, "retry_after_s": 120, "times": 1}])
    limited = client.post(f"{_base(gitlab)}/issues/{key}/comments", json={"body": "hello"})
    assert limited.status_code == 429, limited.text
    assert 100 <= int(limited.headers["Retry-After"]) <= 120
    assert limited.json()["error"]["code"] in {"RATE_LIMITED", "QUOTA_EXHAUSTED"}
    gitlab.sandbox.add_faults([{"route": "POST */notes", "status": 503, "times": 1}])
    down = client.post(f"{_base(gitlab)}/issues/{key}/comments", json={"body": "hello"})
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"


def test_unknown_issue_is_a_404(tracker: Tracker, client: httpx.Client) -> None:
    answer = client.patch(f"{_base(tracker)}/issues/{tracker.missing_key}", json={"title": "x"})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "NOT_FOUND"


# ---- bad input, auth and scopes ----------------------------------------------------------------------------


def test_bad_input_and_access(world: World, client: httpx.Client, tenant: str) -> None:
    fresh(world, "gitlab")
    gitlab = connect(world, client, "gitlab")
    base = _base(gitlab)
    unknown = "/v1/connections/conn_aaaaaaaaaaaaaaaaaaaa"

    assert client.post(f"{unknown}/issues", json={"title": "x"}).status_code == 404
    assert client.post("/v1/connections/nonsense/issues", json={"title": "x"}).status_code == 404
    assert client.post(f"{unknown}/test").status_code == 404
    assert (
        client.post(f"{unknown}/issues:bulk", json={"items": [{"op": "create", "title": "x"}]}).status_code
        == 404
    )

    missing = client.post(f"{base}/issues", json={"body": "no title", "colour": "red"})
    assert missing.status_code == 422, missing.text
    paths = {e["path"] for e in missing.json()["error"]["details"]["errors"]}
    assert {"body.title", "body.colour"} <= paths
    assert client.patch(f"{base}/issues/1", json={}).status_code == 422
    both = client.post(f"{base}/issues/1/transitions", json={"to": "closed", "status_category": "done"})
    assert both.status_code == 422
    assert client.post(f"{base}/issues/1/comments", json={"body": ""}).status_code == 422
    assert (
        client.post(
            f"{base}/issues", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )

    with world.client(None) as anonymous:
        assert anonymous.post(f"{base}/issues", json={"title": "x"}).status_code == 401
    with world.client("tb_nokey_nosecret") as wrong:
        assert wrong.get("/v1/providers").status_code == 401

    with world.client(issue_api_key("act-other")) as other:
        # Another tenant's connection and issues do not exist for this key.
        assert other.post(f"{base}/issues", json={"title": "x"}).status_code == 404
        assert other.post(f"{base}/test").status_code == 404

    with world.client(issue_api_key(tenant, scopes=("issues:read",))) as reader:
        denied = reader.post(f"{base}/issues", json={"title": "x"})
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["details"]["required_scope"] == "issues:write"
    with world.client(issue_api_key(tenant, scopes=("connections:read",))) as admin:
        assert admin.get(f"{base}/search", params={"q": "x"}).status_code == 403
        assert admin.get("/v1/issues").status_code == 403


def test_a_read_only_key_never_makes_trackbridge_call_a_tracker(
    world: World, client: httpx.Client, tenant: str
) -> None:
    # Given: a connection, and a key holding every read scope but no write scope
    sandbox = fresh(world, "github")
    base = f"/v1/connections/{connect(world, client, 'github').connection_id}"
    reads = ("connections:read", "issues:read", "sync:read", "audit:read")
    before = sandbox.requests()["total"]

    # When: it asks for everything that would send a request to the tracker
    with world.client(issue_api_key(tenant, scopes=reads)) as reader:
        answers = {
            "test": reader.post(f"{base}/test"),
            "transitions": reader.get(f"{base}/issues/1/transitions"),
            "search": reader.get(f"{base}/search", params={"q": "x"}),
            "sync": reader.post(f"{base}/syncs", json={"mode": "full"}),
            "comment": reader.post(f"{base}/issues/1/comments", json={"body": "x"}),
        }
        listed = reader.get("/v1/connections")

    # Then: each is 403 naming the write scope it lacks, and the tracker saw nothing; stored reads still work
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    assert answers["test"].json()["error"]["details"]["required_scope"] == "connections:write"
    assert answers["search"].json()["error"]["details"]["required_scope"] == "issues:write"
    assert sandbox.requests()["total"] == before
    assert listed.status_code == 200


# ---- synced reads ------------------------------------------------------------------------------------------


def test_synced_issue_reads(world: World, client: httpx.Client) -> None:
    fresh(world, "gitlab")
    fresh(world, "jira")
    gitlab = connect(world, client, "gitlab")
    jira = connect(world, client, "jira")
    open_issue = _create(client, gitlab, title="Open one")
    closed_issue = _create(client, gitlab, title="Closed one")
    moved = client.post(
        f"{_base(gitlab)}/issues/{_key(closed_issue)}/transitions", json={"status_category": "done"}
    )
    assert moved.status_code == 200
    jira_issue = _create(client, jira, title="Jira one")

    detail = _synced(client, jira_issue["ref"])
    assert detail["comments"] == []
    assert detail["worklogs"] == []
    assert detail["links"] == []

    every = client.get("/v1/issues").json()["items"]
    assert {open_issue["ref"], closed_issue["ref"], jira_issue["ref"]} <= {i["ref"] for i in every}
    assert all(i["links"] is None for i in every)
    of_gitlab = client.get("/v1/issues", params={"connection": gitlab.connection_id}).json()["items"]
    assert {i["ref"] for i in of_gitlab} == {open_issue["ref"], closed_issue["ref"]}
    done = client.get("/v1/issues", params={"status": "done"}).json()["items"]
    assert [i["ref"] for i in done] == [closed_issue["ref"]]
    todo_gitlab = client.get(
        "/v1/issues", params={"connection": gitlab.connection_id, "status": "todo", "limit": 1}
    ).json()
    assert [i["ref"] for i in todo_gitlab["items"]] == [open_issue["ref"]]
    since = client.get("/v1/issues", params={"updated_since": "2999-01-01T00:00:00Z"}).json()["items"]
    assert since == []

    assert client.get("/v1/issues", params={"status": "closed"}).status_code == 422
    assert client.get("/v1/issues", params={"updated_since": "2024-01-01T00:00:00"}).status_code == 422
    assert client.get("/v1/issues", params={"connection": "conn_aaaaaaaaaaaaaaaaaaaa"}).status_code == 404
    assert client.get(f"/v1/issues/{gitlab.connection_id}.99999").status_code == 404
    assert client.get("/v1/issues/not-a-ref").status_code == 404
    with world.client(issue_api_key("act-stranger")) as stranger:
        assert stranger.get(f"/v1/issues/{open_issue['ref']}").status_code == 404
        assert stranger.get("/v1/issues").json()["items"] == []
