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
from trackbridge.runtime.api.operations import requires
from trackbridge.storage.audit import AuditRepository

READ = "audit:read"

router = APIGatewayRouter()


@router.get(
    "/v1/audit",
    summary="List audit entries, newest first",
    description="Every change made through the API or the CLI (connections, keys, schedules, tracker "
    "actions, ...): the dotted action (`connection.update`), its target's id, the key that made it, the "
    "request id and the changed fields (old and new values; secrets never appear).",
    operation_id="listAuditEntries",
    tags=["audit"],
    openapi_extensions=requires(READ),
)
def list_audit(
    caller: Annotated[Principal, Depends(require_principal)],
    entries: Annotated[AuditRepository, Depends(container.audit_repository)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
    ] = None,
) -> Page[AuditEntry]:
    caller.require(READ)
    return entries.list(caller.tenant, limit=limit, cursor=cursor)


__all__ = ["router"]
