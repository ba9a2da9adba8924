"""Settings read from the environment once per process, validated by pydantic.

The CDK stack and the embedded local stack set the same variables (names in ``infra/definition.py``'s
``ENV``). ``AWS_ENDPOINT_URL`` is read by boto3 itself, which is how the local stack points every client at
moto's server without a code path of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trackbridge.domain.egress import EgressPolicy

AWS_CONNECT_TIMEOUT_ENV: Final = "TB_AWS_CONNECT_TIMEOUT_S"
AWS_READ_TIMEOUT_ENV: Final = "TB_AWS_READ_TIMEOUT_S"
AUTO_ISSUE_TENANT_ENV: Final = "TB_AUTO_ISSUE_TENANT"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: str = Field("local", alias="TB_STAGE")
    region: str = Field("us-east-1", alias="AWS_REGION")
    table_name: str = Field("trackbridge-local", alias="TB_TABLE_NAME")
    inbound_queue_url: str = Field("", alias="TB_INBOUND_QUEUE_URL")
    sync_queue_url: str = Field("", alias="TB_SYNC_QUEUE_URL")
    sync_queue_arn: str = Field("", alias="TB_SYNC_QUEUE_ARN")
    auto_issue_queue_url: str = Field("", alias="TB_AUTO_ISSUE_QUEUE_URL")
    event_bus_name: str = Field("", alias="TB_EVENT_BUS_NAME")
    schedule_group: str = Field("", alias="TB_SCHEDULE_GROUP")
    scheduler_role_arn: str = Field("", alias="TB_SCHEDULER_ROLE_ARN")
    alerts_topic_arn: str = Field("", alias="TB_ALERTS_TOPIC_ARN")
    secrets_prefix: str = Field("trackbridge/", alias="TB_SECRETS_PREFIX")
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")
    # Requests bigger than this are refused with 413 before any parsing (API Gateway's own cap is 10 MB).
    max_body_bytes: int = Field(1_048_576, alias="TB_MAX_BODY_BYTES")
    # How long secrets stay cached in memory (Powertools parameters max_age).
    secrets_ttl_s: int = Field(300, alias="TB_SECRETS_TTL_S")
    # A scheduled incremental sync also checks for deleted issues when the last check is older (0: always).
    deletion_check_interval_s: int = Field(3600, ge=0, alias="TB_DELETION_CHECK_INTERVAL_S")
    # Jira OAuth 2.0 (3LO): names of the state-signing key and of the app's {client_id, client_secret}.
    oauth_state_key_secret: str = Field("", alias="TB_OAUTH_STATE_KEY_SECRET")
    jira_oauth_app_secret: str = Field("", alias="TB_JIRA_OAUTH_APP_SECRET")
    # Empty: Atlassian's auth.atlassian.com / api.atlassian.com; set: one base serving the same paths
    # (the sandbox's oauth_url under the embedded stack).
    jira_oauth_base_url: str = Field("", alias="TB_JIRA_OAUTH_BASE_URL")
    # Atlassian documents no revocation endpoint; an RFC 7009 one can be configured.
    jira_oauth_revocation_url: str = Field("", alias="TB_JIRA_OAUTH_REVOCATION_URL")
    # Empty: derived per request from the API's own host and stage (.../v1/oauth/jira/callback).
    jira_oauth_redirect_uri: str = Field("", alias="TB_JIRA_OAUTH_REDIRECT_URI")
    # Networks (CIDRs, each optionally with a port) that trackers may be on although they are not public:
    # a self-hosted GitLab or Jira Data Center inside the VPC. Empty: public addresses only.
    # Syntax in trackbridge.domain.egress: "10.0.0.0/8,10.1.2.3:8443,[fd00::1]:443".
    allowed_private_networks: str = Field("", alias="TB_ALLOWED_PRIVATE_NETWORKS")
    # The boto3 clients' timeouts (botocore's connect_timeout and read_timeout), in seconds. DynamoDB and
    # the other services answer in milliseconds; a read timeout makes botocore retry a request that may
    # have landed, so a slow endpoint (moto on a loaded machine) needs longer ones.
    aws_connect_timeout_s: float = Field(3, gt=0, allow_inf_nan=False, alias=AWS_CONNECT_TIMEOUT_ENV)
    aws_read_timeout_s: float = Field(10, gt=0, allow_inf_nan=False, alias=AWS_READ_TIMEOUT_ENV)
    # Requests a minute each tenant may make (runtime.rate_limits) unless it has a limit of its own; 0: none.
    tenant_requests_per_minute: int = Field(0, ge=0, alias="TB_TENANT_REQUESTS_PER_MINUTE")
    # The tenant whose rules CloudWatch alarms and SNS notifications go through (they name none): one
    # deployment, one alarm tenant. The CDK stack sets it from the context `auto_issue_tenant`.
    auto_issue_tenant: str = Field("default", min_length=1, max_length=64, alias=AUTO_ISSUE_TENANT_ENV)

    @field_validator("allowed_private_networks")
    @classmethod
    def _valid_allowlist(cls, value: str) -> str:
        EgressPolicy.parse(value)  # a typo fails the cold start, not the first tracker call
        return value

    @property
    def egress_policy(self) -> EgressPolicy:
        """The outbound policy every tracker client connects under (``trackbridge.providers.egress``)."""
        return EgressPolicy.parse(self.allowed_private_networks)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        if "AWS_REGION" not in env and "AWS_DEFAULT_REGION" in env:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
        return cls.model_validate(env)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


__all__ = [
    "AUTO_ISSUE_TENANT_ENV",
    "AWS_CONNECT_TIMEOUT_ENV",
    "AWS_READ_TIMEOUT_ENV",
    "Settings",
    "get_settings",
]
