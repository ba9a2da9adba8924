"""Building the tracker adapter a sync (or an action) uses, from a stored connection and its credentials.

Stored credentials of a Jira OAuth connection are only ``{"auth": "oauth", "token_secret": <name>}``
(``ConnectionSecrets.credentials`` adds the name): the adapter then authenticates with an
``OAuthTokenAuth`` over that secret's token store, which refreshes before expiry and after a 401, and
settles concurrent refreshes through the store's compare-and-swap (``runtime.oauth_tokens``). Everything
else goes through the provider's own credential scheme (``providers.registry.create_adapter``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trackbridge.domain.connections import OAUTH_PROVIDERS, Connection
from trackbridge.domain.errors import ValidationFailed
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.oauth_jira import OAuthTokenAuth
from trackbridge.providers.registry import create_adapter, get_adapter_class
from trackbridge.providers.types import TrackerConfig


def default_adapter_factory(
    connection: Connection, credentials: Mapping[str, Any], **options: Any
) -> TrackerAdapter:
    """An adapter for ``connection``; ``options`` are the adapter's keyword arguments (retry, sleep...).
    Its client connects under the process's outbound policy (``TB_ALLOWED_PRIVATE_NETWORKS``) unless
    ``options`` bring their own ``egress`` or ``client``."""
    from trackbridge.runtime import container

    options.setdefault("egress", container.egress_policy())
    if credentials.get("auth") == "oauth":
        return oauth_adapter(connection, credentials, **options)
    return create_adapter(
        connection.provider, TrackerConfig.from_connection(connection), credentials, **options
    )


def oauth_adapter(connection: Connection, credentials: Mapping[str, Any], **options: Any) -> TrackerAdapter:
    from trackbridge.runtime import container

    secret_name = credentials.get("token_secret")
    if connection.provider not in OAUTH_PROVIDERS or not isinstance(secret_name, str) or not secret_name:
        raise ValidationFailed(
            f"{connection.provider} connections cannot use OAuth credentials",
            details={"provider": connection.provider},
        )
    store = container.oauth_token_store(secret_name)
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
    auth = OAuthTokenAuth(container.jira_oauth_config().app(), store, container.oauth_http())
    return get_adapter_class(connection.provider)(config, auth, **options)


__all__ = ["default_adapter_factory", "oauth_adapter"]
