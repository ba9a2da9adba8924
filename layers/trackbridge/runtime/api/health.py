"""``GET /v1/health``: public (no API key), 200 unless a dependency failed (503 ``down``, same body).

``GET /v1/connection-health``: the caller's connections, each ``ok|degraded|down`` with reasons (scope
``connections:read``). It is a route of its own, not ``/v1/health`` with a key: API Gateway runs no
authorizer on the public route, and a path under ``/v1/health`` would not be the authorized proxy's.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.connection_health import ConnectionHealthChecker, TenantHealth
from trackbridge.runtime.health import HealthChecker, HealthReport

READ = "connections:read"

router = APIGatewayRouter()


@router.get(
    "/v1/health",
    summary="Per-dependency health",
    description="Checks each dependency the API needs (DynamoDB, SQS, Secrets Manager, EventBridge "
    "Scheduler) with one short call each and reports its status and latency, the dead-letter queues' depths "
    "and the webhooks' liveness counts. `status` is `down` (503) when a dependency failed, `degraded` (200) "
    "when the API works but something needs a person (a DLQ holds messages), else `ok`; `reasons` says why. "
    "A load balancer or an uptime check can use the HTTP status alone. Public: no API key; never cached. "
    "A tenant's connections have their own route, `GET /v1/connection-health`.",
    operation_id="getHealth",
    tags=["health"],
    security=[{}],
    responses={
        200: {
            "description": "every dependency answered (status ok or degraded)",
            "content": {"application/json": {"model": HealthReport}},
        },
        503: {
            "description": "at least one did not (status down)",
            "content": {"application/json": {"model": HealthReport}},
        },
    },
)
def health(checker: Annotated[HealthChecker, Depends(container.health_checker)]) -> Response[HealthReport]:
    report = checker.check()
    return Response(
        # The checks decide, not the label: a DLQ that needs a person leaves a working API in service.
        status_code=503 if any(check.status != "ok" for check in report.checks.values()) else 200,
        content_type=content_types.APPLICATION_JSON,
        body=report,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/v1/connection-health",
    summary="Health of each connection",
    description="Per connection: `status` (`ok`, `degraded`: it syncs, but less well than it should; "
    "`down`: a person must act before it syncs again) with `reasons`, the last successful sync, the cursor "
    "lag, the schedule's back-off ladder step and pause, the webhook's liveness and whether the credentials "
    "still work (an OAuth connection's token expiry). Per tenant: the alert channels' health and the worst "
    "status of the page. Pages through the connections like `GET /v1/connections`.",
    operation_id="getConnectionHealth",
    tags=["health"],
    openapi_extensions=requires(READ),
)
def connection_health(
    caller: Annotated[Principal, Depends(require_principal)],
    checker: Annotated[ConnectionHealthChecker, Depends(container.connection_health_checker)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
    ] = None,
) -> TenantHealth:
    caller.require(READ)
    return checker.check(caller.tenant, limit=limit, cursor=cursor)


__all__ = ["router"]
