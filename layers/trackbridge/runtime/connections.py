"""Connection use cases: create, read, list, update, delete, with secrets and audit kept in step.

Order of effects, chosen so no failure leaves a state worse than "retry":

* validation first: a ``base_url`` whose host is an address the outbound policy refuses (``egress``, the
  operator's ``TB_ALLOWED_PRIVATE_NETWORKS``) is a 422 at ``body.base_url`` before anything is written.
* create: credentials first (a connection never exists without them), then the connection item and its
  audit entry in one conditional transaction; if that fails the fresh secrets are deleted again.
* update: the version-conditioned write and its audit entry first (a lost race is a clean 409 with nothing
  changed), then the secret rotation; if that fails the caller gets 503 and can repeat the PATCH.
* delete: the version-conditioned delete and its audit entry first, then the secrets. A failure to delete
  a secret is logged (``connections.secret_delete_failed`` with the secret's name, never its value) and
  does not undo the delete: the connection is gone either way and the name says what to clean up.
* webhook routing: the routing item the webhook Lambda finds a connection's tenant by
  (``storage.webhooks``) is written in the create transaction and deleted in the delete transaction, so a
  delivery URL works exactly as long as its connection exists.
* webhook secret rotation: the version-conditioned write (``has_webhook_secret``, the routing item) and its
  audit entry first, then the new secret goes first in the list (the previous one stays valid). A failure
  of the secret write is a 503 and the list is unchanged: the tracker's current secret keeps working, and
  a repeated rotation starts from it.
"""

from __future__ import annotations

import base64
import secrets as random_secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from trackbridge.domain.audit import Actor, diff, new_entry
from trackbridge.domain.connections import Connection, ConnectionCreate, ConnectionPatch, check_base_url
from trackbridge.domain.egress import EgressPolicy
from trackbridge.domain.errors import DependencyFailure, NotFound
from trackbridge.domain.ids import IdPrefix, is_id, new_id
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger
from trackbridge.runtime.secrets import WEBHOOK_SECRETS_KEPT, ConnectionSecrets
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.webhooks import WebhookRoutes

# 32 random bytes, in the ``whsec_<base64>`` form every tracker accepts: GitHub and Jira HMAC with the whole
# string, GitLab sends it back as X-Gitlab-Token, and as a signing token reads the base64 part as its key.
WEBHOOK_SECRET_BYTES = 32
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def new_webhook_secret() -> SecretStr:
    raw = random_secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    return SecretStr(WEBHOOK_SECRET_PREFIX + base64.b64encode(raw).decode("ascii"))


@dataclass(frozen=True, slots=True)
class WebhookSecretRotation:
    """A rotation's outcome: the new secret (the API shows it once) and whether the previous one is kept."""

    connection_id: str
    secret: SecretStr
    previous_secret_kept: bool
    rotated_at: datetime


class ScheduleSync(Protocol):
    def put(self, tenant: str, connection: Connection) -> None: ...

    def delete(self, connection_id: str) -> None: ...


class ConnectionService:
    def __init__(
        self,
        connections: ConnectionRepository,
        audit: AuditRepository,
        secrets: ConnectionSecrets,
        *,
        clock: Callable[[], datetime] = utcnow,
        schedules: ScheduleSync | None = None,
        egress: EgressPolicy | None = None,
        webhook_routes: WebhookRoutes | None = None,
    ) -> None:
        self.connections = connections
        self.audit = audit
        self.secrets = secrets
        self.clock = clock
        # The outbound policy base URLs are checked against (default: public addresses only).
        self.egress = egress if egress is not None else EgressPolicy()
        # Keeps each connection's EventBridge schedule in step with its ``schedule`` field (sync issue).
        self.schedules = schedules
        # The routing items of webhook URLs live in the connections' table.
        self.webhook_routes = (
            webhook_routes if webhook_routes is not None else WebhookRoutes(connections.table)
        )

    def get(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            # A malformed id cannot exist: the same 404 as an absent one, without a query.
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def list(
        self, tenant: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Connection]:
        return self.connections.list(tenant, limit=limit, cursor=cursor)

    def create(self, tenant: str, body: ConnectionCreate, actor: Actor) -> Connection:
        now = self.clock()
        connection = Connection.from_create(body, connection_id=new_id(IdPrefix.CONNECTION), now=now)
        check_base_url(connection.base_url, self.egress)
        secrets = ("credentials", "webhook_secret") if body.webhook_secret else ("credentials",)
        entry = new_entry(
            action="connection.create",
            target=connection.id,
            actor=actor,
            at=now,
            changes=diff(None, connection.public_fields(), secrets_changed=secrets),
        )
        self.secrets.put_credentials(tenant, connection.id, body.credentials, new=True)
        try:
            if body.webhook_secret is not None:
                self.secrets.put_webhook_secret(tenant, connection.id, body.webhook_secret, new=True)
            route = self.webhook_routes.create_op(tenant, connection.provider, connection.id)
            self.connections.create(tenant, connection, also=(self.audit.put_op(tenant, entry), route))
        except Exception:
            self._delete_secrets(tenant, connection.id)
            raise
        if self.schedules is not None and connection.schedule is not None:
            self.schedules.put(tenant, connection)
        logger.info(
            "connections.created",
            extra={"tenant": tenant, "connection_id": connection.id, "provider": connection.provider},
        )
        return connection

    def update(self, tenant: str, connection_id: str, patch: ConnectionPatch, actor: Actor) -> Connection:
        current = self.get(tenant, connection_id)
        now = self.clock()
        updated = current.apply(patch, now=now)
        if updated.base_url != current.base_url:
            check_base_url(updated.base_url, self.egress)
        credentials = current.patch_credentials(patch)
        secrets = tuple(
            name
            for name, value in (("credentials", credentials), ("webhook_secret", patch.webhook_secret))
            if value is not None
        )
        changes = diff(current.public_fields(), updated.public_fields(), secrets_changed=secrets)
        if not changes:
            return current  # nothing would change: no write, no version bump, no audit noise
        entry = new_entry(
            action="connection.update", target=connection_id, actor=actor, at=now, changes=changes
        )
        self.connections.replace(
            tenant, updated, expected_version=current.version, also=(self.audit.put_op(tenant, entry),)
        )
        if credentials is not None:
            self.secrets.put_credentials(tenant, connection_id, credentials, new=False)
        if patch.webhook_secret is not None:
            self.secrets.put_webhook_secret(tenant, connection_id, patch.webhook_secret, new=False)
        if self.schedules is not None and updated.schedule != current.schedule:
            self.schedules.put(tenant, updated)
        logger.info(
            "connections.updated",
            extra={"tenant": tenant, "connection_id": connection_id, "fields": sorted(changes)},
        )
        return updated

    def delete(self, tenant: str, connection_id: str, actor: Actor) -> None:
        current = self.get(tenant, connection_id)
        entry = new_entry(
            action="connection.delete",
            target=connection_id,
            actor=actor,
            at=self.clock(),
            changes=diff(current.public_fields(), None),
        )
        self.connections.delete(
            tenant,
            connection_id,
            expected_version=current.version,
            also=(self.audit.put_op(tenant, entry), self.webhook_routes.delete_op(connection_id)),
        )
        self._delete_secrets(tenant, connection_id)
        if self.schedules is not None:
            self.schedules.delete(connection_id)
        logger.info("connections.deleted", extra={"tenant": tenant, "connection_id": connection_id})

    def rotate_webhook_secret(self, tenant: str, connection_id: str, actor: Actor) -> WebhookSecretRotation:
        """A new random signing secret; the previous one stays valid until the next rotation.

        Also writes the routing item when it is missing (a connection created before routing items), so
        rotating is how such a connection starts receiving webhooks.
        """
        current = self.get(tenant, connection_id)
        secret = new_webhook_secret()
        now = self.clock()
        updated = current.apply(ConnectionPatch(webhook_secret=secret), now=now)
        entry = new_entry(
            action="webhook.rotate",
            target=connection_id,
            actor=actor,
            at=now,
            changes=diff(
                current.public_fields(), updated.public_fields(), secrets_changed=("webhook_secret",)
            ),
        )
        route = self.webhook_routes.restore_op(tenant, current.provider, connection_id)
        self.connections.replace(
            tenant, updated, expected_version=current.version, also=(self.audit.put_op(tenant, entry), route)
        )
        self.secrets.put_webhook_secret(tenant, connection_id, secret, new=False)
        logger.info("connections.webhook_rotated", extra={"tenant": tenant, "connection_id": connection_id})
        return WebhookSecretRotation(
            connection_id=connection_id,
            secret=secret,
            previous_secret_kept=current.has_webhook_secret and WEBHOOK_SECRETS_KEPT > 1,
            rotated_at=now,
        )

    def _delete_secrets(self, tenant: str, connection_id: str) -> None:
        try:
            self.secrets.delete(tenant, connection_id)
        except DependencyFailure as exc:
            details: Any = exc.details
            logger.error(
                "connections.secret_delete_failed",
                extra={
                    "tenant": tenant,
                    "connection_id": connection_id,
                    "secret_name": self.secrets.credentials_name(tenant, connection_id),
                    "aws_code": details.get("aws_code") if isinstance(details, dict) else None,
                },
            )


__all__ = ["ConnectionService", "WebhookSecretRotation", "new_webhook_secret"]
