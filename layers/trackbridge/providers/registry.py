"""Every tracker adapter, keyed by provider name: the one place the rest of trackbridge looks them up.

Each adapter class names its declaration (``tracker = GITHUB``, :mod:`trackbridge.domain.trackers`) and is
registered under that declaration's name; every declared tracker has exactly one adapter here
(tests/unit/test_tracker_declarations.py). Adding a tracker is one import and one entry in
:data:`ADAPTERS` (no import-time discovery magic; ``providers/README.md`` has the checklist). The API's
``GET /v1/providers`` serves :func:`describe_providers`; the composition root builds adapters with
:func:`create_adapter`; the shared contract tests are parametrized over :data:`PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from trackbridge.domain.errors import ValidationFailed
from trackbridge.providers.azure_devops import AzureDevOpsAdapter
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.linear import LinearAdapter
from trackbridge.providers.redmine import RedmineAdapter
from trackbridge.providers.types import Capabilities, TrackerConfig
from trackbridge.providers.youtrack import YouTrackAdapter

ADAPTERS: tuple[type[TrackerAdapter], ...] = (
    GitHubAdapter,
    GitLabAdapter,
    JiraAdapter,
    YouTrackAdapter,
    RedmineAdapter,
    AzureDevOpsAdapter,
    LinearAdapter,
)
PROVIDERS: dict[str, type[TrackerAdapter]] = {cls.tracker.name: cls for cls in ADAPTERS}


def supported_providers() -> tuple[str, ...]:
    return tuple(sorted(PROVIDERS))


def get_adapter_class(name: str) -> type[TrackerAdapter]:
    try:
        return PROVIDERS[name]
    except (KeyError, TypeError):
        raise ValidationFailed(
            f"unknown provider {name!r}; supported: {', '.join(supported_providers())}",
            details={"provider": name, "supported": list(supported_providers())},
        ) from None


def capabilities(name: str) -> Capabilities:
    return get_adapter_class(name).capabilities


def describe_providers() -> list[dict[str, Any]]:
    """The body of ``GET /v1/providers``: name, capabilities, scope and credential keys, per tracker."""
    return [PROVIDERS[name].describe() for name in supported_providers()]


def auth_from_credentials(provider: str, credentials: Mapping[str, Any]) -> httpx.Auth:
    """The ``httpx.Auth`` for a credentials dict of ``provider``'s shape (github/gitlab ``{"token"}``,
    jira ``{"email", "api_token"}``); ``ValidationFailed`` names missing keys, never values."""
    if isinstance(credentials, Mapping) and credentials.get("auth") == "oauth":
        # OAuth tokens rotate in a store this layer cannot reach (Secrets Manager): the runtime builds
        # an ``oauth_jira.OAuthTokenAuth`` instead (trackbridge.runtime.sync.adapters.AdapterBuilder).
        raise ValidationFailed(
            f"OAuth credentials for {provider} need a token store: build the adapter with "
            "trackbridge.runtime.container.adapter_factory()",
            details={"auth": "oauth"},
        )
    return get_adapter_class(provider).auth_scheme.build(credentials, provider=provider)


def create_adapter(
    provider: str, config: TrackerConfig, credentials: Mapping[str, Any], **options: Any
) -> TrackerAdapter:
    """An adapter ready to call; ``options`` are the adapter's keyword arguments (client, retry, ...)."""
    cls = get_adapter_class(provider)
    return cls(config, auth_from_credentials(provider, credentials), **options)


__all__ = [
    "ADAPTERS",
    "PROVIDERS",
    "auth_from_credentials",
    "capabilities",
    "create_adapter",
    "describe_providers",
    "get_adapter_class",
    "supported_providers",
]
