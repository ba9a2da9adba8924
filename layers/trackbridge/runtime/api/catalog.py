"""A connection's synced catalogs: ``GET /v1/users`` and ``GET /v1/sprints``.

Scope ``issues:read`` (they are synced data, as issues are). Both name their connection: an unknown one and
another tenant's are the same 404, as in ``GET /v1/issues``; a filter value outside its vocabulary is a 422.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.issues import Sprint, User
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.catalog import SyncedCatalog

READ = "issues:read"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Reader = Annotated[SyncedCatalog, Depends(container.synced_catalog)]
Connection = Annotated[
    str, Query(min_length=1, max_length=64, description="a connection id (404 when the tenant has none such)")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
]


@router.get(
    "/v1/users",
    summary="List a connection's synced users",
    description="The tracker accounts of a connection's scope (GitHub assignees, GitLab project members, "
    "Jira assignable users) as the `users` entity synced them, in id order: display name, login, e-mail "
    "where the tracker gives one, and `active` (false once a person left the scope; they stay, since "
    "stored issues still name them). `active=true|false` keeps one kind.",
    operation_id="listUsers",
    tags=["issues"],
    openapi_extensions=requires(READ),
)
def list_users(
    caller: Caller,
    reader: Reader,
    connection: Connection,
    active: Annotated[bool | None, Query(description="only people in (true) or out of (false) scope")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[User]:
    caller.require(READ)
    return reader.users(caller.tenant, connection, active=active, limit=limit, cursor=cursor)


@router.get(
    "/v1/sprints",
    summary="List a connection's synced sprints",
    description="The sprints of the boards of a connection's Jira project as the `sprints` entity synced "
    "them, in id order, deleted ones included (`deleted_at` set). `state=future|active|closed` lists live "
    "sprints of that state. `GET /v1/issues?sprint=<id>` lists a sprint's issues.",
    operation_id="listSprints",
    tags=["issues"],
    openapi_extensions=requires(READ),
)
def list_sprints(
    caller: Caller,
    reader: Reader,
    connection: Connection,
    state: Annotated[
        Literal["future", "active", "closed"] | None, Query(description="only live sprints in this state")
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[Sprint]:
    caller.require(READ)
    return reader.sprints(caller.tenant, connection, state=state, limit=limit, cursor=cursor)


__all__ = ["router"]
