"""``GET /v1/health`` on moto: 200 when every dependency answers, 503 (never 500) when one does not."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as real_wait
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.health import HealthChecker

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

# Bounds on conditions, not sleeps: a healthy probe answers as soon as moto does, however loaded the machine.
PATIENT_DEADLINE_S = 300.0
HANG_BOUND_S = 300.0


def checker(stack: LocalResources, **overrides: object) -> HealthChecker:
    """A checker on the test stack's patient clients (retries, long read timeout) and a generous deadline.

    ``container.health_client`` makes one attempt with a 2 s read timeout under a 5 s deadline: right for
    production, but a loaded moto can miss that and report a healthy dependency as failing.
    """
    options: dict[str, object] = {
        "dynamodb": stack.client("dynamodb"),
        "sqs": stack.client("sqs"),
        "secretsmanager": stack.client("secretsmanager"),
        "table_name": stack.table_name,
        "queue_urls": {key: stack.queue_url(key) for key in ("inbound", "sync", "auto_issue")},
        "secrets_prefix": "trackbridge/local/",
        "version": "test",
        "deadline_s": PATIENT_DEADLINE_S,
    }
    options.update(overrides)
    return HealthChecker(**options)  # type: ignore[arg-type]


def test_all_dependencies_answer(stack: LocalResources, shared_dir: object) -> None:
    app.dependency_overrides[container.health_checker] = lambda: checker(stack)
    try:
        answer = ApiClient(shared_dir, None).call("GET", "/v1/health")  # type: ignore[arg-type]
    finally:
        app.dependency_overrides.pop(container.health_checker)
    assert answer.status == 200
    assert answer.body["status"] == "ok"
    for name in ("dynamodb", "sqs", "secretsmanager"):
        assert answer.body["checks"][name]["status"] == "ok"
        assert answer.body["checks"][name]["latency_ms"] >= 0
    assert answer.body["checks"]["sqs"]["details"] == {"inbound": "ok", "sync": "ok", "auto_issue": "ok"}
    assert answer.body["version"]


@pytest.mark.parametrize(
    ("overrides", "failing", "reason"),
    [
        ({"table_name": "no-such-table"}, "dynamodb", "ResourceNotFoundException"),
        ({"queue_urls": {"inbound": "http://127.0.0.1:1/123456789012/missing"}}, "sqs", "failed: inbound"),
        ({"queue_urls": {}}, "sqs", "LookupError"),
    ],
)
def test_a_failing_dependency_is_a_503_with_the_same_body(
    stack: LocalResources, shared_dir: object, overrides: dict[str, object], failing: str, reason: str
) -> None:
    app.dependency_overrides[container.health_checker] = lambda: checker(stack, **overrides)
    try:
        answer = ApiClient(shared_dir, None).call("GET", "/v1/health")  # type: ignore[arg-type]
    finally:
        app.dependency_overrides.pop(container.health_checker)
    assert answer.status == 503
    assert answer.body["status"] == "down"
    assert any(r.startswith(f"{failing}: ") for r in answer.body["reasons"])
    assert answer.body["checks"][failing]["status"] == "error"
    assert reason in answer.body["checks"][failing]["error"]
    healthy = {"dynamodb", "sqs", "secretsmanager"} - {failing}
    assert all(answer.body["checks"][name]["status"] == "ok" for name in healthy)


def test_a_hanging_dependency_is_cut_off_by_the_deadline(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    class Hanging:
        def describe_table(self, **_: object) -> dict[str, object]:
            release.wait(HANG_BOUND_S)
            return {"Table": {"TableStatus": "ACTIVE"}}

    def deadline_once_the_others_answered(fs: Iterable[Future[Any]], timeout: float | None = None) -> Any:
        # The deadline passes exactly when every probe but the hanging one has answered: no race between
        # a loaded moto and a short deadline. Bounded, so a stuck probe fails the test instead of hanging it.
        pending = set(fs)
        done: set[Future[Any]] = set()
        while len(pending) > 1:
            finished, pending = real_wait(pending, timeout=HANG_BOUND_S, return_when=FIRST_COMPLETED)
            if not finished:
                break
            done |= finished
        return done, pending

    monkeypatch.setattr("trackbridge.runtime.health.wait", deadline_once_the_others_answered)
    try:
        report = checker(stack, dynamodb=Hanging(), deadline_s=0.2).check()
    finally:
        release.set()
    assert report.status == "down"
    assert report.reasons == ["dynamodb: timeout"]
    assert report.checks["dynamodb"].error == "timeout"
    assert report.checks["sqs"].status == "ok"
    assert report.checks["secretsmanager"].status == "ok"


class Depths:
    """``DeadLetterDepths`` with fixed answers (the session's DLQs are shared by other tests)."""

    def __init__(self, depths: dict[str, int]) -> None:
        self.depths = depths

    def depth(self, queue: str) -> int:
        return self.depths[queue]


def test_the_scheduler_is_checked_through_its_schedule_group(stack: LocalResources) -> None:
    scheduler = stack.client("scheduler")
    healthy = checker(stack, scheduler=scheduler, schedule_group=stack.schedule_group).check()
    assert healthy.checks["scheduler"].status == "ok"
    missing = checker(stack, scheduler=scheduler, schedule_group="no-such-group").check()
    assert missing.status == "down"
    assert missing.checks["scheduler"].error == "ResourceNotFoundException"
    assert "scheduler: ResourceNotFoundException" in missing.reasons


def test_messages_in_a_dlq_degrade_the_report_but_the_api_stays_in_service(
    stack: LocalResources, shared_dir: object
) -> None:
    depths = Depths({"inbound": 0, "sync": 2, "auto_issue": 0})
    app.dependency_overrides[container.health_checker] = lambda: checker(stack, dead_letters=depths)
    try:
        answer = ApiClient(shared_dir, None).call("GET", "/v1/health")  # type: ignore[arg-type]
    finally:
        app.dependency_overrides.pop(container.health_checker)
    assert answer.status == 200
    assert answer.body["status"] == "degraded"
    assert answer.body["reasons"] == ["dlq.sync: 2 messages"]
    assert answer.body["dlq"] == {"inbound": 0, "sync": 2, "auto_issue": 0}


def test_the_real_dlq_depths_are_reported(stack: LocalResources) -> None:
    report = checker(stack, dead_letters=container.dead_letter_queues()).check()
    assert report.dlq is not None
    assert set(report.dlq) == {"inbound", "sync", "auto_issue"}
    assert all(isinstance(depth, int) and depth >= 0 for depth in report.dlq.values())


def test_connection_health_reads_the_tenants_own_connections(
    stack: LocalResources, api: ApiClient, other_api: ApiClient
) -> None:
    from datetime import UTC, datetime, timedelta

    from trackbridge.domain.sync import SyncState
    from trackbridge.storage.sync import SyncStateRepository

    # Given: a connection whose issue cursor is two days behind and whose last sync failed
    body = {
        "name": "web",
        "provider": "github",
        "base_url": "https://api.github.com",
        "scope": {"repo": "acme/web"},
        "credentials": {"token": "fake-token-health"},
    }
    created = api.call("POST", "/v1/connections", body=body)
    assert created.status == 201, created.body
    connection_id = created.body["id"]
    tenant = api.authorize()["tenant"]  # type: ignore[index]
    behind = datetime.now(UTC) - timedelta(days=2)
    state = SyncState(
        connection_id=connection_id,
        entity="issues",
        high_water=behind,
        status="failed",
        last_success_at=behind,
        last_error="PROVIDER_UNAVAILABLE",
        updated_at=datetime.now(UTC),
    )
    SyncStateRepository(container.table()).save(tenant, state, expected_version=None)

    # When
    answer = api.call("GET", "/v1/connection-health")

    # Then: degraded, with both reasons; another tenant sees none of it
    assert answer.status == 200, answer.body
    (item,) = answer.body["items"]
    assert item["connection_id"] == connection_id
    assert item["status"] == "degraded"
    assert any(r.startswith("cursor 48 h behind") for r in item["reasons"])
    assert "last sync failed: PROVIDER_UNAVAILABLE" in item["reasons"]
    assert item["webhook"]["status"] == "unregistered"
    assert item["credentials"] == {"kind": "token", "valid": None, "expires_at": None, "refreshable": None}
    assert answer.body["status"] == "degraded"
    assert other_api.call("GET", "/v1/connection-health").body["items"] == []
