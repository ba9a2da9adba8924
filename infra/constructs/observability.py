"""Observability: the alarms that page an operator through the alerts topic, and one dashboard.

- a DLQ depth alarm per queue: anything in a DLQ is work that failed every retry;
- an age alarm on each work queue: old messages mean the consumer is stuck or throttled;
- an errors alarm per function, and a 5XX alarm on the API.

Each alarm notifies the alerts topic on ALARM and on OK. Their state changes also reach the account's
EventBridge default bus, where the auto-issue rule picks them up like any other alarm, so a team can have
trackbridge open an issue about trackbridge.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.function import TrackbridgeFunction
from infra.constructs.queues import Queues, WorkQueue
from infra.definition import APP

PERIOD = Duration.minutes(5)
# A message this old means the consumer has not kept up for a while (it is well above every timeout).
MAX_MESSAGE_AGE_S = 15 * 60
API_5XX_THRESHOLD = 5


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        alerts: Alerts,
        queues: Queues,
        functions: Sequence[TrackbridgeFunction],
        rest_api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        self._action = actions.SnsAction(alerts.topic)
        self.dlq_alarms: dict[str, cloudwatch.Alarm] = {}
        self.age_alarms: dict[str, cloudwatch.Alarm] = {}
        self.error_alarms: dict[str, cloudwatch.Alarm] = {}

        for key, work in queues.by_key.items():
            self.dlq_alarms[key] = self._alarm(
                f"{_title(key)}DlqDepth",
                name=f"{key.replace('_', '-')}-dlq-depth",
                description=f"messages in the {work.spec.dlq_name(stage)} dead-letter queue",
                metric=work.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=1,
            )
            self.age_alarms[key] = self._alarm(
                f"{_title(key)}Age",
                name=f"{key.replace('_', '-')}-message-age",
                description=f"oldest message in {work.spec.name(stage)} is older than {MAX_MESSAGE_AGE_S} s",
                metric=work.queue.metric_approximate_age_of_oldest_message(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=MAX_MESSAGE_AGE_S,
            )

        for handler in functions:
            key = handler.spec.key
            self.error_alarms[key] = self._alarm(
                f"{_title(key)}Errors",
                name=f"{key.replace('_', '-')}-errors",
                description=f"invocations of {handler.spec.name(stage)} failed",
                metric=handler.function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
            )

        self.api_5xx_alarm = self._alarm(
            "Api5xx",
            name="api-5xx",
            description=f"the REST API answered 5XX at least {API_5XX_THRESHOLD} times in 5 minutes",
            metric=rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=API_5XX_THRESHOLD,
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{APP}-{stage}")
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="alarms",
                alarms=[
                    *self.dlq_alarms.values(),
                    *self.age_alarms.values(),
                    *self.error_alarms.values(),
                    self.api_5xx_alarm,
                ],
                width=24,
            ),
            cloudwatch.GraphWidget(
                title="queue depth",
                left=[_depth(work) for work in queues.by_key.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="function errors",
                left=[handler.function.metric_errors(period=PERIOD) for handler in functions],
                width=12,
            ),
        )

    def _alarm(
        self, construct_id: str, *, name: str, description: str, metric: cloudwatch.Metric, threshold: float
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{APP}-{self._stage}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data means no messages and no invocations: healthy, not unknown.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm


def _depth(work: WorkQueue) -> cloudwatch.IMetric:
    return work.queue.metric_approximate_number_of_messages_visible(period=PERIOD, label=work.spec.key)


def _title(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


__all__ = ["Observability"]
