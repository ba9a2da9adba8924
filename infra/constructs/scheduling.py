"""Scheduling: the EventBridge Scheduler group and role for per-connection schedules, and the maintenance job.

Schedules themselves are created at run time, one per connection, by the api function. Each one sends a
message to the sync queue through the role defined here, so the role may do exactly that. Its trust is
limited to EventBridge Scheduler acting for this account and this schedule group (the confused-deputy
conditions AWS documents for Scheduler execution roles).

The scheduler-maintenance function runs every ``MAINTENANCE_INTERVAL_MINUTES`` from an EventBridge rule:
it clears stale sync locks, reconciles schedules with the connections in the table and renews tracker
webhooks that expire (Jira's expire after 30 days).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.data import Data
from infra.constructs.function import FunctionKit, TrackbridgeFunction
from infra.constructs.nag import acknowledge_wildcard_resource
from infra.constructs.queues import WorkQueue
from infra.constructs.secrets import SecretsScope
from infra.definition import APP, MAINTENANCE_INTERVAL_MINUTES, schedule_group_name, scheduler_role_name

SCHEDULE_ACTIONS = (
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
)
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


class Scheduling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        sync_queue: WorkQueue,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group = scheduler.ScheduleGroup(
            self, "Group", schedule_group_name=schedule_group_name(stage), removal_policy=removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=scheduler_role_name(stage),
            description=f"{APP} {stage}: per-connection schedules send sync messages",
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_PRINCIPAL,
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": self.group.schedule_group_arn,
                    }
                },
            ),
        )
        sync_queue.queue.grant_send_messages(self.role)
        # Every schedule of the group, whatever its (run-time) name.
        self.schedules_arn = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.group.schedule_group_name}/*"
        )

    def grant_manage_schedules(self, handler: TrackbridgeFunction) -> None:
        """Create, update, delete and read schedules of the group, and hand them the scheduler role only."""
        iam.Grant.add_to_principal(
            grantee=handler.function, actions=list(SCHEDULE_ACTIONS), resource_arns=[self.schedules_arn]
        )
        iam.Grant.add_to_principal(
            grantee=handler.function,
            actions=["iam:PassRole"],
            resource_arns=[self.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
        )
        acknowledge_wildcard_resource(
            handler,
            self.schedules_arn,
            "Schedules are created at run time, one per connection, with names not known at deploy time; "
            "the pattern is limited to trackbridge's own schedule group.",
        )


class Maintenance(Construct):
    """The scheduler-maintenance function and the rule that runs it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        data: Data,
        sync_queue: WorkQueue,
        inbound_queue: WorkQueue,
        scheduling: Scheduling,
        secrets: SecretsScope,
        alerts: Alerts,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = TrackbridgeFunction(self, "SchedulerMaintenance", key="scheduler_maintenance", kit=kit)
        function = self.handler.function
        data.grant_read_write(self.handler)
        # Resumes operations whose lock went stale by re-enqueuing their continuation.
        sync_queue.queue.grant_send_messages(function)
        # Replays the webhook deliveries Jira gave up on through the inbound queue (webhook liveness).
        inbound_queue.queue.grant_send_messages(function)
        scheduling.grant_manage_schedules(self.handler)
        # Webhook renewal calls the trackers with the connection's credentials.
        secrets.grant_tracker_credentials(self.handler)
        alerts.grant_publish(self.handler)

        self.rule = events.Rule(
            self,
            "Every",
            rule_name=f"{APP}-{kit.stage}-scheduler-maintenance",
            description=f"runs {APP} scheduler-maintenance every {MAINTENANCE_INTERVAL_MINUTES} minutes",
            schedule=events.Schedule.rate(Duration.minutes(MAINTENANCE_INTERVAL_MINUTES)),
            # A missed run is covered by the next one; retrying would only overlap it.
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )


__all__ = ["SCHEDULE_ACTIONS", "Maintenance", "Scheduling"]
