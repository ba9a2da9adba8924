"""Operator alerts: the SNS topic that DLQ alarms and the workers publish to.

The topic is encrypted with a customer managed key rather than the AWS managed ``aws/sns`` key because
CloudWatch alarm actions cannot publish to a topic under ``aws/sns``: that key's policy cannot grant
``cloudwatch.amazonaws.com``, and this one does. Subscriptions (operator email, the Slack adapter) are
added per deployment, not here.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.function import TrackbridgeFunction
from infra.definition import APP, alerts_topic_name


class Alerts(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{APP} {stage}: encrypts the alerts topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=Duration.days(7 if removal_policy == RemovalPolicy.DESTROY else 30),
        )
        # Alarm actions publish as the CloudWatch service, which must be able to use the topic's key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=alerts_topic_name(stage),
            display_name=f"{APP} {stage} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )

    def grant_publish(self, handler: TrackbridgeFunction) -> None:
        """Publish, and use the topic's key for exactly what publishing to an encrypted topic needs.

        ``Topic.grant_publish`` would grant ``kms:GenerateDataKey*``; SNS needs only ``GenerateDataKey``.
        """
        iam.Grant.add_to_principal(
            grantee=handler.function, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn]
        )
        self.key.grant(handler.function, "kms:Decrypt", "kms:GenerateDataKey")


__all__ = ["Alerts"]
