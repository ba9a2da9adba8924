"""``verify_webhook`` and ``parse_webhook`` of every tracker, against the real payloads in shared/fixtures.

Each adapter gets a client whose every request fails the test: verifying and parsing a delivery never call
the tracker. A webhook item is compared with the same item normalized the way a sync does it (same content
hash); where a payload cannot give that, the change must say so (``needs_fetch``) instead of guessing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import SHARED
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.ids import issue_ref
from trackbridge.providers.auth import BasicCredentialsAuth, BearerTokenAuth, HeaderTokenAuth
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import TrackerError
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.signatures import StandardWebhooks
from trackbridge.providers.types import (
    DeliveryKind,
    TrackerConfig,
    WebhookAction,
    WebhookChange,
    WebhookDelivery,
    WebhookEntity,
)
from trackbridge.providers.webhooks import WebhookPayloadError

from .conftest import CONNECTION_ID, FakeTracker, gh_issue, json_response

SECRET = "hook-secret-new"
OLD_SECRET = "hook-secret-old"


def _no_tracker_calls(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"parsing a webhook called the tracker: {request.method} {request.url}")


def _client() -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(_no_tracker_calls))


@pytest.fixture
def adapters() -> Iterator[Callable[..., TrackerAdapter]]:
    """Build an adapter of a tracker for a scope; every one built is closed after the test."""
    built: list[TrackerAdapter] = []

    def build(cls: type[TrackerAdapter], base_url: str, scope: dict[str, str]) -> TrackerAdapter:
        auth: httpx.Auth
        if cls is GitLabAdapter:
            auth = HeaderTokenAuth("glpat-unit", header="PRIVATE-TOKEN")
        elif cls is JiraAdapter:
            auth = BasicCredentialsAuth("bot@acme.example", "jira-unit")
        else:
            auth = BearerTokenAuth("ghp-unit")
        adapter = cls(TrackerConfig(base_url, scope, CONNECTION_ID), auth, client=_client())
        built.append(adapter)
        return adapter

    yield build
    for adapter in built:
        adapter.close()


def _fixtures(shared: Path, tracker: str, pattern: str = "*.json") -> list[Path]:
    return sorted((shared / "fixtures" / tracker).glob(pattern))


GITHUB_FIXTURES = [p for p in _fixtures(SHARED, "github") if p.name != "signature_test_vector.json"]
GITLAB_FIXTURES = _fixtures(SHARED, "gitlab", "*_hook.*.json")
# rest_v3_* are REST API examples, not webhook deliveries.
JIRA_FIXTURES = [p for p in _fixtures(SHARED, "jira") if not p.name.startswith("rest_v3_")]


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _single(delivery: WebhookDelivery, entity: WebhookEntity, action: WebhookAction) -> WebhookChange:
    """The delivery's one change, which must be about ``entity`` and do ``action``."""
    (change,) = delivery.changes
    assert (change.entity, change.action) == (entity, action)
    return change


# ---- GitHub -----------------------------------------------------------------------------------------


def _github_headers(event: str, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958") -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}


def _github(adapters: Callable[..., TrackerAdapter], body: bytes) -> GitHubAdapter:
    """An adapter for the repository the payload is about (Codertocat/Hello-World when it names none)."""
    repository = json.loads(body).get("repository") or {}
    adapter = adapters(
        GitHubAdapter,
        "https://api.github.com",
        {"repo": repository.get("full_name", "Codertocat/Hello-World")},
    )
    assert isinstance(adapter, GitHubAdapter)
    return adapter


GITHUB_KIND = {
    "ping": DeliveryKind.PING,
    "issues": DeliveryKind.CHANGES,
    "issue_comment": DeliveryKind.CHANGES,
}


@pytest.mark.parametrize("path", GITHUB_FIXTURES, ids=_ids(GITHUB_FIXTURES))
def test_every_github_fixture_verifies_and_parses(
    path: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    # Given: a fixture delivered with its event header, signed with the new secret of a rotation
    body = path.read_bytes()
    event = path.name.split(".")[0]
    headers = {**_github_headers(event), **GitHubAdapter.signature_schemes[0].sign(body, SECRET)}
    adapter = _github(adapters, body)

    # Then: old and new secrets verify it; parsing gives the kind its event type calls for
    assert GitHubAdapter.verify_webhook(headers, body, [OLD_SECRET, SECRET])
    delivery = adapter.parse_webhook(headers, body)
    assert delivery.provider == "github"
    assert delivery.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert delivery.kind is GITHUB_KIND.get(event, DeliveryKind.IGNORED)
    if delivery.kind is DeliveryKind.CHANGES:
        assert len(delivery.changes) == 1
        assert delivery.changes[0].issue_ref == issue_ref(CONNECTION_ID, 1)
        assert delivery.changes[0].issue_key == "#1"
    else:
        assert delivery.changes == ()


def test_github_tampered_body_and_wrong_secret_fail(shared_dir: Path) -> None:
    body = (shared_dir / "fixtures" / "github" / "issues.opened.json").read_bytes()
    headers = {**_github_headers("issues"), **GitHubAdapter.signature_schemes[0].sign(body, SECRET)}
    tampered = body.replace(b"Spelling error", b"Spelling errors")
    assert tampered != body
    assert not GitHubAdapter.verify_webhook(headers, tampered, [SECRET])
    assert not GitHubAdapter.verify_webhook(headers, body, ["not the secret"])
    assert not GitHubAdapter.verify_webhook(headers, body, [])
    assert not GitHubAdapter.verify_webhook(_github_headers("issues"), body, [SECRET])  # unsigned


def test_github_webhook_issue_normalizes_like_a_synced_one(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    # Given: the issue of an "issues.labeled" delivery, and the same JSON as GET /repos/{o}/{r}/issues/1
    body = (shared_dir / "fixtures" / "github" / "issues.labeled.json").read_bytes()
    raw_issue = json.loads(body)["issue"]
    fake = FakeTracker().on("GET", "/repos/Codertocat/Hello-World/issues/1", json_response(200, raw_issue))
    config = TrackerConfig("https://api.github.com", {"repo": "Codertocat/Hello-World"}, CONNECTION_ID)
    with GitHubAdapter(config, BearerTokenAuth("ghp-unit"), client=fake.client()) as synced:
        fetched = synced.get_issue("#1")

    # When
    delivery = _github(adapters, body).parse_webhook(_github_headers("issues"), body)

    # Then: one upsert carrying the very record a sync stores
    (change,) = delivery.changes
    assert (change.entity, change.action, change.needs_fetch) == (
        WebhookEntity.ISSUE,
        WebhookAction.UPSERT,
        False,
    )
    assert change.issue == fetched
    assert change.issue is not None
    assert change.issue.content_hash == fetched.content_hash
    assert "bug" in change.issue.labels
    assert change.updated_at == fetched.updated_at
    assert delivery.event == "issues.labeled"


def test_github_issue_deleted_and_transferred_are_deletes(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    body = (shared_dir / "fixtures" / "github" / "issues.deleted.json").read_bytes()
    (change,) = _github(adapters, body).parse_webhook(_github_headers("issues"), body).changes
    assert (change.entity, change.action, change.issue) == (WebhookEntity.ISSUE, WebhookAction.DELETE, None)
    assert change.updated_at == datetime(2021, 10, 11, 16, 40, 56, tzinfo=UTC)
    assert not change.needs_fetch

    payload = {**json.loads(body), "action": "transferred"}
    moved = json.dumps(payload).encode()
    (change,) = _github(adapters, moved).parse_webhook(_github_headers("issues"), moved).changes
    assert change.action is WebhookAction.DELETE


def test_github_comment_edited_and_deleted(shared_dir: Path, adapters: Callable[..., TrackerAdapter]) -> None:
    github = shared_dir / "fixtures" / "github"
    edited = (github / "issue_comment.edited.json").read_bytes()
    adapter = _github(adapters, edited)
    change = _single(
        adapter.parse_webhook(_github_headers("issue_comment"), edited),
        WebhookEntity.COMMENT,
        WebhookAction.UPSERT,
    )
    assert change.comment_id == "492700400"
    assert change.comment is not None
    assert change.comment.body == "You are totally right! I'll get this fixed today."
    # The same comment as the repository-wide comment listing gives it: same record, same hash
    assert change.comment == adapter.normalize_comment(json.loads(edited)["comment"])
    assert change.issue is None  # a comment event touches only its comment

    deleted = (github / "issue_comment.deleted.json").read_bytes()
    change = _single(
        adapter.parse_webhook(_github_headers("issue_comment"), deleted),
        WebhookEntity.COMMENT,
        WebhookAction.DELETE,
    )
    assert change.comment_id == "492700400"
    assert change.comment is None
    assert change.updated_at == datetime(2019, 5, 15, 15, 20, 22, tzinfo=UTC)


def test_github_ping_unknown_events_pull_requests_and_other_repositories(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    github = shared_dir / "fixtures" / "github"
    ping = (github / "ping.json").read_bytes()
    assert _github(adapters, ping).parse_webhook(_github_headers("ping"), ping).kind is DeliveryKind.PING

    advisory = (github / "security_advisory.published.json").read_bytes()
    ignored = _github(adapters, advisory).parse_webhook(_github_headers("security_advisory"), advisory)
    assert (ignored.kind, ignored.event) == (DeliveryKind.IGNORED, "security_advisory.published")
    assert ignored.reason

    # GitHub sends comments on pull requests as issue_comment: the issue carries a pull_request key
    comment = json.loads((github / "issue_comment.created.json").read_bytes())
    comment["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    on_pr = json.dumps(comment).encode()
    assert (
        _github(adapters, on_pr).parse_webhook(_github_headers("issue_comment"), on_pr).kind
        is DeliveryKind.IGNORED
    )

    opened = (github / "issues.opened.json").read_bytes()
    elsewhere = adapters(GitHubAdapter, "https://api.github.com", {"repo": "acme/widgets"})
    delivery = elsewhere.parse_webhook(_github_headers("issues"), opened)
    assert delivery.kind is DeliveryKind.IGNORED
    assert "Codertocat/Hello-World" in (delivery.reason or "")


def test_github_delivery_id_falls_back_to_the_body_digest(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    body = (shared_dir / "fixtures" / "github" / "issues.opened.json").read_bytes()
    adapter = _github(adapters, body)
    first = adapter.parse_webhook({"x-github-event": "issues"}, body)  # header names in any case
    again = adapter.parse_webhook({"X-GITHUB-EVENT": "issues"}, body)
    assert first.delivery_id.startswith("sha256:")
    assert first.delivery_id == again.delivery_id


MALFORMED_GITHUB: list[tuple[str, bytes, str]] = [
    ("not-json", b"{'action': 'opened'", "issues"),
    ("not-utf8", b"\xff\xfe{}", "issues"),
    ("array", b"[1, 2]", "issues"),
    ("no-issue", b'{"action": "opened"}', "issues"),
    ("issue-not-object", b'{"action": "opened", "issue": "#1"}', "issues"),
    (
        "number-not-a-number",
        json.dumps({"action": "opened", "issue": gh_issue(1) | {"number": "one"}}).encode(),
        "issues",
    ),
    (
        "issue-without-title",
        json.dumps(
            {"action": "opened", "issue": {k: v for k, v in gh_issue(1).items() if k != "title"}}
        ).encode(),
        "issues",
    ),
    ("comment-missing", json.dumps({"action": "created", "issue": gh_issue(1)}).encode(), "issue_comment"),
    ("no-event-header", b'{"action": "opened"}', ""),
]


@pytest.mark.parametrize(("case", "body", "event"), MALFORMED_GITHUB, ids=[c for c, _, _ in MALFORMED_GITHUB])
def test_github_malformed_payloads_are_400s(
    case: str, body: bytes, event: str, adapters: Callable[..., TrackerAdapter]
) -> None:
    adapter = adapters(GitHubAdapter, "https://api.github.com", {"repo": "acme/widgets"})
    headers = _github_headers(event) if event else {}
    with pytest.raises(WebhookPayloadError) as caught:
        adapter.parse_webhook(headers, body)
    assert isinstance(caught.value, TrackerError)  # the providers family, never a KeyError
    assert caught.value.http_status == 400
    expected = ErrorCode.INVALID_JSON if case in ("not-json", "not-utf8") else ErrorCode.INVALID_INPUT
    assert caught.value.code is expected
    assert not caught.value.retryable
    assert caught.value.guidance


# ---- GitLab -----------------------------------------------------------------------------------------

GITLAB_EVENT = {"issue": "Issue Hook", "note": "Note Hook"}


def _gitlab_headers(body: bytes, **extra: str) -> dict[str, str]:
    kind = json.loads(body).get("object_kind", "issue")
    return {"X-Gitlab-Event": GITLAB_EVENT.get(kind, "Issue Hook"), "X-Gitlab-Token": SECRET, **extra}


def _gitlab(adapters: Callable[..., TrackerAdapter], body: bytes) -> GitLabAdapter:
    project = json.loads(body).get("project") or {}
    adapter = adapters(
        GitLabAdapter, "https://gitlab.com", {"project": project.get("path_with_namespace", "g/p")}
    )
    assert isinstance(adapter, GitLabAdapter)
    return adapter


@pytest.mark.parametrize("path", GITLAB_FIXTURES, ids=_ids(GITLAB_FIXTURES))
def test_every_gitlab_fixture_verifies_and_parses(
    path: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    body = path.read_bytes()
    headers = _gitlab_headers(body, **{"Idempotency-Key": "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"})
    assert GitLabAdapter.verify_webhook(headers, body, [OLD_SECRET, SECRET])
    assert not GitLabAdapter.verify_webhook(headers, body, ["not the secret"])

    delivery = _gitlab(adapters, body).parse_webhook(headers, body)

    assert delivery.kind is DeliveryKind.CHANGES
    assert delivery.delivery_id == "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"
    (change,) = delivery.changes
    assert change.action is WebhookAction.UPSERT
    payload = json.loads(body)
    if payload["object_kind"] == "note":
        assert (change.entity, change.comment_id, change.issue_key) == (WebhookEntity.COMMENT, "1241", "#17")
    else:
        iid = payload["object_attributes"]["iid"]
        assert (change.entity, change.issue_key) == (WebhookEntity.ISSUE, f"#{iid}")
        assert change.issue_ref == issue_ref(CONNECTION_ID, iid)
        # Payloads without labels (older GitLab) cannot give the whole record: the item is fetched
        assert change.needs_fetch == ("labels" not in payload)


def test_gitlab_signed_delivery_tampered_body_fails(shared_dir: Path) -> None:
    body = (shared_dir / "fixtures" / "gitlab" / "issue_hook.open.docs.json").read_bytes()
    signing = "whsec_" + base64.b64encode(b"g" * 32).decode()
    now = 1_744_578_123
    headers = {**_gitlab_headers(body), **StandardWebhooks().sign(body, signing, now=now, msg_id="msg-1")}
    assert GitLabAdapter.verify_webhook(headers, body, [SECRET, signing], now=now)
    tampered = body.replace(b"New API", b"Old API")
    assert not GitLabAdapter.verify_webhook(headers, tampered, [SECRET, signing], now=now)
    assert not GitLabAdapter.verify_webhook(
        headers, body, [SECRET, "whsec_" + base64.b64encode(b"x" * 32).decode()], now=now
    )


def test_gitlab_webhook_issue_normalizes_like_a_synced_one(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    # Given: the docs' Issue Hook, and the same issue as GET /projects/:id/issues/:iid answers it
    body = (shared_dir / "fixtures" / "gitlab" / "issue_hook.open.docs.json").read_bytes()
    payload = json.loads(body)
    attrs = payload["object_attributes"]
    rest = {
        "iid": attrs["iid"],
        "title": attrs["title"],
        "description": attrs["description"],
        "state": attrs["state"],
        "labels": [label["title"] for label in payload["labels"]],
        "assignees": payload["assignees"],
        "web_url": attrs["url"],
        "created_at": attrs["created_at"],
        "updated_at": attrs["updated_at"],
    }
    adapter = _gitlab(adapters, body)

    # When
    (change,) = adapter.parse_webhook(_gitlab_headers(body), body).changes

    # Then
    synced = adapter.normalize_issue(rest)
    assert change.issue == synced
    assert change.issue is not None
    assert change.issue.content_hash == synced.content_hash
    assert change.issue.labels == ["API"]
    assert change.issue.assignees == ["user1"]


def test_gitlab_old_hook_forms_close_reopen_update(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    gitlab = shared_dir / "fixtures" / "gitlab"
    for name, event in (
        ("close", "Issue Hook/close"),
        ("reopen", "Issue Hook/reopen"),
        ("update", "Issue Hook/update"),
    ):
        body = (gitlab / f"issue_hook.{name}.zulip.json").read_bytes()
        delivery = _gitlab(adapters, body).parse_webhook(_gitlab_headers(body), body)
        (change,) = delivery.changes
        assert delivery.event == event
        assert change.needs_fetch  # a 2016 payload has no labels: fetch the issue
        assert change.updated_at is not None
        assert change.updated_at.tzinfo is not None


def test_gitlab_note_edited_and_work_items(shared_dir: Path, adapters: Callable[..., TrackerAdapter]) -> None:
    gitlab = shared_dir / "fixtures" / "gitlab"
    note = json.loads((gitlab / "note_hook.issue.docs.json").read_bytes())
    note["object_attributes"] |= {
        "action": "update",
        "note": "Hello, edited",
        "updated_at": "2015-05-18 09:00:00 UTC",
    }
    body = json.dumps(note).encode()
    delivery = _gitlab(adapters, body).parse_webhook(_gitlab_headers(body), body)
    change = _single(delivery, WebhookEntity.COMMENT, WebhookAction.UPSERT)
    assert (delivery.event, change.comment_id) == ("Note Hook/update", "1241")
    assert change.comment is not None
    assert change.comment.body == "Hello, edited"
    assert change.comment.author == "root"
    assert change.updated_at == datetime(2015, 5, 18, 9, 0, tzinfo=UTC)

    # Edited by someone else than its author: the payload names the actor only, so the note is fetched
    note["user"] = {"id": 99, "username": "admin2"}
    body = json.dumps(note).encode()
    (change,) = _gitlab(adapters, body).parse_webhook(_gitlab_headers(body), body).changes
    assert change.needs_fetch

    # A work item arrives under the Issue Hook header with object_kind work_item
    item = json.loads((gitlab / "issue_hook.open.go-gitlab.json").read_bytes()) | {"object_kind": "work_item"}
    body = json.dumps(item).encode()
    delivery = _gitlab(adapters, body).parse_webhook({"X-Gitlab-Event": "Issue Hook"}, body)
    assert delivery.kind is DeliveryKind.CHANGES
    assert delivery.changes[0].entity is WebhookEntity.ISSUE

    # A task is one of the project's issues; an epic, or a work item of a group (no project), has an iid of
    # another namespace and must not be read as project issue #iid
    attributes = item["object_attributes"]
    for work_item, kind in (
        (item | {"object_attributes": attributes | {"type": "Task"}}, DeliveryKind.CHANGES),
        (item | {"object_attributes": attributes | {"type": "Epic"}}, DeliveryKind.IGNORED),
        ({k: v for k, v in item.items() if k != "project"}, DeliveryKind.IGNORED),
    ):
        body = json.dumps(work_item).encode()
        assert _gitlab(adapters, body).parse_webhook({"X-Gitlab-Event": "Issue Hook"}, body).kind is kind


def test_gitlab_ignores_what_it_does_not_sync(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    gitlab = shared_dir / "fixtures" / "gitlab"
    adapter = adapters(GitLabAdapter, "https://gitlab.com", {"project": "gitlab-org/gitlab-test"})
    push = b'{"object_kind": "push", "ref": "refs/heads/main"}'
    assert adapter.parse_webhook({"X-Gitlab-Event": "Push Hook"}, push).kind is DeliveryKind.IGNORED

    note = json.loads((gitlab / "note_hook.issue.docs.json").read_bytes())
    for change in ({"noteable_type": "MergeRequest"}, {"system": True}):
        body = json.dumps(note | {"object_attributes": note["object_attributes"] | change}).encode()
        delivery = adapter.parse_webhook({"X-Gitlab-Event": "Note Hook"}, body)
        assert delivery.kind is DeliveryKind.IGNORED, change

    other = (gitlab / "issue_hook.open.docs.json").read_bytes()  # project gitlabhq/gitlab-test
    assert adapter.parse_webhook({}, other).kind is DeliveryKind.IGNORED
    # The project may be configured by its numeric id
    by_id = adapters(GitLabAdapter, "https://gitlab.com", {"project": "1"})
    assert by_id.parse_webhook({}, other).kind is DeliveryKind.CHANGES


def test_gitlab_delivery_ids(shared_dir: Path, adapters: Callable[..., TrackerAdapter]) -> None:
    body = (shared_dir / "fixtures" / "gitlab" / "note_hook.issue.docs.json").read_bytes()
    adapter = _gitlab(adapters, body)
    assert adapter.parse_webhook({"webhook-id": "w-1"}, body).delivery_id == "w-1"
    assert adapter.parse_webhook({"Idempotency-Key": "k-1", "webhook-id": "w-1"}, body).delivery_id == "k-1"
    # The recursion UUID alone is shared by the events one request triggers: the body tells them apart
    shared_uuid = {"X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e"}
    other = json.dumps(json.loads(body) | {"event_type": "confidential_note"}).encode()
    first, second = adapter.parse_webhook(shared_uuid, body), adapter.parse_webhook(shared_uuid, other)
    assert first.delivery_id.startswith("13792a34-cac6-4fda-95a8-c58e00a3954e:")
    assert first.delivery_id != second.delivery_id
    assert adapter.parse_webhook(shared_uuid, body).delivery_id == first.delivery_id


MALFORMED_GITLAB: list[tuple[str, bytes]] = [
    ("not-json", b"object_kind=issue"),
    ("no-object-kind", b'{"object_attributes": {}}'),
    ("object-kind-not-a-string", b'{"object_kind": 7}'),
    ("issue-without-attributes", b'{"object_kind": "issue"}'),
    ("issue-without-iid", b'{"object_kind": "issue", "object_attributes": {"title": "t"}}'),
    (
        "bad-timestamp",
        b'{"object_kind": "issue", "object_attributes": {"iid": 1, "updated_at": "yesterday"}}',
    ),
    (
        "note-without-issue",
        b'{"object_kind": "note", "object_attributes": {"id": 1, "noteable_type": "Issue"}}',
    ),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED_GITLAB, ids=[c for c, _ in MALFORMED_GITLAB])
def test_gitlab_malformed_payloads_are_400s(
    case: str, body: bytes, adapters: Callable[..., TrackerAdapter]
) -> None:
    adapter = adapters(GitLabAdapter, "https://gitlab.com", {"project": "g/p"})
    with pytest.raises(WebhookPayloadError) as caught:
        adapter.parse_webhook({"X-Gitlab-Event": "Issue Hook"}, body)
    assert caught.value.http_status == 400


# ---- Jira -------------------------------------------------------------------------------------------

JIRA_SITE = "https://acme.atlassian.net"
ADF_DESCRIPTION = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Disk full on db1"}]}],
}


def _jira(adapters: Callable[..., TrackerAdapter], scope: dict[str, str] | None = None) -> JiraAdapter:
    adapter = adapters(JiraAdapter, JIRA_SITE, scope or {"jql": "project in (TES, KT, IDT)"})
    assert isinstance(adapter, JiraAdapter)
    return adapter


def _jira_headers(body: bytes, identifier: str = "8c3b3f2e-0d0c-4a1e-9b4f-0f2b5f0e1a11") -> dict[str, str]:
    return {
        "X-Atlassian-Webhook-Identifier": identifier,
        **JiraAdapter.signature_schemes[0].sign(body, SECRET),
    }


JIRA_EXPECTED = {
    "jira:issue_created": (WebhookEntity.ISSUE, WebhookAction.UPSERT),
    "jira:issue_updated": (WebhookEntity.ISSUE, WebhookAction.UPSERT),
    "jira:issue_deleted": (WebhookEntity.ISSUE, WebhookAction.DELETE),
    "comment_created": (WebhookEntity.COMMENT, WebhookAction.UPSERT),
    "comment_updated": (WebhookEntity.COMMENT, WebhookAction.UPSERT),
    "comment_deleted": (WebhookEntity.COMMENT, WebhookAction.DELETE),
}


@pytest.mark.parametrize("path", JIRA_FIXTURES, ids=_ids(JIRA_FIXTURES))
def test_every_jira_fixture_verifies_and_parses(path: Path, adapters: Callable[..., TrackerAdapter]) -> None:
    body = path.read_bytes()
    headers = _jira_headers(body)
    assert JiraAdapter.verify_webhook(headers, body, [OLD_SECRET, SECRET])
    assert not JiraAdapter.verify_webhook(headers, body + b"\n", [SECRET])
    assert not JiraAdapter.verify_webhook(headers, body, ["not the secret"])

    delivery = _jira(adapters).parse_webhook(headers, body)

    payload = json.loads(body)
    assert delivery.delivery_id == "8c3b3f2e-0d0c-4a1e-9b4f-0f2b5f0e1a11"
    assert delivery.event == payload["webhookEvent"]
    expected = JIRA_EXPECTED.get(payload["webhookEvent"])
    if expected is None:
        assert delivery.kind is DeliveryKind.IGNORED  # worklogs are not synced
        return
    (change,) = delivery.changes
    assert (change.entity, change.action) == expected
    assert change.issue_key == payload["issue"]["key"]
    assert change.issue_ref == issue_ref(CONNECTION_ID, payload["issue"]["id"])
    assert change.updated_at is not None
    if change.entity is WebhookEntity.COMMENT:
        assert change.comment_id == payload["comment"]["id"]
    if change.action is WebhookAction.UPSERT and payload["issue"]["fields"].get("description"):
        # Wiki markup, not the ADF a sync reads: the item is fetched rather than guessed
        assert change.needs_fetch


def test_jira_issue_with_adf_normalizes_like_a_synced_one(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    # Given: an issue_updated delivery whose description is ADF (what a REST v3 GET returns)
    payload = json.loads((shared_dir / "fixtures" / "jira" / "jira_issue_updated.edited.json").read_bytes())
    payload["issue"]["fields"]["description"] = ADF_DESCRIPTION
    body = json.dumps(payload).encode()
    adapter = _jira(adapters)

    # When
    (change,) = adapter.parse_webhook(_jira_headers(body), body).changes

    # Then: the record a sync would store from the same issue JSON
    synced = adapter.normalize_issue(payload["issue"])
    assert change.issue == synced
    assert change.issue is not None
    assert change.issue.content_hash == synced.content_hash
    assert change.issue.body == "Disk full on db1"
    assert change.updated_at == synced.updated_at


def test_jira_issue_deleted_and_comment_updated_deleted(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    jira = shared_dir / "fixtures" / "jira"
    adapter = _jira(adapters)
    deleted = (jira / "jira_issue_deleted.json").read_bytes()
    (change,) = adapter.parse_webhook(_jira_headers(deleted), deleted).changes
    assert (change.action, change.issue_key, change.issue) == (WebhookAction.DELETE, "IDT-19", None)
    assert change.updated_at == datetime.fromtimestamp(1562177136176 / 1000, tz=UTC)

    updated = (jira / "comment_updated.json").read_bytes()
    change = _single(
        adapter.parse_webhook(_jira_headers(updated), updated), WebhookEntity.COMMENT, WebhookAction.UPSERT
    )
    assert change.comment_id == "10019"
    assert change.needs_fetch  # the body is wiki markup
    assert change.updated_at == datetime(2019, 2, 16, 3, 12, 8, 432000, tzinfo=UTC)

    # The same comment with an ADF body is normalized as the comment listing would
    payload = json.loads(updated)
    payload["comment"]["body"] = ADF_DESCRIPTION
    body = json.dumps(payload).encode()
    (change,) = adapter.parse_webhook(_jira_headers(body), body).changes
    assert change.comment == adapter.normalize_comment(payload["comment"], "10040")

    removed = (jira / "comment_deleted.json").read_bytes()
    change = _single(
        adapter.parse_webhook(_jira_headers(removed), removed), WebhookEntity.COMMENT, WebhookAction.DELETE
    )
    assert change.comment_id == "10757"
    assert change.issue_key == "KT-7"


def test_jira_unknown_events_and_other_projects_are_ignored(
    shared_dir: Path, adapters: Callable[..., TrackerAdapter]
) -> None:
    worklog = (shared_dir / "fixtures" / "jira" / "worklog_created.zulip.json").read_bytes()
    delivery = _jira(adapters).parse_webhook({}, worklog)
    assert (delivery.kind, delivery.event) == (DeliveryKind.IGNORED, "worklog_created")
    assert delivery.delivery_id.startswith("sha256:")  # no identifier header: the body's digest

    created = (shared_dir / "fixtures" / "jira" / "jira_issue_created.json").read_bytes()  # project TES
    assert _jira(adapters, {"project": "OPS"}).parse_webhook({}, created).kind is DeliveryKind.IGNORED
    assert _jira(adapters, {"project": "TES"}).parse_webhook({}, created).kind is DeliveryKind.CHANGES


MALFORMED_JIRA: list[tuple[str, bytes]] = [
    ("not-json", b"<xml/>"),
    ("string", b'"jira:issue_created"'),
    ("no-event", b'{"issue": {"id": "1", "key": "A-1"}}'),
    ("event-not-a-string", b'{"webhookEvent": ["jira:issue_created"]}'),
    ("no-issue", b'{"webhookEvent": "jira:issue_created"}'),
    ("issue-without-key", b'{"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "fields": {}}}'),
    (
        "fields-not-object",
        b'{"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "key": "A-1", "fields": []}}',
    ),
    (
        "comment-missing",
        b'{"webhookEvent": "comment_created", "issue": {"id": "1", "key": "A-1", "fields": {}}}',
    ),
    (
        "bad-updated",
        b'{"webhookEvent": "jira:issue_updated", '
        b'"issue": {"id": "1", "key": "A-1", "fields": {"updated": "soon"}}}',
    ),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED_JIRA, ids=[c for c, _ in MALFORMED_JIRA])
def test_jira_malformed_payloads_are_400s(
    case: str, body: bytes, adapters: Callable[..., TrackerAdapter]
) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        _jira(adapters).parse_webhook({}, body)
    assert caught.value.http_status == 400
    assert caught.value.provider == "jira"


# ---- the shape every tracker returns ----------------------------------------------------------------


def test_a_delivery_is_a_frozen_value() -> None:
    delivery = WebhookDelivery.ignored("github", "d-1", "star.created", "star events are not synced")
    with pytest.raises(AttributeError):
        delivery.kind = DeliveryKind.PING  # type: ignore[misc]
    assert delivery.changes == ()
    assert hash(delivery) == hash(
        WebhookDelivery.ignored("github", "d-1", "star.created", "star events are not synced")
    )
