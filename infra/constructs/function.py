"""One Lambda definition for every entry point in ``functions/``, driven by ``infra.definition.FUNCTIONS``.

Each concern construct asks for its functions here instead of repeating the settings: Python 3.12 on arm64,
the shared code asset and layers, the full ``ENV`` environment, active tracing, and a log group with a
retention. Each function gets its own role that starts with nothing but writing to its own log group
(no ``AWSLambdaBasicExecutionRole``, whose log permissions cover every log group in the account); the
concern constructs then add exactly what the function needs through ``grant_*``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.nag import acknowledge, acknowledge_wildcard_resource
from infra.constructs.queues import WorkQueue
from infra.definition import FUNCTIONS, FunctionSpec

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
# The smallest maximum concurrency an SQS event source accepts.
MIN_SQS_MAX_CONCURRENCY = 2


@dataclass(frozen=True)
class FunctionKit:
    """What every trackbridge function shares; built once by the stack."""

    stage: str
    code: lambda_.Code
    layers: Sequence[lambda_.ILayerVersion]
    environment: Mapping[str, str]
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy


def spec_for(key: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.key == key:
            return spec
    raise KeyError(f"no function {key!r} in infra.definition.FUNCTIONS")


class TrackbridgeFunction(Construct):
    """A function of ``functions/`` with its role and log group."""

    def __init__(self, scope: Construct, construct_id: str, *, key: str, kit: FunctionKit) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec_for(key)
        name = self.spec.name(kit.stage)

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: its own log group plus the grants of its concern",
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=kit.log_retention,
            removal_policy=kit.removal_policy,
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=name,
            description=self.spec.description or f"trackbridge {self.spec.key.replace('_', '-')}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=self.spec.handler,
            code=kit.code,
            layers=list(kit.layers),
            memory_size=self.spec.memory_mb,
            timeout=Duration.seconds(self.spec.timeout_s),
            reserved_concurrent_executions=self.spec.reserved_concurrency,
            environment=dict(kit.environment),
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
        )

        acknowledge(
            self,
            "L1",
            "Python 3.12 is the runtime trackbridge is built and tested for (DESIGN section 8); moving to a "
            "newer runtime is a deliberate upgrade, not something a synth should do silently.",
        )
        acknowledge_wildcard_resource(
            self,
            "*",
            "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which X-Ray does not "
            "scope to resources; CDK adds exactly those two actions with Resource '*'.",
        )

    def consume(self, work_queue: WorkQueue) -> sources.SqsEventSource:
        """Feed ``work_queue`` to this function, with partial batch failures and a concurrency cap.

        Without the cap, a backlog makes the event source poll with more concurrency than the function's
        reserved concurrency allows; the throttled batches go back to the queue and count as receives, so
        healthy messages could reach the DLQ. Capping the source at the reserved concurrency avoids that.
        """
        spec = work_queue.spec
        if spec.consumer != self.spec.key:
            raise ValueError(f"queue {spec.key!r} is consumed by {spec.consumer!r}, not {self.spec.key!r}")
        reserved = self.spec.reserved_concurrency
        source = sources.SqsEventSource(
            work_queue.queue,
            batch_size=spec.batch_size,
            report_batch_item_failures=True,
            max_concurrency=reserved
            if reserved is not None and reserved >= MIN_SQS_MAX_CONCURRENCY
            else None,
        )
        self.function.add_event_source(source)
        return source


__all__ = ["ARCHITECTURE", "RUNTIME", "FunctionKit", "TrackbridgeFunction", "spec_for"]
