"""Observability: the alarms that page an operator through the alerts topic, and one dashboard.

- a DLQ depth alarm per queue: anything in a DLQ is work that failed every retry;
- an age alarm on each work queue: old messages mean the consumer is stuck or throttled;
- an errors alarm and a throttles alarm per function, and a 5XX alarm on the API;
- a sync failure rate alarm on the EMF metric ``Syncs`` (``status`` Failed over Completed + Failed, from
  ``runtime.handler_metrics``), which stays quiet below :data:`MIN_SYNCS` finished syncs per period;
- a webhook 4XX spike alarm on API Gateway's per-method metrics of ``POST /v1/webhooks/...`` (the stage has
  detailed metrics on): a tracker sending with a wrong secret, or someone probing the URL.

Each alarm notifies the alerts topic on ALARM and on OK. Their state changes also reach the account's
EventBridge default bus ("CloudWatch Alarm State Change"), where the auto-issue rule
(``infra/constructs/auto_issue.py``, pattern ``ALARM_STATE_CHANGE_PATTERN``) already sends every alarm of
the account to the auto-issue queue: nothing more is needed for a team to have trackbridge open an issue
about trackbridge. Every alarm here is named ``trackbridge-<stage>-...`` (:func:`alarm_prefix`), so a rule
can select them with ``event.data.alarmName.startswith("trackbridge-")``. A loop cannot grow: an alarm
already in ALARM sends no new state change while more messages reach the auto-issue DLQ.

The API function's operator tools are granted here too, since they serve this concern: ``GET /v1/health``
reads the schedule group and the DLQs' depths, and ``/v1/dlq/...`` reads, redrives and discards messages
(:meth:`WorkQueue.grant_redrive`).

The dashboard shows the alarms' states, queue and DLQ depths, function errors and throttles, sync outcomes
and items, tracker requests by provider and webhook deliveries by outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.function import TrackbridgeFunction
from infra.constructs.queues import Queues, WorkQueue
from infra.definition import APP, schedule_group_name

PERIOD = Duration.minutes(5)
# A message this old means the consumer has not kept up for a while (it is well above every timeout).
MAX_MESSAGE_AGE_S = 15 * 60
API_5XX_THRESHOLD = 5
# Half of the syncs that finished in a period failed, once at least MIN_SYNCS finished.
SYNC_FAILURE_RATE = 0.5
MIN_SYNCS = 4
WEBHOOK_4XX_THRESHOLD = 50
WEBHOOK_RESOURCE = "/v1/webhooks/{provider}/{connection_id}"
NAMESPACE = APP  # the EMF namespace (runtime.observability.SERVICE)
SERVICE_DIMENSION = {"service": APP}


def alarm_prefix(stage: str) -> str:
    """What every alarm name here starts with (an auto-issue rule can select trackbridge's own alarms)."""
    return f"{APP}-{stage}-"


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
        self.throttle_alarms: dict[str, cloudwatch.Alarm] = {}

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
            self.throttle_alarms[key] = self._alarm(
                f"{_title(key)}Throttles",
                name=f"{key.replace('_', '-')}-throttles",
                description=f"invocations of {handler.spec.name(stage)} were throttled (concurrency limit)",
                metric=handler.function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
            )

        self.api_5xx_alarm = self._alarm(
            "Api5xx",
            name="api-5xx",
            description=f"the REST API answered 5XX at least {API_5XX_THRESHOLD} times in 5 minutes",
            metric=rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=API_5XX_THRESHOLD,
        )

        self.sync_failure_alarm = self._alarm(
            "SyncFailureRate",
            name="sync-failure-rate",
            description=f"at least {SYNC_FAILURE_RATE:.0%} of the syncs that finished in 5 minutes failed "
            "(GET /v1/connection-health says which connections and why)",
            metric=cloudwatch.MathExpression(
                expression=f"IF(completed + failed >= {MIN_SYNCS}, failed / (completed + failed), 0)",
                using_metrics={"completed": _syncs("Completed"), "failed": _syncs("Failed")},
                label="sync failure rate",
                period=PERIOD,
            ),
            threshold=SYNC_FAILURE_RATE,
        )
        self.webhook_4xx_alarm = self._alarm(
            "Webhook4xx",
            name="webhook-4xx",
            description=f"webhook deliveries were refused {WEBHOOK_4XX_THRESHOLD} times in 5 minutes (a "
            "tracker signing with an old secret, or someone probing the webhook URL)",
            metric=_webhook_metric(rest_api, "4XXError"),
            threshold=WEBHOOK_4XX_THRESHOLD,
        )

        api = next((handler for handler in functions if handler.spec.key == "api"), None)
        if api is not None:
            self._grant_operator_tools(api, queues)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{APP}-{stage}")
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="alarms", alarms=self.alarms, width=24),
            cloudwatch.GraphWidget(
                title="queue depth",
                left=[_depth(work) for work in queues.by_key.values()],
                right=[_dlq_depth(work) for work in queues.by_key.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="function errors and throttles",
                left=[handler.function.metric_errors(period=PERIOD) for handler in functions],
                right=[handler.function.metric_throttles(period=PERIOD) for handler in functions],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="syncs",
                left=[_syncs(status) for status in ("Completed", "Failed", "Cancelled")],
                right=[self.sync_failure_alarm.metric],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="synced items by result",
                left=[
                    _emf("SyncItems", result=result)
                    for result in ("created", "updated", "unchanged", "deleted", "failed")
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="tracker requests by provider",
                left=[_emf("TrackerRequests", provider=p) for p in ("github", "gitlab", "jira")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="webhook deliveries",
                left=[_emf("WebhookDeliveries", outcome=o) for o in ("queued", "duplicate")],
                right=[_webhook_metric(rest_api, "4XXError"), _webhook_metric(rest_api, "5XXError")],
                width=12,
            ),
        )

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        return [
            *self.dlq_alarms.values(),
            *self.age_alarms.values(),
            *self.error_alarms.values(),
            *self.throttle_alarms.values(),
            self.api_5xx_alarm,
            self.sync_failure_alarm,
            self.webhook_4xx_alarm,
        ]

    def _grant_operator_tools(self, api: TrackbridgeFunction, queues: Queues) -> None:
        for work in queues.by_key.values():
            work.grant_redrive(api.function)
        group = Stack.of(self).format_arn(
            service="scheduler", resource="schedule-group", resource_name=schedule_group_name(self._stage)
        )
        iam.Grant.add_to_principal(
            grantee=api.function, actions=["scheduler:GetScheduleGroup"], resource_arns=[group]
        )

    def _alarm(
        self, construct_id: str, *, name: str, description: str, metric: cloudwatch.IMetric, threshold: float
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=alarm_prefix(self._stage) + name,
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


def _dlq_depth(work: WorkQueue) -> cloudwatch.IMetric:
    return work.dead_letter_queue.metric_approximate_number_of_messages_visible(
        period=PERIOD, label=f"{work.spec.key} DLQ"
    )


def _emf(name: str, **dimensions: str) -> cloudwatch.Metric:
    """An EMF metric of ``runtime.handler_metrics``: its dimensions plus ``service``, as the code writes."""
    label = " ".join(dimensions.values()) or name
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={**SERVICE_DIMENSION, **dimensions},
        statistic="Sum",
        period=PERIOD,
        label=label,
    )


def _syncs(status: str) -> cloudwatch.Metric:
    return _emf("Syncs", status=status)


def _webhook_metric(rest_api: apigw.RestApi, name: str) -> cloudwatch.Metric:
    """API Gateway's per-method metric of the webhook route (the stage has detailed metrics on)."""
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name=name,
        dimensions_map={
            "ApiName": rest_api.rest_api_name,
            "Stage": rest_api.deployment_stage.stage_name,
            "Resource": WEBHOOK_RESOURCE,
            "Method": "POST",
        },
        statistic="Sum",
        period=PERIOD,
        label=f"webhook {name}",
    )


def _title(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


__all__ = ["Observability", "alarm_prefix"]
