"""Operator alerts: ``GET/PUT /v1/alert-policy``, ``GET /v1/alert-channels``, ``GET/PUT/DELETE
/v1/alert-channels/{name}``, ``POST /v1/alert-channels/{name}/test`` and ``GET /v1/alerts?state=``.

Scopes: ``alerts:write`` to change and test, ``alerts:read`` to read. A channel's URL and signing secret are
write-only (kept in Secrets Manager; answers show the URL masked). Another tenant's channel is a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict

from trackbridge.domain.alerts import (
    CHANNEL_NAME_PATTERN,
    INCIDENT_EXAMPLE,
    AlertChannel,
    AlertPolicy,
    AlertPolicyIn,
    ChannelHealth,
    ChannelIn,
    ChannelTestResult,
    Incident,
)
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

if TYPE_CHECKING:
    from trackbridge.runtime.alerts.admin import AlertSettings
    from trackbridge.runtime.alerts.service import OperatorAlerts

    Settings = Annotated[AlertSettings, Depends(container.alert_settings)]
    Alerts = Annotated[OperatorAlerts, Depends(container.operator_alerts)]
else:
    Settings = Annotated[Any, Depends(container.alert_settings)]
    Alerts = Annotated[Any, Depends(container.operator_alerts)]

READ, WRITE = "alerts:read", "alerts:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Name = Annotated[str, Path(pattern=CHANNEL_NAME_PATTERN, description="a channel name, e.g. oncall-slack")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the last page")
]
State = Annotated[Literal["open", "closed"], Query(description="open incidents, or closed ones newest first")]


_CHANNEL_VIEW_EXAMPLE: dict[str, Any] = {
    "name": "oncall-slack",
    "kind": "slack",
    "url": "https://hooks.slack.com/****",
    "has_secret": False,
    "builtin": False,
    "created_at": "2026-03-02T09:14:05Z",
    "updated_at": "2026-03-04T16:40:22Z",
    "version": 1,
    "health": {
        "name": "oncall-slack",
        "kind": "slack",
        "ok": False,
        "last_error_code": "PROVIDER_UNAVAILABLE",
        "last_error": "slack answered 503",
        "last_failure_at": "2026-03-04T16:41:02Z",
        "last_success_at": "2026-03-04T16:40:22Z",
        "pending_retries": 1,
        "abandoned": 0,
    },
}


class AlertChannelView(AlertChannel):
    """A channel and how its sends went."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CHANNEL_VIEW_EXAMPLE]})

    health: ChannelHealth | None = None


class AlertChannelList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_CHANNEL_VIEW_EXAMPLE]}]})

    items: list[AlertChannelView]


class IncidentPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [INCIDENT_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Incident]
    next_cursor: str | None = None


@router.get(
    "/v1/alert-policy",
    summary="The tenant's alert policy",
    description="Which error codes (a code, `class:<name>` or `*`) go to which alert channels. Without a "
    "stored policy every code goes to the built-in `email` channel (version 0).",
    operation_id="getAlertPolicy",
    tags=["alerts"],
    openapi_extensions=requires(READ),
)
def get_policy(caller: Caller, settings: Settings) -> AlertPolicy:
    caller.require(READ)
    policy: AlertPolicy = settings.policy(caller.tenant)
    return policy


@router.put(
    "/v1/alert-policy",
    summary="Replace the alert policy (send the version you read)",
    description="Routes codes to configured channels; an unknown code or channel is a 422 naming the field; "
    "a `version` other than the stored one is a 409. Audited as `alert_policy.update`.",
    operation_id="putAlertPolicy",
    tags=["alerts"],
    openapi_extensions=requires(WRITE),
)
def put_policy(caller: Caller, settings: Settings, body: Annotated[AlertPolicyIn, Body()]) -> AlertPolicy:
    caller.require(WRITE)
    policy: AlertPolicy = settings.put_policy(caller.tenant, body, caller.actor)
    return policy


@router.get(
    "/v1/alert-channels",
    summary="The tenant's alert channels, with their health",
    description="The built-in `email` channel (the alerts topic) and every configured one, each with its "
    "last success or failure, the sends waiting for a retry and those given up on. URLs are masked.",
    operation_id="listAlertChannels",
    tags=["alerts"],
    openapi_extensions=requires(READ),
)
def list_channels(caller: Caller, settings: Settings, alerts: Alerts) -> AlertChannelList:
    caller.require(READ)
    health = {h.name: h for h in alerts.channel_health(caller.tenant)}
    items = [
        AlertChannelView(**channel.model_dump(), health=health.get(channel.name))
        for channel in settings.list_channels(caller.tenant)
    ]
    return AlertChannelList(items=items)


@router.get(
    "/v1/alert-channels/<name>",
    summary="An alert channel",
    description="The channel as stored: its kind, the masked URL and whether a signing secret is kept.",
    operation_id="getAlertChannel",
    tags=["alerts"],
    openapi_extensions=requires(READ),
)
def get_channel(name: Name, caller: Caller, settings: Settings) -> AlertChannel:
    caller.require(READ)
    channel: AlertChannel = settings.channel(caller.tenant, name)
    return channel


@router.put(
    "/v1/alert-channels/<name>",
    summary="Create or replace an alert channel",
    description="`slack` (an incoming-webhook URL) or `webhook` (a URL and a Standard Webhooks signing "
    "secret) or `email`. The URL must be https and not point at a private address (422 at `body.url`); "
    "it and the secret are kept in Secrets Manager. Audited as `alert_channel.put`.",
    operation_id="putAlertChannel",
    tags=["alerts"],
    openapi_extensions=requires(WRITE),
)
def put_channel(
    name: Name, caller: Caller, settings: Settings, body: Annotated[ChannelIn, Body()]
) -> AlertChannel:
    caller.require(WRITE)
    channel: AlertChannel = settings.put_channel(caller.tenant, name, body, caller.actor)
    return channel


@router.delete(
    "/v1/alert-channels/<name>",
    summary="Delete an alert channel",
    description="Deletes the channel and its secret; a channel the policy still routes to is a 409, and the "
    "built-in `email` cannot be deleted. Audited as `alert_channel.delete`.",
    operation_id="deleteAlertChannel",
    tags=["alerts"],
    openapi_extensions=requires(WRITE),
    responses={204: {"description": "deleted"}},
)
def delete_channel(name: Name, caller: Caller, settings: Settings) -> Response[None]:
    caller.require(WRITE)
    settings.delete_channel(caller.tenant, name, caller.actor)
    return Response(status_code=204, body=None)


@router.post(
    "/v1/alert-channels/<name>/test",
    summary="Send a test message to an alert channel",
    description="Sends one test message now, without retries, and answers whether it arrived and, if not, "
    "what the receiver said; the outcome shows in the channel's health.",
    operation_id="testAlertChannel",
    tags=["alerts"],
    openapi_extensions=requires(WRITE),
)
def test_channel(name: Name, caller: Caller, settings: Settings) -> ChannelTestResult:
    caller.require(WRITE)
    result: ChannelTestResult = settings.test_channel(caller.tenant, name)
    return result


@router.get(
    "/v1/alerts",
    summary="Incidents: open ones, or closed ones newest first",
    description="One incident per connection and code that kept failing: first and last seen, count, "
    "guidance and the sync log's path; one alert was sent when it opened, a recovery when it closed.",
    operation_id="listAlertIncidents",
    tags=["alerts"],
    openapi_extensions=requires(READ),
)
def list_incidents(
    caller: Caller,
    alerts: Alerts,
    state: State = "open",
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> IncidentPage:
    caller.require(READ)
    page = alerts.incidents_page(caller.tenant, state=state, limit=limit, cursor=cursor)
    return IncidentPage(items=page.items, next_cursor=page.next_cursor)


__all__ = ["READ", "WRITE", "router"]
