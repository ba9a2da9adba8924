"""``GET /v1/audit``: the tenant's audit entries, newest first (scope ``audit:read``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.audit import AuditEntry
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.storage.audit import AuditRepository

router = APIGatewayRouter()


@router.get("/v1/audit", summary="List audit entries, newest first", tags=["audit"])
def list_audit(
    caller: Annotated[Principal, Depends(require_principal)],
    entries: Annotated[AuditRepository, Depends(container.audit_repository)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> Page[AuditEntry]:
    caller.require("audit:read")
    return entries.list(caller.tenant, limit=limit, cursor=cursor)


__all__ = ["router"]
