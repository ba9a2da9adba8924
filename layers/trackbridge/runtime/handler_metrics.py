"""What the Lambda handlers count, from the results they already get: EMF metrics for CloudWatch (dashboards
and alarms, across tenants) and the tenant's daily counters in DynamoDB (``GET /v1/metrics``).

The handlers in ``functions/`` call these around their one call, so the engines stay free of bookkeeping.
EMF names are stable (the dashboard and alarms in ``infra/constructs/observability.py`` read them):

========================  ==========================================  ======================================
EMF metric                dimensions                                  tenant counter
========================  ==========================================  ======================================
``Syncs``                 ``status`` (Completed, Failed, Cancelled)   ``syncs.<completed|failed|cancelled>``
``SyncItems``             ``result`` (created, updated, ...)          ``items.<result>``
``TrackerRequests``       ``provider``                                ``requests.<provider>``
``SyncSliceParked``       (none; counted by the sync handler)         ``parked``
``SyncSliceDuration``     (none), milliseconds                        -
``WebhookDeliveries``     ``outcome`` (the answer's status)           -  (the tenant is not known yet)
``WebhookApplied``        ``provider``, ``status``                    ``webhooks.<status>``
``AutoIssueOutcomes``     ``outcome`` (created, commented, ...)       ``auto_issue.<outcome>``
========================  ==========================================  ======================================

Alert sends are counted where alerts are sent (``alerts.<outcome>`` through :func:`count`). A metric
failure never fails the work: the counters' flush logs and drops what it could not write.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from trackbridge.domain.errors import TrackbridgeError
from trackbridge.domain.ids import is_tenant
from trackbridge.domain.sync import SyncOperation
from trackbridge.runtime.dlq import tenant_of
from trackbridge.runtime.observability import SERVICE, logger, metrics
from trackbridge.storage.metrics import MetricCounters

TERMINAL_OUTCOMES = frozenset({"completed", "failed", "cancelled"})
_SEGMENT = re.compile(r"[^a-z0-9_]+")


class Operations(Protocol):
    """The part of ``SyncService`` read once an operation has finished."""

    def get(self, tenant: str, operation_id: str) -> SyncOperation: ...

    def connection(self, tenant: str, connection_id: str) -> Any: ...


def _segment(value: object) -> str:
    return _SEGMENT.sub("_", str(value).lower()).strip("_")[:40] or "unknown"


def _body(record: Any) -> Mapping[str, Any]:
    raw = record.raw_event if hasattr(record, "raw_event") else record
    try:
        decoded = json.loads(str(raw.get("body") or ""))
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def dimensioned(name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """One EMF metric with its own dimensions (the invocation's shared metric set has none); silent under
    ``POWERTOOLS_METRICS_DISABLED``, which Powertools' ``single_metric`` does not check."""
    if is_metrics_disabled():
        return
    service = {"service": SERVICE}  # as the shared metric set's, so one dashboard query reads both
    with single_metric(
        name=name, unit=unit, value=value, namespace=SERVICE, default_dimensions=service
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def count(counters: MetricCounters, tenant: str | None, name: str, value: int = 1) -> None:
    """A tenant counter; names are dotted, each part lower case (``alerts.sent``)."""
    if is_tenant(tenant) and value:
        counters.add(str(tenant), ".".join(_segment(part) for part in name.split(".")), value)


@contextmanager
def flushing(counters: MetricCounters) -> Iterator[None]:
    """Around one invocation: the tenant counters it added are written once, at its end."""
    try:
        yield
    finally:
        failed = counters.flush()
        if failed:
            logger.warning("metrics.flush_failed", extra={"writes": failed})


@contextmanager
def timed(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=elapsed_ms)


def sync_slice(record: Any, outcome: str, *, operations: Operations, counters: MetricCounters) -> None:
    """After a sync slice: a parked slice counts; a finished operation counts its results and requests."""
    body = _body(record)
    tenant, operation_id = body.get("tenant"), body.get("operation_id")
    if outcome == "parked":
        count(counters, tenant, "parked")
    if outcome not in TERMINAL_OUTCOMES or not is_tenant(tenant) or not isinstance(operation_id, str):
        return
    try:
        operation = operations.get(str(tenant), operation_id)
        provider = _segment(operations.connection(str(tenant), operation.connection_id).provider)
    except TrackbridgeError as exc:  # deleted meanwhile, or DynamoDB failing: the slice itself succeeded
        logger.warning("metrics.sync_unreadable", extra={"operation_id": operation_id, "code": exc.code})
        return
    dimensioned("Syncs", 1, status=operation.status)
    count(counters, tenant, f"syncs.{operation.status}")
    totals = operation.results
    for result in ("created", "updated", "unchanged", "deleted", "failed"):
        value = int(getattr(totals, result))
        if value:
            dimensioned("SyncItems", value, result=result)
            count(counters, tenant, f"items.{result}", value)
    if operation.requests:
        dimensioned("TrackerRequests", operation.requests, provider=provider)
        count(counters, tenant, f"requests.{provider}", operation.requests)


def webhook_answer(status: int, body: Mapping[str, Any]) -> None:
    """A delivery's answer: ``outcome`` is the body's status (queued, duplicate, ...) or the HTTP class."""
    outcome = body.get("status") if isinstance(body.get("status"), str) else f"http_{status // 100}xx"
    dimensioned("WebhookDeliveries", 1, outcome=_segment(outcome))


def applied(record: Any, status: str, *, counters: MetricCounters) -> None:
    body = _body(record)
    dimensioned("WebhookApplied", 1, provider=_segment(body.get("provider")), status=_segment(status))
    count(counters, body.get("tenant"), f"webhooks.{status}")


def auto_issue(record: Any, outcomes: list[str], *, counters: MetricCounters) -> None:
    raw = record.raw_event if hasattr(record, "raw_event") else record
    tenant = tenant_of("auto_issue", str(raw.get("body") or ""))  # an alarm names none: the alarm tenant
    for outcome in outcomes:
        dimensioned("AutoIssueOutcomes", 1, outcome=_segment(outcome))
        count(counters, tenant, f"auto_issue.{outcome}")


__all__ = [
    "applied",
    "auto_issue",
    "count",
    "dimensioned",
    "flushing",
    "sync_slice",
    "timed",
    "webhook_answer",
]
