"""``GET /v1/health``: is each dependency reachable with this function's permissions, and how fast.

The checks are the cheapest calls that prove access: ``DescribeTable``, ``GetQueueAttributes`` on each
configured queue, ``ListSecrets`` for one secret under the prefix. They run in parallel on clients with one
attempt and short timeouts, under an overall deadline, so a sick dependency turns the answer into 503
``degraded`` within seconds instead of hanging the API. A check never raises; what failed is reported as an
AWS error code or an exception class name, never a message (messages can carry ARNs and account ids).

``webhooks`` adds what the last webhook liveness checks found (``runtime.webhooks.liveness``): how many
registered hooks are ``active``, ``inactive`` and on polling ``fallback``. It reads the registered hooks'
index (a few KB) and never changes ``status``: an inactive hook is a tracker's problem that the fallback
syncs cover, not an unhealthy dependency. The route is public, so it shows counts only; which connection's
hook is inactive (and why) is in the tenant's own ``GET /v1/connections/{id}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

DEADLINE_S = 5.0
# The registered hooks' index is read at most this many pages (1 MB each) per health check.
WEBHOOK_PAGES = 5


class Check(BaseModel):
    status: Literal["ok", "error"]
    latency_ms: float
    error: str | None = None
    details: dict[str, str] | None = None


class WebhookHealth(BaseModel):
    registered: int
    active: int
    inactive: int
    fallback: int


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, Check]
    version: str
    webhooks: WebhookHealth | None = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


class HealthChecker:
    def __init__(
        self,
        *,
        dynamodb: Any,
        sqs: Any,
        secretsmanager: Any,
        table_name: str,
        queue_urls: Mapping[str, str],
        secrets_prefix: str,
        version: str,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self.dynamodb = dynamodb
        self.sqs = sqs
        self.secretsmanager = secretsmanager
        self.table_name = table_name
        self.queue_urls = dict(queue_urls)
        self.secrets_prefix = secrets_prefix
        self.version = version
        self.deadline_s = deadline_s

    def _dynamodb(self) -> dict[str, str] | None:
        status = self.dynamodb.describe_table(TableName=self.table_name)["Table"]["TableStatus"]
        if status not in ("ACTIVE", "UPDATING"):
            raise RuntimeError(f"table {status}")
        return None

    def _sqs(self) -> dict[str, str] | None:
        if not self.queue_urls:
            raise LookupError("no queue configured")
        results: dict[str, str] = {}
        for name, url in self.queue_urls.items():
            try:
                self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                results[name] = "ok"
            except Exception as exc:
                results[name] = _reason(exc)
        failed = [name for name, result in results.items() if result != "ok"]
        if failed:
            raise _PartialFailure(", ".join(failed), results)
        return results

    def _secretsmanager(self) -> dict[str, str] | None:
        self.secretsmanager.list_secrets(
            MaxResults=1, Filters=[{"Key": "name", "Values": [self.secrets_prefix]}]
        )
        return None

    def _webhooks(self) -> WebhookHealth:
        from trackbridge.storage.keys import GSI1, GSI1_PK
        from trackbridge.storage.webhooks import REGISTERED_HOOKS_GSI1PK

        counts = {"registered": 0, "active": 0, "inactive": 0, "fallback": 0}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": GSI1,
            "KeyConditionExpression": "#p = :p",
            "ProjectionExpression": "#h.#s, #h.#f",
            "ExpressionAttributeNames": {"#p": GSI1_PK, "#h": "hook", "#s": "status", "#f": "fallback"},
            "ExpressionAttributeValues": {":p": {"S": REGISTERED_HOOKS_GSI1PK}},
        }
        for _ in range(WEBHOOK_PAGES):
            response = self.dynamodb.query(**request)
            for item in response.get("Items", []):
                hook = item.get("hook", {}).get("M", {})
                counts["registered"] += 1
                status = hook.get("status", {}).get("S", "active")
                counts["inactive" if status == "inactive" else "active"] += 1
                counts["fallback"] += 1 if hook.get("fallback", {}).get("BOOL") else 0
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return WebhookHealth(**counts)

    @staticmethod
    def _timed(probe: Callable[[], dict[str, str] | None]) -> Check:
        started = time.perf_counter()

        def elapsed_ms() -> float:
            return round((time.perf_counter() - started) * 1000, 1)

        try:
            details = probe()
        except _PartialFailure as exc:
            return Check(status="error", latency_ms=elapsed_ms(), error=f"failed: {exc}", details=exc.details)
        except Exception as exc:
            return Check(status="error", latency_ms=elapsed_ms(), error=_reason(exc))
        return Check(status="ok", latency_ms=elapsed_ms(), details=details)

    def check(self) -> HealthReport:
        probes = {"dynamodb": self._dynamodb, "sqs": self._sqs, "secretsmanager": self._secretsmanager}
        pool = ThreadPoolExecutor(max_workers=len(probes) + 1, thread_name_prefix="health")
        try:
            futures = {name: pool.submit(self._timed, probe) for name, probe in probes.items()}
            webhooks = pool.submit(self._webhooks)
            pending: list[Future[Any]] = [*futures.values(), webhooks]
            wait(pending, timeout=self.deadline_s)
            checks = {
                name: future.result()
                if future.done()
                else Check(status="error", latency_ms=self.deadline_s * 1000, error="timeout")
                for name, future in futures.items()
            }
        finally:
            # Do not wait for a probe stuck past the deadline; its client timeouts end it soon after.
            pool.shutdown(wait=False, cancel_futures=True)
        healthy = all(c.status == "ok" for c in checks.values())
        summary = webhooks.result() if webhooks.done() and webhooks.exception() is None else None
        return HealthReport(
            status="ok" if healthy else "degraded", checks=checks, version=self.version, webhooks=summary
        )


class _PartialFailure(Exception):
    def __init__(self, message: str, details: dict[str, str]) -> None:
        super().__init__(message)
        self.details = details


__all__ = ["Check", "HealthChecker", "HealthReport", "WebhookHealth"]
