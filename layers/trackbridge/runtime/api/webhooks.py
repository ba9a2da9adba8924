"""``/v1/connections/{id}/webhook``: register, show and remove a connection's webhook at its tracker; and
``/v1/connections/{id}/webhook/rotate``: a new webhook signing secret, the previous one kept valid.

Registration (``runtime.webhooks.registration``): ``POST`` registers a hook through the tracker's API at this
deployment's webhook route (``{the API's public base}/v1/webhooks/{provider}/{connection_id}``, the base
taken from the request, as the OAuth callback's is) with a new secret, and records it; ``GET`` shows it
and its liveness (``runtime.webhooks.liveness``); ``DELETE`` removes it at the tracker and forgets it.
Reads need ``connections:read``, changes ``connections:write``; changes are audited (``webhook.register``,
``webhook.unregister``). ``POST`` takes an ``Idempotency-Key``: it creates something at the tracker.

Rotation: scope ``connections:write``. The answer is ``201 Created``: each call creates a new secret (it is
not an idempotent update of one), and the answer is the only place it is ever shown, like a new API key's.
Until the next rotation, deliveries signed with the new or the previous secret both pass, so the tracker's
hook can be updated after the call without losing deliveries in between.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Protocol

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.api_gateway import Request
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection, WebhookView
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.idempotency import Idempotency, IdempotencyKey, idempotently
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.idempotency import Answer

if TYPE_CHECKING:
    from trackbridge.runtime.connections import ConnectionService, WebhookSecretRotation
    from trackbridge.runtime.webhooks.registration import WebhookRegistrations

READ, WRITE = "connections:read", "connections:write"


class RotatedWebhookSecret(BaseModel):
    """The answer of a rotation: the new secret, shown this once."""

    connection_id: str
    webhook_secret: str = Field(
        description="the new signing secret: configure it on the tracker's hook; it is not shown again"
    )
    previous_secret_kept: bool = Field(
        description="whether the secret before this one still verifies deliveries (until the next rotation)"
    )
    rotated_at: datetime


class WebhookSecrets(Protocol):
    """What the route asks of ``runtime.connections.ConnectionService`` (built on the first request, as
    for the connection routes: importing it is not the cold start's job)."""

    def rotate_webhook_secret(
        self, tenant: str, connection_id: str, actor: Actor
    ) -> WebhookSecretRotation: ...


if TYPE_CHECKING:
    _THE_SERVICE_FITS: type[WebhookSecrets] = ConnectionService


class Registrations(Protocol):
    """What the routes ask of ``runtime.webhooks.registration.WebhookRegistrations``."""

    def view(self, tenant: str, connection_id: str) -> WebhookView: ...

    def state(self, connection_id: str) -> WebhookView: ...

    def register(self, tenant: str, connection_id: str, actor: Actor, *, api_base: str) -> WebhookView: ...

    def register_on_create(
        self, tenant: str, connection: Connection, actor: Actor, *, api_base: str
    ) -> WebhookView: ...

    def unregister(self, tenant: str, connection_id: str, actor: Actor) -> None: ...

    def release(self, tenant: str, connection_id: str) -> None: ...


if TYPE_CHECKING:
    _REGISTRATIONS_FIT: type[Registrations] = WebhookRegistrations


def webhook_registrations() -> Registrations:
    """The container's registrations (tests override this dependency by name)."""
    return container.webhook_registrations()


def public_api_base(request: Request) -> str:
    """This API's public base URL, from the request that reached it (see ``registration.api_base_for``)."""
    from trackbridge.runtime.webhooks.registration import api_base_for

    return api_base_for(request.resolved_event.raw_event)


router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[WebhookSecrets, Depends(container.connection_service)]
Hooks = Annotated[Registrations, Depends(webhook_registrations)]
ApiBase = Annotated[str, Depends(public_api_base)]
ConnectionId = Annotated[str, Path(description="a connection id, e.g. conn_abcdefghijklmnopqrst")]

_STATE = (
    "`status` is `active`, `inactive` (the hook stopped delivering: `reason` says why, and `fallback` says "
    "incremental syncs run on a tighter schedule until deliveries resume) or `unregistered`; "
    "`last_delivery_at` is when a verified delivery last arrived."
)


@router.post(
    "/v1/connections/<connection_id>/webhook",
    status_code=201,
    summary="Register a webhook at the tracker",
    description="Registers a hook through the tracker's API (GitHub repository hook, GitLab project hook, "
    "Jira admin webhook; a Jira OAuth connection gets a REST webhook, refreshed before its 30 days run "
    "out) with a new signing secret (the previous one stays valid) and the events trackbridge applies, "
    "delivering to `POST /v1/webhooks/{provider}/{connection_id}` of this API. 409 `ALREADY_EXISTS` "
    "while one is registered. " + _STATE,
    operation_id="registerWebhook",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
)
def register_webhook(
    connection_id: ConnectionId,
    caller: Caller,
    hooks: Hooks,
    api_base: ApiBase,
    idempotency: Idempotency,
    idempotency_key: IdempotencyKey = None,
) -> Response[WebhookView]:
    caller.require(WRITE)

    def register() -> Answer:
        return Answer.of(201, hooks.register(caller.tenant, connection_id, caller.actor, api_base=api_base))

    request = {"connection_id": connection_id}
    return idempotently(idempotency, caller, "webhook.register", idempotency_key, request, register)


@router.get(
    "/v1/connections/<connection_id>/webhook",
    summary="Show a connection's webhook",
    description=_STATE,
    operation_id="getWebhook",
    tags=["connections"],
    openapi_extensions=requires(READ),
)
def get_webhook(connection_id: ConnectionId, caller: Caller, hooks: Hooks) -> WebhookView:
    caller.require(READ)
    return hooks.view(caller.tenant, connection_id)


@router.delete(
    "/v1/connections/<connection_id>/webhook",
    summary="Remove a connection's webhook",
    description="Removes the hook at the tracker (one already gone there is fine) and forgets it; 404 "
    "when none is registered. The signing secrets stay until the connection is deleted.",
    operation_id="unregisterWebhook",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
    responses={204: {"description": "removed"}},
)
def unregister_webhook(connection_id: ConnectionId, caller: Caller, hooks: Hooks) -> Response[None]:
    caller.require(WRITE)
    hooks.unregister(caller.tenant, connection_id, caller.actor)
    return Response(status_code=204, body=None)


@router.post(
    "/v1/connections/<connection_id>/webhook/rotate",
    status_code=201,
    summary="Rotate a connection's webhook secret",
    description="Generates a new signing secret and returns it once (`webhook_secret`): set it on the "
    "tracker's hook. The previous secret keeps verifying deliveries until the next rotation, so nothing is "
    "lost while the hook is updated. Deliveries go to `POST /v1/webhooks/{provider}/{connection_id}`.",
    operation_id="rotateWebhookSecret",
    tags=["connections"],
    openapi_extensions=requires(WRITE),
)
def rotate_webhook_secret(
    connection_id: ConnectionId, caller: Caller, service: Service
) -> RotatedWebhookSecret:
    caller.require(WRITE)
    rotation = service.rotate_webhook_secret(caller.tenant, connection_id, caller.actor)
    return RotatedWebhookSecret(
        connection_id=rotation.connection_id,
        webhook_secret=rotation.secret.get_secret_value(),
        previous_secret_kept=rotation.previous_secret_kept,
        rotated_at=rotation.rotated_at,
    )


__all__ = ["ApiBase", "Hooks", "Registrations", "RotatedWebhookSecret", "router", "webhook_registrations"]
