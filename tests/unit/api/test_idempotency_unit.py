"""``Idempotency-Key`` without AWS: the service's semantics over an in-memory Powertools persistence layer,
the key scheme, the header's validation through ``functions.api.handler``, and the error answers.

The in-memory layer fills in Powertools' four backend methods with the DynamoDB layer's conditions, so the
algorithm under test (Powertools' handler plus ``IdempotentRequests``) is the one that runs on AWS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, header, rest_event
from trackbridge.domain.errors import DependencyFailure, NotFound, ValidationFailed
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.errors import from_trackbridge_error
from trackbridge.runtime.idempotency import (
    Answer,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotentRequests,
    TenantIdempotencyStore,
    _AnswerSerializer,
    idempotency_pk,
    idempotency_sk,
    is_valid_key,
)

KEY = "0f7c2d1e-retry-me"


class MemoryStore(BasePersistenceLayer):
    """Powertools' backend contract in memory, with the DynamoDB layer's put condition: a record may be
    written when absent, expired, or in progress past its in-progress expiry."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}
        self.fail_updates = False
        self.fail_puts = False

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        if self.fail_puts:
            raise OSError("table unreachable")
        old = self.records.get(data_record.idempotency_key)
        now_ms = int(dt.datetime.now().timestamp() * 1000)
        stale = (
            old is not None
            and old.status == "INPROGRESS"
            and old.in_progress_expiry_timestamp is not None
            and old.in_progress_expiry_timestamp < now_ms
        )
        if old is not None and not old.is_expired and not stale:
            raise IdempotencyItemAlreadyExistsError
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        if self.fail_updates:
            raise OSError("table unreachable")
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class Calls:
    """A produce() that counts its calls and answers a fresh body each time."""

    def __init__(self, status: int = 201, *, store: bool = True) -> None:
        self.count = 0
        self.status = status
        self.store = store

    def __call__(self) -> Answer:
        self.count += 1
        return Answer(
            self.status, {"id": f"issue-{self.count}", "title": "Disk full \u2013 db1"}, store=self.store
        )


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(memory: MemoryStore) -> IdempotentRequests:
    return IdempotentRequests(lambda: memory)


def _run(service: IdempotentRequests, produce: Any, *, tenant: str = "acme", **request: Any) -> Answer:
    body = request or {"connection_id": "conn_a", "body": {"title": "Disk full"}}
    return service.run(tenant, "issue.create", KEY, body, produce)


# ---- semantics ---------------------------------------------------------------------------------------------


def test_a_retry_replays_the_first_answer_without_running_again(service: IdempotentRequests) -> None:
    produce = Calls()
    first = _run(service, produce)
    again = _run(service, produce)
    assert produce.count == 1
    assert (again.status, again.body) == (first.status, first.body)
    assert (first.replayed, again.replayed) == (False, True)


def test_a_reused_key_with_another_request_is_refused(service: IdempotentRequests) -> None:
    produce = Calls()
    _run(service, produce)
    with pytest.raises(IdempotencyKeyReused) as refused:
        _run(service, produce, connection_id="conn_a", body={"title": "Something else"})
    assert refused.value.status == 422
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert produce.count == 1


def test_keys_are_per_tenant_and_per_operation(service: IdempotentRequests) -> None:
    produce = Calls()
    mine = _run(service, produce)
    theirs = _run(service, produce, tenant="globex")
    comment = service.run("acme", "issue.comment", KEY, {"body": "x"}, produce)
    assert produce.count == 3
    assert not theirs.replayed
    assert not comment.replayed
    assert theirs.body != mine.body


def test_a_request_still_running_is_a_409_with_retry_after(service: IdempotentRequests) -> None:
    inner: list[BaseException] = []

    def produce() -> Answer:
        # The client's retry arrives while the first request is still at the tracker.
        try:
            _run(service, Calls())
        except IdempotencyInProgress as exc:
            inner.append(exc)
        return Answer(201, {"id": "1"})

    assert _run(service, produce).status == 201
    (exc,) = inner
    assert isinstance(exc, IdempotencyInProgress)
    response = from_trackbridge_error(exc)
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "2"
    assert exc.code == "IDEMPOTENCY_IN_PROGRESS"


def test_a_failed_request_is_not_kept(service: IdempotentRequests, memory: MemoryStore) -> None:
    def fail() -> Answer:
        raise NotFound("no such connection")

    with pytest.raises(NotFound):
        _run(service, fail)
    assert memory.records == {}
    produce = Calls()
    assert not _run(service, produce).replayed
    assert produce.count == 1


def test_an_answer_marked_not_to_keep_is_answered_and_forgotten(
    service: IdempotentRequests, memory: MemoryStore
) -> None:
    produce = Calls(200, store=False)
    assert _run(service, produce).status == 200
    assert memory.records == {}
    assert not _run(service, produce).replayed
    assert produce.count == 2


def test_without_a_key_nothing_is_stored_and_no_store_is_built() -> None:
    def no_store() -> BasePersistenceLayer:
        raise AssertionError("a request without a key must not build the store")

    produce = Calls()
    service = IdempotentRequests(no_store)
    for _ in range(2):
        service.run("acme", "issue.create", None, {"body": {}}, produce)
    assert produce.count == 2


def test_a_store_that_cannot_save_the_answer_still_answers(
    service: IdempotentRequests, memory: MemoryStore
) -> None:
    # The tracker has acted: an error now would invite a second create.
    memory.fail_updates = True
    produce = Calls()
    answer = _run(service, produce)
    assert (answer.status, produce.count) == (201, 1)


def test_a_store_that_cannot_record_the_request_refuses_before_the_tracker(
    service: IdempotentRequests, memory: MemoryStore
) -> None:
    memory.fail_puts = True
    produce = Calls()
    with pytest.raises(DependencyFailure) as failed:
        _run(service, produce)
    assert failed.value.status == 503
    assert produce.count == 0


@pytest.mark.parametrize("bad", ["", "k" * 256, "tab\tinside", "caf\u00e9", "new\nline"])
def test_keys_are_1_to_255_printable_ascii_characters(bad: str, service: IdempotentRequests) -> None:
    assert not is_valid_key(bad)
    with pytest.raises(ValidationFailed):
        service.run("acme", "issue.create", bad, {}, Calls())


def test_good_keys() -> None:
    assert is_valid_key("k" * 255)
    assert is_valid_key("order 42 / retry #1 ~ ok")


# ---- storage shape -----------------------------------------------------------------------------------------


def test_records_are_keyed_by_tenant_operation_and_a_digest_of_the_key() -> None:
    assert idempotency_pk("acme") == "T#acme#IDEM"
    sk = idempotency_sk("issue.create", "a#b|c")
    assert sk.startswith("issue.create#")
    assert "a#b" not in sk
    assert len(sk) == len("issue.create#") + 64
    store = TenantIdempotencyStore(client=object(), table_name="t")
    record_id = store.record_id("acme", "issue.create", "a#b|c")
    assert store._get_key(record_id) == {"pk": {"S": "T#acme#IDEM"}, "sk": {"S": sk}}
    assert store.expiry_attr == "expires_at"


def test_answers_are_stored_compressed_and_come_back_whole() -> None:
    serializer = _AnswerSerializer()
    body = {"items": [{"title": "Disk full \u2013 db1", "body": "x" * 10_000}] * 50}
    stored = serializer.to_dict(Answer(200, body))
    assert len(stored["body_z"]) < 5_000
    assert serializer.from_dict(stored) == Answer(200, body)


# ---- the header, through the handler -----------------------------------------------------------------------


class RefusingService:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} must not run for a refused request")


@pytest.fixture
def no_services() -> Iterator[None]:
    app.dependency_overrides[container.tracker_actions] = RefusingService
    app.dependency_overrides[container.synced_issues] = RefusingService
    app.dependency_overrides[container.idempotent_requests] = RefusingService
    yield
    app.dependency_overrides.clear()


def test_two_keys_on_one_request_are_a_422(shared_dir: Path, no_services: None) -> None:
    event = rest_event(
        shared_dir,
        "POST",
        "/v1/connections/conn_aaaaaaaaaaaaaaaaaaaa/issues",
        body={"title": "x"},
        headers={"Idempotency-Key": "one"},
    )
    event["multiValueHeaders"]["Idempotency-Key"] = ["one", "two"]
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 422, response["body"]
    errors = body_of(response)["error"]["details"]["errors"]
    assert [e["path"] for e in errors] == ["header.idempotency-key"]


def test_a_replay_carries_the_replayed_header(shared_dir: Path, memory: MemoryStore) -> None:
    class Created:
        calls = 0

        def create_issue(self, *args: Any) -> Any:
            Created.calls += 1
            return object()

    class Viewer:
        def view(self, tenant: str, issue: Any) -> dict[str, Any]:
            return _issue_view()

    app.dependency_overrides[container.tracker_actions] = Created
    app.dependency_overrides[container.synced_issues] = Viewer
    app.dependency_overrides[container.idempotent_requests] = lambda: IdempotentRequests(lambda: memory)
    try:
        answers = [
            handler(
                rest_event(
                    shared_dir,
                    "POST",
                    "/v1/connections/conn_aaaaaaaaaaaaaaaaaaaa/issues",
                    body={"title": "x"},
                    headers={"idempotency-key": KEY},
                ),
                FakeLambdaContext(),
            )
            for _ in range(2)
        ]
    finally:
        app.dependency_overrides.clear()
    assert [a["statusCode"] for a in answers] == [201, 201]
    assert body_of(answers[0]) == body_of(answers[1])
    assert (header(answers[0], "Idempotent-Replayed"), header(answers[1], "Idempotent-Replayed")) == (
        None,
        "true",
    )
    assert Created.calls == 1


def _issue_view() -> dict[str, Any]:
    return {
        "ref": "conn_aaaaaaaaaaaaaaaaaaaa.7",
        "external_id": "gitlab:https://tracker.example/g/p:7",
        "connection_id": "conn_aaaaaaaaaaaaaaaaaaaa",
        "provider": "gitlab",
        "key": "#7",
        "title": "x",
        "status": "opened",
        "status_category": "todo",
        "created_at": "2026-03-01T12:00:00Z",
        "updated_at": "2026-03-01T12:00:00Z",
        "links": [],
    }
