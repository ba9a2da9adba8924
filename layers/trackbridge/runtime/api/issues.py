"""Synced data: ``GET /v1/issues`` (filtered listings) and ``GET /v1/issues/{ref}`` (with comments, worklogs).

Scope ``issues:read``. An unknown ref, a malformed one and another tenant's are the same 404.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import AwareDatetime

from trackbridge.domain.issues import StatusCategory
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.issues import IssueDetail, IssueView, SyncedIssues

READ = "issues:read"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Reader = Annotated[SyncedIssues, Depends(container.synced_issues)]


@router.get(
    "/v1/issues",
    summary="List synced issues, most recently updated first",
    description="Filters: a connection, a status category, an update time (inclusive). Each listing is one "
    "index query; connection and status together may give pages shorter than `limit` while `next_cursor` "
    "still leads on. Without `status`, deleted issues are listed too (with `deleted_at`), so a client "
    "following `updated_since` sees deletions.",
    tags=["issues"],
)
def list_issues(
    caller: Caller,
    reader: Reader,
    connection: Annotated[str | None, Query(max_length=64, description="a connection id")] = None,
    status: Annotated[StatusCategory | None, Query(description="a status category")] = None,
    updated_since: Annotated[AwareDatetime | None, Query(description="ISO 8601 with a time zone")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> Page[IssueView]:
    caller.require(READ)
    return reader.list(
        caller.tenant,
        connection_id=connection,
        status=status,
        updated_since=updated_since,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/v1/issues/<ref>",
    summary="Read a synced issue with its comments, worklogs and links",
    tags=["issues"],
)
def get_issue(
    ref: Annotated[str, Path(max_length=160, description="{connection_id}.{native_id}")],
    caller: Caller,
    reader: Reader,
) -> IssueDetail:
    caller.require(READ)
    return reader.get(caller.tenant, ref)


__all__ = ["router"]
