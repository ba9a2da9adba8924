"""Building the tracker adapter a sync (or an action) uses, from a stored connection and its credentials.

:class:`AdapterBuilder` is given what it needs (the outbound policy and, for Jira OAuth, where tokens live),
so it imports no composition root: ``runtime.container.adapter_factory()`` builds the process's one
instance and hands it to the sync engine and the actions' adapter pool.

Stored credentials of a Jira OAuth connection are only ``{"auth": "oauth", "token_secret": <name>}``
(``ConnectionSecrets.credentials`` adds the name): the adapter then authenticates with an
``OAuthTokenAuth`` over that secret's token store, which refreshes before expiry and after a 401, and
settles concurrent refreshes through the store's compare-and-swap (``runtime.oauth_tokens``). Everything
else goes through the provider's own credential scheme (``providers.registry.create_adapter``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from trackbridge.domain.connections import OAUTH_PROVIDERS, Connection
from trackbridge.domain.egress import EgressPolicy
from trackbridge.domain.errors import ValidationFailed
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.oauth_jira import OAuthApp, OAuthTokenAuth, TokenStore
from trackbridge.providers.registry import create_adapter, get_adapter_class
from trackbridge.providers.types import TrackerConfig


@dataclass(frozen=True, slots=True)
class OAuthCollaborators:
    """What an OAuth connection's adapter needs, each asked for only when such a connection is built (an
    unconfigured OAuth app must not stop API-token connections from working)."""

    token_store: Callable[[str], TokenStore]  # a token secret's name -> its store
    app: Callable[[], OAuthApp]  # the registered OAuth app (raises OAUTH_NOT_CONFIGURED when it is not)
    http: Callable[[], httpx.Client]  # the authorization server's client, for refreshes


@dataclass(frozen=True, slots=True)
class AdapterBuilder:
    """An adapter factory: ``builder(connection, credentials, **options)``. ``options`` are the adapter's
    keyword arguments (retry, sleep...); its client connects under ``egress`` unless ``options`` bring
    their own ``egress`` or ``client``. Without ``oauth`` an OAuth connection is refused (422)."""

    egress: EgressPolicy
    oauth: OAuthCollaborators | None = None

    def __call__(
        self, connection: Connection, credentials: Mapping[str, Any], **options: Any
    ) -> TrackerAdapter:
        options.setdefault("egress", self.egress)
        if credentials.get("auth") == "oauth":
            return self.oauth_adapter(connection, credentials, **options)
        return create_adapter(
            connection.provider, TrackerConfig.from_connection(connection), credentials, **options
        )

    def oauth_adapter(
        self, connection: Connection, credentials: Mapping[str, Any], **options: Any
    ) -> TrackerAdapter:
        secret_name = credentials.get("token_secret")
        if (
            self.oauth is None
            or connection.provider not in OAUTH_PROVIDERS
            or not isinstance(secret_name, str)
            or not secret_name
        ):
            raise ValidationFailed(
                f"{connection.provider} connections cannot use OAuth credentials",
                details={"provider": connection.provider},
            )
        store = self.oauth.token_store(secret_name)
        tokens = store.load()
        if tokens is None:
            # A TrackbridgeError, not a TrackerError: the sync engine and the API report it as is.
            raise ValidationFailed(
                "this Jira connection is not authorized (or its authorization was revoked)",
                code="AUTH_INVALID",
                details={"connection_id": connection.id},
                guidance="Authorize it: POST /v1/oauth/jira/start with its connection_id, then open the URL.",
            )
        config = TrackerConfig.from_connection(connection, site_url=connection.site_url or tokens.site_url)
        auth = OAuthTokenAuth(self.oauth.app(), store, self.oauth.http())
        return get_adapter_class(connection.provider)(config, auth, **options)


def default_adapter_factory(
    connection: Connection, credentials: Mapping[str, Any], **options: Any
) -> TrackerAdapter:
    """Kept for one release (the verify CLI and test helpers call it): an adapter under the configured
    outbound policy, for API-token connections only. Use ``runtime.container.adapter_factory()``, which
    also builds OAuth ones."""
    from trackbridge.runtime.settings import get_settings

    return AdapterBuilder(get_settings().egress_policy)(connection, credentials, **options)


__all__ = ["AdapterBuilder", "OAuthCollaborators", "default_adapter_factory"]
