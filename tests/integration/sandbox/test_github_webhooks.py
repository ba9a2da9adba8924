"""GitHub webhooks from the sandbox: events, headers, payload shapes and signatures, checked independently.

The verifier here is written from GitHub's documentation alone (HMAC-SHA256 of the raw body, hex, prefixed
``sha256=``, compared in constant time) and is first proven on GitHub's published test vector.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox

from .conftest import HookReceiver, Received

pytestmark = pytest.mark.integration

SECRET = "hook-secret-for-tests"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


def payload_of(delivery: Received) -> dict[str, Any]:
    if delivery.headers["Content-Type"] == "application/x-www-form-urlencoded":
        return json.loads(parse_qs(delivery.body.decode())["payload"][0])
    return json.loads(delivery.body)


def test_verifier_accepts_githubs_published_test_vector(shared_dir: Path) -> None:
    vector = json.loads((shared_dir / "fixtures/github/signature_test_vector.json").read_text())

    assert verify_signature(vector["secret"], vector["payload"].encode(), vector["signature"])
    assert not verify_signature(vector["secret"], vector["payload"].encode() + b" ", vector["signature"])
    assert not verify_signature("another secret", vector["payload"].encode(), vector["signature"])


def _register(http: httpx.Client, receiver: HookReceiver, **config: Any) -> dict[str, Any]:
    body = {
        "name": "web",
        "active": True,
        "events": ["issues", "issue_comment"],
        "config": {"url": receiver.url, **config},
    }
    response = http.post("/repos/acme/widgets/hooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_sends_a_signed_ping_then_issue_events(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    hook = _register(github_http, hook_receiver, content_type="json", secret=SECRET)
    ping = hook_receiver.wait_for(1)[0]
    assert ping.headers["X-GitHub-Event"] == "ping"
    assert payload_of(ping)["hook_id"] == hook["id"]
    assert hook["config"]["secret"] == "********"

    created = github_http.post("/repos/acme/widgets/issues", json={"title": "Replication lag on db-2"}).json()
    github_http.post(f"/repos/acme/widgets/issues/{created['number']}/comments", json={"body": "on it"})
    github_http.patch(f"/repos/acme/widgets/issues/{created['number']}", json={"state": "closed"})

    deliveries = hook_receiver.wait_for(4)
    events = [(d.headers["X-GitHub-Event"], payload_of(d)["action"]) for d in deliveries[1:]]
    assert events == [("issues", "opened"), ("issue_comment", "created"), ("issues", "closed")]
    for delivery in deliveries:
        assert verify_signature(SECRET, delivery.body, delivery.headers["X-Hub-Signature-256"])
        legacy = "sha1=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha1).hexdigest()
        assert hmac.compare_digest(legacy, delivery.headers["X-Hub-Signature"])
        assert delivery.headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert delivery.headers["X-GitHub-Hook-ID"] == str(hook["id"])
        assert uuid.UUID(delivery.headers["X-GitHub-Delivery"])
        assert delivery.headers["Content-Type"] == "application/json"
    comment_payload = payload_of(deliveries[2])
    assert comment_payload["comment"]["body"] == "on it"
    assert comment_payload["issue"]["number"] == created["number"]
    assert payload_of(deliveries[3])["issue"]["state_reason"] == "completed"


def test_payloads_have_the_keys_of_githubs_own_examples(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver, shared_dir: Path
) -> None:
    _register(github_http, hook_receiver, content_type="json")
    github_http.post("/repos/acme/widgets/issues", json={"title": "x"})
    github_http.post("/repos/acme/widgets/issues/1/comments", json={"body": "y"})
    opened, commented = (payload_of(d) for d in hook_receiver.wait_for(3)[1:])

    for payload, fixture in ((opened, "issues.opened.json"), (commented, "issue_comment.created.json")):
        example = json.loads((shared_dir / "fixtures/github" / fixture).read_text())
        assert set(example) <= set(payload)
        assert set(example["issue"]) - {
            "milestone",
            "sub_issues_summary",
            "issue_dependencies_summary",
        } <= set(payload["issue"]) | {"closed_by", "draft", "pull_request"}
        assert set(example["sender"]) <= set(payload["sender"])
    example_comment = json.loads((shared_dir / "fixtures/github/issue_comment.created.json").read_text())[
        "comment"
    ]
    assert set(example_comment) <= set(commented["comment"])


def test_form_content_type_is_the_default(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    _register(github_http, hook_receiver, secret=SECRET)  # no content_type: GitHub's default is "form"

    ping = hook_receiver.wait_for(1)[0]

    assert ping.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert ping.body.startswith(b"payload=")
    assert verify_signature(SECRET, ping.body, ping.headers["X-Hub-Signature-256"])  # over the encoded bytes
    assert payload_of(ping)["zen"]


def test_control_api_mutations_fire_webhooks(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    _register(github_http, hook_receiver, content_type="json", secret=SECRET)
    hook_receiver.wait_for(1)
    issue = github.state.issue(4)
    assert issue is not None
    original = set(issue.labels)

    github_http.post(
        "/_sandbox/mutate", json={"action": "update", "number": 4, "fields": {"labels": ["bug", "question"]}}
    )
    github_http.post(
        "/_sandbox/mutate", json={"action": "comment", "number": 4, "body": "from the control API"}
    )
    github_http.post("/_sandbox/mutate", json={"action": "delete", "number": 5})

    expected = [("issues", "labeled")] * len({"bug", "question"} - original)
    expected += [("issues", "unlabeled")] * len(original - {"bug", "question"})
    expected += [("issue_comment", "created"), ("issues", "deleted")]
    assert github.wait_for_deliveries()
    deliveries = hook_receiver.wait_for(1 + len(expected))[1:]
    actions = [(d.headers["X-GitHub-Event"], payload_of(d)["action"]) for d in deliveries]
    assert actions == expected
    assert all(verify_signature(SECRET, d.body, d.headers["X-Hub-Signature-256"]) for d in deliveries)
    assert github_http.get("/repos/acme/widgets/issues/5").status_code == 404


def test_failed_delivery_is_not_retried(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    hook_receiver.status = 500
    hook = _register(github_http, hook_receiver, content_type="json")

    assert github.wait_for_deliveries()
    deliveries = github.deliveries()

    assert len(deliveries) == 1
    assert len(deliveries[0].attempts) == 1
    assert deliveries[0].attempts[0].status == 500
    assert not deliveries[0].ok
    assert github_http.get(f"/repos/acme/widgets/hooks/{hook['id']}").json()["last_response"]["code"] == 500
    over_http = github_http.get("/_sandbox/deliveries", params={"wait": "1"}).json()
    assert over_http["drained"] is True
    assert over_http["deliveries"][0]["attempts"][0]["status"] == 500


def test_hooks_only_deliver_to_loopback_and_subscribed_events(
    github: GitHubSandbox, github_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    outside = github_http.post(
        "/repos/acme/widgets/hooks", json={"config": {"url": "https://example.com/hook"}}
    )
    assert outside.status_code == 422
    assert "loopback" in outside.json()["errors"][0]["message"]

    _register(github_http, hook_receiver, content_type="json")
    github_http.patch(
        "/repos/acme/widgets/hooks/" + str(github.deliveries()[0].request.hook_id),
        json={"events": ["issue_comment"]},
    )
    github_http.post("/repos/acme/widgets/issues", json={"title": "no issues event expected"})
    github_http.post("/repos/acme/widgets/issues/1/comments", json={"body": "comment event expected"})

    assert github.wait_for_deliveries()
    assert [d.request.event for d in github.deliveries()] == ["ping", "issue_comment"]
