"""Synced data: ``GET /v1/issues`` (filtered listings) and ``GET /v1/issues/{ref}`` (with comments, worklogs).

Scope ``issues:read``. An unknown ref, a malformed one and another tenant's are the same 404.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import AwareDatetime, BeforeValidator

from trackbridge.domain.issues import StatusCategory
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.issues import IssueDetail, IssueView, SyncedIssues

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

READ = "issues:read"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Reader = Annotated[SyncedIssues, Depends(container.synced_issues)]

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")


def _iso_8601(value: Any) -> Any:
    # pydantic would also read "1700000000" or "0.5" as a Unix time; the parameter is documented (and
    # meant) as an ISO 8601 date-time, so anything else is a 422 rather than a guess.
    if isinstance(value, str) and not _DATE_TIME.match(value):
        raise ValueError("give an ISO 8601 date-time with a time zone, e.g. 2026-03-04T16:40:22Z")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]


# A listing is served as JSON its page model writes itself (pydantic's serializer, in one pass): Powertools
# would validate the 50 issues again, turn them into dicts and then encode those. The document still shows
# the page's schema (``responses``), and bodies that were not read are left out rather than sent empty.
_WITHOUT_BODIES: Final = {"items": {"__all__": {"body"}}}
_LISTING: Final[dict[int, OpenAPIResponse]] = {
    200: {
        "description": "A page of issues, most recently updated first; `body` only with `include=body`",
        "content": {"application/json": {"model": Page[IssueView]}},
    }
}


def _listing(page: Page[IssueView], *, with_body: bool) -> Response[str]:
    body = page.model_dump_json(exclude=None if with_body else _WITHOUT_BODIES, ensure_ascii=True)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


@router.get(
    "/v1/issues",
    summary="List synced issues, most recently updated first",
    description="Filters: a connection, a status category, an update time (inclusive). Each listing is one "
    "index query; connection and status together may give pages shorter than `limit` while `next_cursor` "
    "still leads on. Without `status`, deleted issues are listed too (with `deleted_at`), so a client "
    "following `updated_since` sees deletions. Reads what trackbridge stored: the tracker is not called.\n\n"
    "Each issue comes without its `body` (and with `links` null): `GET /v1/issues/{ref}` reads one issue "
    "whole. `include=body` adds the bodies, at the cost of reading them from every item of the page.",
    operation_id="listIssues",
    tags=["issues"],
    responses=_LISTING,
    openapi_extensions=requires(READ),
)
def list_issues(
    caller: Caller,
    reader: Reader,
    connection: Annotated[
        str | None, Query(max_length=64, description="a connection id (404 when the tenant has none such)")
    ] = None,
    status: Annotated[StatusCategory | None, Query(description="a status category")] = None,
    updated_since: Annotated[
        Timestamp | None,
        Query(description="issues updated at or after this ISO 8601 date-time with a time zone"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
    ] = None,
    include: Annotated[
        Literal["body"] | None,
        Query(description="`body`: each issue with its body (left out by default)"),
    ] = None,
) -> Response[str]:
    caller.require(READ)
    with_body = include == "body"
    page = reader.list(
        caller.tenant,
        connection_id=connection,
        status=status,
        updated_since=updated_since,
        limit=limit,
        cursor=cursor,
        with_body=with_body,
    )
    return _listing(page, with_body=with_body)


@router.get(
    "/v1/issues/<ref>",
    summary="Read a synced issue with its comments, worklogs and links",
    description="One synced issue by its `ref` (as listings give it), with every stored comment, worklog "
    "and link. An unknown ref, a malformed one and another tenant's are the same 404.",
    operation_id="getIssue",
    tags=["issues"],
    openapi_extensions=requires(READ),
)
def get_issue(
    ref: Annotated[
        str,
        Path(
            max_length=160,
            description="{connection_id}.{native_id}, e.g. conn_7n2k4q8r1s5t9v3w6x0y.3051224",
        ),
    ],
    caller: Caller,
    reader: Reader,
) -> IssueDetail:
    caller.require(READ)
    return reader.get(caller.tenant, ref)


__all__ = ["router"]
