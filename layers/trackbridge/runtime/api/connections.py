"""``/v1/connections``: create, list, read, update and delete a tenant's tracker connections.

Scopes: reads need ``connections:read``, changes ``connections:write`` (``*`` allows both). Credentials are
write-only: the bodies declare them as secrets and no response model has a field that could hold them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import (
    Connection,
    ConnectionCreate,
    ConnectionPatch,
    ConnectionView,
    WebhookView,
)
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.api.webhooks import ApiBase, Hooks

if TYPE_CHECKING:
    from trackbridge.runtime.connections import ConnectionService

READ, WRITE = "connections:read", "connections:write"


class Connections(Protocol):
    """What the routes ask of ``runtime.connections.ConnectionService``, which the container builds on the
    first request: importing it (with the secrets store and Powertools' parameters) is not the cold start's
    job (issue 14)."""

    def create(self, tenant: str, body: ConnectionCreate, actor: Actor) -> Connection: ...

    def list(self, tenant: str, *, limit: int = ..., cursor: str | None = None) -> Page[Connection]: ...

    def get(self, tenant: str, connection_id: str) -> Connection: ...

    def update(self, tenant: str, connection_id: str, patch: ConnectionPatch, actor: Actor) -> Connection: ...

    def delete(self, tenant: str, connection_id: str, actor: Actor) -> None: ...


if TYPE_CHECKING:
    _THE_SERVICE_FITS: type[Connections] = ConnectionService  # mypy holds the service to the routes' view

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[Connections, Depends(container.connection_service)]
ConnectionId = Annotated[str, Path(description="a connection id, e.g. conn_abcdefghijklmnopqrst")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
]


@router.post(
    "/v1/connections",
    status_code=201,
    summary="Create a connection",
    description='Connects a tracker: `provider`, its `base_url`, the `scope` to sync (`{"repo"}` on GitHub, '
    '`{"project"}` on GitLab, `{"project"}` or `{"jql"}` on Jira) and `credentials` (`{"token"}`, or '
    '`{"email", "api_token"}` on Jira; `{"auth": "oauth"}` to connect Jira through OAuth afterwards). '
    "Credentials and the webhook secret go to Secrets Manager and are never returned "
    "(`has_credentials`). A `schedule` starts scheduled syncs. Nothing is sent to the tracker "
    '(`POST /v1/connections/{connection_id}/test` checks the credentials) unless `"register_webhook": '
    "true` asks to register a webhook as `POST /v1/connections/{connection_id}/webhook` does: the "
    "connection is created either way, and `webhook` in the answer says whether the hook was registered.",
    operation_id="createConnection",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
)
def create_connection(
    body: Annotated[ConnectionCreate, Body()],
    caller: Caller,
    service: Service,
    hooks: Hooks,
    api_base: ApiBase,
    schedules: Annotated[Any, Depends(container.schedule_admin)],
) -> ConnectionView:
    caller.require(WRITE)
    connection = service.create(caller.tenant, body, caller.actor)
    if body.register_webhook:
        webhook = hooks.register_on_create(caller.tenant, connection, caller.actor, api_base=api_base)
    else:
        webhook = WebhookView(status="unregistered")
    return ConnectionView(
        **connection.model_dump(),
        webhook=webhook,
        schedule_state=schedules.state_of(caller.tenant, connection),
    )


@router.get(
    "/v1/connections",
    summary="List connections",
    description="The tenant's connections, a page at a time, without credentials.",
    operation_id="listConnections",
    tags=["connections"],
    openapi_extensions=requires(READ),
)
def list_connections(
    caller: Caller, service: Service, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> Page[Connection]:
    caller.require(READ)
    return service.list(caller.tenant, limit=limit, cursor=cursor)


@router.get(
    "/v1/connections/<connection_id>",
    summary="Read a connection",
    description="One connection, without its credentials (`has_credentials` says whether they are stored), "
    'with its `webhook`: `{"status": "active|inactive|unregistered", "last_delivery_at", "fallback", '
    '"reason"?, "hook_id"?, "checked_at"?}` (see `GET /v1/connections/{connection_id}/webhook`).',
    operation_id="getConnection",
    tags=["connections"],
    openapi_extensions=requires(READ),
)
def get_connection(
    connection_id: ConnectionId,
    caller: Caller,
    service: Service,
    hooks: Hooks,
    schedules: Annotated[Any, Depends(container.schedule_admin)],
) -> ConnectionView:
    caller.require(READ)
    connection = service.get(caller.tenant, connection_id)
    return ConnectionView(
        **connection.model_dump(),
        webhook=hooks.state(connection.id),
        schedule_state=schedules.state_of(caller.tenant, connection),
    )


@router.patch(
    "/v1/connections/<connection_id>",
    summary="Rename, reschedule or rotate the credentials of a connection",
    description="Changes only the fields given. New `credentials` replace the stored ones; a new "
    "`webhook_secret` becomes the signing secret while the previous one stays valid, so webhooks can be "
    "rotated; `schedule: null` removes the schedule. The provider, base URL and scope cannot change: "
    "create another connection instead.",
    operation_id="updateConnection",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
)
def update_connection(
    connection_id: ConnectionId, body: Annotated[ConnectionPatch, Body()], caller: Caller, service: Service
) -> Connection:
    caller.require(WRITE)
    return service.update(caller.tenant, connection_id, body, caller.actor)


@router.delete(
    "/v1/connections/<connection_id>",
    summary="Delete a connection and its secrets",
    description="Deletes the connection, its credentials and webhook secret in Secrets Manager, and its "
    "sync schedule; a webhook trackbridge registered is removed at the tracker first (best effort).",
    operation_id="deleteConnection",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
    responses={204: {"description": "deleted"}},
)
def delete_connection(
    connection_id: ConnectionId, caller: Caller, service: Service, hooks: Hooks
) -> Response[None]:
    caller.require(WRITE)
    hooks.release(caller.tenant, connection_id)
    service.delete(caller.tenant, connection_id, caller.actor)
    return Response(status_code=204, body=None)


__all__ = ["router"]
