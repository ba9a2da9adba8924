"""Tracked users of a Jira connection: ``GET/PUT /v1/connections/{id}/tracked-users`` (issue 19).

A PUT replaces the list (at most 50 Jira account ids) and, when it adds users, starts their backfill: a
full sync operation whose full pass reads only the added users' issues (202-free: the answer names the
operation, follow it with ``GET /v1/sync-operations/{op}``). A non-Jira connection is a 422 naming the
``tracked_users`` capability; another tenant's connection a 404; a sync already running a 409 with nothing
changed. Scopes: ``connections:read`` to read, ``connections:write`` to replace.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.tracked_users import TrackedUsers, TrackedUsersView
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

READ, WRITE = "connections:read", "connections:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
# Powertools never reads a dependency's type; the service's module stays out of the API's cold start.
Service = Annotated[Any, Depends(container.tracked_users_service)]
ConnectionId = Annotated[str, Path(description="a Jira connection id, e.g. conn_abcdefghijklmnopqrst")]


@router.get(
    "/v1/connections/<connection_id>/tracked-users",
    summary="The Jira accounts whose issues the connection's syncs ingest",
    description="An empty list: the connection ingests its whole scope. `backfill_operation_id` names the "
    "sync the last change started for the users it added.",
    operation_id="getTrackedUsers",
    tags=["connections"],
    openapi_extensions=requires(READ),
)
def get_tracked_users(connection_id: ConnectionId, caller: Caller, service: Service) -> TrackedUsersView:
    caller.require(READ)
    view: TrackedUsersView = service.get(caller.tenant, connection_id)
    return view


@router.put(
    "/v1/connections/<connection_id>/tracked-users",
    summary="Replace the tracked users; added users are backfilled",
    description="Syncs then ingest only issues where a tracked user is assignee, reporter or worklog "
    "author. Each added user starts a backfill (a full sync reading that user's issues alone); removing a "
    "user stops future ingestion and keeps the issues already stored. 409 while another sync runs (nothing "
    "changes); 422 for more than 50 users, an id that is not a Jira account id, or a non-Jira connection.",
    operation_id="putTrackedUsers",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
)
def put_tracked_users(
    connection_id: ConnectionId, body: Annotated[TrackedUsers, Body()], caller: Caller, service: Service
) -> TrackedUsersView:
    caller.require(WRITE)
    view: TrackedUsersView = service.put(caller.tenant, connection_id, body, caller.actor)
    return view


__all__ = ["router"]
