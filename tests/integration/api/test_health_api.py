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
    assert answer.body["status"] == "degraded"
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
    assert report.status == "degraded"
    assert report.checks["dynamodb"].error == "timeout"
    assert report.checks["sqs"].status == "ok"
    assert report.checks["secretsmanager"].status == "ok"
