"""The composition root: every long-lived object of a process, built on first use and cached.

Nothing is built at import time (a cold start pays only for what its function uses), and modules import
their collaborators inside the factories for the same reason: the authorizer never loads the connection
service. Handlers and routes ask for objects through these functions; API routes get them through
Powertools ``Depends(...)``, so a test can swap one with ``app.dependency_overrides``.

This is the composition root and nothing it builds imports it: each object is given its collaborators
here (the adapter factory, the outbound policy, the OAuth token stores). Only the edges call it: the
handlers in ``functions/``, the API routes, the CLI.

:func:`reset` forgets everything (tests and the embedded stack call it after changing the environment).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from trackbridge.runtime import aws
from trackbridge.runtime.settings import get_settings

if TYPE_CHECKING:
    from trackbridge.domain.egress import EgressPolicy
    from trackbridge.runtime.adapter_pool import AdapterPool
    from trackbridge.runtime.alerts.admin import AlertSettings
    from trackbridge.runtime.alerts.factory import ChannelFactory
    from trackbridge.runtime.alerts.secrets import AlertChannelSecrets
    from trackbridge.runtime.alerts.service import OperatorAlerts
    from trackbridge.runtime.api_keys import ApiKeyService
    from trackbridge.runtime.automation.consumer import SqsRequeue
    from trackbridge.runtime.automation.intake import EventIntake
    from trackbridge.runtime.automation.rules import RuleService
    from trackbridge.runtime.automation.service import AutoIssueService
    from trackbridge.runtime.catalog import SyncedCatalog
    from trackbridge.runtime.connection_health import ConnectionHealthChecker
    from trackbridge.runtime.connections import ConnectionService
    from trackbridge.runtime.dlq import DeadLetterQueues, FailureNotes
    from trackbridge.runtime.health import HealthChecker
    from trackbridge.runtime.idempotency import IdempotentRequests, TenantIdempotencyStore
    from trackbridge.runtime.issues import SyncedIssues
    from trackbridge.runtime.jira_oauth import JiraOAuthConfig, JiraOAuthService
    from trackbridge.runtime.link_detection import LinkDetector
    from trackbridge.runtime.links import LinkService
    from trackbridge.runtime.oauth_tokens import SecretsManagerTokenStore
    from trackbridge.runtime.rate_limits import RateLimiter
    from trackbridge.runtime.schedule_admin import ScheduleAdmin, ScheduleLadder
    from trackbridge.runtime.secrets import ConnectionSecrets
    from trackbridge.runtime.sync import SyncEngine, SyncService
    from trackbridge.runtime.sync.adapters import AdapterBuilder
    from trackbridge.runtime.sync.pacing import RateLimitWatch
    from trackbridge.runtime.sync.queue import SqsSyncQueue
    from trackbridge.runtime.sync.schedules import ConnectionSchedules
    from trackbridge.runtime.sync.tracked_users import TrackedUsersScoping, TrackedUsersService
    from trackbridge.runtime.test_runs import TestRunService
    from trackbridge.runtime.tracker_actions import TrackerActions
    from trackbridge.runtime.webhooks.apply import WebhookApplier
    from trackbridge.runtime.webhooks.ingest import WebhookIngest
    from trackbridge.runtime.webhooks.registration import WebhookRegistrations
    from trackbridge.storage.activity import ActivityRepository
    from trackbridge.storage.api_keys import ApiKeyRepository
    from trackbridge.storage.audit import AuditRepository
    from trackbridge.storage.automation import EventRepository
    from trackbridge.storage.connections import ConnectionRepository
    from trackbridge.storage.metrics import MetricCounters
    from trackbridge.storage.schedules import ScheduleStateRepository
    from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository
    from trackbridge.storage.table import Table


@lru_cache(maxsize=1)
def table() -> Table:
    from trackbridge.storage.table import Table

    return Table(aws.client("dynamodb"), get_settings().table_name)


@lru_cache(maxsize=1)
def connection_repository() -> ConnectionRepository:
    from trackbridge.storage.connections import ConnectionRepository

    return ConnectionRepository(table())


@lru_cache(maxsize=1)
def activity_repository() -> ActivityRepository:
    from trackbridge.storage.activity import ActivityRepository

    return ActivityRepository(table())


@lru_cache(maxsize=1)
def audit_repository() -> AuditRepository:
    from trackbridge.storage.audit import AuditRepository

    return AuditRepository(table())


@lru_cache(maxsize=1)
def api_key_repository() -> ApiKeyRepository:
    from trackbridge.storage.api_keys import ApiKeyRepository

    return ApiKeyRepository(table())


@lru_cache(maxsize=1)
def connection_secrets() -> ConnectionSecrets:
    from trackbridge.runtime.secrets import ConnectionSecrets

    settings = get_settings()
    return ConnectionSecrets(
        aws.client("secretsmanager"),
        prefix=settings.secrets_prefix,
        ttl_s=settings.secrets_ttl_s,
        # An endpoint override means the embedded stack: nothing there is worth a recovery window.
        force_delete=settings.aws_endpoint_url is not None,
    )


@lru_cache(maxsize=1)
def egress_policy() -> EgressPolicy:
    """The outbound policy from ``TB_ALLOWED_PRIVATE_NETWORKS``: every tracker client connects under it."""
    return get_settings().egress_policy


@lru_cache(maxsize=1)
def connection_service() -> ConnectionService:
    from trackbridge.runtime.connections import ConnectionService

    return ConnectionService(
        connection_repository(),
        audit_repository(),
        connection_secrets(),
        schedules=connection_schedules(),
        egress=egress_policy(),
    )


@lru_cache(maxsize=1)
def jira_oauth_config() -> JiraOAuthConfig:
    from trackbridge.runtime.jira_oauth import JiraOAuthConfig

    return JiraOAuthConfig(aws.client("secretsmanager"), get_settings())


@lru_cache(maxsize=1)
def oauth_http() -> Any:
    """One keep-alive client for the OAuth authorization server (code exchange, refresh, revocation), under
    the outbound policy like every tracker client; it follows no redirect."""
    import httpx

    from trackbridge.providers.egress import egress_client

    return egress_client(egress_policy(), provider="jira", timeout=httpx.Timeout(10.0, connect=5.0))


def oauth_token_store(secret_name: str) -> SecretsManagerTokenStore:
    """A connection's token store; cheap (no I/O), so not cached: the secret's name is the identity."""
    from trackbridge.runtime.oauth_tokens import SecretsManagerTokenStore

    return SecretsManagerTokenStore(aws.client("secretsmanager"), secret_name)


@lru_cache(maxsize=1)
def jira_oauth_service() -> JiraOAuthService:
    from trackbridge.runtime.jira_oauth import JiraOAuthService
    from trackbridge.storage.oauth_states import OAuthStateRepository

    return JiraOAuthService(
        config=jira_oauth_config(),
        connections=connection_repository(),
        audit=audit_repository(),
        states=OAuthStateRepository(table()),
        secrets=connection_secrets(),
        store_for=oauth_token_store,
        http=oauth_http(),
    )


@lru_cache(maxsize=1)
def connection_schedules() -> ConnectionSchedules:
    from trackbridge.runtime.sync.schedules import ConnectionSchedules

    settings = get_settings()
    return ConnectionSchedules(
        aws.client("scheduler"),
        group=settings.schedule_group,
        queue_arn=settings.sync_queue_arn,
        role_arn=settings.scheduler_role_arn,
        records=schedule_records(),
    )


@lru_cache(maxsize=1)
def schedule_records() -> ScheduleStateRepository:
    """Each connection's back-off ladder record (``storage.schedules``)."""
    from trackbridge.storage.schedules import ScheduleStateRepository

    return ScheduleStateRepository(table())


@lru_cache(maxsize=1)
def schedule_ladder() -> ScheduleLadder:
    """Records sync results into the back-off ladder, which opens and clears operator incidents."""
    from trackbridge.runtime.schedule_admin import ScheduleLadder

    return ScheduleLadder(
        connection_repository(), schedule_records(), connection_schedules(), alerts=operator_alerts()
    )


@lru_cache(maxsize=1)
def schedule_admin() -> ScheduleAdmin:
    from trackbridge.runtime.schedule_admin import ScheduleAdmin

    return ScheduleAdmin(schedule_ladder(), audit_repository(), sync_service())


@lru_cache(maxsize=1)
def rate_limit_watch() -> RateLimitWatch:
    """The sync engine's adapter factory: remembers what each tracker said about its rate limit."""
    from trackbridge.runtime.sync.pacing import RateLimitWatch

    return RateLimitWatch(tracked_users_scoping())


@lru_cache(maxsize=1)
def tracked_users_scoping() -> TrackedUsersScoping:
    """Adapters for syncs, narrowed to each Jira connection's tracked users (issue 19)."""
    from trackbridge.runtime.sync.tracked_users import TrackedUsersScoping
    from trackbridge.storage.sync import SyncOperationRepository

    return TrackedUsersScoping(adapter_factory(), SyncOperationRepository(table()))


@lru_cache(maxsize=1)
def tracked_users_service() -> TrackedUsersService:
    from trackbridge.runtime.sync.tracked_users import TrackedUsersService

    return TrackedUsersService(connection_repository(), audit_repository(), sync_service())


@lru_cache(maxsize=1)
def api_key_service() -> ApiKeyService:
    from trackbridge.runtime.api_keys import ApiKeyService

    return ApiKeyService(api_key_repository(), audit_repository())


@cache
def health_client(service: str) -> Any:
    """Clients for health checks only: one attempt and short timeouts, so a sick dependency answers fast."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=2)
    return boto3.session.Session().client(service, region_name=get_settings().region, config=config)


@lru_cache(maxsize=1)
def health_checker() -> HealthChecker:
    from trackbridge import __version__
    from trackbridge.runtime.health import HealthChecker

    settings = get_settings()
    queues = {
        "inbound": settings.inbound_queue_url,
        "sync": settings.sync_queue_url,
        "auto_issue": settings.auto_issue_queue_url,
    }
    return HealthChecker(
        dynamodb=health_client("dynamodb"),
        sqs=health_client("sqs"),
        secretsmanager=health_client("secretsmanager"),
        table_name=settings.table_name,
        queue_urls={name: url for name, url in queues.items() if url},
        secrets_prefix=settings.secrets_prefix,
        version=__version__,
        scheduler=health_client("scheduler"),
        schedule_group=settings.schedule_group,
        dead_letters=_dead_letters(health_client("sqs")),
    )


def _dead_letters(sqs: Any) -> DeadLetterQueues:
    from trackbridge.runtime.dlq import DeadLetterQueues

    settings = get_settings()
    queues = {
        "inbound": settings.inbound_queue_url,
        "sync": settings.sync_queue_url,
        "auto_issue": settings.auto_issue_queue_url,
    }
    return DeadLetterQueues(
        sqs,
        {name: url for name, url in queues.items() if url},
        notes=failure_notes(),
        audit=audit_repository(),
    )


@lru_cache(maxsize=1)
def dead_letter_queues() -> DeadLetterQueues:
    """The DLQ tools (``GET /v1/dlq/{queue}``, ``trackbridge dlq``) on the ordinary SQS client."""
    return _dead_letters(aws.client("sqs"))


@lru_cache(maxsize=1)
def failure_notes() -> FailureNotes:
    """Why a consumer failed a message: written by the SQS handlers, read by the DLQ listing."""
    from trackbridge.runtime.dlq import FailureNotes

    return FailureNotes(table())


@lru_cache(maxsize=1)
def metric_counters() -> MetricCounters:
    """Per-tenant daily counters: handlers add and flush once per invocation, ``GET /v1/metrics`` reads."""
    from trackbridge.storage.metrics import MetricCounters

    return MetricCounters(table())


@lru_cache(maxsize=1)
def rate_limiter() -> RateLimiter:
    from trackbridge.runtime.rate_limits import RateLimiter

    return RateLimiter(
        table(), default_per_minute=get_settings().tenant_requests_per_minute, audit=audit_repository()
    )


@lru_cache(maxsize=1)
def connection_health_checker() -> ConnectionHealthChecker:
    """Per-connection health (``GET /v1/connection-health``): sync state, webhooks, credentials, the
    schedule's ladder and the tenant's alert channels."""
    from trackbridge.runtime.connection_health import (
        ConnectionHealthChecker,
        RouteWebhookStates,
        oauth_token_expiry,
    )
    from trackbridge.storage.sync import SyncStateRepository
    from trackbridge.storage.webhooks import WebhookRoutes

    return ConnectionHealthChecker(
        connections=connection_repository(),
        states=SyncStateRepository(table()),
        webhooks=RouteWebhookStates(WebhookRoutes(table())),
        token_expiry=oauth_token_expiry(connection_secrets().oauth_tokens_name, oauth_token_store),
        schedules=schedule_admin(),
        alerts=operator_alerts(),
    )


@lru_cache(maxsize=1)
def sync_queue() -> SqsSyncQueue:
    from trackbridge.runtime.sync.queue import SqsSyncQueue

    return SqsSyncQueue(aws.client("sqs"), get_settings().sync_queue_url)


def _sync_repositories() -> dict[str, Any]:
    from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository

    return {
        "operations": SyncOperationRepository(table()),
        "states": SyncStateRepository(table()),
        "logs": SyncLogRepository(table()),
        "connections": connection_repository(),
    }


@lru_cache(maxsize=1)
def sync_operation_repository() -> SyncOperationRepository:
    """For reads that need no sync engine (``GET /v1/sync-logs``): the API's cold start stays small."""
    from trackbridge.storage.sync import SyncOperationRepository

    return SyncOperationRepository(table())


@lru_cache(maxsize=1)
def sync_state_repository() -> SyncStateRepository:
    from trackbridge.storage.sync import SyncStateRepository

    return SyncStateRepository(table())


@lru_cache(maxsize=1)
def sync_log_repository() -> SyncLogRepository:
    from trackbridge.storage.sync import SyncLogRepository

    return SyncLogRepository(table())


@lru_cache(maxsize=1)
def sync_service() -> SyncService:
    from trackbridge.runtime.sync import SyncService

    return SyncService(
        queue=sync_queue(), results=schedule_ladder(), pacing=rate_limit_watch(), **_sync_repositories()
    )


@lru_cache(maxsize=1)
def adapter_factory() -> AdapterBuilder:
    """Every tracker adapter of the process (syncs and actions): under the outbound policy, with the
    OAuth collaborators a Jira OAuth connection needs (asked for only when one is built)."""
    from trackbridge.runtime.sync.adapters import AdapterBuilder, OAuthCollaborators

    oauth = OAuthCollaborators(
        token_store=oauth_token_store,
        app=lambda: jira_oauth_config().app(),
        http=oauth_http,
    )
    return AdapterBuilder(egress_policy(), oauth)


@lru_cache(maxsize=1)
def sync_engine() -> SyncEngine:
    from trackbridge.runtime.sync import SyncEngine

    return SyncEngine(
        table=table(),
        secrets=connection_secrets(),
        queue=sync_queue(),
        adapter_factory=rate_limit_watch(),
        **_sync_repositories(),
    )


@lru_cache(maxsize=1)
def adapter_pool() -> AdapterPool:
    from trackbridge.runtime.adapter_pool import AdapterPool

    return AdapterPool(connection_secrets(), factory=adapter_factory())


@lru_cache(maxsize=1)
def tracker_actions() -> TrackerActions:
    from trackbridge.runtime.tracker_actions import TrackerActions
    from trackbridge.storage.issues import CommentRepository, IssueRepository

    return TrackerActions(
        connection_service(),
        adapter_pool(),
        IssueRepository(table()),
        CommentRepository(table()),
        audit_repository(),
    )


@lru_cache(maxsize=1)
def idempotency_store() -> TenantIdempotencyStore:
    from trackbridge.runtime.idempotency import TenantIdempotencyStore

    return TenantIdempotencyStore(aws.client("dynamodb"), get_settings().table_name)


@lru_cache(maxsize=1)
def idempotent_requests() -> IdempotentRequests:
    from trackbridge.runtime.idempotency import IdempotentRequests

    # The store is built on the first request that carries an Idempotency-Key, not here.
    return IdempotentRequests(idempotency_store)


@lru_cache(maxsize=1)
def synced_issues() -> SyncedIssues:
    from trackbridge.runtime.issues import SyncedIssues
    from trackbridge.storage.issues import CommentRepository, IssueRepository, WorklogRepository
    from trackbridge.storage.links import LinkRepository

    return SyncedIssues(
        connection_repository(),
        IssueRepository(table()),
        CommentRepository(table()),
        WorklogRepository(table()),
        LinkRepository(table()),
    )


@lru_cache(maxsize=1)
def synced_catalog() -> SyncedCatalog:
    from trackbridge.runtime.catalog import SyncedCatalog
    from trackbridge.storage.issues import SprintRepository, UserRepository

    return SyncedCatalog(connection_repository(), UserRepository(table()), SprintRepository(table()))


@lru_cache(maxsize=1)
def webhook_ingest() -> WebhookIngest:
    """The webhook Lambda's work: verify, deduplicate, enqueue (no tracker credentials, no tracker call)."""
    from trackbridge.runtime.webhooks.ingest import SqsInboundQueue, WebhookIngest
    from trackbridge.storage.webhooks import DeliveryRecords, WebhookRoutes

    return WebhookIngest(
        routes=WebhookRoutes(table()),
        deliveries=DeliveryRecords(table()),
        connections=connection_repository(),
        secrets=connection_secrets(),
        queue=SqsInboundQueue(aws.client("sqs"), get_settings().inbound_queue_url),
        app_secrets=_oauth_app_secrets,
    )


def _oauth_app_secrets(provider: str) -> list[str]:
    """The client secret of ``provider``'s OAuth app, which signs the deliveries of the hooks it registered
    (Jira's REST webhooks); empty when no app is configured."""
    from trackbridge.domain.errors import TrackbridgeError

    if provider != "jira" or not get_settings().jira_oauth_app_secret:
        return []
    try:
        return [jira_oauth_config().app().client_secret.get_secret_value()]
    except TrackbridgeError:
        return []


@lru_cache(maxsize=1)
def webhook_applier() -> WebhookApplier:
    """The apply Lambda's work, with adapters of its own (short timeouts, no in-process rate-limit waits)."""
    from trackbridge.runtime.adapter_pool import AdapterPool
    from trackbridge.runtime.webhooks.apply import APPLY_ADAPTER_OPTIONS, WebhookApplier

    pool = AdapterPool(connection_secrets(), factory=adapter_factory(), options=APPLY_ADAPTER_OPTIONS)
    return WebhookApplier(
        table=table(), connections=connection_repository(), adapters=pool, detector=link_detector
    )


@lru_cache(maxsize=1)
def link_service() -> LinkService:
    from trackbridge.runtime.links import LinkService, SyncedCopy
    from trackbridge.storage.links import LinkRepository

    return LinkService(
        connection_repository(),
        LinkRepository(table()),
        SyncedCopy(table()),
        audit_repository(),
        adapters=adapter_pool,
    )


@lru_cache(maxsize=1)
def test_run_service() -> TestRunService:
    """JUnit uploads and coverage; the event intake (an SQS client) is built when a run has events."""
    from trackbridge.runtime.test_runs import TestRunService
    from trackbridge.storage.issues import IssueRepository
    from trackbridge.storage.test_runs import TestRunRepository

    return TestRunService(
        TestRunRepository(table()),
        connection_repository(),
        IssueRepository(table()),
        link_service(),
        event_intake,
    )


@lru_cache(maxsize=1)
def link_detector() -> LinkDetector:
    """Links from commits and pull/merge requests: scans (API) and push/request webhooks (apply)."""
    from trackbridge.runtime.link_detection import LinkDetector
    from trackbridge.storage.links import LinkRepository

    return LinkDetector(
        connection_repository(), link_service(), LinkRepository(table()), adapters=adapter_pool
    )


@lru_cache(maxsize=1)
def webhook_registrations() -> WebhookRegistrations:
    """Registering, showing and removing a connection's hook at its tracker."""
    from trackbridge.runtime.connections import new_webhook_secret
    from trackbridge.runtime.webhooks.registration import WebhookRegistrations
    from trackbridge.storage.webhooks import WebhookRoutes

    return WebhookRegistrations(
        connections=connection_repository(),
        routes=WebhookRoutes(table()),
        audit=audit_repository(),
        secrets=connection_secrets(),
        adapters=adapter_pool(),
        new_secret=new_webhook_secret,
    )


@lru_cache(maxsize=1)
def event_repository() -> EventRepository:
    from trackbridge.storage.automation import EventRepository

    return EventRepository(table())


@lru_cache(maxsize=1)
def auto_issue_queue() -> SqsRequeue:
    from trackbridge.runtime.automation.consumer import SqsRequeue

    return SqsRequeue(aws.client("sqs"), get_settings().auto_issue_queue_url)


@lru_cache(maxsize=1)
def event_intake() -> EventIntake:
    from trackbridge.runtime.automation.intake import EventIntake

    return EventIntake(event_repository(), auto_issue_queue())


@lru_cache(maxsize=1)
def rule_service() -> RuleService:
    from trackbridge.runtime.automation.rules import RuleService
    from trackbridge.storage.automation import RuleRepository, TemplateRepository

    shared = table()
    return RuleService(
        RuleRepository(shared),
        TemplateRepository(shared),
        connection_repository(),
        audit_repository(),
        adapters=adapter_pool(),  # saving a Jira rule reads the create screen; a dry run asks the tracker
        links=link_service(),  # templates see the issues already linked to the event's object
    )


@lru_cache(maxsize=1)
def auto_issue_service() -> AutoIssueService:
    from trackbridge.runtime.adapter_pool import AdapterPool
    from trackbridge.runtime.automation.service import AutoIssueService
    from trackbridge.runtime.webhooks.apply import APPLY_ADAPTER_OPTIONS
    from trackbridge.storage.automation import FingerprintRepository, RuleRepository, TemplateRepository
    from trackbridge.storage.issues import CommentRepository, IssueRepository

    shared = table()
    # Short timeouts and no in-process rate-limit wait: a 429 fails the job back to the queue.
    pool = AdapterPool(connection_secrets(), factory=adapter_factory(), options=APPLY_ADAPTER_OPTIONS)
    return AutoIssueService(
        rules=RuleRepository(shared),
        templates=TemplateRepository(shared),
        claims=FingerprintRepository(shared),
        connections=connection_repository(),
        adapters=pool,
        requeue=auto_issue_queue(),
        audit=audit_repository(),
        issues=IssueRepository(shared),
        comments=CommentRepository(shared),
        links=link_service(),
    )


@lru_cache(maxsize=1)
def alert_http() -> Any:
    """One keep-alive client for the Slack and webhook alert channels, under the outbound policy, with short
    timeouts (a slow receiver must not hold up the sync that raised the alert); it follows no redirect."""
    import httpx

    from trackbridge.providers.egress import egress_client

    return egress_client(egress_policy(), provider="alerts", timeout=httpx.Timeout(5.0, connect=3.0))


@lru_cache(maxsize=1)
def alert_channel_secrets() -> AlertChannelSecrets:
    from trackbridge.runtime.alerts.secrets import AlertChannelSecrets

    settings = get_settings()
    return AlertChannelSecrets(
        aws.client("secretsmanager"),
        prefix=settings.secrets_prefix,
        ttl_s=settings.secrets_ttl_s,
        force_delete=settings.aws_endpoint_url is not None,
    )


@lru_cache(maxsize=1)
def alert_channel_factory() -> ChannelFactory:
    from trackbridge.runtime.alerts.factory import ChannelFactory
    from trackbridge.storage.alerts import AlertChannelRepository

    return ChannelFactory(
        AlertChannelRepository(table()),
        alert_channel_secrets(),
        sns=lambda: aws.client("sns"),
        topic_arn=get_settings().alerts_topic_arn,
        http=alert_http,
    )


@lru_cache(maxsize=1)
def operator_alerts() -> OperatorAlerts:
    """Incidents, their alerts and channel health: what the ladder calls and health reads."""
    from trackbridge.runtime.alerts.dispatch import Dispatcher
    from trackbridge.runtime.alerts.service import OperatorAlerts
    from trackbridge.storage.alerts import (
        AlertChannelRepository,
        AlertPolicyRepository,
        AlertSendRepository,
        ChannelStatusRepository,
        IncidentRepository,
    )

    shared = table()
    sends, statuses = AlertSendRepository(shared), ChannelStatusRepository(shared)
    return OperatorAlerts(
        incidents=IncidentRepository(shared),
        sends=sends,
        statuses=statuses,
        channels=AlertChannelRepository(shared),
        policies=AlertPolicyRepository(shared),
        dispatcher=Dispatcher(alert_channel_factory(), sends, statuses),
    )


@lru_cache(maxsize=1)
def alert_settings() -> AlertSettings:
    """The alert policy and channels as the API and the CLI change them."""
    from trackbridge.runtime.alerts.admin import AlertSettings
    from trackbridge.storage.alerts import (
        AlertChannelRepository,
        AlertPolicyRepository,
        ChannelStatusRepository,
    )

    shared = table()
    return AlertSettings(
        channels=AlertChannelRepository(shared),
        policies=AlertPolicyRepository(shared),
        statuses=ChannelStatusRepository(shared),
        secrets=alert_channel_secrets(),
        audit=audit_repository(),
        factory=alert_channel_factory(),
        egress=egress_policy(),
    )


_FACTORIES = (
    link_detector,
    test_run_service,
    alert_channel_secrets,
    alert_channel_factory,
    operator_alerts,
    alert_settings,
    auto_issue_service,
    rule_service,
    event_intake,
    auto_issue_queue,
    event_repository,
    webhook_registrations,
    link_service,
    webhook_ingest,
    webhook_applier,
    egress_policy,
    adapter_factory,
    adapter_pool,
    tracker_actions,
    idempotency_store,
    idempotent_requests,
    synced_issues,
    synced_catalog,
    jira_oauth_config,
    jira_oauth_service,
    connection_schedules,
    schedule_records,
    schedule_ladder,
    schedule_admin,
    rate_limit_watch,
    tracked_users_scoping,
    tracked_users_service,
    sync_queue,
    sync_service,
    sync_operation_repository,
    sync_state_repository,
    sync_log_repository,
    sync_engine,
    table,
    connection_repository,
    activity_repository,
    audit_repository,
    api_key_repository,
    connection_secrets,
    connection_service,
    api_key_service,
    health_client,
    health_checker,
    dead_letter_queues,
    failure_notes,
    metric_counters,
    rate_limiter,
    connection_health_checker,
)


def reset() -> None:
    """Forget every cached object, client and the settings."""
    if auto_issue_service.cache_info().currsize:
        close = getattr(auto_issue_service().adapters, "close", None)  # an AdapterPool: clients hold sockets
        if close is not None:
            close()
    if adapter_pool.cache_info().currsize:
        adapter_pool().close()  # its httpx clients hold sockets
    if webhook_applier.cache_info().currsize:
        webhook_applier().close()
    for factory in _FACTORIES:
        factory.cache_clear()
    if oauth_http.cache_info().currsize:
        oauth_http().close()
    oauth_http.cache_clear()
    if alert_http.cache_info().currsize:
        alert_http().close()
    alert_http.cache_clear()
    aws.reset_clients()


__all__ = [
    "adapter_factory",
    "adapter_pool",
    "alert_channel_factory",
    "alert_channel_secrets",
    "alert_http",
    "alert_settings",
    "api_key_repository",
    "api_key_service",
    "audit_repository",
    "auto_issue_queue",
    "auto_issue_service",
    "connection_health_checker",
    "connection_repository",
    "connection_schedules",
    "connection_secrets",
    "connection_service",
    "dead_letter_queues",
    "egress_policy",
    "event_intake",
    "event_repository",
    "failure_notes",
    "health_checker",
    "health_client",
    "idempotency_store",
    "idempotent_requests",
    "jira_oauth_config",
    "jira_oauth_service",
    "link_service",
    "metric_counters",
    "oauth_http",
    "oauth_token_store",
    "operator_alerts",
    "rate_limit_watch",
    "rate_limiter",
    "reset",
    "rule_service",
    "schedule_admin",
    "schedule_ladder",
    "schedule_records",
    "sync_engine",
    "sync_queue",
    "sync_service",
    "synced_catalog",
    "synced_issues",
    "table",
    "test_run_service",
    "tracked_users_scoping",
    "tracked_users_service",
    "tracker_actions",
    "webhook_applier",
    "webhook_ingest",
    "webhook_registrations",
]
