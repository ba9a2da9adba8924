"""Operator alerts, the pure half: channels, the alert policy, incidents, messages and the retry schedule.

A tenant routes failure codes to channels with an :class:`AlertPolicy` (``GET/PUT /v1/alert-policy``):
each :class:`AlertRoute` names codes (an error code such as ``AUTH_INVALID``, a class of codes written
``class:<name>`` from :data:`CODE_CLASSES`, or ``*``) and the channels they go to. Without a stored policy
every code goes to the built-in ``email`` channel (the SNS alerts topic of the deployment).

An :class:`Incident` is one (connection, code) that keeps failing: it is opened once, counted on every
further failure, and closed by the connection's first success. One alert is sent when it opens and one
recovery message when it closes, never one per failure. :func:`incident_message` and
:func:`recovery_message` build what every channel shows, so email, Slack and webhooks say the same thing:
the code in the text itself (not only in attributes), the guidance for the person who must act, the counts,
and the API path of the connection's sync log.

Channel URLs are secrets (a Slack incoming-webhook URL is its own credential): they live in Secrets Manager
and this module only ever handles the masked form (:func:`mask_url`).

Pure: stdlib and pydantic only (the layering test holds it so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from trackbridge.domain.error_codes import TRACKER_CODES, ErrorCode, guidance_for, is_registered
from trackbridge.domain.times import UtcDatetime, to_iso

ChannelKind = Literal["email", "slack", "webhook"]
IncidentState = Literal["open", "closed"]
AlertKind = Literal["incident", "recovery", "test"]

EMAIL_CHANNEL: Final = "email"  # the built-in channel: the deployment's SNS alerts topic
ALL_CODES: Final = "*"
CLASS_PREFIX: Final = "class:"
CHANNEL_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# What a message quotes of a failure's detail: enough to recognise it, never a whole response body.
MAX_DETAIL_CHARS: Final = 500
MAX_ROUTES: Final = 50

# Codes that stop work until a person acts (the schedule pauses on them) and codes that clear by themselves.
NEEDS_PERSON: Final[frozenset[str]] = frozenset(
    {
        ErrorCode.AUTH_INVALID,
        ErrorCode.AUTH_EXPIRED,
        ErrorCode.PERMISSION_DENIED,
        ErrorCode.SUSPENDED_PAYMENT,
        ErrorCode.EGRESS_DENIED,
        ErrorCode.TRACKER_MOVED,
    }
)
TRANSIENT: Final[frozenset[str]] = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.QUOTA_EXHAUSTED,
        ErrorCode.NETWORK_GLITCH,
        ErrorCode.TIMEOUT,
        ErrorCode.PROVIDER_UNAVAILABLE,
    }
)
CODE_CLASSES: Final[Mapping[str, frozenset[str]]] = {
    "needs_person": NEEDS_PERSON,
    "transient": TRANSIENT,
    "tracker": frozenset(str(code) for code in TRACKER_CODES),
}

ChannelName = Annotated[str, Field(pattern=CHANNEL_NAME_PATTERN, examples=["oncall-slack"])]


def code_selector_problem(selector: str) -> str | None:
    """Why ``selector`` is not a code, a ``class:`` of codes or ``*``; None when it is one."""
    if selector == ALL_CODES:
        return None
    if selector.startswith(CLASS_PREFIX):
        name = selector.removeprefix(CLASS_PREFIX)
        if name in CODE_CLASSES:
            return None
        return f"unknown code class {name!r}; classes: {', '.join(sorted(CODE_CLASSES))}"
    if is_registered(selector):
        return None
    return f"unknown code {selector!r}: use an error code (AUTH_INVALID...), class:<name> or *"


def selects(selector: str, code: str) -> bool:
    if selector == ALL_CODES:
        return True
    if selector.startswith(CLASS_PREFIX):
        return code in CODE_CLASSES.get(selector.removeprefix(CLASS_PREFIX), frozenset())
    return selector == code


# ---- channels ----------------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """The part of a channel URL that is safe to show: scheme, host and port; the path is the credential."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{shown}{port}/****"


class ChannelIn(BaseModel):
    """Body of ``PUT /v1/alert-channels/{name}``: the URL and the signing secret are write-only."""

    model_config = ConfigDict(
        extra="forbid",
        hide_input_in_errors=True,
        json_schema_extra={
            "examples": [{"kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXX"}]
        },
    )

    kind: ChannelKind
    url: SecretStr | None = Field(
        None,
        description="slack and webhook: where to POST (https; plain http only to an address the operator's "
        "TB_ALLOWED_PRIVATE_NETWORKS lists). Write-only: kept in Secrets Manager, shown masked.",
        max_length=2048,
    )
    secret: SecretStr | None = Field(
        None,
        description="webhook only: the Standard Webhooks signing secret (whsec_<base64>, or 24+ characters). "
        "Write-only: kept in Secrets Manager.",
        min_length=24,
        max_length=256,
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> ChannelIn:
        if self.kind == "email" and (self.url is not None or self.secret is not None):
            raise ValueError("an email channel publishes to the alerts topic: it takes no url or secret")
        if self.kind in ("slack", "webhook") and self.url is None:
            raise ValueError(f"a {self.kind} channel needs a url")
        if self.kind == "slack" and self.secret is not None:
            raise ValueError("a slack channel takes no secret: its URL is the credential")
        if self.kind == "webhook" and self.secret is None:
            raise ValueError("a webhook channel needs a secret to sign its deliveries")
        return self


class AlertChannel(BaseModel):
    """A stored channel: no secret, only the masked URL and whether a signing secret is kept."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "oncall-slack",
                    "kind": "slack",
                    "url": "https://hooks.slack.com/****",
                    "has_secret": False,
                    "builtin": False,
                    "created_at": "2026-03-02T09:14:05Z",
                    "updated_at": "2026-03-04T16:40:22Z",
                    "version": 1,
                }
            ]
        },
    )

    name: ChannelName
    kind: ChannelKind
    url: str | None = Field(None, description="masked: scheme, host and port only")
    has_secret: bool = False
    builtin: bool = False
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    version: int = 1


BUILTIN_EMAIL: Final = AlertChannel(name=EMAIL_CHANNEL, kind="email", builtin=True, version=0)


class ChannelTestResult(BaseModel):
    """What ``POST /v1/alert-channels/{name}/test`` did: one message, sent now, not retried."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "oncall-slack",
                    "delivered": False,
                    "error_code": "NOT_FOUND",
                    "error": "slack answered 410 channel_is_archived",
                }
            ]
        }
    )

    channel: str
    delivered: bool
    error_code: str | None = None
    error: str | None = None


# ---- the policy --------------------------------------------------------------------------------------


def _known_selector(selector: str) -> str:
    problem = code_selector_problem(selector)
    if problem is not None:
        raise ValueError(problem)
    return selector


CodeSelector = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_selector)]


class AlertRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    codes: list[CodeSelector] = Field(
        min_length=1,
        max_length=50,
        description="error codes, class:<name> (needs_person, transient, tracker) or *",
    )
    channels: list[ChannelName] = Field(min_length=1, max_length=10)


class AlertPolicyIn(BaseModel):
    """Body of ``PUT /v1/alert-policy``; send the ``version`` you read to refuse a concurrent change."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "routes": [
                        {"codes": ["class:needs_person"], "channels": ["email", "oncall-slack"]},
                        {"codes": ["*"], "channels": ["email"]},
                    ],
                    "recovery": True,
                    "version": 1,
                }
            ]
        },
    )

    routes: list[AlertRoute] = Field(max_length=MAX_ROUTES)
    recovery: bool = Field(True, description="send a recovery message when an incident clears")
    version: int | None = Field(None, ge=0, description="the version read; omitted: overwrite")


class AlertPolicy(BaseModel):
    """The stored policy; ``version`` 0 is the default one (every code to ``email``), never stored."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "routes": [
                        {"codes": ["class:needs_person", "TIMEOUT"], "channels": ["email", "oncall-slack"]}
                    ],
                    "recovery": True,
                    "updated_at": "2026-03-04T16:40:22Z",
                    "version": 2,
                }
            ]
        },
    )

    routes: list[AlertRoute]
    recovery: bool = True
    updated_at: UtcDatetime | None = None
    version: int = 0

    def channels_for(self, code: str) -> list[str]:
        """The channels ``code`` goes to, in the order the routes first name them, each once."""
        found: dict[str, None] = {}
        for route in self.routes:
            if any(selects(selector, code) for selector in route.codes):
                found.update(dict.fromkeys(route.channels))
        return list(found)

    def channel_names(self) -> set[str]:
        return {name for route in self.routes for name in route.channels}


DEFAULT_POLICY: Final = AlertPolicy(routes=[AlertRoute(codes=[ALL_CODES], channels=[EMAIL_CHANNEL])])


def unknown_channels(policy: AlertPolicyIn, known: Iterable[str]) -> list[tuple[str, str]]:
    """``(path, name)`` of every channel the policy names that is not configured (paths as the API's
    validation errors write them: ``body.routes.0.channels.1``)."""
    names = set(known)
    return [
        (f"body.routes.{i}.channels.{j}", name)
        for i, route in enumerate(policy.routes)
        for j, name in enumerate(route.channels)
        if name not in names
    ]


# ---- incidents ---------------------------------------------------------------------------------------


def sync_log_path(connection_id: str) -> str:
    return f"/v1/connections/{connection_id}/sync-logs"


def operation_path(operation_id: str) -> str:
    return f"/v1/sync-operations/{operation_id}"


INCIDENT_EXAMPLE: Final[dict[str, Any]] = {
    "id": "inc_q4rt7m2kx5bz3ncd6hfw",
    "state": "open",
    "connection_id": "conn_k7mq4xw2p5rtz3nb6hcd",
    "connection_name": "web",
    "provider": "github",
    "code": "AUTH_INVALID",
    "guidance": "The tracker rejected the credentials: create a new token and update the connection.",
    "detail": "401 Bad credentials",
    "first_seen": "2026-03-04T16:40:22Z",
    "last_seen": "2026-03-04T17:10:22Z",
    "count": 3,
    "operation_id": "op_d4hk6m2pr7tv5xz3abce",
    "sync_log": "/v1/connections/conn_k7mq4xw2p5rtz3nb6hcd/sync-logs",
    "channels": ["email"],
    "closed_at": None,
}


class Incident(BaseModel):
    """One (connection, code) failing since ``first_seen``: ``count`` failures, the last at ``last_seen``."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [INCIDENT_EXAMPLE]})

    id: str
    state: IncidentState = "open"
    connection_id: str
    connection_name: str
    provider: str
    code: str
    guidance: str
    detail: str = ""
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    count: int = Field(1, ge=1)
    operation_id: str | None = None
    sync_log: str = Field(description="the API path of the connection's sync log")
    channels: list[str] = Field(default_factory=list, description="where its alert was sent")
    closed_at: UtcDatetime | None = None


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` on one line of printable characters, at most ``limit`` long: a failure's detail may quote a
    tracker's answer, which must not forge lines in an e-mail or a chat message."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def new_incident(
    *,
    incident_id: str,
    connection_id: str,
    connection_name: str,
    provider: str,
    code: str,
    detail: str,
    operation_id: str | None,
    at: datetime,
    channels: Sequence[str],
) -> Incident:
    return Incident(
        id=incident_id,
        connection_id=connection_id,
        connection_name=connection_name,
        provider=provider,
        code=code,
        guidance=guidance_for(code),
        detail=clip(detail),
        first_seen=at,
        last_seen=at,
        operation_id=operation_id,
        sync_log=sync_log_path(connection_id),
        channels=list(channels),
    )


# ---- messages ----------------------------------------------------------------------------------------


class AlertMessage(BaseModel):
    """What every channel sends: a one-line subject, plain text, and structured fields for machines."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    tenant: str
    subject: str
    text: str
    code: str | None = None
    connection_id: str | None = None
    provider: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


def _when(moment: datetime) -> str:
    return to_iso(moment).replace(".000000Z", "Z")


def incident_message(tenant: str, incident: Incident) -> AlertMessage:
    who = f"{incident.provider} connection {incident.connection_name!r} ({incident.connection_id})"
    lines = [
        f"{incident.code}: {who} is failing.",
        f"What to do: {incident.guidance}",
        f"Detail: {incident.detail}" if incident.detail else "",
        f"First seen {_when(incident.first_seen)}, last seen {_when(incident.last_seen)}, "
        f"{incident.count} failure(s).",
        f"Sync log: {incident.sync_log}",
        f"Operation: {operation_path(incident.operation_id)}" if incident.operation_id else "",
        f"Tenant: {tenant}. Incident {incident.id}: one alert per incident; a recovery message follows.",
    ]
    return AlertMessage(
        kind="incident",
        tenant=tenant,
        subject=clip(
            f"[trackbridge] {incident.code} on {incident.connection_name} ({incident.provider})", 100
        ),
        text="\n".join(line for line in lines if line),
        code=incident.code,
        connection_id=incident.connection_id,
        provider=incident.provider,
        fields=incident.model_dump(mode="json"),
    )


def recovery_message(tenant: str, incidents: Sequence[Incident], at: datetime) -> AlertMessage:
    """One message for every incident of a connection that its first success closed."""
    first = incidents[0]
    codes = ", ".join(dict.fromkeys(i.code for i in incidents))
    total = sum(i.count for i in incidents)
    since = min(i.first_seen for i in incidents)
    who = f"{first.provider} connection {first.connection_name!r} ({first.connection_id})"
    lines = [
        f"RECOVERED: {who} works again ({codes} cleared).",
        f"Failing from {_when(since)} to {_when(at)}, {total} failure(s).",
        f"Sync log: {first.sync_log}",
        f"Tenant: {tenant}. Incident(s) {', '.join(i.id for i in incidents)} closed.",
    ]
    return AlertMessage(
        kind="recovery",
        tenant=tenant,
        subject=clip(f"[trackbridge] RECOVERED {codes} on {first.connection_name} ({first.provider})", 100),
        text="\n".join(lines),
        code=first.code,
        connection_id=first.connection_id,
        provider=first.provider,
        fields={
            "incidents": [i.model_dump(mode="json") for i in incidents],
            "recovered_at": to_iso(at),
        },
    )


def probe_message(tenant: str, channel: str, at: datetime) -> AlertMessage:
    return AlertMessage(
        kind="test",
        tenant=tenant,
        subject=f"[trackbridge] test of alert channel {channel}",
        text=f"A test from trackbridge to the alert channel {channel!r} of tenant {tenant}, at {_when(at)}.",
        fields={"channel": channel, "sent_at": to_iso(at)},
    )


_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SLACK_SPECIAL = re.compile(r"[&<>]")


def slack_escape(text: str) -> str:
    """Slack's three control characters escaped, so no text can forge a link or an @channel mention."""
    return _SLACK_SPECIAL.sub(lambda m: _SLACK_ESCAPES[m.group(0)], text)


def slack_payload(message: AlertMessage) -> dict[str, Any]:
    """An incoming-webhook body: ``text`` (the notification and the fallback) and Block Kit blocks."""
    text = slack_escape(message.text)
    return {
        "text": slack_escape(message.subject),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        ],
        "unfurl_links": False,
    }


def webhook_payload(message: AlertMessage, *, delivery_id: str) -> dict[str, Any]:
    """The signed webhook's JSON body, of ``type`` alert.incident, alert.recovery or alert.test."""
    return {
        "type": f"alert.{message.kind}",
        "delivery_id": delivery_id,
        "tenant": message.tenant,
        "subject": message.subject,
        "text": message.text,
        "code": message.code,
        "connection_id": message.connection_id,
        "provider": message.provider,
        "data": message.fields,
    }


# ---- channel health and retries ----------------------------------------------------------------------


class ChannelHealth(BaseModel):
    """How a channel's sends went: ``ok`` unless its last attempt failed or sends wait for a retry."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: ChannelKind
    ok: bool
    last_error_code: str | None = None
    last_error: str | None = Field(
        None, description="what the receiver said, e.g. slack 410 channel_is_archived"
    )
    last_failure_at: UtcDatetime | None = None
    last_success_at: UtcDatetime | None = None
    pending_retries: int = Field(0, description="sends that failed and will be retried")
    abandoned: int = Field(0, description="sends given up on (a permanent refusal, or too many attempts)")


def channel_ok(
    last_failure_at: datetime | None, last_success_at: datetime | None, pending_retries: int
) -> bool:
    recovered = last_failure_at is None or (last_success_at is not None and last_success_at > last_failure_at)
    return recovered and pending_retries == 0


SendState = Literal["pending", "abandoned"]


class AlertSend(BaseModel):
    """One message on its way to one channel: written before the first attempt (an outbox), deleted once
    delivered; a failed one waits for ``next_attempt_at`` or, refused for good, stays ``abandoned``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="{incident id}.{kind}.{channel}: one send per alert and channel")
    channel: str
    message: AlertMessage
    state: SendState = "pending"
    attempts: int = 0
    created_at: UtcDatetime
    next_attempt_at: UtcDatetime
    last_error_code: str | None = None
    last_error: str | None = None


def send_id(alert_id: str, kind: AlertKind, channel: str) -> str:
    return f"{alert_id}.{kind}.{channel}"


# Sends that failed in the call that made them wait for the maintenance run; each wait doubles.
RETRY_BASE: Final = timedelta(minutes=1)
RETRY_CAP: Final = timedelta(hours=1)
MAX_SEND_ATTEMPTS: Final = 10


def next_attempt_at(failed_at: datetime, attempts: int, retry_after_s: float | None = None) -> datetime:
    """When a send that failed ``attempts`` times is tried again (the receiver's Retry-After, if later)."""
    wait = min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)
    if retry_after_s is not None:
        wait = max(wait, timedelta(seconds=min(retry_after_s, RETRY_CAP.total_seconds())))
    return failed_at + wait


__all__ = [
    "ALL_CODES",
    "BUILTIN_EMAIL",
    "CHANNEL_NAME_PATTERN",
    "CLASS_PREFIX",
    "CODE_CLASSES",
    "DEFAULT_POLICY",
    "EMAIL_CHANNEL",
    "INCIDENT_EXAMPLE",
    "MAX_SEND_ATTEMPTS",
    "NEEDS_PERSON",
    "TRANSIENT",
    "AlertChannel",
    "AlertKind",
    "AlertMessage",
    "AlertPolicy",
    "AlertPolicyIn",
    "AlertRoute",
    "AlertSend",
    "ChannelHealth",
    "ChannelIn",
    "ChannelKind",
    "ChannelName",
    "ChannelTestResult",
    "Incident",
    "IncidentState",
    "channel_ok",
    "clip",
    "code_selector_problem",
    "incident_message",
    "mask_url",
    "new_incident",
    "next_attempt_at",
    "operation_path",
    "probe_message",
    "recovery_message",
    "selects",
    "send_id",
    "slack_escape",
    "slack_payload",
    "sync_log_path",
    "unknown_channels",
    "webhook_payload",
]
