"""Auto-issue: the events that become tracker issues, and the function that turns them into issues.

Two EventBridge rules feed the auto-issue queue: CloudWatch "Alarm State Change" events on the account's
default bus, and every event on trackbridge's own custom bus (the api's ``POST /v1/events`` and other
producers). Deliveries EventBridge cannot make after its retries land in the queue's DLQ, so a lost event
raises the same DLQ alarm as a failed job. Patterns come from ``infra.definition`` so the embedded stack
filters events the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.data import Data
from infra.constructs.function import FunctionKit, TrackbridgeFunction
from infra.constructs.queues import WorkQueue
from infra.constructs.secrets import SecretsScope
from infra.definition import (
    ALARM_STATE_CHANGE_PATTERN,
    APP_EVENT_PATTERN,
    alarm_rule_name,
    app_events_rule_name,
    event_bus_name,
)
from trackbridge.runtime.settings import AUTO_ISSUE_TENANT_ENV, Settings

# How long and how often EventBridge retries a delivery to the queue before sending it to the DLQ.
DELIVERY_MAX_AGE = Duration.hours(24)
DELIVERY_RETRIES = 20

# EventPattern keyword for each top-level field of an EventBridge pattern.
_PATTERN_FIELDS = {
    "source": "source",
    "detail-type": "detail_type",
    "account": "account",
    "region": "region",
    "resources": "resources",
    "id": "id",
    "time": "time",
    "version": "version",
}


def _matchers(values: Sequence[object]) -> list[str]:
    matched: list[str] = []
    for value in values:
        if isinstance(value, str):
            matched.append(value)
        elif value == {"exists": True}:
            matched.extend(events.Match.exists())
        else:
            raise ValueError(f"event pattern value {value!r} has no translation; extend _matchers")
    return matched


def event_pattern(pattern: Mapping[str, Sequence[object]]) -> events.EventPattern:
    """Translate a pattern of ``infra.definition`` (the JSON EventBridge takes) into CDK's EventPattern."""
    unknown = set(pattern) - set(_PATTERN_FIELDS)
    if unknown:
        raise ValueError(f"event pattern fields {sorted(unknown)} have no translation")
    fields: dict[str, Any] = {_PATTERN_FIELDS[key]: _matchers(values) for key, values in pattern.items()}
    return events.EventPattern(**fields)


class AppEvents(Construct):
    """The custom event bus and the two rules that feed the auto-issue queue."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, auto_issue: WorkQueue) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=event_bus_name(stage))

        def to_queue() -> targets.SqsQueue:
            return targets.SqsQueue(
                auto_issue.queue,
                dead_letter_queue=auto_issue.dead_letter_queue,
                max_event_age=DELIVERY_MAX_AGE,
                retry_attempts=DELIVERY_RETRIES,
            )

        # Rules on the default bus see the account's CloudWatch alarm changes; custom buses never do.
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateChange",
            rule_name=alarm_rule_name(stage),
            description="CloudWatch alarm state changes become auto-issue jobs",
            event_pattern=event_pattern(ALARM_STATE_CHANGE_PATTERN),
            targets=[to_queue()],
        )
        self.app_rule = events.Rule(
            self,
            "AppEvents",
            rule_name=app_events_rule_name(stage),
            description="application events on the trackbridge bus become auto-issue jobs",
            event_bus=self.bus,
            event_pattern=event_pattern(APP_EVENT_PATTERN),
            targets=[to_queue()],
        )


# The CDK context key naming the tenant whose rules CloudWatch alarms go through (`cdk deploy -c
# auto_issue_tenant=acme`); the function reads it as TB_AUTO_ISSUE_TENANT (Settings.auto_issue_tenant).
AUTO_ISSUE_TENANT_CONTEXT = "auto_issue_tenant"
DEFAULT_AUTO_ISSUE_TENANT: str = Settings.model_fields["auto_issue_tenant"].default


class AutoIssue(Construct):
    """The auto-issue function behind the auto-issue queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        data: Data,
        auto_issue: WorkQueue,
        secrets: SecretsScope,
        alerts: Alerts,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = TrackbridgeFunction(self, "AutoIssue", key="auto_issue", kit=kit)
        # Alarms name no tenant: the deployment says whose they are.
        tenant = self.node.try_get_context(AUTO_ISSUE_TENANT_CONTEXT) or DEFAULT_AUTO_ISSUE_TENANT
        self.handler.function.add_environment(AUTO_ISSUE_TENANT_ENV, str(tenant))
        self.handler.consume(auto_issue)
        # Re-enqueues its own delayed messages: settle checks of a recovery, and jobs parked on a rate limit.
        auto_issue.queue.grant_send_messages(self.handler.function)
        # Rules, templates and the fingerprint claims that keep one issue per fingerprint.
        data.grant_read_write(self.handler)
        secrets.grant_tracker_credentials(self.handler)
        alerts.grant_publish(self.handler)


__all__ = ["AUTO_ISSUE_TENANT_CONTEXT", "AppEvents", "AutoIssue", "event_pattern"]
