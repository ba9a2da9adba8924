"""The alert policy and the alert channels as use cases: read, put, delete, test; validated and audited.

A channel's URL is hostile input that trackbridge will POST to, so it is checked when saved: https (plain
http only to an address the operator's ``TB_ALLOWED_PRIVATE_NETWORKS`` lists, such as the embedded stack's
loopback), no credentials in it, no fragment, and a host the outbound policy contacts (a literal private,
loopback or metadata address answers 422 at ``body.url``; a name is checked against every address it
resolves to when a message is sent). The URL and a webhook's signing secret go to Secrets Manager; DynamoDB
and every answer hold only the masked URL.

A policy naming a channel that is not configured is a 422 at the channel's path; a channel the policy still
routes to cannot be deleted (409). Changes are audited: ``alert_policy.update``, ``alert_channel.put``,
``alert_channel.delete``, each in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from trackbridge.domain.alerts import (
    BUILTIN_EMAIL,
    DEFAULT_POLICY,
    EMAIL_CHANNEL,
    AlertChannel,
    AlertPolicy,
    AlertPolicyIn,
    ChannelIn,
    ChannelTestResult,
    mask_url,
    probe_message,
    unknown_channels,
)
from trackbridge.domain.audit import SECRET_CHANGED, Actor, FieldChange, diff, new_entry
from trackbridge.domain.connections import check_base_url
from trackbridge.domain.egress import EgressPolicy, parse_ip_literal
from trackbridge.domain.errors import Conflict, ValidationFailed
from trackbridge.domain.ids import random_token
from trackbridge.domain.times import utcnow
from trackbridge.providers.signatures import StandardWebhooks
from trackbridge.runtime.alerts.channels import ChannelFailure
from trackbridge.runtime.alerts.factory import ChannelFactory
from trackbridge.runtime.alerts.secrets import AlertChannelSecrets
from trackbridge.storage.alerts import AlertChannelRepository, AlertPolicyRepository, ChannelStatusRepository
from trackbridge.storage.audit import AuditRepository


def _refused(path: str, message: str, *, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed(
        f"{path}: {message}", details={"errors": [{"path": path, "message": message, "type": kind}]}
    )


def check_channel_url(url: str, policy: EgressPolicy, *, path: str = "body.url") -> None:
    """422 at ``path`` unless ``url`` is one trackbridge may POST alerts to (module doc)."""
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # what the channel will post to must parse as httpx reads it
    except (ValueError, httpx.InvalidURL):
        raise _refused(path, "not a valid URL") from None
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _refused(path, "not a valid URL (whitespace or control characters)")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _refused(path, "must be an https:// URL")
    if parts.username or parts.password or parts.fragment:
        raise _refused(path, "must not carry credentials or a fragment")
    check_base_url(url, policy, path=path)  # a literal address or localhost the policy refuses: 422
    if parts.scheme == "http":
        address = parse_ip_literal(parts.hostname)
        allowlisted = address is not None and any(
            entry.permits(address, port or 80) for entry in policy.allowed
        )
        if not allowlisted:
            raise _refused(
                path,
                "must be https (plain http only to an address TB_ALLOWED_PRIVATE_NETWORKS lists)",
                kind="https_required",
            )


class AlertSettings:
    def __init__(
        self,
        *,
        channels: AlertChannelRepository,
        policies: AlertPolicyRepository,
        statuses: ChannelStatusRepository,
        secrets: AlertChannelSecrets,
        audit: AuditRepository,
        factory: ChannelFactory,
        egress: EgressPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.channels = channels
        self.policies = policies
        self.statuses = statuses
        self.secrets = secrets
        self.audit = audit
        self.factory = factory
        self.egress = egress
        self.clock = clock

    # ---- the policy ---------------------------------------------------------------------------------

    def policy(self, tenant: str) -> AlertPolicy:
        return self.policies.current(tenant) or DEFAULT_POLICY

    def put_policy(self, tenant: str, body: AlertPolicyIn, actor: Actor) -> AlertPolicy:
        known = {EMAIL_CHANNEL, *(c.name for c in self.channels.all(tenant))}
        missing = unknown_channels(body, known)
        if missing:
            errors = [
                {"path": path, "message": f"no alert channel {name!r}", "type": "unknown_channel"}
                for path, name in missing
            ]
            raise ValidationFailed(f"{errors[0]['path']}: {errors[0]['message']}", details={"errors": errors})
        stored = self.policies.current(tenant)
        before = stored.model_dump(mode="json", include={"routes", "recovery"}) if stored else None
        version = stored.version if stored else 0
        if body.version is not None and body.version != version:
            raise Conflict(
                "the alert policy was changed by someone else; read it again and retry",
                code="VERSION_CONFLICT",
                details={"expected_version": body.version, "version": version},
            )
        policy = AlertPolicy(
            routes=body.routes, recovery=body.recovery, updated_at=self.clock(), version=version + 1
        )
        entry = new_entry(
            action="alert_policy.update",
            target="alert-policy",
            actor=actor,
            at=self.clock(),
            changes=diff(before, policy.model_dump(mode="json", include={"routes", "recovery"})),
        )
        also = (self.audit.put_op(tenant, entry),)
        if stored is None:
            self.policies.create(tenant, policy, also=also)
        else:
            self.policies.replace(tenant, policy, expected_version=version, also=also)
        return policy

    # ---- channels -----------------------------------------------------------------------------------

    def list_channels(self, tenant: str) -> list[AlertChannel]:
        return [BUILTIN_EMAIL, *self.channels.all(tenant)]

    def channel(self, tenant: str, name: str) -> AlertChannel:
        if name == EMAIL_CHANNEL:
            return BUILTIN_EMAIL
        return self.channels.get(tenant, name)

    def _secret_payload(self, body: ChannelIn) -> dict[str, str] | None:
        if body.url is None:
            return None
        url = body.url.get_secret_value().strip()
        check_channel_url(url, self.egress)
        payload = {"url": url}
        if body.secret is not None:
            secret = body.secret.get_secret_value()
            if StandardWebhooks.signature(b"", secret, "probe", "0") is None:
                raise _refused("body.secret", "a whsec_ secret must be base64 after its prefix")
            payload["secret"] = secret
        return payload

    def put_channel(self, tenant: str, name: str, body: ChannelIn, actor: Actor) -> AlertChannel:
        if name == EMAIL_CHANNEL:
            raise _refused("name", "email is the built-in channel (the alerts topic): choose another name")
        payload = self._secret_payload(body)  # 422 before anything is stored
        stored = self.channels.find(tenant, name)
        now = self.clock()
        channel = AlertChannel(
            name=name,
            kind=body.kind,
            url=mask_url(payload["url"]) if payload else None,
            has_secret=bool(payload and "secret" in payload),
            created_at=stored.created_at if stored else now,
            updated_at=now,
            version=(stored.version + 1) if stored else 1,
        )
        if payload is not None:
            self.secrets.put_channel(tenant, name, payload, new=stored is None)
        secrets_changed = tuple(k for k in ("url", "secret") if payload and k in payload)
        before = stored.model_dump(mode="json", include={"kind"}) if stored else None
        changes = diff(
            before, channel.model_dump(mode="json", include={"kind"}), secrets_changed=secrets_changed
        )
        entry = new_entry(action="alert_channel.put", target=name, actor=actor, at=now, changes=changes)
        also = (self.audit.put_op(tenant, entry),)
        if stored is None:
            self.channels.create(tenant, channel, also=also)
        else:
            self.channels.replace(tenant, channel, expected_version=stored.version, also=also)
            if payload is None and stored.url is not None:
                self.secrets.delete_channel(tenant, name)  # now an e-mail channel: its old URL goes
        return channel

    def delete_channel(self, tenant: str, name: str, actor: Actor) -> None:
        if name == EMAIL_CHANNEL:
            raise Conflict("email is the built-in channel: it cannot be deleted", details={"id": name})
        stored = self.channels.get(tenant, name)  # 404 first: another tenant's channel is not found
        routed = [i for i, route in enumerate(self.policy(tenant).routes) if name in route.channels]
        if routed:
            raise Conflict(
                f"the alert policy routes codes to {name!r}: change the policy first",
                details={"id": name, "routes": routed},
            )
        entry = new_entry(
            action="alert_channel.delete",
            target=name,
            actor=actor,
            at=self.clock(),
            changes={"kind": FieldChange(old=stored.kind), "url": FieldChange(old=SECRET_CHANGED)},
        )
        self.channels.delete(
            tenant,
            name,
            expected_version=stored.version,
            also=(self.statuses.forget(tenant, name), self.audit.put_op(tenant, entry)),
        )
        self.secrets.delete_channel(tenant, name)

    def test_channel(self, tenant: str, name: str) -> ChannelTestResult:
        """Send one test message now (no retry, no outbox); the outcome is recorded for channel health."""
        self.channel(tenant, name)  # 404 for an unknown name
        now = self.clock()
        try:
            self.factory.build(tenant, name).send(
                probe_message(tenant, name, now), delivery_id=f"test.{name}.{random_token(8)}"
            )
        except ChannelFailure as failure:
            self.statuses.failed(tenant, name, now, code=failure.code, error=failure.detail)
            return ChannelTestResult(
                channel=name, delivered=False, error_code=failure.code, error=failure.detail
            )
        self.statuses.succeeded(tenant, name, now)
        return ChannelTestResult(channel=name, delivered=True)


__all__ = ["AlertSettings", "check_channel_url"]
