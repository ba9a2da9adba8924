"""``IdempotentRequests`` over the real ``TenantIdempotencyStore`` on moto's table: where records live, what a
request that is still running or that died mid-way does to a retry, and a table that cannot be reached.

The local gateway runs one request of a function at a time (one execution environment), so a retry that
overlaps its first attempt is made here directly: the first attempt's ``produce`` sends it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pytest

from trackbridge.domain.errors import DependencyFailure
from trackbridge.runtime.idempotency import (
    Answer,
    IdempotencyInProgress,
    IdempotentRequests,
    TenantIdempotencyStore,
    idempotency_pk,
)
from trackbridge.storage.table import Table

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Remaining:
    """A Lambda context as far as idempotency reads it: how long the invocation has left."""

    ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


class Crash(BaseException):
    """The invocation dies (timeout, out of memory): no code after it runs, Powertools' cleanup included."""


@pytest.fixture(scope="module")
def store(local_resources: LocalResources) -> TenantIdempotencyStore:
    return TenantIdempotencyStore(local_resources.client("dynamodb"), local_resources.table_name)


@pytest.fixture(scope="module")
def table(local_resources: LocalResources) -> Table:
    return Table(local_resources.client("dynamodb"), local_resources.table_name)


@pytest.fixture
def service(store: TenantIdempotencyStore) -> IdempotentRequests:
    return IdempotentRequests(lambda: store)


@pytest.fixture
def tenant() -> str:
    return f"idem-{uuid.uuid4().hex[:12]}"


def _context(ms: int) -> LambdaContext:
    return cast("LambdaContext", Remaining(ms))


def _create(
    service: IdempotentRequests, tenant: str, key: str, produce: Any, *, remaining_ms: int = 29_000
) -> Answer:
    return service.run(
        tenant,
        "issue.create",
        key,
        {"connection_id": "conn_a", "body": {"title": "Disk full"}},
        produce,
        context=_context(remaining_ms),
    )


def test_a_retry_during_the_first_attempt_is_a_409_and_later_gets_its_answer(
    service: IdempotentRequests, tenant: str
) -> None:
    key, overlapping = str(uuid.uuid4()), []

    def first() -> Answer:
        try:
            _create(service, tenant, key, lambda: Answer(201, {"id": "second"}))
        except IdempotencyInProgress as exc:
            overlapping.append(exc)
        return Answer(201, {"id": "first"})

    assert _create(service, tenant, key, first).body == {"id": "first"}
    assert len(overlapping) == 1
    assert overlapping[0].status == 409
    assert overlapping[0].retry_after_s > 0

    later = _create(service, tenant, key, lambda: Answer(201, {"id": "never"}))
    assert (later.body, later.replayed) == ({"id": "first"}, True)


def test_a_request_that_died_holds_its_key_only_until_its_time_is_up(
    service: IdempotentRequests, tenant: str
) -> None:
    # Given: an invocation that died at the tracker, and one that died after its time was already up
    alive_key, dead_key = str(uuid.uuid4()), str(uuid.uuid4())

    def crash() -> Answer:
        raise Crash

    with pytest.raises(Crash):
        _create(service, tenant, alive_key, crash, remaining_ms=60_000)
    with pytest.raises(Crash):
        _create(service, tenant, dead_key, crash, remaining_ms=-1_000)

    # Then: a retry while the first could still be running waits (409); one after its time runs
    with pytest.raises(IdempotencyInProgress):
        _create(service, tenant, alive_key, lambda: Answer(201, {"id": "x"}))
    retried = _create(service, tenant, dead_key, lambda: Answer(201, {"id": "retried"}))
    assert (retried.body, retried.replayed) == ({"id": "retried"}, False)


def test_each_tenant_s_records_live_in_its_own_partition(
    service: IdempotentRequests, table: Table, tenant: str
) -> None:
    other, key = f"{tenant}-b", str(uuid.uuid4())
    _create(service, tenant, key, lambda: Answer(201, {"id": "a"}))
    theirs = _create(service, other, key, lambda: Answer(201, {"id": "b"}))
    assert (theirs.body, theirs.replayed) == ({"id": "b"}, False)

    mine, _ = table.query(partition=idempotency_pk(tenant))
    their_items, _ = table.query(partition=idempotency_pk(other))
    assert [i["sk"] for i in mine] == [i["sk"] for i in their_items]
    assert [(i["status"], i["pk"]) for i in mine] == [("COMPLETED", idempotency_pk(tenant))]
    assert all(key not in str(i) for i in mine + their_items)


def test_an_unreachable_table_refuses_before_the_tracker_is_called(
    local_resources: LocalResources, tenant: str
) -> None:
    missing = TenantIdempotencyStore(local_resources.client("dynamodb"), "trackbridge-no-such-table")
    calls: list[int] = []

    def produce() -> Answer:
        calls.append(1)
        return Answer(201, {})

    with pytest.raises(DependencyFailure) as failed:
        _create(IdempotentRequests(lambda: missing), tenant, str(uuid.uuid4()), produce)
    assert failed.value.status == 503
    assert calls == []
