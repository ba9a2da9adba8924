"""``/v1/connections/{id}/webhook/rotate``: a new webhook signing secret, the previous one kept valid.

Scope ``connections:write``. The answer is ``201 Created``: each call creates a new secret (it is not an
idempotent update of one), and the answer is the only place it is ever shown, like a new API key's. Until
the next rotation, deliveries signed with the new or the previous secret both pass, so the tracker's hook
can be updated after the call without losing deliveries in between.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Protocol

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

from trackbridge.domain.audit import Actor
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

if TYPE_CHECKING:
    from trackbridge.runtime.connections import ConnectionService, WebhookSecretRotation

WRITE = "connections:write"


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

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[WebhookSecrets, Depends(container.connection_service)]
ConnectionId = Annotated[str, Path(description="a connection id, e.g. conn_abcdefghijklmnopqrst")]


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


__all__ = ["RotatedWebhookSecret", "router"]
