"""Provision moto's server with the resources the CDK stack creates, from the same definition.

moto's CloudFormation cannot create the synthesized stack (FIFO names, Scheduler and Alarm resources are
skipped silently, TTL is not applied), so the embedded stack turns ``infra.definition`` into plain boto3
calls instead. ``table_request`` and ``queue_requests`` are pure, so a test can compare them with the
synthesized template without a server.

Every step reuses what already exists: a second ``provision`` against the same moto (a restarted CLI, a
second test module) neither fails nor duplicates anything.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.definition import (
    ALARM_STATE_CHANGE_PATTERN,
    APP,
    APP_EVENT_PATTERN,
    ENV,
    QUEUES,
    TABLE,
    QueueSpec,
    alerts_topic_name,
    event_bus_name,
    jira_oauth_app_secret_name,
    oauth_state_key_secret_name,
    schedule_group_name,
    scheduler_role_name,
    secrets_prefix,
)
from trackbridge.runtime.settings import (
    AUTO_ISSUE_TENANT_ENV,
    AWS_CONNECT_TIMEOUT_ENV,
    AWS_READ_TIMEOUT_ENV,
    Settings,
)

# moto answers every request as this account; ARNs built before a resource exists must use it.
MOTO_ACCOUNT_ID = "123456789012"
# Credentials moto accepts; they are not secrets and can never reach a real account (the endpoint is local).
FAKE_CREDENTIAL = "testing"
DLQ_SUFFIX = "_dlq"

# The local stack's own clients wait longer for an answer than the functions' (3 s / 10 s): moto runs in the
# stack's process and shares its cores. TB_AWS_CONNECT_TIMEOUT_S / TB_AWS_READ_TIMEOUT_S override both.
LOCAL_AWS_TIMEOUTS: Mapping[str, str] = {AWS_CONNECT_TIMEOUT_ENV: "3", AWS_READ_TIMEOUT_ENV: "30"}
MAX_ATTEMPTS = 3


def client_config(environ: Mapping[str, str] | None = None) -> Config:
    """The local clients' config: standard retries; the timeouts of ``environ`` (the process environment
    by default), :data:`LOCAL_AWS_TIMEOUTS` where it sets none. A bad value raises pydantic's
    ValidationError naming the variable, as the functions' settings do."""
    env = os.environ if environ is None else environ
    timeouts = Settings.model_validate(
        {name: env.get(name, default) for name, default in LOCAL_AWS_TIMEOUTS.items()}
    )
    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=timeouts.aws_connect_timeout_s,
        read_timeout=timeouts.aws_read_timeout_s,
    )


def alarm_rule_name(stage: str) -> str:
    return f"{APP}-{stage}-alarm-state-change"


def app_events_rule_name(stage: str) -> str:
    return f"{APP}-{stage}-app-events"


def queue_arn(name: str, region: str) -> str:
    return f"arn:aws:sqs:{region}:{MOTO_ACCOUNT_ID}:{name}"


def table_request(stage: str) -> dict[str, Any]:
    """Keyword arguments for ``dynamodb.create_table``: on-demand, string keys, every GSI projecting ALL."""
    key_names = [TABLE.partition_key, TABLE.sort_key]
    for index in TABLE.indexes:
        key_names.extend((index.partition_key, index.sort_key))
    # Attribute definitions must list each key attribute exactly once, in a stable order for comparisons.
    unique_keys = list(dict.fromkeys(key_names))
    return {
        "TableName": TABLE.name(stage),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in unique_keys],
        "KeySchema": [
            {"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
            {"AttributeName": TABLE.sort_key, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in TABLE.indexes
        ],
        "SSESpecification": {"Enabled": True},
    }


def _dlq_attributes(spec: QueueSpec) -> dict[str, str]:
    attributes = {"MessageRetentionPeriod": str(spec.dlq_retention_s), "SqsManagedSseEnabled": "true"}
    if spec.fifo:
        # A FIFO queue's dead-letter queue must be FIFO as well.
        attributes["FifoQueue"] = "true"
    return attributes


def _queue_attributes(spec: QueueSpec, stage: str, region: str) -> dict[str, str]:
    redrive = {
        "deadLetterTargetArn": queue_arn(spec.dlq_name(stage), region),
        "maxReceiveCount": spec.max_receive_count,
    }
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout_s),
        "MessageRetentionPeriod": str(spec.retention_s),
        "RedrivePolicy": json.dumps(redrive, separators=(",", ":")),
        "SqsManagedSseEnabled": "true",
    }
    if spec.fifo:
        attributes["FifoQueue"] = "true"
        attributes["ContentBasedDeduplication"] = "true" if spec.content_based_deduplication else "false"
    return attributes


def queue_requests(stage: str, *, region: str = "us-east-1") -> list[dict[str, Any]]:
    """Keyword arguments for ``sqs.create_queue``, each DLQ before the queue whose redrive policy names it."""
    requests: list[dict[str, Any]] = []
    for spec in QUEUES:
        requests.append({"QueueName": spec.dlq_name(stage), "Attributes": _dlq_attributes(spec)})
        requests.append({"QueueName": spec.name(stage), "Attributes": _queue_attributes(spec, stage, region)})
    return requests


@dataclass(frozen=True)
class LocalResources:
    """What ``provision`` created: names, URLs and ARNs, and the environment the functions need.

    Queue URLs and ARNs are keyed by ``QueueSpec.key``; a dead-letter queue by ``<key>_dlq``.
    """

    stage: str
    region: str
    endpoint_url: str
    table_name: str
    queue_urls: Mapping[str, str]
    queue_arns: Mapping[str, str]
    event_bus_name: str
    event_bus_arn: str
    schedule_group: str
    scheduler_role_arn: str
    alerts_topic_arn: str
    rule_names: Mapping[str, str] = field(default_factory=dict)

    def queue_url(self, key: str) -> str:
        return self.queue_urls[key]

    def dlq_url(self, key: str) -> str:
        return self.queue_urls[key + DLQ_SUFFIX]

    def environment(self) -> dict[str, str]:
        """Every variable in ``infra.definition.ENV`` plus what boto3 and Powertools read."""
        return {
            ENV.stage: self.stage,
            ENV.table: self.table_name,
            ENV.inbound_queue_url: self.queue_urls["inbound"],
            ENV.sync_queue_url: self.queue_urls["sync"],
            ENV.sync_queue_arn: self.queue_arns["sync"],
            ENV.auto_issue_queue_url: self.queue_urls["auto_issue"],
            ENV.event_bus: self.event_bus_name,
            ENV.schedule_group: self.schedule_group,
            ENV.scheduler_role_arn: self.scheduler_role_arn,
            ENV.alerts_topic_arn: self.alerts_topic_arn,
            ENV.secrets_prefix: secrets_prefix(self.stage),
            ENV.oauth_state_key_secret: oauth_state_key_secret_name(self.stage),
            ENV.jira_oauth_app_secret: jira_oauth_app_secret_name(self.stage),
            # as the CDK stack's default; `local up` then names its demo tenant (stack.py)
            AUTO_ISSUE_TENANT_ENV: Settings.model_fields["auto_issue_tenant"].default,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
            "POWERTOOLS_SERVICE_NAME": APP,
            "POWERTOOLS_METRICS_NAMESPACE": APP,
            "POWERTOOLS_TRACE_DISABLED": "true",
            # No CloudWatch to read EMF here: the lines would only bury the request log in the terminal.
            "POWERTOOLS_METRICS_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        """A boto3 client for this moto, independent of the process environment."""
        return local_client(service, endpoint_url=self.endpoint_url, region=self.region)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


# Sessions are not thread-safe, but they cache the service models that make a new client slow to build
# (about 0.1 s each from a fresh session): share one, and build clients under a lock.
_SESSION_LOCK = threading.Lock()


def local_client(service: str, *, endpoint_url: str, region: str) -> Any:
    with _SESSION_LOCK:
        return _session().client(
            service,
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=FAKE_CREDENTIAL,
            aws_secret_access_key=FAKE_CREDENTIAL,
            config=client_config(),
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _ensure_table(dynamodb: Any, stage: str) -> str:
    request = table_request(stage)
    name = request["TableName"]
    try:
        dynamodb.create_table(**request)
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    # Point-in-time recovery, as the CDK table has it (an upsert, so repeating it is harmless).
    dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
        )
    return name


def _ensure_queue(sqs: Any, request: Mapping[str, Any]) -> tuple[str, str]:
    try:
        url = sqs.create_queue(**request)["QueueUrl"]
    except ClientError as exc:
        # Same name, other attributes (a test shortened a timeout): reuse the queue rather than fail.
        if _error_code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        url = sqs.get_queue_url(QueueName=request["QueueName"])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _ensure_event_bus(events: Any, name: str) -> str:
    try:
        return str(events.create_event_bus(Name=name)["EventBusArn"])
    except ClientError as exc:
        if _error_code(exc) != "ResourceAlreadyExistsException":
            raise
    return str(events.describe_event_bus(Name=name)["Arn"])


# AWS delivers the whole event to an SQS target; moto's default target input leaves out "account", which
# event models (Powertools' EventBridgeModel among them) require. This template restores AWS's shape. It
# is moto-specific (moto renders <time> as a number it converts afterwards) and never used on AWS.
_MOTO_FULL_EVENT_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}'
)
_MOTO_FULL_EVENT_PATHS = {
    name: f"$.{name}"
    for name in ("id", "detail-type", "source", "account", "time", "region", "resources", "detail")
}


def _ensure_rule(events: Any, *, name: str, bus: str, pattern: Mapping[str, Any], target_arn: str) -> None:
    # put_rule and put_targets are upserts, so repeating them is harmless.
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    target = {
        "Id": "auto-issue-queue",
        "Arn": target_arn,
        "InputTransformer": {
            "InputPathsMap": _MOTO_FULL_EVENT_PATHS,
            "InputTemplate": _MOTO_FULL_EVENT_TEMPLATE,
        },
    }
    events.put_targets(Rule=name, EventBusName=bus, Targets=[target])


def _ensure_schedule_group(scheduler: Any, name: str) -> None:
    try:
        scheduler.create_schedule_group(Name=name)
    except ClientError as exc:
        if _error_code(exc) != "ConflictException":
            raise


def _ensure_scheduler_role(iam: Any, stage: str, target_arns: list[str]) -> str:
    name = scheduler_role_name(stage)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    except ClientError as exc:
        if _error_code(exc) != "EntityAlreadyExists":
            raise
        arn = str(iam.get_role(RoleName=name)["Role"]["Arn"])
    # What the schedules may do on AWS: put messages on the sync queue (put_role_policy is an upsert).
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": target_arns}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="targets", PolicyDocument=json.dumps(policy))
    return arn


def _ensure_queues(sqs: Any, stage: str, region: str) -> tuple[dict[str, str], dict[str, str]]:
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for spec in QUEUES:
        dlq_request = {"QueueName": spec.dlq_name(stage), "Attributes": _dlq_attributes(spec)}
        queue_request = {"QueueName": spec.name(stage), "Attributes": _queue_attributes(spec, stage, region)}
        urls[spec.key + DLQ_SUFFIX], arns[spec.key + DLQ_SUFFIX] = _ensure_queue(sqs, dlq_request)
        urls[spec.key], arns[spec.key] = _ensure_queue(sqs, queue_request)
    return urls, arns


def _ensure_events(events: Any, stage: str, auto_issue_arn: str) -> tuple[str, str, dict[str, str]]:
    bus_name = event_bus_name(stage)
    bus_arn = _ensure_event_bus(events, bus_name)
    rules = {"alarm_state_change": alarm_rule_name(stage), "app_events": app_events_rule_name(stage)}
    _ensure_rule(
        events,
        name=rules["alarm_state_change"],
        bus="default",
        pattern=ALARM_STATE_CHANGE_PATTERN,
        target_arn=auto_issue_arn,
    )
    _ensure_rule(
        events, name=rules["app_events"], bus=bus_name, pattern=APP_EVENT_PATTERN, target_arn=auto_issue_arn
    )
    return bus_name, bus_arn, rules


def _ensure_state_key(secretsmanager: Any, stage: str) -> None:
    """The OAuth state-signing key, random per moto (CDK has Secrets Manager generate the deployed one)."""
    try:
        secretsmanager.create_secret(
            Name=oauth_state_key_secret_name(stage),
            SecretString=secrets.token_urlsafe(48),
            Description="trackbridge: HMAC key that signs OAuth state values",
        )
    except ClientError as exc:
        if _error_code(exc) != "ResourceExistsException":
            raise


def provision(*, endpoint_url: str, region: str = "us-east-1", stage: str = "local") -> LocalResources:
    """Create (or find) every resource of ``stage`` on the moto server at ``endpoint_url``.

    The services are provisioned in parallel (startup time of ``trackbridge local up``); rules and the
    scheduler role name queue ARNs built up front, which the queues' real ARNs are then checked against.
    """

    def client(service: str) -> Any:
        return local_client(service, endpoint_url=endpoint_url, region=region)

    queue_specs = {spec.key: spec for spec in QUEUES}
    auto_issue_arn = queue_arn(queue_specs["auto_issue"].name(stage), region)
    sync_arn = queue_arn(queue_specs["sync"].name(stage), region)
    group = schedule_group_name(stage)

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="local-provision") as pool:
        table = pool.submit(lambda: _ensure_table(client("dynamodb"), stage))
        queues = pool.submit(lambda: _ensure_queues(client("sqs"), stage, region))
        topic = pool.submit(
            lambda: str(client("sns").create_topic(Name=alerts_topic_name(stage))["TopicArn"])
        )
        events = pool.submit(lambda: _ensure_events(client("events"), stage, auto_issue_arn))
        schedule_group = pool.submit(lambda: _ensure_schedule_group(client("scheduler"), group))
        role = pool.submit(lambda: _ensure_scheduler_role(client("iam"), stage, [sync_arn]))
        state_key = pool.submit(lambda: _ensure_state_key(client("secretsmanager"), stage))
        urls, arns = queues.result()
        bus_name, bus_arn, rules = events.result()
        schedule_group.result()
        state_key.result()
        resources = LocalResources(
            stage=stage,
            region=region,
            endpoint_url=endpoint_url,
            table_name=table.result(),
            queue_urls=urls,
            queue_arns=arns,
            event_bus_name=bus_name,
            event_bus_arn=bus_arn,
            schedule_group=group,
            scheduler_role_arn=role.result(),
            alerts_topic_arn=topic.result(),
            rule_names=rules,
        )
    if (arns["auto_issue"], arns["sync"]) != (auto_issue_arn, sync_arn):
        raise RuntimeError(f"moto named the queues {arns}, not as expected for account {MOTO_ACCOUNT_ID}")
    return resources


__all__ = [
    "DLQ_SUFFIX",
    "LOCAL_AWS_TIMEOUTS",
    "MOTO_ACCOUNT_ID",
    "LocalResources",
    "alarm_rule_name",
    "app_events_rule_name",
    "client_config",
    "local_client",
    "provision",
    "queue_requests",
    "table_request",
]
