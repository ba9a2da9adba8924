"""The apply step against DynamoDB (the session's moto server) and trackers behind ``httpx.MockTransport``.

Every delivery is a real payload from shared/fixtures (or one derived from it), parsed by the connection's
real adapter and written through the write journal's conditional path. A fetch is answered by a scripted
tracker that records every request, built from the delivery's own payload in the tracker's REST shape.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from infra.local.provision import table_request
from tests.conftest import SHARED
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.egress import EgressPolicy
from trackbridge.domain.errors import NotFound
from trackbridge.domain.ids import parse_issue_ref
from trackbridge.domain.issues import Comment, Issue
from trackbridge.domain.times import to_iso
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import AuthenticationError, RateLimitedError
from trackbridge.providers.registry import create_adapter
from trackbridge.providers.retry import NO_RETRY
from trackbridge.providers.types import TrackerConfig, WebhookAction, WebhookDelivery, WebhookEntity
from trackbridge.runtime.adapter_pool import AdapterPool
from trackbridge.runtime.sync.adapters import AdapterBuilder
from trackbridge.runtime.webhooks.apply import (
    APPLY_ADAPTER_OPTIONS,
    ApplyResult,
    UnreadableDelivery,
    WebhookApplier,
    read_delivery,
)
from trackbridge.runtime.webhooks.messages import InboundDelivery
from trackbridge.storage.issues import CommentRepository, IssueRepository
from trackbridge.storage.keys import comment_sk, connection_pk, issue_pk, issue_sk
from trackbridge.storage.table import Item, Table
from trackbridge.storage.write_journal import journal_key, write_outside_sync

CONNECTION_ID = "conn_applyapplyapplyapply"
RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEEDED = datetime(2019, 1, 1, tzinfo=UTC)
JIRA_SITE = "https://example.atlassian.net"
CREDENTIALS = {
    "github": {"token": "ghp_apply.unit.token.never.logged"},
    "gitlab": {"token": "glpat-apply.unit.token.never.logged"},
    "jira": {"email": "bot@example.com", "api_token": "jira-apply-unit-token-never-logged"},
}


# ---- the table, connections and trackers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(moto_endpoint: str) -> Iterator[Table]:
    """A table of this module's own on the session's moto (the product's key schema and indexes)."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = client.create_table(**table_request(f"apply{uuid.uuid4().hex[:8]}"))["TableDescription"][
        "TableName"
    ]
    try:
        yield Table(client, name)
    finally:
        client.delete_table(TableName=name)


@pytest.fixture
def tenant() -> str:
    return f"apply-{uuid.uuid4().hex[:12]}"


def connection(provider: str, scope: dict[str, str], **fields: Any) -> Connection:
    base_url = {"github": "https://api.github.com", "gitlab": "https://gitlab.com", "jira": JIRA_SITE}[
        provider
    ]
    body = ConnectionCreate.model_validate(
        {
            "name": f"{provider} apply",
            "provider": provider,
            "base_url": base_url,
            "scope": scope,
            "credentials": CREDENTIALS[provider],
            **fields,
        }
    )
    return Connection.from_create(body, connection_id=CONNECTION_ID, now=RECEIVED)


@dataclass
class Connections:
    stored: dict[tuple[str, str], Connection] = field(default_factory=dict)

    def get(self, tenant: str, connection_id: str) -> Connection:
        found = self.stored.get((tenant, connection_id))
        if found is None:
            raise NotFound(f"no connection {connection_id!r}")
        return found


Answer = Callable[[httpx.Request], httpx.Response]


@dataclass
class Tracker:
    """The tracker behind every adapter the applier leases: ``answer`` serves each request, all recorded."""

    answer: Answer | None = None
    requests: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.answer is None:
            raise AssertionError(f"unexpected tracker request: {request.method} {request.url}")
        return self.answer(request)


@dataclass
class Adapters:
    """An adapter source like the production pool: the registry's adapter for the connection, with its
    credentials, its client going to :class:`Tracker`."""

    tracker: Tracker

    @contextmanager
    def lease(self, tenant: str, connection: Connection) -> Iterator[TrackerAdapter]:
        client = httpx.Client(transport=httpx.MockTransport(self.tracker.handle))
        adapter = create_adapter(
            connection.provider,
            TrackerConfig.from_connection(connection),
            CREDENTIALS[connection.provider],
            client=client,
            retry=NO_RETRY,
        )
        try:
            yield adapter
        finally:
            client.close()

    def close(self) -> None:
        """Each lease closed its own client."""


@dataclass
class Setup:
    table: Table
    tenant: str
    connections: Connections
    tracker: Tracker
    applier: WebhookApplier

    def add(self, conn: Connection) -> Connection:
        self.connections.stored[(self.tenant, conn.id)] = conn
        return conn

    def delivery(
        self, conn: Connection, body: bytes, headers: dict[str, str], *, received: datetime = RECEIVED
    ) -> InboundDelivery:
        return InboundDelivery.of(
            tenant=self.tenant,
            connection_id=conn.id,
            provider=conn.provider,
            delivery_id=f"d-{uuid.uuid4().hex[:8]}",
            received_at=received,
            headers=headers,
            raw_body=body,
        )

    def apply(self, conn: Connection, body: bytes, headers: dict[str, str], **kw: Any) -> ApplyResult:
        return self.applier.apply(self.delivery(conn, body, headers, **kw))

    def issue_item(self, conn: Connection, issue_ref: str) -> Item | None:
        parsed = parse_issue_ref(issue_ref)
        assert parsed is not None
        return self.table.get(connection_pk(self.tenant, conn.id), issue_sk(conn.external_id(parsed[1])))

    def comment_item(self, issue_ref: str, comment_id: str) -> Item | None:
        return self.table.get(issue_pk(self.tenant, issue_ref), comment_sk(comment_id))

    def seed_issue(self, conn: Connection, issue_ref: str, key: str, **fields: Any) -> Issue:
        parsed = parse_issue_ref(issue_ref)
        assert parsed is not None
        values: dict[str, Any] = {
            "ref": issue_ref,
            "external_id": conn.external_id(parsed[1]),
            "connection_id": conn.id,
            "provider": conn.provider,
            "key": key,
            "title": "seeded",
            "status": "open",
            "status_category": "todo",
            "created_at": SEEDED,
            "updated_at": SEEDED,
        }
        issue = Issue(**(values | fields)).with_hash()
        assert write_outside_sync(self.table, IssueRepository.item(self.tenant, issue)) == "created"
        return issue

    def seed_comment(self, conn: Connection, issue_ref: str, comment_id: str, **fields: Any) -> Comment:
        values: dict[str, Any] = {
            "id": comment_id,
            "issue_ref": issue_ref,
            "connection_id": conn.id,
            "author": "someone",
            "body": "seeded",
            "created_at": SEEDED,
            "updated_at": SEEDED,
        }
        comment = Comment(**(values | fields)).with_hash()
        assert write_outside_sync(self.table, CommentRepository.item(self.tenant, comment)) == "created"
        return comment


@pytest.fixture
def setup(table: Table, tenant: str) -> Setup:
    connections, tracker = Connections(), Tracker()
    applier = WebhookApplier(
        table=table, connections=connections, adapters=Adapters(tracker), clock=lambda: RECEIVED
    )
    return Setup(table, tenant, connections, tracker, applier)


# ---- fetch answers in each tracker's REST shape, from the delivery's own payload -----------------------


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def _iso(value: str) -> str:
    """GitLab's older hook times (``2016-08-18 17:47:36 UTC``) in the REST API's ISO form."""
    return value.replace(" UTC", "Z").replace(" ", "T") if value.endswith(" UTC") else value


def rest_answers(provider: str, payload: dict[str, Any]) -> Answer:
    """What the tracker's single-item GETs answer for the item ``payload`` is about."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if provider == "gitlab" and re.search(r"/notes/\d+$", path):
            attrs = payload["object_attributes"]
            created = _iso(attrs["created_at"])
            return httpx.Response(
                200,
                json={
                    "id": attrs["id"],
                    "body": attrs.get("note") or "",
                    "author": {"username": payload["user"]["username"]},
                    "created_at": created,
                    "updated_at": _iso(attrs.get("updated_at") or created),
                    "system": False,
                },
            )
        if provider == "gitlab" and re.search(r"/issues/\d+$", path):
            attrs = payload["object_attributes"]
            state = "opened" if attrs["state"] == "reopened" else attrs["state"]
            return httpx.Response(
                200,
                json={
                    "iid": attrs["iid"],
                    "title": attrs["title"],
                    "description": attrs.get("description"),
                    "state": state,
                    "labels": [],
                    "assignees": [],
                    "web_url": attrs.get("url"),
                    "created_at": _iso(attrs["created_at"]),
                    "updated_at": _iso(attrs["updated_at"]),
                },
            )
        if provider == "jira" and re.search(r"/comment/\d+$", path):
            return httpx.Response(200, json=payload["comment"] | {"body": _adf("fetched comment")})
        if provider == "jira" and re.search(r"/rest/api/3/issue/[^/]+$", path):
            issue = payload["issue"]
            return httpx.Response(
                200, json=issue | {"fields": issue["fields"] | {"description": _adf("fetched")}}
            )
        return httpx.Response(404, json={"message": f"no route for {path}"})

    return answer


# ---- the fixtures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    path: Path
    provider: str

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()

    @property
    def payload(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value

    def connection(self) -> Connection:
        payload = self.payload
        if self.provider == "github":
            repo = (payload.get("repository") or {}).get("full_name", "Codertocat/Hello-World")
            return connection("github", {"repo": repo})
        if self.provider == "gitlab":
            return connection("gitlab", {"project": payload["project"]["path_with_namespace"]})
        return connection("jira", {"jql": "project in (TES, KT, IDT)"})

    def headers(self) -> dict[str, str]:
        if self.provider == "github":
            return {"X-GitHub-Event": self.path.name.split(".")[0], "X-GitHub-Delivery": "gh-1"}
        if self.provider == "gitlab":
            hook = "Note Hook" if self.payload["object_kind"] == "note" else "Issue Hook"
            return {"X-Gitlab-Event": hook, "Idempotency-Key": "gl-1"}
        return {"X-Atlassian-Webhook-Identifier": "jira-1"}


TRACKERS = ("github", "gitlab", "jira")


def _not_a_delivery(path: Path) -> bool:
    """GitHub's signature test vector, GitLab's table of headers and Jira's REST API examples."""
    return path.name in ("signature_test_vector.json", "webhook_headers.json") or path.name.startswith(
        "rest_v3_"
    )


def _fixtures() -> list[Fixture]:
    return [
        Fixture(path, provider)
        for provider in TRACKERS
        for path in sorted((SHARED / "fixtures" / provider).glob("*.json"))
        if not _not_a_delivery(path)
    ]


FIXTURES = _fixtures()
# Deliveries that apply nothing, and why (the adapter's stated reason).
NOT_APPLIED = {
    "ping.json": ("ping", None),
    "ping.with-organization.json": ("ping", None),
    "pull_request.closed.json": ("ignored", "pull requests closed say nothing new"),
    "repository_advisory.published.json": ("ignored", "repository_advisory events are not synced"),
    "security_advisory.published.json": ("ignored", "security_advisory events are not synced"),
    "worklog_created.zulip.json": ("ignored", "worklog_created events are not synced"),
}


def test_every_delivery_fixture_is_covered() -> None:
    # Every file of the trackers' fixture folders is a delivery under test or a named non-delivery
    every = {p for provider in TRACKERS for p in (SHARED / "fixtures" / provider).iterdir()}
    assert every - {f.path for f in FIXTURES} == {p for p in every if _not_a_delivery(p)}
    assert {f.provider for f in FIXTURES} == set(TRACKERS)
    assert all(f.path.suffix == ".json" for f in FIXTURES)


def _parsed(setup: Setup, conn: Connection, fixture: Fixture) -> WebhookDelivery:
    with Adapters(Tracker()).lease(setup.tenant, conn) as adapter:
        return adapter.parse_webhook(fixture.headers(), fixture.body)


def _seed_for_delete(setup: Setup, conn: Connection, parsed: WebhookDelivery) -> None:
    """A delete needs something stored to delete: the item (and, for an issue, one comment of it)."""
    for change in parsed.changes:
        if change.action is not WebhookAction.DELETE:
            continue
        if change.entity is WebhookEntity.ISSUE:
            setup.seed_issue(conn, change.issue_ref, change.issue_key)
            setup.seed_comment(conn, change.issue_ref, "777")
        else:
            setup.seed_comment(conn, change.issue_ref, str(change.comment_id))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f"{f.provider}/{f.path.stem}" for f in FIXTURES])
def test_every_fixture_applies_once_and_a_replay_writes_nothing(setup: Setup, fixture: Fixture) -> None:
    # Given: the fixture's connection, a tracker answering fetches with the same item, what a delete deletes
    conn = setup.add(fixture.connection())
    setup.tracker.answer = rest_answers(fixture.provider, fixture.payload)
    parsed = _parsed(setup, conn, fixture)
    _seed_for_delete(setup, conn, parsed)

    # When: the delivery is applied, and then the very same delivery again (an SQS redelivery)
    delivery = setup.delivery(conn, fixture.body, fixture.headers())
    first = setup.applier.apply(delivery)
    fetches_first = len(setup.tracker.requests)
    second = setup.applier.apply(delivery)

    # Then: pings and ignored events apply nothing, for their stated reason
    if fixture.path.name in NOT_APPLIED:
        assert (first.status, first.reason) == NOT_APPLIED[fixture.path.name]
        assert first.changes == ()
        assert setup.tracker.requests == []
        return
    assert first.status == "applied"
    assert len(first.changes) == 1
    (change,) = first.changes
    if change.action is WebhookAction.DELETE:
        assert change.outcome == "deleted"
        assert change.comments_deleted == (1 if change.entity is WebhookEntity.ISSUE else 0)
    else:
        assert change.outcome == "created"
    # Only a change whose payload lacks the full item fetches it (Jira's wiki-markup bodies, GitLab's
    # label-less 2016 hooks): one GET, plus one for a Jira comment whose URL does not name its issue id
    assert change.fetched is parsed.changes[0].needs_fetch
    if change.fetched:
        assert 1 <= fetches_first <= 2
        assert fixture.provider != "github"
    else:
        assert fetches_first == 0
    stored = (
        setup.issue_item(conn, change.issue_ref)
        if change.entity is WebhookEntity.ISSUE
        else setup.comment_item(change.issue_ref, str(change.comment_id))
    )
    assert stored is not None
    model: Issue | Comment = (
        IssueRepository.model(stored)
        if change.entity is WebhookEntity.ISSUE
        else CommentRepository.model(stored)
    )
    # The stored hash is the one the stored fields give, as a sync computes it
    assert model.compute_hash() == stored["content_hash"]
    assert (model.deleted_at is not None) is (change.action is WebhookAction.DELETE)
    # The replay wrote nothing: unchanged, or an already deleted item left as it is
    (again,) = second.changes
    assert again.outcome == ("skipped" if change.action is WebhookAction.DELETE else "unchanged")


def test_a_github_issue_is_stored_exactly_as_a_sync_stores_it(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    body = (SHARED / "fixtures" / "github" / "issues.opened.json").read_bytes()
    headers = {"X-GitHub-Event": "issues"}
    with Adapters(Tracker()).lease(setup.tenant, conn) as adapter:
        raw = json.loads(body)["issue"]
        expected = IssueRepository.item(setup.tenant, adapter.normalize_issue(raw))

    result = setup.apply(conn, body, headers)

    assert [c.outcome for c in result.changes] == ["created"]
    assert setup.issue_item(conn, result.changes[0].issue_ref) == expected
    # Journalled first, as every write from outside a sync is
    journal = setup.table.get(*journal_key((expected["pk"], expected["sk"])))
    assert journal is not None
    assert journal["item"] == expected


# ---- ordering -----------------------------------------------------------------------------------------


def _github_issue_body(
    title: str, updated: datetime, *, action: str = "edited", state: str = "open"
) -> bytes:
    payload = json.loads((SHARED / "fixtures" / "github" / "issues.edited.json").read_bytes())
    payload["action"] = action
    payload["issue"] |= {"title": title, "updated_at": to_iso(updated), "state": state}
    return json.dumps(payload).encode()


def test_an_older_event_delivered_after_a_newer_one_leaves_the_newer_state(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    headers = {"X-GitHub-Event": "issues"}
    t1 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    newer = setup.apply(conn, _github_issue_body("second title", t1 + timedelta(minutes=5)), headers)
    older = setup.apply(conn, _github_issue_body("first title", t1), headers)

    assert [c.outcome for c in newer.changes] == ["created"]
    assert [c.outcome for c in older.changes] == ["unchanged"]
    stored = setup.issue_item(conn, newer.changes[0].issue_ref)
    assert stored is not None
    assert (stored["title"], stored["updated_at"]) == ("second title", to_iso(t1 + timedelta(minutes=5)))


def test_a_delete_wins_over_older_updates_only(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    headers = {"X-GitHub-Event": "issues"}
    t1 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    created = setup.apply(conn, _github_issue_body("live", t1), headers)
    ref = created.changes[0].issue_ref
    setup.seed_comment(conn, ref, "501")
    setup.seed_comment(conn, ref, "502", deleted_at=SEEDED)  # already a tombstone: left alone
    deleted_on = t1 + timedelta(hours=1)

    # GitHub times a delete by the issue's last update: the tombstone takes the delivery's receipt
    deletion = setup.apply(
        conn, _github_issue_body("live", t1, action="deleted"), headers, received=deleted_on
    )
    late_edit = setup.apply(conn, _github_issue_body("late edit", t1 + timedelta(minutes=30)), headers)

    (change,) = deletion.changes
    assert (change.outcome, change.comments_deleted) == ("deleted", 1)
    assert [c.outcome for c in late_edit.changes] == ["unchanged"]
    stored = setup.issue_item(conn, ref)
    assert stored is not None
    tombstone = IssueRepository.model(stored)
    assert (tombstone.title, tombstone.deleted_at, tombstone.updated_at) == ("live", deleted_on, deleted_on)
    assert tombstone.compute_hash() == stored["content_hash"]
    comment = setup.comment_item(ref, "501")
    assert comment is not None
    assert comment["deleted_at"] == to_iso(deleted_on)
    untouched = setup.comment_item(ref, "502")
    assert untouched is not None
    assert untouched["deleted_at"] == to_iso(SEEDED)


def test_a_tombstone_keeps_a_stored_update_time_later_than_the_deletion(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    future = RECEIVED + timedelta(days=1)
    ref = f"{conn.id}.1"
    setup.seed_issue(conn, ref, "#1", updated_at=future)

    result = setup.apply(
        conn, _github_issue_body("x", SEEDED, action="deleted"), {"X-GitHub-Event": "issues"}
    )

    assert [c.outcome for c in result.changes] == ["deleted"]
    stored = setup.issue_item(conn, ref)
    assert stored is not None
    assert (stored["deleted_at"], stored["updated_at"]) == (to_iso(RECEIVED), to_iso(future))


def test_deleting_what_was_never_stored_is_a_no_op(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    body = (SHARED / "fixtures" / "github" / "issue_comment.deleted.json").read_bytes()

    result = setup.apply(conn, body, {"X-GitHub-Event": "issue_comment"})

    (change,) = result.changes
    assert (change.outcome, change.reason) == ("skipped", "not stored")
    assert setup.comment_item(change.issue_ref, str(change.comment_id)) is None


# ---- what the connection syncs --------------------------------------------------------------------------


def test_a_comment_event_touches_only_its_comment(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    ref = f"{conn.id}.1"
    setup.seed_issue(conn, ref, "#1")
    before = setup.issue_item(conn, ref)
    body = (SHARED / "fixtures" / "github" / "issue_comment.created.json").read_bytes()

    result = setup.apply(conn, body, {"X-GitHub-Event": "issue_comment"})

    (change,) = result.changes
    assert (change.entity, change.outcome) == (WebhookEntity.COMMENT, "created")
    assert setup.issue_item(conn, ref) == before
    comment = setup.comment_item(ref, str(change.comment_id))
    assert comment is not None
    assert comment["body"] == json.loads(body)["comment"]["body"]


def test_comments_are_not_stored_when_the_connection_does_not_sync_them(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}, entities=["issues"]))
    body = (SHARED / "fixtures" / "github" / "issue_comment.created.json").read_bytes()

    result = setup.apply(conn, body, {"X-GitHub-Event": "issue_comment"})

    (change,) = result.changes
    assert (change.outcome, change.reason) == ("skipped", "this connection does not sync comments")
    assert setup.comment_item(change.issue_ref, str(change.comment_id)) is None


def test_a_closed_issue_is_not_started_but_a_stored_one_is_updated(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}, include_closed=False))
    headers = {"X-GitHub-Event": "issues"}
    t1 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)

    closed_unknown = setup.apply(
        conn, _github_issue_body("closed", t1, action="closed", state="closed"), headers
    )
    (skipped,) = closed_unknown.changes
    assert (skipped.outcome, skipped.reason) == ("skipped", "closed issues are not synced by this connection")
    assert setup.issue_item(conn, skipped.issue_ref) is None

    opened = setup.apply(conn, _github_issue_body("open", t1 + timedelta(minutes=1)), headers)
    closed = setup.apply(
        conn, _github_issue_body("open", t1 + timedelta(minutes=2), action="closed", state="closed"), headers
    )
    assert [c.outcome for c in opened.changes + closed.changes] == ["created", "updated"]
    stored = setup.issue_item(conn, skipped.issue_ref)
    assert stored is not None
    assert stored["status_category"] == "done"


# ---- fetching one item ----------------------------------------------------------------------------------


def _jira_fixture(name: str) -> bytes:
    return (SHARED / "fixtures" / "jira" / name).read_bytes()


def test_a_fetch_answered_404_tombstones_the_stored_item(setup: Setup) -> None:
    conn = setup.add(connection("jira", {"jql": "project = TES"}))
    ref = f"{conn.id}.10040"
    setup.seed_issue(conn, ref, "TES-41")
    setup.seed_comment(conn, ref, "10019")
    setup.tracker.answer = lambda request: httpx.Response(
        404, json={"errorMessages": ["Issue does not exist"]}
    )

    result = setup.apply(conn, _jira_fixture("jira_issue_updated.edited.json"), {})

    (change,) = result.changes
    assert (change.outcome, change.fetched, change.comments_deleted) == ("deleted", True, 1)
    assert setup.tracker.requests == ["GET /rest/api/3/issue/TES-41"]
    stored = setup.issue_item(conn, ref)
    assert stored is not None
    assert stored["deleted_at"] == to_iso(RECEIVED)


def test_a_fetch_answered_404_for_an_item_never_stored_writes_nothing(setup: Setup) -> None:
    conn = setup.add(connection("jira", {"jql": "project = TES"}))
    setup.tracker.answer = lambda request: httpx.Response(404, json={"errorMessages": ["gone"]})

    result = setup.apply(conn, _jira_fixture("comment_updated.json"), {})

    (change,) = result.changes
    assert (change.outcome, change.reason, change.fetched) == ("skipped", "not stored", True)
    assert setup.comment_item(change.issue_ref, str(change.comment_id)) is None


def test_a_rate_limited_fetch_fails_the_delivery_and_writes_nothing(setup: Setup) -> None:
    conn = setup.add(connection("jira", {"jql": "project = TES"}))
    setup.tracker.answer = lambda request: httpx.Response(
        429, headers={"Retry-After": "30"}, json={"errorMessages": ["Rate limit exceeded"]}
    )

    with pytest.raises(RateLimitedError):
        setup.apply(conn, _jira_fixture("jira_issue_updated.edited.json"), {})

    assert setup.issue_item(conn, f"{conn.id}.10040") is None


def test_refused_credentials_fail_the_delivery_with_guidance_and_no_token_in_the_log(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    conn = setup.add(connection("jira", {"jql": "project = TES"}))
    setup.tracker.answer = lambda request: httpx.Response(401, json={"errorMessages": ["unauthorized"]})

    with pytest.raises(AuthenticationError):
        setup.apply(conn, _jira_fixture("comment_created.json"), {})

    (record,) = [r for r in caplog.records if r.getMessage() == "apply.needs_person"]
    assert record.__dict__["code"] == "AUTH_INVALID"
    assert "new token" in record.__dict__["guidance"]
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert CREDENTIALS["jira"]["api_token"] not in logged


class NoCredentials:
    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None:
        return None


def test_a_connection_without_credentials_fails_the_delivery_with_guidance(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: the production adapter pool, over a secrets store holding nothing for the connection
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    pool = AdapterPool(NoCredentials(), factory=AdapterBuilder(EgressPolicy()), options=APPLY_ADAPTER_OPTIONS)
    applier = WebhookApplier(table=setup.table, connections=setup.connections, adapters=pool)
    body = (SHARED / "fixtures" / "github" / "issues.opened.json").read_bytes()

    with pytest.raises(AuthenticationError):
        applier.apply(setup.delivery(conn, body, {"X-GitHub-Event": "issues"}))

    (record,) = [r for r in caplog.records if r.getMessage() == "apply.needs_person"]
    assert record.__dict__["code"] == "AUTH_INVALID"
    assert "PATCH /v1/connections" in record.__dict__["guidance"]
    assert setup.issue_item(conn, f"{conn.id}.1") is None


# ---- deliveries that cannot or need not be applied -------------------------------------------------------


def test_an_unreadable_body_is_refused_with_its_reason() -> None:
    with pytest.raises(UnreadableDelivery) as raised:
        read_delivery('{"version": 1, "tenant": "acme"}')
    assert raised.value.details["problems"][0].endswith(": missing")
    with pytest.raises(UnreadableDelivery):
        read_delivery("not json at all")


def test_a_deleted_connection_has_nothing_to_apply(setup: Setup) -> None:
    conn = connection("github", {"repo": "Codertocat/Hello-World"})  # never stored
    body = (SHARED / "fixtures" / "github" / "issues.opened.json").read_bytes()

    result = setup.apply(conn, body, {"X-GitHub-Event": "issues"})

    assert (result.status, result.changes) == ("connection_gone", ())


def test_a_delivery_of_another_provider_than_its_connection_is_refused(setup: Setup) -> None:
    conn = setup.add(connection("github", {"repo": "Codertocat/Hello-World"}))
    delivery = setup.delivery(conn, b"{}", {}).model_copy(update={"provider": "gitlab"})

    with pytest.raises(UnreadableDelivery, match="a gitlab delivery for a github connection"):
        setup.applier.apply(delivery)


# ---- GitLab work items ------------------------------------------------------------------------------------


def _work_item(**attributes: Any) -> bytes:
    payload = json.loads((SHARED / "fixtures" / "gitlab" / "issue_hook.open.go-gitlab.json").read_bytes())
    payload["object_kind"] = payload["event_type"] = "work_item"
    payload["object_attributes"] |= attributes
    return json.dumps(payload).encode()


def test_a_gitlab_work_item_under_the_issue_hook_header_applies_as_an_issue(setup: Setup) -> None:
    conn = setup.add(connection("gitlab", {"project": "gitlabhq/gitlab-test"}))
    body = _work_item(type="Task", title="A task")

    result = setup.apply(conn, body, {"X-Gitlab-Event": "Issue Hook"})

    (change,) = result.changes
    assert (result.event, change.entity, change.outcome, change.fetched) == (
        "Issue Hook/open",
        WebhookEntity.ISSUE,
        "created",
        False,
    )
    stored = setup.issue_item(conn, change.issue_ref)
    assert stored is not None
    assert (stored["key"], stored["title"]) == ("#23", "A task")
