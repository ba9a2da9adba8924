"""``GET /v1/metrics``: the calling tenant's daily counters (syncs, items, requests, webhooks, auto-issues,
alerts) over a period, from DynamoDB (``storage.metrics``), so it answers the same locally and on AWS.

CloudWatch holds the same events as EMF metrics for dashboards and alarms, across tenants; this is each
tenant's own view. Scope ``metrics:read``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BeforeValidator

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.times import utcnow
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.storage.metrics import MAX_DAYS, MetricCounters, MetricsSummary

READ = "metrics:read"
DEFAULT_DAYS = 7

router = APIGatewayRouter()

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    # pydantic would also read "0" as 1970-01-01 (a Unix time): the parameter is an ISO 8601 date.
    if isinstance(value, str) and not _DATE.fullmatch(value):
        raise ValueError("give an ISO 8601 date, e.g. 2026-03-04")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


@router.get(
    "/v1/metrics",
    summary="The tenant's counters per day",
    description="Counters of the calling tenant, per UTC day and summed over the period: "
    "`syncs.<completed|failed|cancelled>`, `items.<created|updated|unchanged|deleted|failed>`, "
    "`requests.<provider>`, `parked` (slices parked on a rate limit), `webhooks.<applied status>` and "
    "`auto_issue.<outcome>`; a counter that counted nothing in the period is absent. "
    f"`since` and `until` are dates (both included; default: the last {DEFAULT_DAYS} days), at most "
    f"{MAX_DAYS} days apart.",
    operation_id="getMetrics",
    tags=["health"],
    openapi_extensions=requires(READ),
)
def get_metrics(
    caller: Annotated[Principal, Depends(require_principal)],
    counters: Annotated[MetricCounters, Depends(container.metric_counters)],
    since: Annotated[IsoDate | None, Query(description="the first day, e.g. 2026-03-01")] = None,
    until: Annotated[IsoDate | None, Query(description="the last day (default: today, UTC)")] = None,
) -> MetricsSummary:
    caller.require(READ)
    last = until or utcnow().date()
    first = since or last - timedelta(days=DEFAULT_DAYS - 1)
    try:
        return counters.summary(caller.tenant, first, last)
    except ValueError as exc:
        raise ValidationFailed(str(exc), details={"since": str(first), "until": str(last)}) from None


__all__ = ["router"]
