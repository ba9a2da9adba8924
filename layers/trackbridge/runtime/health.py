"""``GET /v1/health``: is each dependency reachable with this function's permissions, and how fast.

The checks are the cheapest calls that prove access: ``DescribeTable``, ``GetQueueAttributes`` on each
configured queue, ``ListSecrets`` for one secret under the prefix, ``GetScheduleGroup`` for the schedule
group (``ListSchedules`` with one result without a group). They run in parallel on clients with one attempt
and short timeouts, under an overall deadline, so a sick dependency turns the answer into 503 ``down``
within seconds instead of hanging the API. A check never raises; what failed is reported as an AWS error
code or an exception class name, never a message (messages can carry ARNs and account ids).

``status`` is ``down`` (503) when a dependency failed, ``degraded`` (200: the API works, something needs a
person) when a dead-letter queue holds messages, else ``ok``; ``reasons`` says why in one line each.
``dlq`` holds each DLQ's approximate depth (all tenants: counts only). A degraded answer is a 200 on
purpose: a load balancer must not take a working API out of service because a DLQ needs attention.

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
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

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


HealthStatus = Literal["ok", "degraded", "down"]


class HealthReport(BaseModel):
    status: HealthStatus
    reasons: list[str] = Field(default_factory=list, description="why the status is not ok, one per line")
    checks: dict[str, Check]
    version: str
    webhooks: WebhookHealth | None = None
    dlq: dict[str, int] | None = Field(None, description="approximate messages in each dead-letter queue")


class DeadLetterDepths(Protocol):
    """The part of ``runtime.dlq.DeadLetterQueues`` health reads."""

    def depth(self, queue: str) -> int: ...


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
        scheduler: Any = None,
        schedule_group: str = "",
        dead_letters: DeadLetterDepths | None = None,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self.dynamodb = dynamodb
        self.sqs = sqs
        self.secretsmanager = secretsmanager
        self.table_name = table_name
        self.queue_urls = dict(queue_urls)
        self.secrets_prefix = secrets_prefix
        self.version = version
        self.scheduler = scheduler
        self.schedule_group = schedule_group
        self.dead_letters = dead_letters
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

    def _scheduler(self) -> dict[str, str] | None:
        if self.schedule_group:
            self.scheduler.get_schedule_group(Name=self.schedule_group)
        else:
            self.scheduler.list_schedules(MaxResults=1)
        return None

    def _dlq_depths(self) -> dict[str, int]:
        assert self.dead_letters is not None  # only submitted with one
        return {name: self.dead_letters.depth(name) for name in self.queue_urls}

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
        probes: dict[str, Callable[[], dict[str, str] | None]] = {
            "dynamodb": self._dynamodb,
            "sqs": self._sqs,
            "secretsmanager": self._secretsmanager,
        }
        if self.scheduler is not None:
            probes["scheduler"] = self._scheduler
        pool = ThreadPoolExecutor(max_workers=len(probes) + 2, thread_name_prefix="health")
        try:
            futures = {name: pool.submit(self._timed, probe) for name, probe in probes.items()}
            webhooks = pool.submit(self._webhooks)
            depths = pool.submit(self._dlq_depths) if self.dead_letters is not None else None
            pending: list[Future[Any]] = [*futures.values(), webhooks, *([depths] if depths else [])]
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
        summary = _result(webhooks)
        dlq = _result(depths) if depths is not None else None
        reasons = [f"{name}: {check.error}" for name, check in checks.items() if check.status != "ok"]
        waiting = [f"dlq.{name}: {count} messages" for name, count in (dlq or {}).items() if count]
        status: HealthStatus = "down" if reasons else "degraded" if waiting else "ok"
        return HealthReport(
            status=status,
            reasons=reasons + waiting,
            checks=checks,
            version=self.version,
            webhooks=summary,
            dlq=dlq,
        )


def _result(future: Future[Any]) -> Any:
    """A finished probe's value; None when it failed or has not finished (what it reports is optional)."""
    return future.result() if future.done() and future.exception() is None else None


class _PartialFailure(Exception):
    def __init__(self, message: str, details: dict[str, str]) -> None:
        super().__init__(message)
        self.details = details


__all__ = ["Check", "DeadLetterDepths", "HealthChecker", "HealthReport", "HealthStatus", "WebhookHealth"]
