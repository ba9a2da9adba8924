"""The one resource definition that both the CDK stack and the embedded local stack read.

CDK (``infra/constructs``) turns it into CloudFormation; ``infra/local/provision.py`` turns it into
boto3 calls against moto's server. ``tests/infra/test_local_matches_cdk.py`` proves the two agree on
names, keys, GSIs and queue attributes, so a change here reaches both or fails the build.

Runtime code never imports this module: Lambda functions learn names from environment variables
(``trackbridge.runtime.settings``), whose names are listed in :data:`ENV`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

APP = "trackbridge"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    partition_key: str = "pk"
    sort_key: str = "sk"
    ttl_attribute: str = "expires_at"
    indexes: tuple[IndexSpec, ...] = ()

    def name(self, stage: str) -> str:
        return f"{APP}-{stage}"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A work queue and its dead-letter queue.

    ``visibility_timeout_s`` must cover the consuming function's timeout (AWS recommends 6x for SQS
    event sources, we keep at least timeout + batch window), ``max_receive_count`` is the redrive limit.
    """

    key: str
    fifo: bool
    visibility_timeout_s: int
    max_receive_count: int
    retention_s: int = 4 * 24 * 3600
    dlq_retention_s: int = 14 * 24 * 3600
    content_based_deduplication: bool = False
    consumer: str = ""
    batch_size: int = 10

    def name(self, stage: str) -> str:
        suffix = ".fifo" if self.fifo else ""
        return f"{APP}-{stage}-{self.key.replace('_', '-')}{suffix}"

    def dlq_name(self, stage: str) -> str:
        suffix = ".fifo" if self.fifo else ""
        return f"{APP}-{stage}-{self.key.replace('_', '-')}-dlq{suffix}"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One Lambda entry point in ``functions/``."""

    key: str
    handler: str
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None = None
    description: str = ""

    def name(self, stage: str) -> str:
        return f"{APP}-{stage}-{self.key.replace('_', '-')}"


TABLE = TableSpec(
    indexes=(
        # Overloaded indexes; their access patterns are listed in layers/trackbridge/storage/README.md.
        IndexSpec("gsi1", "gsi1pk", "gsi1sk"),
        IndexSpec("gsi2", "gsi2pk", "gsi2sk"),
        IndexSpec("gsi3", "gsi3pk", "gsi3sk"),
    )
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("api", "functions.api.handler", 512, 29, description="REST API /v1"),
    FunctionSpec("authorizer", "functions.authorizer.handler", 256, 10, description="tenant API key check"),
    FunctionSpec("webhook", "functions.webhook.handler", 256, 10, description="verify, dedupe, enqueue"),
    # Apply and sync talk to trackers: their concurrency is capped so a burst of work cannot turn into a
    # burst of tracker requests that trips the providers' secondary limits.
    FunctionSpec("apply", "functions.apply.handler", 512, 60, reserved_concurrency=10),
    FunctionSpec("sync", "functions.sync.handler", 1024, 900, reserved_concurrency=10),
    FunctionSpec("auto_issue", "functions.auto_issue.handler", 512, 60, reserved_concurrency=5),
    FunctionSpec(
        "scheduler_maintenance",
        "functions.scheduler_maintenance.handler",
        256,
        300,
        reserved_concurrency=1,
        description="stale locks, schedule reconciliation, webhook renewal",
    ),
)

QUEUES: tuple[QueueSpec, ...] = (
    # FIFO, grouped by issue, so changes to one issue apply in order while different issues run in parallel.
    QueueSpec("inbound", fifo=True, visibility_timeout_s=360, max_receive_count=5, consumer="apply"),
    # Sync continuations and parked slices. Visibility covers the 900 s sync timeout.
    QueueSpec(
        "sync", fifo=False, visibility_timeout_s=5400, max_receive_count=5, consumer="sync", batch_size=1
    ),
    QueueSpec("auto_issue", fifo=False, visibility_timeout_s=360, max_receive_count=5, consumer="auto_issue"),
)


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """An API Gateway route: which function serves it and whether the tenant authorizer guards it.

    API Gateway prefers the most specific resource, so the explicit public routes win over the proxy.
    """

    method: str
    path: str
    function: str
    authorized: bool


PUBLIC_API_PATHS = ("/v1/health", "/v1/openapi.json", "/v1/docs", "/v1/oauth/jira/callback")
ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("ANY", "/v1/{proxy+}", "api", authorized=True),
    RouteSpec("GET", "/v1/health", "api", authorized=False),
    RouteSpec("GET", "/v1/openapi.json", "api", authorized=False),
    RouteSpec("GET", "/v1/docs", "api", authorized=False),
    # The OAuth redirect lands here from the user's browser; the state parameter binds it to a tenant.
    RouteSpec("GET", "/v1/oauth/jira/callback", "api", authorized=False),
    # The other methods of each public resource reach the api function too, so they are answered 405 with
    # an Allow header (API Gateway itself would only say "no such route"); no authorizer: the handler
    # refuses anything but the documented method before it reads a body.
    *(RouteSpec("ANY", path, "api", authorized=False) for path in PUBLIC_API_PATHS),
    # Webhooks authenticate by the provider's signature on the raw body, not by an API key.
    RouteSpec("POST", "/v1/webhooks/{provider}/{connection_id}", "webhook", authorized=False),
)
# How long API Gateway caches an authorizer decision for one token.
AUTHORIZER_CACHE_TTL_S = 60
# Request Content-Types API Gateway hands to the function base64 encoded, bytes intact (attachment uploads);
# every other body arrives as UTF-8 text. The CDK RestApi and the local gateway both read this.
BINARY_MEDIA_TYPES: tuple[str, ...] = ("multipart/form-data", "application/octet-stream")

# Error bodies API Gateway itself returns (gateway responses), in the API's error shape.
GATEWAY_RESPONSES: dict[str, tuple[int, str, str]] = {
    # type: (status, code, message)
    "UNAUTHORIZED": (401, "UNAUTHORIZED", "missing or invalid API key"),
    "ACCESS_DENIED": (403, "FORBIDDEN", "this API key may not do that"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND", "no such route"),
    "REQUEST_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE", "request body too large"),
    "THROTTLED": (429, "RATE_LIMITED", "too many requests"),
    "DEFAULT_5XX": (502, "GATEWAY_ERROR", "the API is unavailable, try again"),
}

SECRETS_PREFIX = f"{APP}/"


def secrets_prefix(stage: str) -> str:
    return f"{APP}/{stage}/"


# The deployment's own secrets sit under "_app/", a name no tenant can take (tenants start [a-z0-9]).
def oauth_state_key_secret_name(stage: str) -> str:
    """The key that signs OAuth ``state`` values: generated by the stack (CDK) or by ``local up``."""
    return f"{secrets_prefix(stage)}_app/oauth-state-key"


def jira_oauth_app_secret_name(stage: str) -> str:
    """``{"client_id", "client_secret"}`` of the Jira OAuth 2.0 (3LO) app: the operator puts it there
    after registering the app in Atlassian's developer console (``local up`` writes the sandbox's)."""
    return f"{secrets_prefix(stage)}_app/jira-oauth"


# Connection OAuth tokens live at "<prefix><tenant>/connections/<id>/oauth": functions that refresh them
# may write these and no other connection secret.
OAUTH_TOKENS_SECRET_SUFFIX = "/oauth"  # noqa: S105 - a name suffix, not a password


ALERTS_TOPIC_KEY = "alerts"
EVENT_BUS_KEY = "events"
SCHEDULE_GROUP_KEY = "schedules"
API_STAGE_NAME = "v1"
API_THROTTLE_RATE = 50
API_THROTTLE_BURST = 100


def event_bus_name(stage: str) -> str:
    return f"{APP}-{stage}-{EVENT_BUS_KEY}"


def schedule_group_name(stage: str) -> str:
    return f"{APP}-{stage}"


def alerts_topic_name(stage: str) -> str:
    return f"{APP}-{stage}-{ALERTS_TOPIC_KEY}"


def scheduler_role_name(stage: str) -> str:
    return f"{APP}-{stage}-scheduler"


# The EventBridge pattern that turns CloudWatch alarm state changes into auto-issue jobs.
ALARM_STATE_CHANGE_PATTERN: dict[str, list[str]] = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
}
# Every event put on trackbridge's own bus is an application event for the auto-issue queue.
APP_EVENT_PATTERN: dict[str, list[object]] = {"detail-type": [{"exists": True}]}


# Optional Jira OAuth settings: unset means Atlassian's real endpoints and a redirect URI derived from the
# request. The embedded stack sets the base URL to the Jira sandbox's authorization server.
JIRA_OAUTH_BASE_URL_ENV = "TB_JIRA_OAUTH_BASE_URL"
JIRA_OAUTH_REVOCATION_URL_ENV = "TB_JIRA_OAUTH_REVOCATION_URL"
JIRA_OAUTH_REDIRECT_URI_ENV = "TB_JIRA_OAUTH_REDIRECT_URI"
# Optional outbound policy allowlist (trackbridge.domain.egress): networks, each optionally with a port, that
# trackers may be on although they are not public. Unset: public addresses only. The embedded stack lists
# exactly its sandbox trackers' loopback host and ports.
ALLOWED_PRIVATE_NETWORKS_ENV = "TB_ALLOWED_PRIVATE_NETWORKS"
# Optional: how old the last deletion check may be before a scheduled sync runs another. Unset: 3600 s.
DELETION_CHECK_INTERVAL_ENV = "TB_DELETION_CHECK_INTERVAL_S"
# Optional: the AWS clients' connect and read timeouts in seconds (trackbridge.runtime.aws). Unset: 3 and 10.
AWS_CONNECT_TIMEOUT_ENV = "TB_AWS_CONNECT_TIMEOUT_S"
AWS_READ_TIMEOUT_ENV = "TB_AWS_READ_TIMEOUT_S"


@dataclass(frozen=True, slots=True)
class Env:
    """Names of the environment variables the functions read (see trackbridge.runtime.settings)."""

    stage: str = "TB_STAGE"
    table: str = "TB_TABLE_NAME"
    inbound_queue_url: str = "TB_INBOUND_QUEUE_URL"
    sync_queue_url: str = "TB_SYNC_QUEUE_URL"
    auto_issue_queue_url: str = "TB_AUTO_ISSUE_QUEUE_URL"
    event_bus: str = "TB_EVENT_BUS_NAME"
    schedule_group: str = "TB_SCHEDULE_GROUP"
    scheduler_role_arn: str = "TB_SCHEDULER_ROLE_ARN"
    sync_queue_arn: str = "TB_SYNC_QUEUE_ARN"
    alerts_topic_arn: str = "TB_ALERTS_TOPIC_ARN"
    secrets_prefix: str = "TB_SECRETS_PREFIX"
    oauth_state_key_secret: str = "TB_OAUTH_STATE_KEY_SECRET"  # noqa: S105 - variable names
    jira_oauth_app_secret: str = "TB_JIRA_OAUTH_APP_SECRET"  # noqa: S105
    extra: tuple[str, ...] = field(default=())
    # Set only where they differ from the default (the str fields above are always set).
    optional: tuple[str, ...] = field(
        default=(
            JIRA_OAUTH_BASE_URL_ENV,
            JIRA_OAUTH_REVOCATION_URL_ENV,
            JIRA_OAUTH_REDIRECT_URI_ENV,
            ALLOWED_PRIVATE_NETWORKS_ENV,
            DELETION_CHECK_INTERVAL_ENV,
            AWS_CONNECT_TIMEOUT_ENV,
            AWS_READ_TIMEOUT_ENV,
        )
    )


ENV = Env()


# EventBridge rules that feed the auto-issue queue: CloudWatch alarm state changes on the account's default
# bus, and every event on trackbridge's own bus.
def alarm_rule_name(stage: str) -> str:
    return f"{APP}-{stage}-alarm-state-change"


def app_events_rule_name(stage: str) -> str:
    return f"{APP}-{stage}-app-events"


# How often the scheduler-maintenance function runs (stale locks, schedule reconciliation, webhook renewal).
MAINTENANCE_INTERVAL_MINUTES = 5
