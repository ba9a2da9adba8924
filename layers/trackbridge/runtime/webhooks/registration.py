"""Registering a connection's webhook at its tracker: ``POST|GET|DELETE /v1/connections/{id}/webhook``.

Which kind of hook, per provider and auth mode:

* GitHub: a repository hook (``POST /repos/{o}/{r}/hooks``, JSON, ``X-Hub-Signature-256``).
* GitLab: a project hook (``POST /projects/{id}/hooks``, the secret comes back as ``X-Gitlab-Token``).
* Jira with an API token (``jira_admin``): an admin webhook (``POST /rest/webhooks/1.0/webhook``). It is
  the kind Jira signs (``X-Hub-Signature``) and it never expires; it needs a Jira administrator's token.
  ``POST /rest/api/3/webhook`` is refused (403) to API-token callers anyway.
* Jira through OAuth 2.0 (``jira_app``): a REST ("dynamic") webhook (``POST /rest/api/3/webhook``), the
  only kind an app may register. It expires 30 days after its registration or last refresh (the
  maintenance run refreshes it, ``runtime.webhooks.liveness``), its JQL filter is the connection's scope,
  and Jira signs its deliveries with a JWT of the OAuth app's client secret, not with a per-connection
  secret, so no secret is generated for it.

Order of effects, so that no failure leaves a worse state than "retry":

1. a new signing secret goes first in the connection's secret list (Secrets Manager; the previous one
   stays valid), so the tracker's first delivery (GitHub's ``ping``) already verifies;
2. the tracker registers the hook (a refusal is the tracker's error, mapped as every tracker error is:
   a missing admin right is a 403 ``PERMISSION_DENIED`` with its guidance);
3. one transaction: the connection (version-conditioned: ``has_webhook_secret``), the routing item's
   ``hook`` (conditioned on no other hook being recorded) and the audit entry ``webhook.register``. If it
   fails, the hook just created is removed again at the tracker.

``DELETE`` removes the hook at the tracker first (one already gone there is fine), then forgets it in one
transaction with its audit entry ``webhook.unregister``. The secrets stay: a hook set up by hand may still
use them, and deleting the connection deletes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from trackbridge.domain.audit import Actor, diff, new_entry
from trackbridge.domain.connections import Connection, ConnectionPatch, WebhookView
from trackbridge.domain.errors import Conflict, NotFound, TrackbridgeError, UnsupportedCapability
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.types import WebhookRegistration
from trackbridge.runtime.observability import logger
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.table import TransactItem
from trackbridge.storage.webhooks import HookKind, RegisteredHook, WebhookRoute, WebhookRoutes

WEBHOOK_PATH = "/v1/webhooks/{provider}/{connection_id}"


class HookSecrets(Protocol):
    """``runtime.secrets.ConnectionSecrets``: where signing secrets live (newest first)."""

    def put_webhook_secret(
        self, tenant: str, connection_id: str, secret: SecretStr, *, new: bool
    ) -> None: ...


class HookAdapters(Protocol):
    """``runtime.adapter_pool.AdapterPool``: the connection's adapter, with its stored credentials."""

    def lease(self, tenant: str, connection: Connection) -> AbstractContextManager[TrackerAdapter]: ...


def webhook_url(api_base: str, provider: str, connection_id: str) -> str:
    """Where a tracker delivers this connection's webhooks: the webhook route of this deployment."""
    path = WEBHOOK_PATH.format(provider=provider, connection_id=connection_id)
    return api_base.rstrip("/") + path


def api_base_for(event: Mapping[str, Any]) -> str:
    """``<scheme>://<host><stage prefix>`` of the API that received ``event`` (API Gateway REST proxy).

    The webhook route is on the same API as the route that registers the hook, so its public base is the
    one the caller reached: the host API Gateway names (``domainName``, else ``Host``), the scheme it was
    reached with (``X-Forwarded-Proto``), and the stage prefix that execute-api hosts put in
    ``requestContext.path`` but not in ``path`` (behind a custom domain and on the local gateway the two
    are equal). On the local stack this is ``http://127.0.0.1:<port>``, which the sandboxes deliver to.
    """
    context = event.get("requestContext") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    host = str(context.get("domainName") or headers.get("host") or "")
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip() or "https"
    full, path = str(context.get("path") or ""), str(event.get("path") or "")
    prefix = full[: -len(path)] if path and full.endswith(path) else ""
    return f"{scheme}://{host}{prefix}"


def hook_kind(connection: Connection) -> HookKind:
    if connection.provider == "jira":
        return "jira_app" if connection.auth == "oauth" else "jira_admin"
    if connection.provider in ("github", "gitlab"):
        return "github" if connection.provider == "github" else "gitlab"
    raise UnsupportedCapability(
        f"trackbridge cannot register {connection.provider} webhooks",
        guidance="Configure the hook at the tracker by hand with the connection's webhook secret.",
    )


def signs_with_connection_secret(kind: HookKind) -> bool:
    """Whether deliveries of this kind are signed with a secret trackbridge gives the tracker."""
    return kind != "jira_app"


def create_hook(adapter: Any, kind: HookKind, url: str, secret: str | None) -> WebhookRegistration:
    """Register a hook of ``kind`` through the adapter (the tracker call of a registration or repair)."""
    if kind == "jira_app":
        registration: WebhookRegistration = adapter.register_app_webhook(url)
        return registration
    if secret is None:
        raise ValueError(f"a {kind} hook is signed with a secret")
    registration = adapter.register_webhook(url, secret)
    return registration


def remove_hook(adapter: Any, kind: HookKind, hook_id: str) -> None:
    """Remove the hook at the tracker; one that is already gone is not an error."""
    if kind == "jira_app":
        adapter.unregister_app_webhook(hook_id)
    else:
        adapter.unregister_webhook(hook_id)


def view_of(route: WebhookRoute | None) -> WebhookView:
    """The API's view of a connection's webhook, from its routing item."""
    last = route.last_delivery_at if route is not None else None
    hook = route.hook if route is not None else None
    if hook is None:
        return WebhookView(status="unregistered", last_delivery_at=last)
    return WebhookView(
        status=hook.status,
        last_delivery_at=last,
        fallback=hook.fallback,
        reason=hook.reason,
        hook_id=hook.hook_id,
        kind=hook.kind,
        url=hook.url,
        registered_at=hook.registered_at,
        checked_at=hook.checked_at,
        expires_at=hook.expires_at,
    )


class WebhookRegistrations:
    """Register, show and remove a connection's webhook (module docstring)."""

    def __init__(
        self,
        *,
        connections: ConnectionRepository,
        routes: WebhookRoutes,
        audit: AuditRepository,
        secrets: HookSecrets,
        adapters: HookAdapters,
        new_secret: Callable[[], SecretStr],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.connections = connections
        self.routes = routes
        self.audit = audit
        self.secrets = secrets
        self.adapters = adapters
        self.new_secret = new_secret
        self.clock = clock

    def _connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def view(self, tenant: str, connection_id: str) -> WebhookView:
        self._connection(tenant, connection_id)
        return self.state(connection_id)

    def state(self, connection_id: str) -> WebhookView:
        """The webhook of a connection the caller already read (one GetItem)."""
        return view_of(self.routes.lookup(connection_id))

    def register(self, tenant: str, connection_id: str, actor: Actor, *, api_base: str) -> WebhookView:
        connection = self._connection(tenant, connection_id)
        return self.register_for(tenant, connection, actor, api_base=api_base)

    def register_for(
        self, tenant: str, connection: Connection, actor: Actor, *, api_base: str
    ) -> WebhookView:
        route = self.routes.lookup(connection.id)
        if route is not None and route.hook is not None:
            raise Conflict(
                f"connection {connection.id} already has a registered webhook ({route.hook.hook_id})",
                code="ALREADY_EXISTS",
                details={"hook_id": route.hook.hook_id},
                guidance="DELETE /v1/connections/{id}/webhook first to register a new one.",
            )
        kind = hook_kind(connection)
        url = webhook_url(api_base, connection.provider, connection.id)
        secret: SecretStr | None = None
        if signs_with_connection_secret(kind):
            secret = self.new_secret()
            self.secrets.put_webhook_secret(tenant, connection.id, secret, new=False)
        with self.adapters.lease(tenant, connection) as adapter:
            created = create_hook(adapter, kind, url, secret.get_secret_value() if secret else None)
            now = self.clock()
            # A Jira REST hook's expiry is only in the app's listing: one more request, so it shows at once.
            expires = adapter.app_webhook_expiry(created.id) if kind == "jira_app" else None  # type: ignore[attr-defined]
            hook = RegisteredHook(
                hook_id=created.id, kind=kind, url=url, registered_at=now, checked_at=now, expires_at=expires
            )
            try:
                self._record(tenant, connection, hook, actor, now, secret_changed=secret is not None)
            except Exception:
                self._remove_quietly(adapter, tenant, connection.id, hook)
                raise
        logger.info(
            "webhook.registered",
            extra={"tenant": tenant, "connection_id": connection.id, "hook_id": hook.hook_id, "kind": kind},
        )
        return view_of(WebhookRoute(tenant, connection.provider, connection.id, self._last(route), hook))

    def register_on_create(
        self, tenant: str, connection: Connection, actor: Actor, *, api_base: str
    ) -> WebhookView:
        """``"register_webhook": true`` on create: the connection exists whatever happens here, so a
        refusal is reported in the view (``unregistered`` with its ``reason``) instead of failing the call."""
        try:
            return self.register_for(tenant, connection, actor, api_base=api_base)
        except TrackbridgeError as exc:
            logger.warning(
                "webhook.register_failed",
                extra={"tenant": tenant, "connection_id": connection.id, "code": str(exc.code)},
            )
            reason = f"registration failed ({exc.code}): {exc.message}"
            if exc.guidance:
                reason += f" {exc.guidance}"
            return WebhookView(status="unregistered", reason=reason)

    def unregister(self, tenant: str, connection_id: str, actor: Actor) -> None:
        connection = self._connection(tenant, connection_id)
        route = self.routes.lookup(connection_id)
        hook = route.hook if route is not None else None
        if hook is None:
            raise NotFound(
                f"connection {connection_id} has no registered webhook", details={"id": connection_id}
            )
        with self.adapters.lease(tenant, connection) as adapter:
            remove_hook(adapter, hook.kind, hook.hook_id)
        now = self.clock()
        entry = new_entry(
            action="webhook.unregister",
            target=connection_id,
            actor=actor,
            at=now,
            changes=diff({"webhook": _audited(hook)}, {"webhook": None}),
        )
        self.routes.table.write(
            self.routes.forget_op(connection_id, hook.hook_id), self.audit.put_op(tenant, entry)
        )
        logger.info(
            "webhook.unregistered",
            extra={"tenant": tenant, "connection_id": connection_id, "hook_id": hook.hook_id},
        )

    def release(self, tenant: str, connection_id: str) -> None:
        """Before a connection is deleted: remove its hook at the tracker, best effort (the delete goes
        on whatever happens, and the routing item goes with the connection)."""
        try:
            connection = self._connection(tenant, connection_id)
            route = self.routes.lookup(connection_id)
            if route is None or route.hook is None:
                return
            with self.adapters.lease(tenant, connection) as adapter:
                remove_hook(adapter, route.hook.kind, route.hook.hook_id)
        except NotFound:
            return
        except Exception as exc:
            logger.warning(
                "webhook.release_failed",
                extra={"tenant": tenant, "connection_id": connection_id, "error": type(exc).__name__},
            )

    # -- helpers --------------------------------------------------------------------------------------------

    def _record(
        self,
        tenant: str,
        connection: Connection,
        hook: RegisteredHook,
        actor: Actor,
        now: datetime,
        *,
        secret_changed: bool,
    ) -> None:
        # The version moves even when nothing else does: a connection changed meanwhile is a clean 409.
        updated = connection.apply(ConnectionPatch(), now=now)
        if secret_changed:
            updated = updated.model_copy(update={"has_webhook_secret": True})
        entry = new_entry(
            action="webhook.register",
            target=connection.id,
            actor=actor,
            at=now,
            changes=diff(
                {"webhook": None},
                {"webhook": _audited(hook)},
                secrets_changed=("webhook_secret",) if secret_changed else (),
            ),
        )
        also: tuple[TransactItem, ...] = (
            self.audit.put_op(tenant, entry),
            self.routes.register_op(tenant, connection.provider, connection.id, hook),
        )
        self.connections.replace(tenant, updated, expected_version=connection.version, also=also)

    def _remove_quietly(
        self, adapter: TrackerAdapter, tenant: str, connection_id: str, hook: RegisteredHook
    ) -> None:
        try:
            remove_hook(adapter, hook.kind, hook.hook_id)
        except Exception as exc:
            logger.error(
                "webhook.orphaned",
                extra={
                    "tenant": tenant,
                    "connection_id": connection_id,
                    "hook_id": hook.hook_id,
                    "error": type(exc).__name__,
                },
            )

    @staticmethod
    def _last(route: WebhookRoute | None) -> datetime | None:
        return route.last_delivery_at if route is not None else None


def _audited(hook: RegisteredHook) -> dict[str, str]:
    return {"hook_id": hook.hook_id, "kind": hook.kind, "url": hook.url}


def iter_registered(routes: WebhookRoutes, *, page_size: int = 100) -> Iterator[WebhookRoute]:
    """Every route that holds a registered hook, page by page."""
    cursor: str | None = None
    while True:
        page, cursor = routes.registered(limit=page_size, cursor=cursor)
        yield from page
        if cursor is None:
            return


__all__ = [
    "WEBHOOK_PATH",
    "HookAdapters",
    "HookSecrets",
    "WebhookRegistrations",
    "api_base_for",
    "create_hook",
    "hook_kind",
    "iter_registered",
    "remove_hook",
    "signs_with_connection_secret",
    "view_of",
    "webhook_url",
]
