"""The single DynamoDB table of DESIGN section 4, shaped by ``infra.definition.TABLE``.

On-demand billing (traffic follows webhooks and schedules, it is spiky), point-in-time recovery, the TTL
attribute (webhook deliveries, locks), and server-side encryption under the AWS managed key. In production
the table is retained when the stack goes and cannot be deleted by accident.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.function import TrackbridgeFunction
from infra.constructs.nag import acknowledge_wildcard_resource
from infra.definition import TABLE

_INDEX_REASON = (
    "Queries use the table's own global secondary indexes; CDK grants them as <table ARN>/index/*, which "
    "matches the indexes of this one table only."
)


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, production: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=TABLE.name(stage),
            partition_key=_string(TABLE.partition_key),
            sort_key=_string(TABLE.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TABLE.ttl_attribute,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=production,
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
        )
        for index in TABLE.indexes:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string(index.partition_key),
                sort_key=_string(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )

    def grant_read_write(self, handler: TrackbridgeFunction) -> None:
        self.table.grant_read_write_data(handler.function)
        self._acknowledge_indexes(handler)

    def grant_read(self, handler: TrackbridgeFunction, *extra_actions: str) -> None:
        """Read access, plus specific write actions (the authorizer records a key's last use)."""
        self.table.grant_read_data(handler.function)
        if extra_actions:
            self.table.grant(handler.function, *extra_actions)
        self._acknowledge_indexes(handler)

    def _acknowledge_indexes(self, handler: TrackbridgeFunction) -> None:
        acknowledge_wildcard_resource(handler, f"{self.table.table_arn}/index/*", _INDEX_REASON)


__all__ = ["Data"]
