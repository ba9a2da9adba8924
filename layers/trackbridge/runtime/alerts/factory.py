"""Building a tenant's channel by name: the stored configuration, its secret, and the shared clients.

``email`` is built in (the deployment's SNS alerts topic); any other name is a stored channel whose URL
(and signing secret) is read from Secrets Manager at send time, so a rotated Slack URL is used within the
secrets cache's TTL. A channel that no longer exists cannot be built: that failure is permanent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from trackbridge.domain.alerts import EMAIL_CHANNEL, AlertChannel
from trackbridge.runtime.alerts.channels import Channel, EmailChannel, SlackChannel, WebhookChannel
from trackbridge.runtime.alerts.dispatch import unusable


class ChannelConfigs(Protocol):
    def find(self, tenant: str, document_id: str) -> AlertChannel | None: ...


class ChannelSecretStore(Protocol):
    def channel(self, tenant: str, channel: str) -> dict[str, str] | None: ...


class ChannelFactory:
    def __init__(
        self,
        configs: ChannelConfigs,
        secrets: ChannelSecretStore,
        *,
        sns: Callable[[], Any],
        topic_arn: str,
        http: Callable[[], Any],
    ) -> None:
        self.configs = configs
        self.secrets = secrets
        self.sns = sns
        self.topic_arn = topic_arn
        self.http = http

    def email(self) -> EmailChannel:
        return EmailChannel(self.sns(), self.topic_arn)

    def from_secret(self, kind: str, values: Mapping[str, str]) -> Channel:
        if kind == "slack":
            return SlackChannel(self.http(), values["url"])
        if kind == "webhook":
            return WebhookChannel(self.http(), values["url"], values["secret"])
        return self.email()

    def build(self, tenant: str, name: str) -> Channel:
        if name == EMAIL_CHANNEL:
            return self.email()
        config = self.configs.find(tenant, name)
        if config is None:
            raise unusable(f"no alert channel {name!r}: it was deleted")
        if config.kind == "email":
            return self.email()
        values = self.secrets.channel(tenant, name)
        if not values or "url" not in values or (config.kind == "webhook" and "secret" not in values):
            raise unusable(f"the alert channel {name!r} has no stored URL: put it again")
        return self.from_secret(config.kind, values)


__all__ = ["ChannelConfigs", "ChannelFactory", "ChannelSecretStore"]
