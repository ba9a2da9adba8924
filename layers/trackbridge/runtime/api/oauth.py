"""``/v1/oauth/jira/*``: connect a Jira connection through OAuth 2.0 (3LO), and disconnect it.

* ``POST /v1/oauth/jira/start`` ``{"connection_id"}`` (scope ``connections:write``) -> 200
  ``{"authorization_url", "state_expires_at"}``: send the user's browser to the URL.
* ``GET /v1/oauth/jira/callback?code&state`` is **public**: the user's browser arrives here from Atlassian
  without an API key. The signed ``state`` names the tenant and connection, so a forged, stale or replayed
  callback is a 400 and nothing else identifies the caller. Answers JSON that carries no token.
* ``POST /v1/oauth/jira/revoke`` ``{"connection_id"}`` (scope ``connections:write``) -> 200: revokes at the
  authorization server when it has an endpoint (Atlassian has none: the user removes the app under their
  account's connected apps), forgets the stored tokens and sets ``has_credentials`` to false. A POST with a
  body, like ``start``, rather than ``DELETE /v1/connections/{id}/oauth``: both OAuth actions live under one
  prefix, and the connection itself is not deleted.

The redirect URI is ``TB_JIRA_OAUTH_REDIRECT_URI`` when set, else derived from the request's own host and
stage (``runtime.jira_oauth.redirect_uri_for``), identically at start and at the callback.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Request, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.connections import Connection
from trackbridge.domain.times import UtcDatetime
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.jira_oauth import CALLBACK_PATH, JiraOAuthService, redirect_uri_for

WRITE = "connections:write"
NO_STORE = {"Cache-Control": "no-store"}

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[JiraOAuthService, Depends(container.jira_oauth_service)]


def _redirect_uri(request: Request) -> str:
    return redirect_uri_for(request.resolved_event.raw_event)


RedirectUri = Annotated[str, Depends(_redirect_uri)]


def _request_id(request: Request) -> str | None:
    context = request.resolved_event.raw_event.get("requestContext") or {}
    value = context.get("requestId")
    return str(value) if value else None


RequestId = Annotated[str | None, Depends(_request_id)]


class OAuthConnectionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64, examples=["conn_abcdefghijklmnopqrst"])


class AuthorizationStarted(BaseModel):
    authorization_url: str
    state_expires_at: UtcDatetime


class OAuthConnected(BaseModel):
    status: str = "connected"
    message: str
    connection: Connection


class OAuthRevoked(BaseModel):
    status: str = "revoked"
    revoked_at_provider: bool
    forgot_tokens: bool
    guidance: str | None = None
    connection: Connection


@router.post(
    "/v1/oauth/jira/start",
    summary="Start connecting a Jira connection through OAuth 2.0 (3LO)",
    tags=["oauth"],
)
def start(
    body: Annotated[OAuthConnectionRef, Body()], caller: Caller, service: Service, redirect_uri: RedirectUri
) -> Response[AuthorizationStarted]:
    caller.require(WRITE)
    started = service.start(caller.tenant, body.connection_id, redirect_uri=redirect_uri)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=AuthorizationStarted(authorization_url=started.url, state_expires_at=started.expires_at),
        headers=NO_STORE,
    )


Param = Annotated[str | None, Query(max_length=4096)]


@router.get(
    CALLBACK_PATH,
    summary="Where Atlassian sends the user back after consent (public; the signed state identifies it)",
    tags=["oauth"],
    security=[{}],
)
def callback(
    service: Service,
    redirect_uri: RedirectUri,
    request_id: RequestId,
    code: Param = None,
    state: Param = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Param = None,
) -> Response[OAuthConnected]:
    # Required parameters are checked by the service so that a missing one is a 400 naming the flow,
    # not a schema error, and a provider's ?error= wins over missing ones.
    query = {
        name: value
        for name, value in (
            ("code", code),
            ("state", state),
            ("error", error),
            ("error_description", error_description),
        )
        if value is not None
    }
    connection = service.complete(query, redirect_uri=redirect_uri, request_id=request_id)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=OAuthConnected(
            message="Jira is connected to trackbridge; you can close this window.", connection=connection
        ),
        headers=NO_STORE,
    )


@router.post(
    "/v1/oauth/jira/revoke",
    summary="Revoke a Jira connection's OAuth authorization and forget its tokens",
    tags=["oauth"],
)
def revoke(body: Annotated[OAuthConnectionRef, Body()], caller: Caller, service: Service) -> OAuthRevoked:
    caller.require(WRITE)
    result = service.revoke(caller.tenant, body.connection_id, caller.actor)
    guidance = (
        None
        if result.revoked_at_provider
        else "Atlassian offers no revocation endpoint: also remove the app under your Atlassian account's "
        "Connected apps to end its access there."
    )
    return OAuthRevoked(
        revoked_at_provider=result.revoked_at_provider,
        forgot_tokens=result.forgot_tokens,
        guidance=guidance,
        connection=result.connection,
    )


__all__ = ["router"]
