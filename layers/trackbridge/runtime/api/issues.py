"""Synced data: ``GET /v1/issues`` (filtered listings) and ``GET /v1/issues/{ref}`` (with comments, worklogs).

Scope ``issues:read``. An unknown ref, a malformed one and another tenant's are the same 404.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BeforeValidator

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import StatusCategory
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.api.params import Timestamp
from trackbridge.runtime.issues import IssueDetail, IssueFilter, IssueView, SyncedIssues

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

READ = "issues:read"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Reader = Annotated[SyncedIssues, Depends(container.synced_issues)]


_MAX_VALUE = 200


def _trimmed(value: Any) -> Any:
    # A value of blanks alone would match nothing and say nothing; it fails the length check instead.
    return value.strip() if isinstance(value, str) else value


# A listing is served as JSON its page model writes itself (pydantic's serializer, in one pass): Powertools
# would validate the 50 issues again, turn them into dicts and then encode those. The document still shows
# the page's schema (``responses``), and bodies that were not read are left out rather than sent empty.
_WITHOUT_BODIES: Final = {"items": {"__all__": {"body"}}}
NDJSON: Final = "application/x-ndjson"
_EXPORT_DOC: Final = (
    '`format=ndjson`: one issue a line (with its body), then a last line `{"next_cursor": ...}`: null when '
    "the connection is complete, else a cursor to ask for the rest with (each answer stops at about 5 MB or "
    "20 s, under API Gateway's limits)"
)
_LISTING: Final[dict[int, OpenAPIResponse]] = {
    200: {
        "description": "A page of issues, most recently updated first; `body` only with `include=body`",
        "content": {
            "application/json": {"model": Page[IssueView]},
            NDJSON: {
                "schema": {
                    "type": "string",
                    "description": _EXPORT_DOC,
                    "examples": [
                        '{"ref": "conn_k7mq4xw2p5rtz3nb6hcd.12", "key": "#12", "title": "..."}\n'
                        '{"next_cursor": null}'
                    ],
                }
            },
        },
    }
}


def _export(lines: list[str], next_cursor: str | None) -> Response[str]:
    # The continuation line comes last, without a newline after it: the API seals a body's trailing
    # ``"next_cursor"`` member in place (``app._sealed``), as it does a page's.
    tail = json.dumps({"next_cursor": next_cursor}, separators=(",", ":"))
    body = "".join(f"{line}\n" for line in lines) + tail
    return Response(status_code=200, content_type=NDJSON, body=body)


def _listing(page: Page[IssueView], *, with_body: bool) -> Response[str]:
    body = page.model_dump_json(exclude=None if with_body else _WITHOUT_BODIES, ensure_ascii=True)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


_FILTERS_DOC = """Filters, all optional and combined with AND:

* `connection` (a connection id; 404 when the tenant has none such), `status` or `status_category` (a status
  category), `updated_since` (inclusive): these choose the index the listing reads;
* `status_name` (the tracker's own status, e.g. `In Review`), `assignee`, `label`, `priority`, `type`
  (case-insensitive, exact), `sprint` (a sprint id, as `GET /v1/sprints` lists them) and `q` (text the
  title or body contains, case-insensitive): checked on the issues that index query reads, at most 1,000
  per page. A page may then hold fewer than `limit` issues,
  even none, while `next_cursor` still leads on: follow it until it is null.

Without a status or value filter, deleted issues are listed too (with `deleted_at`), so a client following
`updated_since` sees deletions; with one, only live issues. Reads what trackbridge stored: the tracker is not
called.

Each issue comes without its `body` (and with `links` null): `GET /v1/issues/{ref}` reads one issue whole.
`include=body` adds the bodies, at the cost of reading them from every item of the page.

`format=ndjson` with `connection` (and optionally `updated_since`) exports the connection's issues, deleted
ones included, one JSON issue with its body a line (`application/x-ndjson`), most recently updated first. An
answer stops at about 5 MB or 20 s (API Gateway answers at most 10 MB within 29 s); its last line is always
`{"next_cursor": ...}`: null when the export is complete, else a cursor for the next answer (`cursor=`)."""

Value = Annotated[str | None, BeforeValidator(_trimmed)]


@router.get(
    "/v1/issues",
    summary="List synced issues, most recently updated first",
    description=_FILTERS_DOC,
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
    status_category: Annotated[
        StatusCategory | None, Query(description="a status category (the same filter as `status`)")
    ] = None,
    status_name: Annotated[
        Value, Query(min_length=1, max_length=_MAX_VALUE, description="the tracker's status, e.g. In Review")
    ] = None,
    assignee: Annotated[
        Value, Query(min_length=1, max_length=_MAX_VALUE, description="an assignee's login or account id")
    ] = None,
    label: Annotated[Value, Query(min_length=1, max_length=_MAX_VALUE, description="a label")] = None,
    priority: Annotated[Value, Query(min_length=1, max_length=_MAX_VALUE, description="a priority")] = None,
    type: Annotated[  # the public parameter's name (it shadows the builtin only here)
        Value, Query(min_length=1, max_length=_MAX_VALUE, description="an issue type, e.g. Bug")
    ] = None,
    q: Annotated[
        Value,
        Query(min_length=2, max_length=_MAX_VALUE, description="text the title or body contains"),
    ] = None,
    sprint: Annotated[
        str | None,
        Query(
            pattern=r"^[1-9][0-9]{0,17}$", description="a sprint id (GET /v1/sprints): the sprint's issues"
        ),
    ] = None,
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
    format: Annotated[  # the public parameter's name (it shadows the builtin only here)
        Literal["json", "ndjson"],
        Query(description="`ndjson`: export a whole `connection`, one issue (with its body) a line"),
    ] = "json",
) -> Response[str]:
    caller.require(READ)
    if status is not None and status_category is not None and status != status_category:
        raise ValidationFailed(
            "status and status_category name the same filter; give one",
            details={"parameter": "status_category"},
        )
    match = IssueFilter(
        status=status_name,
        assignee=assignee,
        label=label,
        priority=priority,
        issue_type=type,
        q=q,
        sprint=sprint,
    )
    if format == "ndjson":
        if connection is None or match.active or status or status_category:
            raise ValidationFailed(
                "format=ndjson exports a whole connection: give connection (and at most updated_since)",
                details={"parameter": "format"},
            )
        lines, next_cursor = reader.export(
            caller.tenant, connection, updated_since=updated_since, cursor=cursor
        )
        return _export(lines, next_cursor)
    with_body = include == "body"
    page = reader.list(
        caller.tenant,
        connection_id=connection,
        status=status or status_category,
        updated_since=updated_since,
        limit=limit,
        cursor=cursor,
        with_body=with_body,
        match=match,
    )
    return _listing(page, with_body=with_body)


@router.get(
    "/v1/issues/<ref>",
    summary="Read a synced issue with its comments, worklogs and links",
    description="One synced issue by its `ref` (as listings give it), with every stored comment, worklog "
    "and link, its changelog (`transitions`) and `time_in_status`; `{connection_id}.{key}` finds it by "
    "its key too (`conn_....ACME-12`, one read of its key "
    "pointer). An unknown ref, a malformed one and another tenant's are the same 404.",
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
