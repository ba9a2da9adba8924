"""``Idempotency-Key`` through the local API Gateway, against the sandbox trackers.

What a client that retries after a timeout relies on: the same key and body make one issue (or comment,
attachment, bulk) at the tracker and answer the first body again; another body with the key is a 422; a
failed first attempt is not kept; another tenant's key is its own; without the header nothing changes.
The tracker's side is read from the sandbox itself: its request counters and the issues it holds.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import httpx
import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.api.actions_support import (
    PROVIDER_NAMES,
    Tracker,
    World,
    client,
    connect,
    fresh,
    world,
)
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key
from trackbridge.runtime.idempotency import REPLAYED_HEADER, idempotency_pk, idempotency_sk

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("idempotency-api")]
__all__ = ["client", "world"]  # fixtures, imported for pytest

CREATE_ROUTE = {"github": "POST */issues", "gitlab": "POST */issues", "jira": "POST */issue"}


def _base(tracker: Tracker) -> str:
    return f"/v1/connections/{tracker.connection_id}"


def _new_key() -> str:
    return str(uuid.uuid4())


def _title(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def _issues_titled(sandbox: SandboxTracker[Any], title: str) -> int:
    state: Any = sandbox.state
    with sandbox.lock:
        return sum(
            1
            for issue in state.issues
            if issue is not None and title in {getattr(issue, "title", None), getattr(issue, "summary", None)}
        )


def _requests(sandbox: SandboxTracker[Any], pattern: str = "POST *") -> int:
    """Requests the sandbox counted on routes matching ``pattern`` (its fault rules' spelling)."""
    return sum(n for route, n in sandbox.requests()["by_route"].items() if fnmatchcase(route, pattern))


def _create(http: httpx.Client, tracker: Tracker, body: dict[str, Any], key: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return http.post(f"{_base(tracker)}/issues", json=body, headers=headers)


@pytest.fixture(params=PROVIDER_NAMES)
def tracker(request: pytest.FixtureRequest, world: World, client: httpx.Client) -> Tracker:
    fresh(world, request.param)
    return connect(world, client, request.param)


@pytest.fixture
def gitlab(world: World, client: httpx.Client) -> Tracker:
    fresh(world, "gitlab")
    return connect(world, client, "gitlab")


# ---- create ------------------------------------------------------------------------------------------------


def test_a_retried_create_makes_one_issue_and_answers_the_same(
    tracker: Tracker, client: httpx.Client, tenant: str
) -> None:
    # Given: a create with a key that reached the tracker
    key, title = _new_key(), _title("Disk full")
    body = {"title": title, "body": "**95 %** used", "labels": ["bug"]}
    first = _create(client, tracker, body, key)
    assert first.status_code == 201, first.text
    assert REPLAYED_HEADER not in first.headers
    requests_after_first = tracker.sandbox.requests()["total"]
    assert _requests(tracker.sandbox) >= 1

    # When: the client retries it, with the keys of its body in another order
    retry = _create(client, tracker, dict(reversed(body.items())), key)

    # Then: the first answer again, and the tracker was not asked anything
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert retry.headers[REPLAYED_HEADER] == "true"
    assert tracker.sandbox.requests()["total"] == requests_after_first
    assert _issues_titled(tracker.sandbox, title) == 1

    # And: the record sits under the tenant, keyed by a digest of the key, and expires with the table's TTL
    item = container.table().get(idempotency_pk(tenant), idempotency_sk("issue.create", key))
    assert item is not None
    assert item["sk"] == f"issue.create#{hashlib.sha256(key.encode()).hexdigest()}"
    assert key not in str(item)
    expires = datetime.fromtimestamp(item["expires_at"], UTC)
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24, minutes=1)


def test_the_same_key_with_another_request_is_a_422(
    world: World, gitlab: Tracker, client: httpx.Client
) -> None:
    key, title = _new_key(), _title("Original")
    assert _create(client, gitlab, {"title": title}, key).status_code == 201
    posts = _requests(gitlab.sandbox)

    other_title = _title("Changed")
    changed = _create(client, gitlab, {"title": other_title}, key)
    assert changed.status_code == 422, changed.text
    error = changed.json()["error"]
    assert error["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "Idempotency-Key" in error["message"]
    assert error["guidance"]

    # The same body on another connection is another request too.
    second = connect(world, client, "gitlab")
    elsewhere = _create(client, second, {"title": title}, key)
    assert elsewhere.status_code == 422, elsewhere.text

    assert _requests(gitlab.sandbox) == posts
    assert _issues_titled(gitlab.sandbox, other_title) == 0
    assert _issues_titled(gitlab.sandbox, title) == 1


def test_without_the_header_every_request_creates(gitlab: Tracker, client: httpx.Client) -> None:
    title = _title("No key")
    answers = [_create(client, gitlab, {"title": title}, None) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["key"] != answers[1].json()["key"]
    assert all(REPLAYED_HEADER not in a.headers for a in answers)
    assert _issues_titled(gitlab.sandbox, title) == 2


def test_keys_are_scoped_per_tenant(world: World, gitlab: Tracker, client: httpx.Client) -> None:
    # Given: tenant A created an issue with a key
    key, title = _new_key(), _title("Per tenant")
    mine = _create(client, gitlab, {"title": title}, key)
    assert mine.status_code == 201, mine.text

    # When: tenant B sends the same key string and body to its own connection
    with world.client(issue_api_key(f"idem-b-{uuid.uuid4().hex[:8]}")) as other:
        theirs_connection = connect(world, other, "gitlab")
        theirs = _create(other, theirs_connection, {"title": title}, key)
        again = _create(other, theirs_connection, {"title": title}, key)

    # Then: B's request ran (its own record), and B's retry replays B's answer, not A's
    assert theirs.status_code == 201, theirs.text
    assert REPLAYED_HEADER not in theirs.headers
    assert theirs.json()["key"] != mine.json()["key"]
    assert theirs.json()["connection_id"] == theirs_connection.connection_id
    assert again.json() == theirs.json()
    assert again.headers[REPLAYED_HEADER] == "true"
    assert _issues_titled(gitlab.sandbox, title) == 2


def test_a_failed_first_attempt_is_not_kept(gitlab: Tracker, client: httpx.Client) -> None:
    # Given: the tracker fails the first create with a 500
    gitlab.sandbox.add_faults([{"route": CREATE_ROUTE["gitlab"], "status": 500, "times": 1}])
    key, title = _new_key(), _title("After a failure")
    failed = _create(client, gitlab, {"title": title}, key)
    assert failed.status_code >= 500, failed.text
    assert _issues_titled(gitlab.sandbox, title) == 0

    # When: the client retries with the same key
    retried = _create(client, gitlab, {"title": title}, key)
    replayed = _create(client, gitlab, {"title": title}, key)

    # Then: the retry ran and created the one issue; the next retry replays it
    assert retried.status_code == 201, retried.text
    assert REPLAYED_HEADER not in retried.headers
    assert replayed.json() == retried.json()
    assert replayed.headers[REPLAYED_HEADER] == "true"
    assert _issues_titled(gitlab.sandbox, title) == 1
    assert _requests(gitlab.sandbox, CREATE_ROUTE["gitlab"]) == 2


def test_a_refused_first_attempt_is_not_kept_either(gitlab: Tracker, client: httpx.Client) -> None:
    # A 4xx is a failure too: the corrected situation runs on retry (here: the connection did not exist yet).
    key, title = _new_key(), _title("Unknown connection")
    missing = client.post(
        "/v1/connections/conn_aaaaaaaaaaaaaaaaaaaa/issues",
        json={"title": title},
        headers={"Idempotency-Key": key},
    )
    assert missing.status_code == 404, missing.text
    gitlab.sandbox.add_faults([{"route": CREATE_ROUTE["gitlab"], "status": 422, "times": 1}])
    refused = _create(client, gitlab, {"title": title}, key)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] != "IDEMPOTENCY_KEY_REUSED"
    created = _create(client, gitlab, {"title": title}, key)
    assert created.status_code == 201, created.text
    assert _issues_titled(gitlab.sandbox, title) == 1


# ---- bulk, comments, attachments ---------------------------------------------------------------------------


def test_a_retried_bulk_creates_once(gitlab: Tracker, client: httpx.Client) -> None:
    key = _new_key()
    titles = [_title("Bulk one"), _title("Bulk two")]
    body = {"items": [{"op": "create", "title": t} for t in titles]}
    path = f"{_base(gitlab)}/issues:bulk"

    first = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert first.json()["succeeded"] == 2
    requests_after_first = gitlab.sandbox.requests()["total"]

    retry = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert retry.headers[REPLAYED_HEADER] == "true"
    assert gitlab.sandbox.requests()["total"] == requests_after_first
    assert [_issues_titled(gitlab.sandbox, t) for t in titles] == [1, 1]

    changed = client.post(path, json={"items": body["items"][:1]}, headers={"Idempotency-Key": key})
    assert changed.status_code == 422, changed.text
    assert changed.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # The key belongs to the bulk operation: a single create may use the same string for itself.
    single = _create(client, gitlab, {"title": titles[0]}, key)
    assert single.status_code == 201, single.text
    assert _issues_titled(gitlab.sandbox, titles[0]) == 2


def test_a_bulk_in_which_nothing_succeeded_is_not_kept(gitlab: Tracker, client: httpx.Client) -> None:
    key, title = _new_key(), _title("Bulk after outage")
    gitlab.sandbox.add_faults([{"route": CREATE_ROUTE["gitlab"], "status": 500, "times": 1}])
    path = f"{_base(gitlab)}/issues:bulk"
    body = {"items": [{"op": "create", "title": title}]}

    failed = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert failed.status_code == 200, failed.text
    assert failed.json()["succeeded"] == 0

    retried = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert retried.status_code == 200, retried.text
    assert REPLAYED_HEADER not in retried.headers
    assert retried.json()["succeeded"] == 1
    assert _issues_titled(gitlab.sandbox, title) == 1


def test_a_retried_comment_is_posted_once(gitlab: Tracker, client: httpx.Client) -> None:
    issue = _create(client, gitlab, {"title": _title("Commented")}, None).json()
    path = f"{_base(gitlab)}/issues/{str(issue['key']).lstrip('#')}/comments"
    key, text = _new_key(), f"seen again {uuid.uuid4().hex[:8]}"
    notes_before = _requests(gitlab.sandbox, "POST */notes")

    first = client.post(path, json={"body": text}, headers={"Idempotency-Key": key})
    retry = client.post(path, json={"body": text}, headers={"Idempotency-Key": key})

    assert (first.status_code, retry.status_code) == (201, 201), retry.text
    assert retry.json() == first.json()
    assert retry.headers[REPLAYED_HEADER] == "true"
    assert _requests(gitlab.sandbox, "POST */notes") - notes_before == 1
    other_issue = client.post(
        f"{_base(gitlab)}/issues/999/comments", json={"body": text}, headers={"Idempotency-Key": key}
    )
    assert other_issue.status_code == 422, other_issue.text
    assert other_issue.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_retried_attachment_is_uploaded_once(world: World, client: httpx.Client) -> None:
    fresh(world, "jira")
    jira = connect(world, client, "jira")
    issue = _create(client, jira, {"title": _title("Attached")}, None).json()
    path = f"{_base(jira)}/issues/{issue['key']}/attachments"
    key = _new_key()

    def upload(content: bytes) -> httpx.Response:
        return client.post(
            path, files={"file": ("r.txt", content, "text/plain")}, headers={"Idempotency-Key": key}
        )

    before = jira.sandbox.requests()["total"]
    first = upload(b"disk usage: 95%")
    after_first = jira.sandbox.requests()["total"]
    retry = upload(b"disk usage: 95%")
    assert (first.status_code, retry.status_code) == (201, 201), retry.text
    assert retry.json() == first.json()
    assert after_first > before
    assert jira.sandbox.requests()["total"] == after_first
    assert upload(b"another file").status_code == 422


# ---- the header itself -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_key",
    ["k" * 256, "tab\tinside", "caf\u00e9", ""],
    ids=["too-long", "control-character", "not-ascii", "empty"],
)
def test_a_bad_key_is_refused_before_the_tracker_is_called(
    bad_key: str, gitlab: Tracker, client: httpx.Client
) -> None:
    before = gitlab.sandbox.requests()["total"]
    answer = client.post(
        f"{_base(gitlab)}/issues",
        json={"title": "x"},
        headers=[(b"Idempotency-Key", bad_key.encode("latin-1"))],
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert [e["path"] for e in error["details"]["errors"]] == ["header.idempotency-key"]
    assert "1 to 255 printable ASCII characters" in error["message"]
    assert gitlab.sandbox.requests()["total"] == before


def test_the_header_is_documented_on_every_create(client: httpx.Client) -> None:
    document = client.get("/v1/openapi.json").json()
    creates = [
        "/v1/connections/{connection_id}/issues",
        "/v1/connections/{connection_id}/issues:bulk",
        "/v1/connections/{connection_id}/issues/{key}/comments",
        "/v1/connections/{connection_id}/issues/{key}/attachments",
    ]
    for path in creates:
        headers = [p for p in document["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert [p["name"].lower() for p in headers] == ["idempotency-key"], path
        assert headers[0]["required"] is False
        assert headers[0]["schema"]["maxLength"] == 255
        assert "IDEMPOTENCY_KEY_REUSED" in headers[0]["description"]
