"""``GET /v1/health``: public (no API key), 200 when every dependency answers, else 503 with the same body."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.runtime import container
from trackbridge.runtime.health import HealthChecker, HealthReport

router = APIGatewayRouter()


@router.get(
    "/v1/health",
    summary="Per-dependency health",
    description="Checks each dependency the API needs (DynamoDB, SQS, Secrets Manager) with one short call "
    "each and reports its status and latency. 200 when all answer, else 503 with the same body, so a load "
    "balancer or an uptime check can use the status alone. Public: no API key; never cached.",
    operation_id="getHealth",
    tags=["health"],
    security=[{}],
    responses={
        200: {
            "description": "every dependency answered",
            "content": {"application/json": {"model": HealthReport}},
        },
        503: {
            "description": "at least one did not",
            "content": {"application/json": {"model": HealthReport}},
        },
    },
)
def health(checker: Annotated[HealthChecker, Depends(container.health_checker)]) -> Response[HealthReport]:
    report = checker.check()
    return Response(
        status_code=200 if report.status == "ok" else 503,
        content_type=content_types.APPLICATION_JSON,
        body=report,
        headers={"Cache-Control": "no-store"},
    )


__all__ = ["router"]
