"""The trackbridge stack: wires the concern constructs together and owns nothing else.

Order matters only where values flow: the resources every function's environment names (table, queues,
bus, schedule group and role, alerts topic) come first, then the functions of each concern, then the API
that routes to them and the alarms that watch them.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.assets import StagedAssets
from infra.constructs.alerts import Alerts
from infra.constructs.api import Api
from infra.constructs.auto_issue import AppEvents, AutoIssue
from infra.constructs.data import Data
from infra.constructs.function import ARCHITECTURE, RUNTIME, FunctionKit, TrackbridgeFunction
from infra.constructs.observability import Observability
from infra.constructs.queues import Queues
from infra.constructs.scheduling import Maintenance, Scheduling
from infra.constructs.secrets import SecretsScope
from infra.constructs.sync import Sync
from infra.constructs.webhooks import Webhooks
from infra.definition import APP, ENV, jira_oauth_app_secret_name, oauth_state_key_secret_name, secrets_prefix

PRODUCTION_STAGE = "prod"
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME": APP, "POWERTOOLS_METRICS_NAMESPACE": APP}


class TrackbridgeStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, assets: StagedAssets) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=construct_id,
            description=f"{APP} ({stage}): issue trackers <-> a team's systems",
            termination_protection=stage == PRODUCTION_STAGE,
        )
        self.stage = stage
        production = stage == PRODUCTION_STAGE
        removal = RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY
        retention = logs.RetentionDays.ONE_YEAR if production else logs.RetentionDays.ONE_MONTH
        Tags.of(self).add("app", APP)
        Tags.of(self).add("stage", stage)

        self.alerts = Alerts(self, "Alerts", stage=stage, removal_policy=removal)
        self.data = Data(self, "Data", stage=stage, production=production)
        self.queues = Queues(self, "Queues", stage=stage)
        self.events = AppEvents(self, "Events", stage=stage, auto_issue=self.queues.auto_issue)
        self.scheduling = Scheduling(
            self, "Scheduling", stage=stage, sync_queue=self.queues.sync, removal_policy=removal
        )
        self.secrets = SecretsScope(self, stage=stage, removal_policy=removal)

        table = self.data.table
        topic = self.alerts.topic
        kit = FunctionKit(
            stage=stage,
            code=lambda_.Code.from_asset(str(assets.code)),
            layers=self._layers(assets),
            environment={
                ENV.stage: stage,
                ENV.table: table.table_name,
                ENV.inbound_queue_url: self.queues.inbound.queue.queue_url,
                ENV.sync_queue_url: self.queues.sync.queue.queue_url,
                ENV.sync_queue_arn: self.queues.sync.queue.queue_arn,
                ENV.auto_issue_queue_url: self.queues.auto_issue.queue.queue_url,
                ENV.event_bus: self.events.bus.event_bus_name,
                ENV.schedule_group: self.scheduling.group.schedule_group_name,
                ENV.scheduler_role_arn: self.scheduling.role.role_arn,
                ENV.alerts_topic_arn: topic.topic_arn,
                ENV.secrets_prefix: secrets_prefix(stage),
                ENV.oauth_state_key_secret: oauth_state_key_secret_name(stage),
                ENV.jira_oauth_app_secret: jira_oauth_app_secret_name(stage),
                **POWERTOOLS_ENV,
            },
            log_retention=retention,
            removal_policy=removal,
        )

        self.webhooks = Webhooks(
            self,
            "Webhooks",
            kit=kit,
            data=self.data,
            inbound=self.queues.inbound,
            secrets=self.secrets,
            alerts=self.alerts,
        )
        self.sync = Sync(
            self,
            "Sync",
            kit=kit,
            data=self.data,
            sync_queue=self.queues.sync,
            secrets=self.secrets,
            alerts=self.alerts,
            scheduling=self.scheduling,
        )
        self.auto_issue = AutoIssue(
            self,
            "AutoIssue",
            kit=kit,
            data=self.data,
            auto_issue=self.queues.auto_issue,
            secrets=self.secrets,
            alerts=self.alerts,
        )
        self.maintenance = Maintenance(
            self,
            "Maintenance",
            kit=kit,
            data=self.data,
            sync_queue=self.queues.sync,
            inbound_queue=self.queues.inbound,
            scheduling=self.scheduling,
            secrets=self.secrets,
            alerts=self.alerts,
        )
        self.api = Api(
            self,
            "Api",
            kit=kit,
            data=self.data,
            queues=self.queues,
            bus=self.events.bus,
            scheduling=self.scheduling,
            secrets=self.secrets,
            alerts=self.alerts,
            route_handlers={"webhook": self.webhooks.webhook.function},
            log_retention=retention,
            removal_policy=removal,
        )
        self.observability = Observability(
            self,
            "Observability",
            stage=stage,
            alerts=self.alerts,
            queues=self.queues,
            functions=self.functions,
            rest_api=self.api.rest_api,
        )

    @property
    def functions(self) -> list[TrackbridgeFunction]:
        return [
            self.api.api_function,
            self.api.authorizer_function,
            self.webhooks.webhook,
            self.webhooks.apply,
            self.sync.handler,
            self.auto_issue.handler,
            self.maintenance.handler,
        ]

    def _layers(self, assets: StagedAssets) -> list[lambda_.ILayerVersion]:
        deps_note = (
            "" if assets.deps_bundled else " (placeholder: synthesize with bundle_deps=true to deploy)"
        )
        return [
            self._layer("TrackbridgeLayer", "trackbridge", "the trackbridge package", assets.layer),
            self._layer(
                "DependenciesLayer",
                "dependencies",
                "third-party runtime dependencies" + deps_note,
                assets.deps,
            ),
        ]

    def _layer(self, construct_id: str, name: str, description: str, path: Path) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            layer_version_name=f"{APP}-{self.stage}-{name}",
            description=description,
            code=lambda_.Code.from_asset(str(path)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )


__all__ = ["PRODUCTION_STAGE", "TrackbridgeStack"]
