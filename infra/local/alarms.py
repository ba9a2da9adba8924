"""The alarm bridge: CloudWatch alarm state changes on moto become EventBridge events, as on AWS.

moto records ``set_alarm_state`` (and alarm evaluation) but emits no "CloudWatch Alarm State Change" event,
so nothing reaches the auto-issue rule. The bridge polls ``describe_alarms`` every second, remembers each
alarm's state, and on every change puts the event AWS would on the default bus (source ``aws.cloudwatch``,
detail shaped like ``shared/fixtures/aws/eventbridge.cloudwatch_alarm_state_change.*.json``). moto's
EventBridge then routes it through the provisioned rule to the auto-issue queue.

Alarms that exist when the bridge starts are baselined, not announced. An alarm created later is announced
once it leaves its initial state, with INSUFFICIENT_DATA as the previous state, as AWS reports it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from infra.local.worker import WorkerLifecycle, WorkerThread

logger = logging.getLogger(__name__)

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"
_INITIAL_REASON = "Unchecked: Initial alarm creation"


def _timestamp(moment: Any) -> str:
    """CloudWatch's detail timestamp format: ``2019-10-02T17:04:40.989+0000``."""
    if not isinstance(moment, datetime):
        moment = datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class AlarmState:
    value: str
    reason: str
    reason_data: str
    timestamp: str

    @classmethod
    def of(cls, alarm: Mapping[str, Any]) -> AlarmState:
        return cls(
            value=str(alarm.get("StateValue", "INSUFFICIENT_DATA")),
            reason=str(alarm.get("StateReason", "")),
            reason_data=str(alarm.get("StateReasonData") or ""),
            timestamp=_timestamp(alarm.get("StateUpdatedTimestamp")),
        )

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"value": self.value, "reason": self.reason, "timestamp": self.timestamp}
        # AWS leaves reasonData out when there is none (see the metric-math fixture's previousState).
        if self.reason_data and self.reason_data != "{}":
            detail["reasonData"] = self.reason_data
        return detail


def _metric_stat(metric: Mapping[str, Any], period: Any, stat: Any) -> dict[str, Any]:
    return {
        "metric": {
            "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
            "name": metric.get("MetricName"),
            "namespace": metric.get("Namespace"),
        },
        "period": period,
        "stat": stat,
    }


def alarm_configuration(alarm: Mapping[str, Any], *, composite: bool) -> dict[str, Any]:
    """``detail.configuration`` for a metric alarm (single metric or metric math) or a composite alarm."""
    configuration: dict[str, Any] = {}
    if alarm.get("AlarmDescription"):
        configuration["description"] = alarm["AlarmDescription"]
    if composite:
        configuration["alarmRule"] = alarm.get("AlarmRule", "")
        return configuration
    queries = alarm.get("Metrics") or []
    if queries:
        metrics = []
        for query in queries:
            entry: dict[str, Any] = {"id": query["Id"]}
            if "Expression" in query:
                entry["expression"] = query["Expression"]
            if "Label" in query:
                entry["label"] = query["Label"]
            if "MetricStat" in query:
                stat = query["MetricStat"]
                entry["metricStat"] = _metric_stat(stat["Metric"], stat.get("Period"), stat.get("Stat"))
            entry["returnData"] = bool(query.get("ReturnData", True))
            metrics.append(entry)
    else:
        statistic = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
        # A single-metric alarm has one query; its id is stable per alarm, as on AWS.
        metric_id = str(uuid.uuid5(uuid.NAMESPACE_URL, str(alarm.get("AlarmArn", ""))))
        metrics = [
            {
                "id": metric_id,
                "metricStat": _metric_stat(alarm, alarm.get("Period"), statistic),
                "returnData": True,
            }
        ]
    configuration["metrics"] = metrics
    return configuration


def state_change_entry(
    alarm: Mapping[str, Any], previous: AlarmState, current: AlarmState, *, composite: bool
) -> dict[str, Any]:
    """The PutEvents entry for one state change."""
    detail = {
        "alarmName": alarm["AlarmName"],
        "state": current.detail(),
        "previousState": previous.detail(),
        "configuration": alarm_configuration(alarm, composite=composite),
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [alarm["AlarmArn"]],
        "Detail": json.dumps(detail),
        "EventBusName": "default",
    }


class AlarmBridge(WorkerLifecycle):
    """Turns alarm state changes made against moto into events on moto's default bus."""

    def __init__(
        self,
        *,
        cloudwatch: Any,
        events: Any,
        interval_s: float = 1.0,
        alarm_name_prefix: str | None = None,
    ) -> None:
        self._cloudwatch = cloudwatch
        self._events = events
        self._prefix = alarm_name_prefix
        self._states: dict[str, AlarmState] = {}
        self._baselined = False
        self._worker = WorkerThread(
            self.poll_once,
            name="local-alarm-bridge",
            logger=logger,
            failure_event="alarms.poll_failed",
            interval_s=interval_s,
        )

    def _alarms(self) -> list[tuple[dict[str, Any], bool]]:
        request: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
        if self._prefix:
            request["AlarmNamePrefix"] = self._prefix
        alarms: list[tuple[dict[str, Any], bool]] = []
        for page in self._cloudwatch.get_paginator("describe_alarms").paginate(**request):
            alarms.extend((alarm, False) for alarm in page.get("MetricAlarms", []))
            alarms.extend((alarm, True) for alarm in page.get("CompositeAlarms", []))
        return alarms

    def baseline(self) -> int:
        """Remember every current state without announcing it; returns how many alarms exist."""
        alarms = self._alarms()
        self._states = {alarm["AlarmArn"]: AlarmState.of(alarm) for alarm, _ in alarms}
        self._baselined = True
        return len(alarms)

    def poll_once(self) -> list[dict[str, Any]]:
        """Announce the changes since the last poll; returns the entries put on the bus."""
        if not self._baselined:
            self.baseline()
            return []
        entries: list[dict[str, Any]] = []
        current_arns: set[str] = set()
        for alarm, composite in self._alarms():
            arn = alarm["AlarmArn"]
            current_arns.add(arn)
            state = AlarmState.of(alarm)
            previous = self._states.get(arn)
            self._states[arn] = state
            if previous is None:
                if state.reason.startswith(_INITIAL_REASON):
                    continue  # just created, not evaluated yet
                previous = AlarmState("INSUFFICIENT_DATA", _INITIAL_REASON, "", state.timestamp)
            if previous.value == state.value:
                continue
            entries.append(state_change_entry(alarm, previous, state, composite=composite))
        for gone in set(self._states) - current_arns:
            del self._states[gone]
        # PutEvents takes at most 10 entries per call.
        for start in range(0, len(entries), 10):
            response = self._events.put_events(Entries=entries[start : start + 10])
            if response.get("FailedEntryCount"):
                logger.warning("alarms.put_events_failed", extra={"failed": response["FailedEntryCount"]})
        for entry in entries:
            logger.info("alarms.state_change %s", entry["Resources"][0])
        return entries

    def start(self) -> Self:
        if not self._baselined:
            self.baseline()
        return super().start()


__all__ = ["AlarmBridge", "AlarmState", "alarm_configuration", "state_change_entry"]
