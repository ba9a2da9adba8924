"""Tracker actions without AWS or trackers: the adapter pool, error mapping, bulk scheduling, upload checks.

Collaborators are small in-memory fakes; requests go through ``functions.api.handler`` where the HTTP
answer is the point (a tracker error is never a 500; a broken multipart body is a 400).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from pydantic import ValidationError

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, header, rest_event
from trackbridge.domain.audit import Actor, AuditEntry
from trackbridge.domain.connections import Connection, ConnectionCreate
from trackbridge.domain.error_codes import ErrorCode, is_registered
from trackbridge.domain.errors import NotFound, ValidationFailed
from trackbridge.domain.issues import Issue
from trackbridge.providers.errors import (
    AuthenticationError,
    FieldError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from trackbridge.providers.types import Attachment, IssueChanges, IssueDraft
from trackbridge.runtime import container
from trackbridge.runtime.adapter_pool import AdapterPool
from trackbridge.runtime.api.action_models import IssueCreate, IssuePatch, TransitionRequest, bulk_items
from trackbridge.runtime.api.actions import multipart_problem
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.errors import tracker_failure
from trackbridge.runtime.tracker_actions import IssueUpdate, TrackerActions

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONNECTION_ID = "conn_aaaaaaaaaaaaaaaaaaaa"


def connection(provider: str = "gitlab", *, version: int = 1) -> Connection:
    body = ConnectionCreate.model_validate(
        {
            "name": "c",
            "provider": provider,
            "base_url": "https://tracker.example",
            "scope": {"github": {"repo": "o/r"}, "gitlab": {"project": "g/p"}}.get(
                provider, {"project": "OPS"}
            ),
            "credentials": {"email": "e@x.test", "api_token": "t"} if provider == "jira" else {"token": "t"},
        }
    )
    return Connection.from_create(body, connection_id=CONNECTION_ID, now=NOW).model_copy(
        update={"version": version}
    )


def issue(number: int, title: str = "t", provider: str = "gitlab") -> Issue:
    return Issue(
        ref=f"{CONNECTION_ID}.{number}",
        external_id=f"{provider}:x:{number}",
        connection_id=CONNECTION_ID,
        provider=provider,
        key=f"#{number}",
        title=title,
        status="opened",
        status_category="todo",
        created_at=NOW,
        updated_at=NOW,
    ).with_hash()


# ---- fakes -------------------------------------------------------------------------------------------------


OVERLAP_WAIT_S = 60.0  # a bound on a condition (two calls running at once), not a sleep


class FakeAdapter:
    """Records calls and how many ran at once; ``fail`` makes creates with that title fail.

    ``await_overlap=n`` holds each call (at most ``OVERLAP_WAIT_S``) until ``n`` calls have run at once, so a
    pool that can overlap calls is seen to, however slowly its threads are scheduled.
    """

    def __init__(self, delay_s: float = 0.0, await_overlap: int = 0) -> None:
        self.closed = False
        self.delay_s = delay_s
        self.await_overlap = await_overlap
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.overlap = threading.Condition(self.lock)
        self.created: list[str] = []

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _work(self) -> None:
        with self.overlap:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.overlap.notify_all()
            if self.await_overlap:
                self.overlap.wait_for(lambda: self.peak >= self.await_overlap, timeout=OVERLAP_WAIT_S)
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            self.running -= 1

    def create_issue(self, draft: IssueDraft) -> Issue:
        self._work()
        if draft.title == "refused":
            raise InvalidRequestError(
                "title is invalid",
                code=ErrorCode.INVALID_REQUEST,
                provider="gitlab",
                status=400,
                field_errors=[FieldError("title", "is invalid")],
            )
        with self.lock:
            self.created.append(draft.title)
            number = len(self.created)
        return issue(number, draft.title)

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        self._work()
        if key == "404":
            raise NotFoundError(
                "404 Issue Not Found", code=ErrorCode.NOT_FOUND, provider="gitlab", status=404
            )
        return issue(int(key), changes.title or "t")

    def require(self, capability: str) -> None:
        return None

    def attach_file(self, key: str, filename: str, content: bytes, content_type: str) -> Attachment:
        return Attachment(id="a1", filename=filename, size=len(content), content_type=content_type)

    def get_issue(self, key: str) -> Issue:
        return issue(int(key))


class FakeSecrets:
    def __init__(self, value: dict[str, str] | None = None) -> None:
        self.value = {"token": "t"} if value is None else value
        self.reads = 0

    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None:
        self.reads += 1
        return self.value or None


class FakeConnections:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, tenant: str, connection_id: str) -> Connection:
        if connection_id != self.conn.id:
            raise NotFound("no connection")
        return self.conn


class MemoryIssues:
    def __init__(self) -> None:
        self.items: dict[str, Issue] = {}

    def get(self, tenant: str, connection_id: str, external_id: str) -> Issue:
        found = self.items.get(external_id)
        if found is None:
            raise NotFound("no issue")
        return found

    def put_if_newer(self, tenant: str, item: Issue) -> str:
        self.items[item.external_id] = item
        return "created"


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, tenant: str, entry: AuditEntry) -> None:
        self.entries.append(entry)


def actions_for(provider: str, adapter: FakeAdapter, clock: list[float] | None = None) -> TrackerActions:
    ticks = clock if clock is not None else [0.0]
    pool = AdapterPool(FakeSecrets(), factory=lambda c, creds, **o: adapter, options={})
    return TrackerActions(
        FakeConnections(connection(provider)),
        pool,
        MemoryIssues(),  # type: ignore[arg-type]
        MemoryIssues(),  # type: ignore[arg-type]
        MemoryAudit(),  # type: ignore[arg-type]
        clock=lambda: NOW,
        monotonic=lambda: ticks[0],
    )


# ---- the adapter pool --------------------------------------------------------------------------------------


def test_pool_reuses_an_adapter_until_the_connection_changes_or_time_is_up() -> None:
    built: list[FakeAdapter] = []
    now = [0.0]

    def factory(conn: Connection, credentials: Any, **options: Any) -> FakeAdapter:
        built.append(FakeAdapter())
        return built[-1]

    secrets = FakeSecrets()
    pool = AdapterPool(secrets, factory=factory, options={}, ttl_s=60, clock=lambda: now[0])
    with pool.lease("t", connection()) as first, pool.lease("t", connection()) as again:
        assert first is again
    assert secrets.reads == 1

    with pool.lease("t", connection(version=2)) as rotated:
        assert rotated is not first
    assert built[0].closed  # the old client is closed once nobody uses it

    now[0] = 61.0
    with pool.lease("t", connection(version=2)) as later:
        assert later is not rotated
    assert built[1].closed
    assert len(built) == 3
    pool.close()
    assert built[2].closed


def test_pool_closes_a_retired_adapter_only_after_its_last_lease() -> None:
    built: list[FakeAdapter] = []

    def factory(conn: Connection, credentials: Any, **options: Any) -> FakeAdapter:
        built.append(FakeAdapter())
        return built[-1]

    pool = AdapterPool(FakeSecrets(), factory=factory, options={}, max_size=1)
    with pool.lease("t1", connection()) as held:
        with pool.lease("t2", connection()):
            pass  # evicts t1's entry (max_size 1) while it is still leased
        assert not held.closed
    assert held.closed


def test_pool_without_credentials_is_an_auth_error() -> None:
    pool = AdapterPool(FakeSecrets({}), factory=lambda *a, **k: FakeAdapter(), options={})
    with pytest.raises(AuthenticationError) as raised, pool.lease("t", connection()):
        pass
    assert raised.value.code is ErrorCode.AUTH_INVALID
    assert tracker_failure(raised.value).status == 502


# ---- tracker errors as HTTP --------------------------------------------------------------------------------


def test_tracker_failures_keep_their_meaning_and_carry_guidance() -> None:
    refused = tracker_failure(
        AuthenticationError("Bad credentials", code=ErrorCode.AUTH_INVALID, provider="github", status=401)
    )
    assert refused.status == 502
    assert refused.error["code"] == "AUTH_INVALID"
    assert refused.error["guidance"]
    assert refused.error["details"]["tracker_status"] == 401

    limited = tracker_failure(
        RateLimitedError("slow down", provider="github", status=429, reset_at=NOW + timedelta(seconds=90)),
        now=NOW,
    )
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "90"

    down = tracker_failure(
        TransientError("bad gateway", code=ErrorCode.PROVIDER_UNAVAILABLE, provider="jira", retry_after_s=30)
    )
    assert (down.status, down.headers["Retry-After"]) == (503, "30")

    invalid = tracker_failure(
        InvalidRequestError(
            "Field 'x' cannot be set",
            code=ErrorCode.INVALID_REQUEST,
            provider="jira",
            status=400,
            field_errors=[FieldError("x", "cannot be set")],
        )
    )
    assert invalid.status == 422
    assert invalid.error["details"]["field_errors"][0]["field"] == "x"
    assert tracker_failure(NotFoundError("gone", code=ErrorCode.NOT_FOUND)).status == 404


# ---- request bodies ----------------------------------------------------------------------------------------


def test_transition_targets() -> None:
    assert TransitionRequest(status_category="done").target().for_provider("jira") == "done"
    assert TransitionRequest(to="In Review").target().for_provider("jira") == "In Review"
    close = TransitionRequest(status_category="done", reason="not_planned")
    assert close.target().for_provider("github") == "close_not_planned"
    assert close.target().for_provider("gitlab") == "done"  # GitLab has no close reason
    assert (
        TransitionRequest(to="closed", reason="duplicate").target().for_provider("github")
        == "close_duplicate"
    )
    with pytest.raises(ValidationError):
        TransitionRequest()
    with pytest.raises(ValidationError):
        TransitionRequest(to="Done", status_category="done")


def test_a_patch_must_change_something() -> None:
    with pytest.raises(ValidationError):
        IssuePatch()
    assert IssuePatch(add_labels=["x"]).changes().add_labels == ("x",)
    with pytest.raises(ValidationError):
        IssueCreate.model_validate({"title": "x", "unknown": 1})


def test_multipart_problems() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nhi\r\n--b--\r\n'
    assert multipart_problem("multipart/form-data; boundary=b", body) is None
    assert multipart_problem('multipart/form-data; boundary="b"', body) is None
    assert multipart_problem("multipart/form-data", body) is not None
    latin = b'--b\r\nContent-Disposition: form-data; name="file"; filename="\xe9"\r\n\r\nhi\r\n--b--\r\n'
    assert "UTF-8" in (multipart_problem("multipart/form-data; boundary=b", latin) or "")


# ---- bulk --------------------------------------------------------------------------------------------------


def test_bulk_keeps_order_and_isolates_failures() -> None:
    adapter = FakeAdapter()
    actions = actions_for("gitlab", adapter)
    result = actions.bulk(
        "t",
        CONNECTION_ID,
        bulk_items(
            [
                {"op": "create", "title": "one"},
                {"op": "create", "title": "refused"},
                {"op": "update", "key": "404", "title": "x"},
                {"op": "update", "key": "7", "title": "renamed"},
                {"op": "create"},
                {"op": "create", "title": "two"},
            ]
        ),
        Actor(id="k1"),
    )
    assert [r.status for r in result.items] == [201, 422, 404, 200, 422, 201]
    assert [r.index for r in result.items] == list(range(6))
    assert (result.succeeded, result.failed) == (3, 3)
    assert result.items[1].error is not None
    assert result.items[1].error["details"]["field_errors"][0]["field"] == "title"
    assert result.items[4].error is not None
    assert result.items[4].error["details"]["errors"][0]["path"] == "body.items.4.title"
    audit: MemoryAudit = actions.audit  # type: ignore[assignment]
    assert [e.action for e in audit.entries].count("issue.create") == 2


@pytest.mark.parametrize(("provider", "allowed"), [("github", 1), ("gitlab", 4)])
def test_bulk_concurrency_per_tracker(provider: str, allowed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[int | None] = []

    class RecordingPool(ThreadPoolExecutor):
        def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
            pools.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr("trackbridge.runtime.tracker_actions.ThreadPoolExecutor", RecordingPool)
    # Overlap is what a pool is for: with one, each call waits (bounded) until two run at once. On GitHub
    # there must be none: each call gives a second one the chance to arrive (timing can only lower the
    # peak, so this never fails a serial pool), and the pool's size, which does not race, is checked too.
    adapter = FakeAdapter(await_overlap=2) if allowed > 1 else FakeAdapter(delay_s=0.05)
    actions = actions_for(provider, adapter)
    items = [{"op": "create", "title": f"n{n}"} for n in range(8)]
    result = actions.bulk("t", CONNECTION_ID, bulk_items(items), Actor(id="k1"))
    assert result.succeeded == 8
    assert pools == [allowed]
    assert adapter.peak <= allowed
    if allowed == 1:
        assert adapter.peak == 1
    else:
        assert adapter.peak > 1


def test_bulk_items_past_the_deadline_are_not_attempted() -> None:
    adapter = FakeAdapter()
    ticks = [0.0]
    actions = actions_for("github", adapter, ticks)
    original = adapter.create_issue

    def slow_create(draft: IssueDraft) -> Issue:
        ticks[0] += 10.0  # each create spends 10 s of the budget
        return original(draft)

    adapter.create_issue = slow_create  # type: ignore[method-assign]
    items = [{"op": "create", "title": f"n{n}"} for n in range(4)]
    result = actions.bulk("t", CONNECTION_ID, bulk_items(items), Actor(id="k1"), budget_s=15.0)
    assert [r.status for r in result.items] == [201, 201, 503, 503]
    assert result.items[2].error is not None
    assert result.items[2].error["code"] == "NOT_ATTEMPTED"
    assert adapter.created == ["n0", "n1"]


def test_write_through_and_audit_diff() -> None:
    adapter = FakeAdapter()
    actions = actions_for("gitlab", adapter)
    stored: MemoryIssues = actions.issues  # type: ignore[assignment]
    stored.items[issue(7).external_id] = issue(7, "before")
    actions.update_issue(
        "t", CONNECTION_ID, "7", IssueChanges(title="after"), Actor(id="k1", request_id="r1")
    )
    assert stored.items[issue(7).external_id].title == "after"
    entry = actions.audit.entries[-1]  # type: ignore[attr-defined]
    assert (entry.action, entry.target, entry.actor, entry.request_id) == (
        "issue.update",
        f"{CONNECTION_ID}.7",
        "k1",
        "r1",
    )
    assert entry.changes["title"].old == "before"
    assert entry.changes["title"].new == "after"


def test_use_cases_take_plain_drafts_and_changes() -> None:
    """Auto-issue and mirrors call the use cases without API bodies."""
    adapter = FakeAdapter()
    actions = actions_for("gitlab", adapter)
    created = actions.create_issue("t", CONNECTION_ID, IssueDraft(title="from an alarm"), Actor(id="rule"))
    assert created.title == "from an alarm"
    outcome = actions.bulk(
        "t",
        CONNECTION_ID,
        [
            IssueDraft(title="a"),
            IssueUpdate("7", IssueChanges(title="b")),
            ValidationFailed("refused before the tracker", details={"errors": []}),
        ],
        Actor(id="rule"),
    )
    assert [(r.status, r.issue.title if r.issue else None) for r in outcome.items] == [
        (201, "a"),
        (200, "b"),
        (422, None),
    ]
    assert (outcome.succeeded, outcome.failed) == (2, 1)
    assert adapter.created == ["from an alarm", "a"]


# ---- through the handler -----------------------------------------------------------------------------------


class RaisingActions:
    """Every action fails the way ``error`` says."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return fail


@pytest.fixture
def overrides() -> Iterator[dict[Any, Any]]:
    yield app.dependency_overrides
    app.dependency_overrides.clear()


def _multipart(boundary: str, filename: bytes, content: bytes) -> bytes:
    return (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_uploads_arrive_intact_and_broken_ones_are_400(shared_dir: Path, overrides: dict[Any, Any]) -> None:
    received: dict[str, Any] = {}

    class Recording:
        def attach_file(self, tenant: str, connection_id: str, key: str, **kwargs: Any) -> Attachment:
            received.update(kwargs)
            return Attachment(id="a1", filename=kwargs["filename"], size=len(kwargs["content"]))

    overrides[container.tracker_actions] = Recording
    payload = bytes(range(256))
    path = f"/v1/connections/{CONNECTION_ID}/issues/OPS-1/attachments"

    def send(body: bytes, content_type: str) -> dict[str, Any]:
        event = rest_event(shared_dir, "POST", path, headers={"Content-Type": content_type})
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
        return handler(event, FakeLambdaContext())

    ok = send(_multipart("xyz", b"dump.bin", payload), "multipart/form-data; boundary=xyz")
    assert ok["statusCode"] == 201, body_of(ok)
    assert received["content"] == payload
    assert received["filename"] == "dump.bin"

    latin = send(_multipart("xyz", b"\xe9t\xe9.bin", payload), "multipart/form-data; boundary=xyz")
    assert latin["statusCode"] == 400, body_of(latin)
    unbounded = send(_multipart("xyz", b"a.bin", payload), "multipart/form-data")
    assert unbounded["statusCode"] == 400, body_of(unbounded)


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (AuthenticationError("Bad credentials", code=ErrorCode.AUTH_INVALID, provider="github"), 502, None),
        (RateLimitedError("slow down", provider="github", retry_after_s=42), 429, "42"),
        (TransientError("down", code=ErrorCode.TIMEOUT, provider="jira"), 504, None),
    ],
)
def test_tracker_errors_are_never_a_500(
    shared_dir: Path, overrides: dict[Any, Any], error: Exception, status: int, retry_after: str | None
) -> None:
    overrides[container.tracker_actions] = lambda: RaisingActions(error)
    answer = handler(
        rest_event(shared_dir, "POST", f"/v1/connections/{CONNECTION_ID}/issues", body={"title": "x"}),
        FakeLambdaContext(),
    )
    assert answer["statusCode"] == status, body_of(answer)
    assert body_of(answer)["error"]["guidance"]
    assert header(answer, "Retry-After") == retry_after


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("no connection"), 404, "NOT_FOUND"),
        (RateLimitedError("slow down", provider="github", status=429, retry_after_s=5), 429, "RATE_LIMITED"),
        (ServiceError(418, "short and stout"), 418, "INVALID_INPUT"),
    ],
    ids=["trackbridge", "tracker", "framework"],
)
def test_one_handler_answers_every_error_of_the_tree(
    shared_dir: Path, overrides: dict[Any, Any], error: Exception, status: int, code: str
) -> None:
    """Given any error of the tree (or the framework's own), when a route raises it, then the answer has
    the error shape, the error's status and a registered code."""
    overrides[container.tracker_actions] = lambda: RaisingActions(error)
    answer = handler(
        rest_event(shared_dir, "POST", f"/v1/connections/{CONNECTION_ID}/issues", body={"title": "x"}),
        FakeLambdaContext(),
    )
    assert answer["statusCode"] == status, body_of(answer)
    body = body_of(answer)["error"]
    assert body["code"] == code
    assert is_registered(body["code"])
    assert set(body) <= {"code", "message", "details", "guidance"}
