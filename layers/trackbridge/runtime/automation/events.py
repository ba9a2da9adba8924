"""Auto-issue inputs: every body that reaches the auto-issue queue, read into one :class:`Event`.

Shapes accepted (all validated with pydantic; anything else raises :class:`UnreadableEvent`, which the
consumer sends to the DLQ with its reason):

* a CloudWatch "Alarm State Change" EventBridge event, as the default bus's rule delivers it (single metric,
  composite, metric math, anomaly detection): type ``cloudwatch.alarm``, ``data`` is the event's ``detail``;
* a CloudWatch alarm notification wrapped in SNS (``{"Type": "Notification", "Message": "<alarm JSON>"}``),
  for teams that route alarms through SNS: its fields are mapped onto the same ``detail`` shape, the raw
  notification kept under ``data.sns``;
* an event of trackbridge's custom bus: an EventBridge envelope whose ``detail`` is the application event
  of DESIGN section 9 (``{"type", "source", "severity", "subject", "data", "occurred_at"}``, plus an optional
  ``tenant``);
* trackbridge's own envelope (:class:`QueuedEvent`), written by ``POST /v1/events`` and by the consumer when
  it parks a recovery for its settle time (:class:`SettleCheck`).

An alarm is a recovery when its state is ``OK``; ``INSUFFICIENT_DATA`` neither fires nor recovers.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trackbridge.domain.automation import Event, Severity
from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.links import ObjectRef
from trackbridge.domain.storable import StorableMap
from trackbridge.domain.times import UtcDatetime, utcnow

ALARM_EVENT_TYPE: Final = "cloudwatch.alarm"
ALARM_DETAIL_TYPE: Final = "CloudWatch Alarm State Change"
ALARM_SOURCE: Final = "aws.cloudwatch"
ALARM_STATES: Final = ("ALARM", "OK", "INSUFFICIENT_DATA")
EVENT_TYPE_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$"
# An SQS message is at most 256 KiB; an event's data is bounded below that so the envelope still fits.
MAX_DATA_BYTES: Final = 200_000
QUEUED_KIND: Final = "trackbridge.event"
SETTLE_KIND: Final = "trackbridge.settle"


class UnreadableEvent(InvalidInput):
    """A body that is no event trackbridge reads. Retrying cannot help: it goes to the DLQ with ``reason``."""

    def __init__(self, reason: str, *, details: Any = None) -> None:
        super().__init__(f"unreadable auto-issue message: {reason}", details=details, code="INVALID_BODY")
        self.reason = reason


def _bounded_data(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_DATA_BYTES:
        raise ValueError(f"data is over {MAX_DATA_BYTES} bytes as JSON")
    return value


class EventIn(BaseModel):
    """``POST /v1/events``'s application event, and the ``detail`` of a custom-bus event."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=128, description="dotted, e.g. schema.drift")
    source: str = Field(min_length=1, max_length=256)
    severity: Severity = "medium"
    subject: ObjectRef | None = None
    data: StorableMap = Field(default_factory=dict)
    occurred_at: UtcDatetime | None = None
    resolved: bool = Field(False, description="true: the condition the event reported has cleared")
    tenant: str | None = Field(None, description="custom bus only: the tenant the event belongs to")

    _check_data = field_validator("data")(lambda cls, v: _bounded_data(v))

    def to_event(self, *, event_id: str, received_at: datetime) -> Event:
        return Event(
            id=event_id,
            type=self.type,
            source=self.source,
            severity=self.severity,
            subject=self.subject,
            data=self.data,
            occurred_at=self.occurred_at or received_at,
            received_at=received_at,
            resolved=self.resolved,
        )


class AlarmStateIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    value: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: str | None = None


class AlarmDetailIn(BaseModel):
    """The ``detail`` of a "CloudWatch Alarm State Change" event (only what trackbridge relies on)."""

    model_config = ConfigDict(extra="allow")

    alarmName: str = Field(min_length=1, max_length=255)
    state: AlarmStateIn
    previousState: AlarmStateIn | None = None
    configuration: dict[str, Any] = Field(default_factory=dict)


class EventBridgeIn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1, max_length=128)
    detail_type: str = Field(alias="detail-type", min_length=1)
    source: str = Field(min_length=1)
    time: UtcDatetime | None = None
    account: str | None = None
    region: str | None = None
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


class SnsAlarmIn(BaseModel):
    """A CloudWatch alarm notification as SNS delivers it (the ``Message`` of the notification)."""

    model_config = ConfigDict(extra="allow")

    AlarmName: str = Field(min_length=1, max_length=255)
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str = ""
    OldStateValue: str | None = None
    StateChangeTime: str | None = None
    AlarmDescription: str | None = None
    AlarmArn: str | None = None
    Region: str | None = None
    AWSAccountId: str | None = None
    Trigger: dict[str, Any] | None = None


class QueuedEvent(BaseModel):
    """trackbridge's own message: an event already validated (by the API), for one tenant."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["trackbridge.event"] = QUEUED_KIND
    tenant: str
    event: Event


class SettleCheck(BaseModel):
    """A recovery parked for its rule's settle time; acted on only if nothing fired since (``resolved_at``
    still the one stored)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["trackbridge.settle"] = SETTLE_KIND
    tenant: str
    rule: str
    fingerprint: str
    resolved_at: UtcDatetime
    event: Event


Incoming = QueuedEvent | SettleCheck


def _alarm_time(text: str | None, fallback: datetime) -> datetime:
    """CloudWatch's ``2019-10-02T17:04:40.989+0000``, or ``fallback``."""
    if not text:
        return fallback
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
    return fallback


def alarm_severity(detail: AlarmDetailIn) -> Severity:
    """ALARM is high; a recovery or missing data is info (rules can still match on the state)."""
    return "high" if detail.state.value == "ALARM" else "info"


def _alarm_subject(name: str) -> ObjectRef | None:
    try:
        return ObjectRef(kind="alarm", name=name)
    except ValidationError:
        return None  # a name the link registry cannot key: the event is still processed


def alarm_event(detail: dict[str, Any], *, event_id: str, source: str, received_at: datetime) -> Event:
    """An :class:`Event` of type ``cloudwatch.alarm`` whose ``data`` is the alarm ``detail`` as received."""
    parsed = AlarmDetailIn.model_validate(detail)
    return Event(
        id=event_id,
        type=ALARM_EVENT_TYPE,
        source=source,
        severity=alarm_severity(parsed),
        subject=_alarm_subject(parsed.alarmName),
        data=_bounded_data(detail),
        occurred_at=_alarm_time(parsed.state.timestamp, received_at),
        received_at=received_at,
        resolved=parsed.state.value == "OK",
    )


def sns_alarm_detail(message: SnsAlarmIn) -> dict[str, Any]:
    """An SNS alarm notification in the EventBridge ``detail`` shape, so one template serves both."""
    configuration: dict[str, Any] = {}
    if message.AlarmDescription:
        configuration["description"] = message.AlarmDescription
    trigger = message.Trigger or {}
    if trigger.get("MetricName"):
        dimensions = {
            str(d.get("name") or d.get("Name")): d.get("value") or d.get("Value")
            for d in trigger.get("Dimensions") or []
            if isinstance(d, dict)
        }
        configuration["metrics"] = [
            {
                "id": "m1",
                "metricStat": {
                    "metric": {
                        "name": trigger.get("MetricName"),
                        "namespace": trigger.get("Namespace"),
                        "dimensions": dimensions,
                    },
                    "period": trigger.get("Period"),
                    "stat": trigger.get("Statistic") or trigger.get("ExtendedStatistic"),
                },
                "returnData": True,
            }
        ]
    if "Threshold" in trigger:
        configuration["threshold"] = trigger["Threshold"]
        configuration["comparisonOperator"] = trigger.get("ComparisonOperator")
    detail: dict[str, Any] = {
        "alarmName": message.AlarmName,
        "state": {"value": message.NewStateValue, "reason": message.NewStateReason},
        "configuration": configuration,
    }
    if message.StateChangeTime:
        detail["state"]["timestamp"] = message.StateChangeTime
    if message.OldStateValue in ALARM_STATES:
        detail["previousState"] = {"value": message.OldStateValue, "reason": ""}
    return detail


def _json_object(text: Any, what: str) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    if not isinstance(text, (str, bytes)):
        raise UnreadableEvent(f"{what} is not JSON")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UnreadableEvent(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UnreadableEvent(f"{what} is not a JSON object")
    return value


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"path": ".".join(str(p) for p in error["loc"]), "message": error["msg"]} for error in exc.errors()
    ][:20]


def read_message(
    body: str | bytes | dict[str, Any], *, default_tenant: str, now: datetime | None = None
) -> Incoming:
    """The auto-issue job a queue body carries. Raises :class:`UnreadableEvent` with the reason."""
    received_at = now or utcnow()
    raw = _json_object(body, "the message body")
    try:
        kind = raw.get("kind")
        if kind == QUEUED_KIND:
            return QueuedEvent.model_validate(raw)
        if kind == SETTLE_KIND:
            return SettleCheck.model_validate(raw)
        if raw.get("Type") == "Notification" and "Message" in raw:
            message = SnsAlarmIn.model_validate(_json_object(raw["Message"], "the SNS message"))
            event_id = str(raw.get("MessageId") or uuid.uuid4())
            event = alarm_event(
                sns_alarm_detail(message) | {"sns": raw["Message"]},
                event_id=f"sns-{event_id}"[:128],
                source="aws.sns",
                received_at=received_at,
            )
            return QueuedEvent(tenant=default_tenant, event=event)
        if "detail-type" in raw:
            envelope = EventBridgeIn.model_validate(raw)
            if envelope.detail_type == ALARM_DETAIL_TYPE and envelope.source == ALARM_SOURCE:
                event = alarm_event(
                    envelope.detail,
                    event_id=envelope.id,
                    source=envelope.source,
                    received_at=received_at,
                )
                return QueuedEvent(tenant=default_tenant, event=event)
            app = EventIn.model_validate(envelope.detail)
            event = app.to_event(event_id=envelope.id, received_at=received_at)
            return QueuedEvent(tenant=app.tenant or default_tenant, event=event)
    except ValidationError as exc:
        raise UnreadableEvent("the event does not validate", details={"errors": _problems(exc)}) from None
    raise UnreadableEvent("not an alarm, SNS alarm, EventBridge or trackbridge event")


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


__all__ = [
    "ALARM_EVENT_TYPE",
    "ALARM_STATES",
    "EVENT_TYPE_PATTERN",
    "AlarmDetailIn",
    "EventIn",
    "Incoming",
    "QueuedEvent",
    "SettleCheck",
    "UnreadableEvent",
    "alarm_event",
    "new_event_id",
    "read_message",
    "sns_alarm_detail",
]
