"""Building the tracker adapter a sync uses, from a stored connection and its credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trackbridge.domain.connections import Connection
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.registry import create_adapter
from trackbridge.providers.types import TrackerConfig


def default_adapter_factory(
    connection: Connection, credentials: Mapping[str, Any], **options: Any
) -> TrackerAdapter:
    """An adapter for ``connection``; ``options`` are the adapter's keyword arguments (retry, sleep...)."""
    return create_adapter(
        connection.provider, TrackerConfig.from_connection(connection), credentials, **options
    )


__all__ = ["default_adapter_factory"]
