"""``GET /v1/audit``: the tenant's audit entries, newest first (scope ``audit:read``), filtered by actor,
action (a name or a ``family.*``), target and time (``since``). The stable action names are listed in the
README ("Operations: health, metrics, DLQ and audit")."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.audit import AuditEntry
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.issues import Timestamp
from trackbridge.runtime.api.operations import requires
from trackbridge.storage.audit import AuditFilter, AuditRepository

READ = "audit:read"
# Actors are key ids or fixed names (cli, auto-issue), targets are trackbridge or tracker ids.
_NAME = r"^[A-Za-z0-9_.:@/#*-]{1,256}$"

router = APIGatewayRouter()


@router.get(
    "/v1/audit",
    summary="List audit entries, newest first",
    description="Every change made through the API or the CLI (connections, keys, schedules, tracker "
    "actions, ...): the dotted action (`connection.update`), its target's id, the key that made it, the "
    "request id and the changed fields (old and new values; secrets never appear). Filters combine: "
    "`actor` (a key id, or `cli`), `action` (`schedule.pause`, or a family: `schedule.*`), `target` and "
    "`since`. A filtered page may hold fewer than `limit` entries while `next_cursor` is set.",
    operation_id="listAuditEntries",
    tags=["audit"],
    openapi_extensions=requires(READ),
)
def list_audit(
    caller: Annotated[Principal, Depends(require_principal)],
    entries: Annotated[AuditRepository, Depends(container.audit_repository)],
    actor: Annotated[str | None, Query(pattern=_NAME, description="the key id (or cli) that acted")] = None,
    action: Annotated[
        str | None, Query(pattern=_NAME, description="a dotted action, or a family such as schedule.*")
    ] = None,
    target: Annotated[str | None, Query(pattern=_NAME, description="the id of what changed")] = None,
    since: Annotated[
        Timestamp | None, Query(description="entries at or after this ISO 8601 date-time with a time zone")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
    ] = None,
) -> Page[AuditEntry]:
    caller.require(READ)
    where = AuditFilter(actor=actor, action=action, target=target, since=since)
    return entries.list(caller.tenant, limit=limit, cursor=cursor, where=where)


__all__ = ["router"]
