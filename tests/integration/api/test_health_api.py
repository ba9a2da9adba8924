"""``GET /v1/health`` on moto: 200 when every dependency answers, 503 (never 500) when one does not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.health import HealthChecker

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration


def checker(stack: LocalResources, **overrides: object) -> HealthChecker:
    options: dict[str, object] = {
        "dynamodb": container.health_client("dynamodb"),
        "sqs": container.health_client("sqs"),
        "secretsmanager": container.health_client("secretsmanager"),
        "table_name": stack.table_name,
        "queue_urls": {"inbound": stack.queue_url("inbound")},
        "secrets_prefix": "trackbridge/local/",
        "version": "test",
    }
    options.update(overrides)
    return HealthChecker(**options)  # type: ignore[arg-type]


def test_all_dependencies_answer(stack: LocalResources, shared_dir: object) -> None:
    answer = ApiClient(shared_dir, None).call("GET", "/v1/health")  # type: ignore[arg-type]
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


def test_a_hanging_dependency_is_cut_off_by_the_deadline(stack: LocalResources) -> None:
    class Hanging:
        def describe_table(self, **_: object) -> dict[str, object]:
            import time

            time.sleep(1.0)
            return {"Table": {"TableStatus": "ACTIVE"}}

    report = checker(stack, dynamodb=Hanging(), deadline_s=0.2).check()
    assert report.status == "degraded"
    assert report.checks["dynamodb"].error == "timeout"
    assert report.checks["sqs"].status == "ok"
