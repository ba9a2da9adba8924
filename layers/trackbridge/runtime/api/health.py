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
